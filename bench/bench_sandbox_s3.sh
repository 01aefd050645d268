#!/usr/bin/env bash
# The sandbox's S3 endpoint under Debian's awscli: is the server ever the
# bottleneck? For a 1 GiB object and for 2,000 objects of 256 KiB, up and
# down, it measures the CPU seconds of the sandbox process (utime + stime
# from /proc/PID/stat) and of awscli (/usr/bin/time -v), the wall time, and
# the peak RSS of both (the sandbox's VmHWM, reset before each phase through
# /proc/PID/clear_refs). Prints a table with the aws/sandbox CPU ratio.
#
# usage: bench/bench_sandbox_s3.sh BUILD_DIR [BIG_MIB] [SMALL_COUNT] [SMALL_KIB]
# Needs awscli and time (scripts/install-deps.sh bench).
set -euo pipefail
build=${1:?usage: bench_sandbox_s3.sh BUILD_DIR [BIG_MIB] [SMALL_COUNT] [SMALL_KIB]}
big_mib=${2:-1024}
small_count=${3:-2000}
small_kib=${4:-256}
here=$(cd "$(dirname "$0")" && pwd)
sandbox=$build/src/sandbox/igtcloud-sandbox
AWS=/usr/bin/aws
[[ -x $sandbox ]] || { echo "no $sandbox; build first" >&2; exit 1; }
[[ -x $AWS && -x /usr/bin/time ]] || { echo "needs awscli and time (scripts/install-deps.sh bench)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/igtcloud-bench-s3.XXXXXX")
pid=
cleanup() {
  [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
export no_proxy='*' NO_PROXY='*' AWS_EC2_METADATA_DISABLED=true
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY AWS_PROFILE AWS_CA_BUNDLE
export AWS_CONFIG_FILE=$work/aws-config AWS_SHARED_CREDENTIALS_FILE=$work/aws-credentials
: > "$AWS_SHARED_CREDENTIALS_FILE"
"$AWS" configure set default.s3.addressing_style path

"$sandbox" --listen 127.0.0.1:0 --data "$work/data" --seed demo > "$work/out" 2> "$work/err" &
pid=$!
for _ in $(seq 600); do grep -q '^ready' "$work/out" 2>/dev/null && break; sleep 0.1; done
api=$(sed -n 's/^ready api=\([^ ]*\).*/\1/p' "$work/out")
[[ -n $api ]] || { cat "$work/err" >&2; exit 1; }
prefix=projects/demo-project/bench/
creds() { eval "$(/usr/bin/python3 "$here/../tests/interop/sandbox_creds.py" "$api" "$1" "$prefix")"; }

echo "preparing ${big_mib} MiB and ${small_count} x ${small_kib} KiB in $work ..." >&2
head -c $((big_mib * 1024 * 1024)) /dev/urandom > "$work/big.bin"
mkdir -p "$work/small" "$work/down"
head -c $((small_count * small_kib * 1024)) /dev/urandom |
  split -a 5 -d -b $((small_kib * 1024)) - "$work/small/f"

ticks=$(getconf CLK_TCK)
sandbox_cpu() { awk -v t="$ticks" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$pid/stat"; }
sandbox_hwm() { awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status"; }

printf '%-22s %8s %10s %12s %8s %14s %12s\n' phase wall "aws CPU" "sandbox CPU" "aws÷sb" \
  "sandbox RSS" "aws RSS"
phase() { # phase NAME aws-args...
  local name=$1; shift
  sync
  echo 5 > "/proc/$pid/clear_refs" 2>/dev/null || true
  local before; before=$(sandbox_cpu)
  /usr/bin/time -v -o "$work/time" "$AWS" --endpoint-url "$S3_ENDPOINT" s3 "$@" \
    --only-show-errors > /dev/null
  local after; after=$(sandbox_cpu)
  local wall user sys rss
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$work/time" |
    awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.2f", s }')
  user=$(sed -n 's/.*User time (seconds): //p' "$work/time")
  sys=$(sed -n 's/.*System time (seconds): //p' "$work/time")
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/time")
  awk -v n="$name" -v w="$wall" -v u="$user" -v s="$sys" -v b="$before" -v a="$after" \
      -v h="$(sandbox_hwm)" -v r="$rss" 'BEGIN {
    aws = u + s; sb = a - b;
    printf "%-22s %7.2fs %9.2fs %11.2fs %7.1fx %10s MiB %8.1f MiB\n", n, w, aws, sb,
      (sb > 0 ? aws / sb : 0), h, r / 1024 }'
}

creds PUT
phase "put 1 x ${big_mib} MiB" cp "$work/big.bin" "s3://$S3_BUCKET/${prefix}big.bin"
phase "put ${small_count} x ${small_kib} KiB" cp --recursive "$work/small" \
  "s3://$S3_BUCKET/${prefix}small/"
creds GET
phase "get 1 x ${big_mib} MiB" cp "s3://$S3_BUCKET/${prefix}big.bin" "$work/down/big.bin"
phase "get ${small_count} x ${small_kib} KiB" cp --recursive "s3://$S3_BUCKET/${prefix}small/" \
  "$work/down/small"
cmp "$work/big.bin" "$work/down/big.bin" || { echo "big.bin differs after the round trip" >&2; exit 1; }
diff -r "$work/small" "$work/down/small" > /dev/null ||
  { echo "small files differ after the round trip" >&2; exit 1; }
echo "round trip verified (cmp / diff -r)" >&2
