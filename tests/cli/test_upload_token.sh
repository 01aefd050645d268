#!/usr/bin/env bash
# The session outlives its token: with 6 s JWTs and 4 s S3 credentials, one
# file stalls for 8 s while nothing else happens (one request in flight), so
# the next listing and credentials come after the token and the credentials
# it started with have expired. The upload must complete, byte-identical
# (the session refreshed, the credentials renewed).
set -euo pipefail
: "${IGTCLOUD:?}" "${IGTCLOUD_SANDBOX:?}"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
make_work igtcloud-token

# ---- upload: the first file stalls 8 s, then more files and studies follow ----
cat >"$work/stall-put.json" <<'EOF'
{"rules": [{"operation": "PutObject", "key": "*/files/first.bin", "times": 1,
            "effect": "delay", "where": "headers", "ms": 8000}]}
EOF
start_sandbox "$work/cloud" --seed demo --faults "$work/stall-put.json" \
  --token-lifetime 6 --credential-lifetime 4 --log-requests "$work/requests-up.log"
up="$work/up"
mkdir -p "$up/Hospital A/PAT-900---UP-1" "$up/Hospital A/PAT-901---UP-2"
head -c 4096 /dev/urandom >"$up/Hospital A/PAT-900---UP-1/first.bin"
head -c 4096 /dev/urandom >"$up/Hospital A/PAT-900---UP-1/second.bin"
head -c 4096 /dev/urandom >"$up/Hospital A/PAT-901---UP-2/third.bin"
set +e
echo demo | "$IGTCLOUD" upload --domain "$api" -u demo --password-stdin -q "$up" "Demo Project" \
  "Hospital A" --concurrent-studies 1 --concurrent-files 1 2>"$work/err-up"
rc=$?
set -e
grep -q '"fault":"rule 1: delay' "$work/requests-up.log" || fail "upload: the stall rule did not fire"
[[ $rc -eq 0 ]] || fail "upload across token expiry: exit $rc: $(cat "$work/err-up")"
echo "ok: an upload that outlives its token and credentials completes"
# Every file arrived complete.
for f in "PAT-900---UP-1/first.bin" "PAT-900---UP-1/second.bin" "PAT-901---UP-2/third.bin"; do
  obj=$(find "$work/cloud/objects" -path "*/files/${f##*/}" | head -1)
  [[ -n "$obj" ]] && cmp -s "$obj" "$up/Hospital A/$f" || fail "upload: $f missing or different"
done
