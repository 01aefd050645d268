#!/usr/bin/env bash
# completion/igtcloud.bash completes commands, each command's options (read
# from its --help), option values, and igtcloud-sandbox's options.
set -euo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }
# shellcheck source=/dev/null
source "$SOURCE_DIR/completion/igtcloud.bash"

complete_words() { # words...; the last one is being completed
  COMP_WORDS=("$@")
  COMP_CWORD=$(($# - 1))
  COMPREPLY=()
  _igtcloud
  [[ ${#COMPREPLY[@]} -eq 0 ]] || printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' '
}
expect() { # expected words...
  local want=$1; shift
  local got; got=$(complete_words "$@")
  [[ "$got" == "$want" ]] || fail "completing '$*': got '$got', want '$want'"
}

expect "upgrade upload " "$IGTCLOUD" "up"
expect "csv download get-token login upgrade upload version " "$IGTCLOUD" ""
expect "--help --version " "$IGTCLOUD" "--"
expect "--feed " "$IGTCLOUD" upgrade "--fe"
expect "--folder-structure " "$IGTCLOUD" download /tmp/x --fo
expect "--verbose " "$IGTCLOUD" upload -q --verb
expect "flat hierarchical " "$IGTCLOUD" download --folder-structure ""
expect "dicom " "$IGTCLOUD" download --category d
expect "access " "$IGTCLOUD" get-token -t a
expect "--s3-listen --seed " "$IGTCLOUD_SANDBOX" --s
expect "" "$IGTCLOUD" no-such-command --
# Every option of every command (and of igtcloud-sandbox) completes after "-".
help_options() { # the option names at the head of each "Options:" entry
  awk '/^Options:/ { on = 1; next } /^[A-Z][a-z ]*:$/ { on = 0 }
       on && /^ +-/ { sub(/^ +/, ""); cut = index($0, "  "); print cut ? substr($0, 1, cut - 1) : $0 }' |
  grep -oE '(^|[ ,])--?[A-Za-z][A-Za-z0-9-]*' | tr -d ' ,' | sort | tr '\n' ' '; }
commands=$("$IGTCLOUD" --help | awk '/^Commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }')
[[ -n "$commands" ]] || fail "igtcloud --help lists no commands"
for cmd in $commands; do
  expect "$("$IGTCLOUD" "$cmd" --help | help_options)" "$IGTCLOUD" "$cmd" -
done
expect "$("$IGTCLOUD_SANDBOX" --help | help_options)" "$IGTCLOUD_SANDBOX" -
complete -p igtcloud igtcloud-sandbox >/dev/null || fail "completion is not registered for both programs"
echo "ok: bash completion of commands, every option of every command, and option values"
