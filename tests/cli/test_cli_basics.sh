#!/usr/bin/env bash
# The igtcloud command's skeleton: help, version, usage errors and exit codes.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

out=$("$IGTCLOUD" --help) || fail "--help exited non-zero"
grep -q '^Usage: igtcloud \[OPTIONS\] COMMAND' <<<"$out" || fail "--help lacks the usage line"
grep -q '^  version ' <<<"$out" || fail "--help does not list 'version'"

out=$("$IGTCLOUD" version)
[[ "$out" =~ ^igtcloud\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "unexpected version output '$out'"
"$IGTCLOUD" version --help | matches 'Usage: igtcloud version' || fail "version --help"

set +e
err=$("$IGTCLOUD" no-such-command 2>&1 >/dev/null); rc=$?
set -e
[[ $rc -eq 2 ]] || fail "unknown command exit code $rc, want 2"
[[ "$err" == "igtcloud: no such command 'no-such-command' (see 'igtcloud --help')" ]] \
  || fail "unexpected message '$err'"
[[ $(wc -l <<<"$err") -eq 1 ]] || fail "error is not one line"

set +e
"$IGTCLOUD" >/dev/null 2>&1; rc=$?
"$IGTCLOUD" version --bogus >/dev/null 2>&1; rc2=$?
set -e
[[ $rc -eq 2 && $rc2 -eq 2 ]] || fail "missing command / bad option should exit 2 (got $rc, $rc2)"
echo "ok: help, version, usage errors"

# A password that cannot be had: one line naming why, exit 3 ("not logged in"),
# before any connection (nothing listens on port 1).
pw_case() { # want-message input-command args...
  local want=$1 input=$2; shift 2
  set +e
  err=$(eval "$input" | env -u CLOUD_JWT_TOKEN CLOUD_TOKEN_MMAP=/nonexistent/token \
        "$IGTCLOUD" "$@" 2>&1 >/dev/null); rc=$?
  set -e
  [[ $rc -eq 3 ]] || fail "$* ($input): exit $rc, want 3: $err"
  [[ "$err" == "igtcloud: $want" ]] || fail "$* ($input): '$err', want '$want'"
}
for cmd in download csv; do
  pw_case "no password on standard input" "printf ''" \
    $cmd --domain http://127.0.0.1:1 -u someone --password-stdin /tmp/unused P
  pw_case "the password is too long" "head -c 3000 /dev/zero | tr '\\0' x" \
    $cmd --domain http://127.0.0.1:1 -u someone --password-stdin /tmp/unused P
done
# upload logs in the same way (its LOCAL folder must exist: it is checked first).
pw_case "no password on standard input" "printf ''" \
  upload --domain http://127.0.0.1:1 -u someone --password-stdin /tmp P I
pw_case "the password is too long" "head -c 3000 /dev/zero | tr '\\0' x" \
  upload --domain http://127.0.0.1:1 -u someone --password-stdin /tmp P I
set +e
err=$(env CLOUD_TOKEN_MMAP=/nonexistent/token "$IGTCLOUD" download --domain http://127.0.0.1:1 \
      -u someone /tmp/unused P 2>&1 </dev/null >/dev/null); rc=$?
set -e
[[ $rc -eq 3 && "$err" == "igtcloud: not logged in and no terminal to ask the password on; run 'igtcloud login' or use --password-stdin" ]] ||
  fail "no terminal: exit $rc, '$err'"
set +e
err=$(env CLOUD_TOKEN_MMAP=/nonexistent/token "$IGTCLOUD" upload --domain http://127.0.0.1:1 \
      -u someone /tmp P I 2>&1 </dev/null >/dev/null); rc=$?
set -e
[[ $rc -eq 3 && "$err" == "igtcloud: not logged in and no terminal to ask the password on; run 'igtcloud login' or use --password-stdin" ]] ||
  fail "upload, no terminal: exit $rc, '$err'"
echo "ok: download, csv and upload without a password say why, exit 3"
