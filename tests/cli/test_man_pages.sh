#!/usr/bin/env bash
# The man pages and --help agree: every option a command's --help shows has an
# entry in the man page with the same spelling (short and long together, as
# "-d --domain"), and every entry in the man page is shown by --help; every
# command, exit code and environment variable is documented.
set -euo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }
man_igtcloud=$SOURCE_DIR/docs/man/igtcloud.1.in
man_sandbox=$SOURCE_DIR/docs/man/igtcloud-sandbox.1.in

# Option entries of a --help text: the "Options:" lines, up to the description.
help_options() {
  awk '/^[A-Z][a-z ]*:$/ { on = ($0 == "Options:"); next }
       on && /^ +-/ {
         sub(/^ +/, ""); head = $0; cut = index(head, "  ")
         if (cut) head = substr(head, 1, cut - 1)
         n = split(head, w, /[ ,]+/); out = ""
         for (k = 1; k <= n; k++) if (w[k] ~ /^--?[A-Za-z]/) out = out (out ? " " : "") w[k]
         print out
       }' | sort
}
# Option entries of a man page section: the line after each .TP, roff removed.
man_options() { # file section-start-regex
  sed -e 's/\\f[BIRP]//g' -e 's/\\-/-/g' "$1" | awk -v start="$2" '
    /^\.S[HS] / { on = ($0 ~ start); next }
    on && /^\.TP/ { tp = 1; next }
    on && tp { tp = 0; n = split($0, w, /[ ,]+/); out = ""
               for (k = 1; k <= n; k++) if (w[k] ~ /^--?[A-Za-z]/) out = out (out ? " " : "") w[k]
               if (out) print out }' | sort
}
compare() { # what help-list man-list
  local missing extra
  missing=$(comm -23 <(echo "$2") <(echo "$3"))
  extra=$(comm -13 <(echo "$2") <(echo "$3"))
  [[ -z "$missing" ]] || fail "$1: in --help but not in the man page: $(echo $missing)"
  [[ -z "$extra" ]] || fail "$1: in the man page but not in --help: $(echo $extra)"
  [[ -n "$2" ]] || fail "$1: no options found in --help"
}

commands=$("$IGTCLOUD" --help | awk '/^Commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }' | sort)
[[ -n "$commands" ]] || fail "igtcloud --help lists no commands"
man_commands=$(sed -n 's/^\.SS "igtcloud \([a-z-]*\) .*/\1/p' "$man_igtcloud" | sort)
compare "commands" "$commands" "$man_commands"

compare "igtcloud" "$("$IGTCLOUD" --help | help_options)" "$(man_options "$man_igtcloud" '^\.SH OPTIONS')"
for cmd in $commands; do
  compare "igtcloud $cmd" "$("$IGTCLOUD" "$cmd" --help | help_options)" \
    "$(man_options "$man_igtcloud" "^\\.SS \"igtcloud $cmd ")"
done
compare "igtcloud-sandbox" "$("$IGTCLOUD_SANDBOX" --help | help_options)" \
  "$(man_options "$man_sandbox" '^\.SH OPTIONS')"

# Environment variables: those --help mentions and those the project reads.
environment=$(sed -e 's/\\f[BIRP]//g' -e 's/\\-/-/g' "$man_igtcloud" |
  awk '/^\.SH / { on = ($0 ~ /ENVIRONMENT/); next } on')
mentioned=$(for cmd in "" $commands; do "$IGTCLOUD" $cmd --help; done |
  grep -oE '\$?(CLOUD|IGTCLOUD|AWS)_[A-Z0-9_]+' | tr -d '$' | sort -u)
for var in $mentioned CLOUD_DOMAIN CLOUD_USERNAME CLOUD_TOKEN_MMAP CLOUD_JWT_TOKEN CLOUD_CSRF_TOKEN \
           AWS_ENDPOINT_URL_S3 AWS_ENDPOINT_URL AWS_REGION http_proxy https_proxy HTTPS_PROXY \
           all_proxy no_proxy NO_PROXY NO_COLOR IGTCLOUD_UPGRADE_FEED IGTCLOUD_REFRESH_MARGIN \
           IGTCLOUD_RETRY_WINDOW XDG_RUNTIME_DIR TMPDIR; do
  grep -qw -- "$var" <<<"$environment" || fail "igtcloud(1) ENVIRONMENT does not document $var"
done
# Every variable the sources read with getenv() is documented.
read_vars=$(grep -rhoE 'getenv\("[A-Za-z_0-9]+"\)|env_[a-z_]+\((&[a-z]+, )?"[A-Z_0-9]+"\)' \
  "$SOURCE_DIR/src/lib" "$SOURCE_DIR/src/cli" | grep -oE '"[A-Za-z_0-9]+"' | tr -d '"' | sort -u)
for var in $read_vars; do
  grep -qw -- "$var" <<<"$environment" || fail "igtcloud(1) ENVIRONMENT does not document $var (read in src/)"
done

# igtcloud-sandbox: every variable it reads is in its ENVIRONMENT section.
sandbox_environment=$(sed -e 's/\\f[BIRP]//g' -e 's/\\-/-/g' "$man_sandbox" |
  awk '/^\.SH / { on = ($0 ~ /ENVIRONMENT/); next } on')
