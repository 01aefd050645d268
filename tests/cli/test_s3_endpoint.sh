#!/usr/bin/env bash
# Which S3 endpoint download and upload talk to: --s3-endpoint, then
# AWS_ENDPOINT_URL_S3, then AWS_ENDPOINT_URL, then the endpoint the cloud's
# credentials name. A dead endpoint at a higher rank must be the one tried (the
# run fails); the sandbox's own endpoint there makes it succeed. A value that
# is not an http(s) URL is a usage error before anything is sent.
set -euo pipefail
: "${IGTCLOUD:?}" "${IGTCLOUD_SANDBOX:?}"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
make_work igtcloud-s3-endpoint
export XDG_STATE_HOME="$work/state"
unset IGTCLOUD_STATE_DIR AWS_ENDPOINT_URL_S3 AWS_ENDPOINT_URL
start_sandbox "$work/cloud" --seed demo --log-requests "$work/requests.log"
objects="$work/cloud/objects/institutes/hospital-b"
# A port nothing listens on: connections are refused at once.
dead=http://127.0.0.1:$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

dl() { echo demo | "$IGTCLOUD" download --domain "$api" -u demo --password-stdin -q "$@"; }
up() { echo demo | "$IGTCLOUD" upload --domain "$api" -u demo --password-stdin -q "$@"; }
s3_requests() { grep -c '"service":"s3"' "$work/requests.log" || true; }

# Downloads Hospital B into $1 (extra download options after it); the exit code in $rc.
run_dl() {
  local target=$1; shift
  rm -rf "$target"
  rc=0
  dl "$@" "$target" "Demo Project" "Hospital B" >/dev/null 2>"$work/err" || rc=$?
}
# Every file the sandbox holds for Hospital B (files category) is in $1, identical.
same_as_cloud() {
  local f n=0
  for f in "$1"/*/*; do
    [[ -f $f && $(basename "$f") != study.json ]] || continue
    cmp -s "$f" "$(find "$objects" -type f -name "$(basename "$f")" | head -n 1)" || fail "$f differs"
    n=$((n + 1))
  done
  [[ $n -ge 4 ]] || fail "only $n files in $1"
}

for cmd in download upload; do
  for bad in ftp://host/ "http://" "https:///x" "not a url"; do
    set +e
    err=$(echo demo | "$IGTCLOUD" "$cmd" --domain "$api" -u demo --password-stdin --s3-endpoint "$bad" \
      "$work/x" "Demo Project" 2>&1); rc=$?
    set -e
    [[ $rc -eq 2 ]] || fail "$cmd --s3-endpoint '$bad': exit $rc, want 2"
    [[ "$err" == "igtcloud: --s3-endpoint must be an http:// or https:// URL, not '$bad' (see 'igtcloud $cmd --help')" ]] ||
      fail "$cmd --s3-endpoint '$bad': '$err'"
  done
done
[[ ! -e "$work/x" ]] || fail "a usage error created the target"
echo "ok: a --s3-endpoint that is not an http(s) URL is a usage error"

# Each rank, dead: nothing reaches the sandbox's S3 and the run fails (exit 6).
for how in option env_s3 env; do
  before=$(s3_requests)
  case $how in
    option) run_dl "$work/a" --s3-endpoint "$dead" ;;
    env_s3) AWS_ENDPOINT_URL_S3=$dead run_dl "$work/a" ;;
    env) AWS_ENDPOINT_URL=$dead run_dl "$work/a" ;;
  esac
  [[ $rc -eq 6 ]] || fail "download with a dead endpoint ($how): exit $rc, want 6: $(cat "$work/err")"
  [[ $(s3_requests) -eq $before ]] || fail "the dead endpoint ($how) was not the one used"
done
echo "ok: --s3-endpoint, AWS_ENDPOINT_URL_S3 and AWS_ENDPOINT_URL each name the endpoint tried"

# Each rank, alive, above a dead lower rank: the run completes byte-identical.
run_dl "$work/b" --s3-endpoint "$s3"
[[ $rc -eq 0 ]] || fail "download --s3-endpoint: exit $rc: $(cat "$work/err")"
same_as_cloud "$work/b/Hospital B"
AWS_ENDPOINT_URL_S3=$dead AWS_ENDPOINT_URL=$dead run_dl "$work/c" --s3-endpoint "$s3"
[[ $rc -eq 0 ]] || fail "--s3-endpoint over the environment: exit $rc: $(cat "$work/err")"
same_as_cloud "$work/c/Hospital B"
AWS_ENDPOINT_URL=$dead AWS_ENDPOINT_URL_S3=$s3 run_dl "$work/d"
[[ $rc -eq 0 ]] || fail "AWS_ENDPOINT_URL_S3 over AWS_ENDPOINT_URL: exit $rc: $(cat "$work/err")"
same_as_cloud "$work/d/Hospital B"
echo "ok: download through --s3-endpoint, over the environment, and AWS_ENDPOINT_URL_S3 over AWS_ENDPOINT_URL"

# Upload: a dead --s3-endpoint fails the files (exit 6, nothing stored), the live one stores them.
L="$work/local"
mkdir -p "$L/Hospital A/Ep---1"
head -c 100000 /dev/urandom >"$L/Hospital A/Ep---1/ep-small.bin"
head -c 17000000 /dev/urandom >"$L/Hospital A/Ep---1/ep-large.bin"  # multipart
rc=0
AWS_ENDPOINT_URL_S3=$s3 up --s3-endpoint "$dead" "$L" "Demo Project" 2>"$work/err" || rc=$?
[[ $rc -eq 6 ]] || fail "upload with a dead --s3-endpoint: exit $rc, want 6: $(cat "$work/err")"
[[ -z $(find "$work/cloud/objects" -name 'ep-*.bin') ]] || fail "a dead --s3-endpoint stored objects"
rc=0
AWS_ENDPOINT_URL_S3=$dead up --s3-endpoint "$s3" "$L" "Demo Project" 2>"$work/err" || rc=$?
[[ $rc -eq 0 ]] || fail "upload --s3-endpoint: exit $rc: $(cat "$work/err")"
for f in ep-small.bin ep-large.bin; do
  cmp -s "$L/Hospital A/Ep---1/$f" "$(find "$work/cloud/objects" -name "$f")" || fail "$f differs in the cloud"
done
echo "ok: upload through --s3-endpoint, over AWS_ENDPOINT_URL_S3"
