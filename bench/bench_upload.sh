#!/usr/bin/env bash
# igtcloud upload vs `aws s3 cp --recursive` into the same sandbox with the same
# S3 credentials, in one run: STUDIES x FILES files of SMALL bytes, plus BIG
# files of BIGSIZE bytes. Prints wall, CPU, peak RSS and the ratios.
# Usage: bench/bench_upload.sh BUILD_DIR   (env STUDIES FILES SMALL BIG BIGSIZE,
# CHECKSUM: crc32c (default, as igtcloud's), md5 or sha256 for igtcloud's --checksum)
set -euo pipefail
build=${1:?usage: bench_upload.sh BUILD_DIR}
STUDIES=${STUDIES:-40} FILES=${FILES:-50} SMALL=${SMALL:-262144} BIG=${BIG:-3} BIGSIZE=${BIGSIZE:-268435456}
CHECKSUM=${CHECKSUM:-crc32c}
# shellcheck source=bench/bench_lib.sh
source "$(dirname "$0")/bench_lib.sh"
bench_work
bench_server_dir $((2 * (STUDIES * FILES * SMALL + BIG * BIGSIZE)))

# An empty project with two institutes; the studies are created by the upload.
cat >"$work/seed.json" <<JSON
{"seed": 7, "users": [{"login": "bench", "password": "bench"}],
 "projects": [{"id": "00000000-0000-4000-8000-00000000b001", "name": "Bench", "studyType": "Study",
   "s3Prefix": "projects/bench/", "members": [{"login": "bench", "role": "DATA_MANAGER"}],
   "institutes": [
    {"id": "00000000-0000-4000-8000-00000000b0a1", "name": "Small", "studyType": "Study",
     "s3Prefix": "institutes/small/"},
    {"id": "00000000-0000-4000-8000-00000000b0b2", "name": "Big", "studyType": "Study",
     "s3Prefix": "institutes/big/"}]}]}
JSON
bench_start_sandbox "$build" "$work"

echo "generating the local files..."
for s in $(seq -w 1 "$STUDIES"); do
  d="$work/local/Small/Pat$s---Study$s"; mkdir -p "$d"
  for f in $(seq -w 1 "$FILES"); do head -c "$SMALL" /dev/urandom >"$d/file-$f.bin"; done
done
mkdir -p "$work/local/Big/PatB---StudyB"
for i in $(seq 1 "$BIG"); do head -c "$BIGSIZE" /dev/urandom >"$work/local/Big/PatB---StudyB/big-$i.bin"; done

run_pair() { # label institute prefix
  local label=$1 inst=$2 prefix=$3
  sync
  read -r iw ic ir < <(bench_measure igt-$label sh -c "echo bench | '$build/src/cli/igtcloud' upload -q --checksum $CHECKSUM --domain '$api' -u bench --password-stdin '$work/local' Bench '$inst'")
  bench_aws_env PUT "$prefix"
  sync
  read -r aw ac ar < <(bench_measure aws-$label aws s3 cp --recursive --only-show-errors --sse AES256 --endpoint-url "$endpoint" "$work/local/$inst" "s3://$bucket/${prefix}aws/")
  bench_report "$label" "$iw" "$ic" "$ir" "$aw" "$ac" "$ar"
}
echo "small: $STUDIES studies x $FILES files x $SMALL B; big: $BIG x $BIGSIZE B"
run_pair small Small institutes/small/
run_pair big Big institutes/big/