for var in $(grep -rhoE 'getenv\("[A-Za-z_0-9]+"\)' "$SOURCE_DIR/src/sandbox" | grep -oE '"[^"]+"' | tr -d '"' | sort -u); do
  grep -qw -- "$var" <<<"$sandbox_environment" || fail "igtcloud-sandbox(1) ENVIRONMENT does not document $var"
done

# Every option the parsers accept is in --help (and so, above, in the man page):
# the option literals of each command's source, of the shared session options
# (cli_session.c) and selection options (selection.c) where it uses them, and
# of main.c for igtcloud itself.
# -h, the alias of --help, is said in the text of the man pages' --help entries.
for page in "$man_igtcloud" "$man_sandbox"; do
  grep -A3 '^\\fB\\-\\-help\\fR$' "$page" | grep '\\-h\b' >/dev/null || fail "$(basename "$page"): -h is not mentioned"
done
literal_options() { grep -hoE '"--?[A-Za-z][A-Za-z0-9-]*"' "$@" | tr -d '"' | grep -vx -- -h | sort -u; }
help_words() { grep -oE '(^|[ ,[])--?[A-Za-z][A-Za-z0-9-]*' | tr -d ' ,[' | sort -u; }
for cmd in $commands; do
  src=$SOURCE_DIR/src/cli/cmd_${cmd//-/_}.c
  [[ -f "$src" ]] || fail "no source $src for the command $cmd"
  files=("$src")
  grep -q 'cli_session_option(' "$src" && files+=("$SOURCE_DIR/src/cli/cli_session.c")
  grep -q 'cli_selection_option(' "$src" && files+=("$SOURCE_DIR/src/cli/selection.c")
  hidden=$(comm -23 <(literal_options "${files[@]}") <("$IGTCLOUD" "$cmd" --help | help_words))
  [[ -z "$hidden" ]] || fail "igtcloud $cmd accepts options its --help does not show: $(echo $hidden)"
done
hidden=$(comm -23 <(literal_options "$SOURCE_DIR/src/cli/main.c") <("$IGTCLOUD" --help | help_words))
[[ -z "$hidden" ]] || fail "igtcloud accepts options its --help does not show: $(echo $hidden)"
hidden=$(comm -23 <(literal_options "$SOURCE_DIR/src/sandbox/main.c") <("$IGTCLOUD_SANDBOX" --help | help_words))
[[ -z "$hidden" ]] || fail "igtcloud-sandbox accepts options its --help does not show: $(echo $hidden)"

# Files: every file name igtcloud makes is in FILES.
files_section=$(awk '/^\.SH / { on = ($0 ~ /FILES/); next } on' "$man_igtcloud" |
  sed -e 's/\\f[BIRP]//g' -e 's/\\-/-/g' -e 's/^\.[A-Z]* //' -e 's/"//g' | tr -d ' ')
for name in igtcloud-token upload-journal .igtcloud/download-manifest cloud_ .bak \
            $(grep -rhoE '\.igtcloud-[a-z]+' "$SOURCE_DIR/src/lib" "$SOURCE_DIR/src/cli" | sort -u); do
  grep -qF -- "$name" <<<"$files_section" || fail "igtcloud(1) FILES does not document $name"
done

# NO_COLOR: igtcloud prints no colour (SGR escape sequences) at all, or reads NO_COLOR.
if grep -rqE '(\\033|\\x1[bB]|\\e|\\u001[bB])\[[0-9;]*m' "$SOURCE_DIR/src/cli" "$SOURCE_DIR/src/lib"; then
  grep -rq 'getenv("NO_COLOR")' "$SOURCE_DIR/src/cli" || fail "igtcloud prints colour but ignores NO_COLOR"
fi
grep -qw NO_COLOR <<<"$environment" || fail "igtcloud(1) does not say how NO_COLOR is honoured"

# Exit codes: the table of docs/exit-codes.md and cmd.h.
status=$(awk '/^\.SH "EXIT STATUS"/ { on = 1; next } /^\.SH / { on = 0 } on && prev ~ /^\.TP/ { print } { prev = $0 }' \
  "$man_igtcloud" | sed -n 's/^\.B \([0-9]*\)$/\1/p' | sort -n)
table=$(sed -n 's/^| \([0-9][0-9]*\) |.*/\1/p' "$SOURCE_DIR/docs/exit-codes.md" | sort -n)
codes=$(sed -n 's/^ *CLI_EXIT_[A-Z]* = \([0-9]*\),\{0,1\}.*/\1/p' "$SOURCE_DIR/src/cli/cmd.h" | sort -n)
[[ "$status" == "$table" ]] || fail "EXIT STATUS ($(echo $status)) differs from docs/exit-codes.md ($(echo $table))"
[[ "$status" == "$codes" ]] || fail "EXIT STATUS ($(echo $status)) differs from src/cli/cmd.h ($(echo $codes))"

# Both pages are valid man pages (groff warns about anything it does not understand).
if command -v groff >/dev/null; then
  for page in "$man_igtcloud" "$man_sandbox"; do
    warnings=$(sed 's/@PROJECT_VERSION@/0.0.0/' "$page" | groff -man -Tutf8 -ww -z 2>&1 || true)
    [[ -z "$warnings" ]] || fail "$(basename "$page"): groff: $warnings"
  done
fi
echo "ok: man pages and --help list the same commands and options; environment and exit codes documented"
