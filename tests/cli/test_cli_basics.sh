#!/usr/bin/env bash
# The igtcloud command's skeleton: help, version, usage errors and exit codes.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

out=$("$IGTCLOUD" --help) || fail "--help exited non-zero"
grep -q '^Usage: igtcloud \[OPTIONS\] COMMAND' <<<"$out" || fail "--help lacks the usage line"
grep -q '^  version ' <<<"$out" || fail "--help does not list 'version'"

out=$("$IGTCLOUD" version)
[[ "$out" =~ ^igtcloud\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "unexpected version output '$out'"
"$IGTCLOUD" version --help | grep -q 'Usage: igtcloud version' || fail "version --help"

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
