# Sourced by the interop scripts: start sandboxes, fetch credentials, check results.
# Needs IGTCLOUD_SANDBOX (set by CTest) and Debian's awscli, python3-boto3 and
# python3-awscrt, boto3's CRC32C (scripts/install-deps.sh interop).
set -euo pipefail
: "${IGTCLOUD_SANDBOX:?IGTCLOUD_SANDBOX must name the igtcloud-sandbox binary}"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
AWS=/usr/bin/aws
PY=/usr/bin/python3
for tool in "$AWS" "$PY"; do
  [[ -x $tool ]] || { echo "interop: $tool is missing (scripts/install-deps.sh interop)" >&2; exit 1; }
done
"$PY" -c 'import boto3' || { echo "interop: python3-boto3 is missing" >&2; exit 1; }
"$PY" -c 'import awscrt' || { echo "interop: python3-awscrt is missing" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/igtcloud-interop.XXXXXX")
pids=()
# A sanitizer's report from a sandbox (a leak found at exit, a UBSan error)
# fails the test, as tests/cli/lib.sh's stop_sandbox does.
cleanup() {
  local pid err reported=0
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  for err in "$work"/*/err; do
    [[ -f $err ]] && grep -E 'Sanitizer|runtime error:' "$err" >/dev/null || continue
    grep -E -A12 'Sanitizer|runtime error:' "$err" | head -40 >&2
    reported=1
  done
  rm -rf "$work"
  [[ $reported = 0 ]] || { echo "FAIL: a sandbox's stderr holds a sanitizer report (above)" >&2; exit 1; }
}
trap cleanup EXIT

# Only localhost, never a proxy; no instance metadata lookups; a private AWS config.
export no_proxy='*' NO_PROXY='*'
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY AWS_PROFILE AWS_CA_BUNDLE
export AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=$work/aws-config
export AWS_SHARED_CREDENTIALS_FILE=$work/aws-credentials
: > "$AWS_SHARED_CREDENTIALS_FILE"
"$AWS" configure set default.s3.addressing_style path

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }

# start_sandbox NAME [ARGS...]: start one on free ports; sets NAME_API and NAME_S3.
start_sandbox() {
  local name=$1; shift
  local dir=$work/$name
  mkdir -p "$dir"
  "$IGTCLOUD_SANDBOX" --listen 127.0.0.1:0 --data "$dir/data" --seed demo \
    --log-requests "$dir/requests.log" "$@" > "$dir/out" 2> "$dir/err" &
  pids+=($!)
  local i
  for i in $(seq 1 600); do
    grep -q '^ready ' "$dir/out" 2>/dev/null && break
    sleep 0.1
  done
  grep -q '^ready ' "$dir/out" || { cat "$dir/err" >&2; fail "sandbox $name did not start"; }
  local line; line=$(head -1 "$dir/out")
  printf -v "${name}_API" '%s' "$(sed -n 's/.* api=\([^ ]*\).*/\1/p' <<<"$line")"
  printf -v "${name}_S3" '%s' "$(sed -n 's/.* s3=\([^ ]*\).*/\1/p' <<<"$line")"
}

# creds API ACTION PREFIX: export the AWS_* variables and S3_ENDPOINT for them.
creds() {
  eval "$("$PY" "$here/sandbox_creds.py" "$1" "$2" "$3")"
}

sha() { sha256sum "$1" | cut -d' ' -f1; }
same() { [[ $(sha "$1") == $(sha "$2") ]] || fail "$3: $1 and $2 differ"; ok "$3"; }

# expect_error CODE DESCRIPTION COMMAND...: the command fails and names the S3 code.
expect_error() {
  local code=$1 what=$2; shift 2
  if "$@" > "$work/last.out" 2> "$work/last.err"; then
    fail "$what: succeeded, expected $code"
  fi
  grep -q "$code" "$work/last.err" "$work/last.out" || {
    cat "$work/last.err" >&2; fail "$what: expected $code"; }
  ok "$what -> $code"
}
