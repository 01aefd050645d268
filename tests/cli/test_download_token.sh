#!/usr/bin/env bash
# The session outlives its token: with 6 s JWTs and 4 s S3 credentials, one
# file stalls for 8 s while nothing else happens (one request in flight), so
# the next listing and credentials come after the token and the credentials
# it started with have expired. The download must complete, byte-identical
# (the session refreshed, the credentials renewed).
set -euo pipefail
: "${IGTCLOUD:?}" "${IGTCLOUD_SANDBOX:?}"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
make_work igtcloud-token

cat >"$work/stall.json" <<'EOF'
{"rules": [{"operation": "GetObject", "key": "*/files/notes.txt", "times": 1,
            "effect": "delay", "where": "headers", "ms": 8000}]}
EOF
start_sandbox "$work/cloud" --seed demo --faults "$work/stall.json" \
  --token-lifetime 6 --credential-lifetime 4 --log-requests "$work/requests.log"
objects="$work/cloud/objects"

t="$work/t"
start=$(date +%s)
set +e
echo demo | "$IGTCLOUD" download --domain "$api" -u demo --password-stdin -q "$t" "Demo Project" \
  --concurrent-studies 1 --concurrent-files 1 2>"$work/err"
rc=$?
set -e
took=$(( $(date +%s) - start ))
[[ $rc -eq 0 ]] || fail "download across token expiry: exit $rc: $(cat "$work/err")"
# The stall really outlived the token: the run took longer than a JWT lives.
[[ $took -ge 7 ]] || fail "the stall did not happen (run took $took s)"
grep -q '"fault":"rule 1: delay' "$work/requests.log" || fail "the stall rule did not fire"
grep -q '"path":"/api/auth/refresh".*"status":200' "$work/requests.log" || fail "the session was never refreshed"
grep -q '^Downloaded 13 files' "$work/err" || fail "summary: $(cat "$work/err")"
n=0
while IFS= read -r -d '' f; do
  rel=${f#"$t/"}
  case "$rel" in .igtcloud/*|*/study.json) continue ;; esac
  n=$((n + 1))
done < <(find "$t" -type f -print0)
[[ $n -eq 13 ]] || fail "$n files, want 13"
s1=$(find "$objects/institutes/hospital-a" -path '*/files/run1/xa-0001.dcm' | sed 's|/files/run1/xa-0001.dcm$||')
for f in notes.txt measurements.json run1/xa-0001.dcm; do
  cmp -s "$t/Hospital A/PAT-001---STUDY-1/$f" "$s1/files/$f" || fail "$f differs"
done
# The files after the stall share its study's prefix: their credentials had
# expired, so S3 credentials were fetched again before they were sent.
stalled=$(grep -n '"fault":"rule 1: delay' "$work/requests.log" | cut -d: -f1)
next_get=$(grep -n '"key":"[^"]*/files/measurements.json"' "$work/requests.log" | cut -d: -f1)
creds=$(head -n "$next_get" "$work/requests.log" | grep -c '"path":"/api/auth/s3credentials"' || true)
[[ $creds -ge 2 ]] || fail "credentials were not renewed before measurements.json ($creds fetches)"
[[ $next_get -gt $stalled ]] || fail "measurements.json was fetched before the stall ended"
echo "ok: a download that outlives its token and credentials completes (took $took s)"

