#!/usr/bin/env bash
# igtcloud download vs `aws s3 cp --recursive` against the same sandbox with the
# same S3 credentials, in one run: STUDIES x FILES files of SMALL bytes, plus
# BIG files of BIGSIZE bytes. Prints wall, CPU, peak RSS and the ratios.
# Usage: bench/bench_download.sh BUILD_DIR   (env STUDIES FILES SMALL BIG BIGSIZE,
# LOGIN: once (default, a running `igtcloud login`) or each (every run logs in))
set -euo pipefail
build=${1:?usage: bench_download.sh BUILD_DIR}
STUDIES=${STUDIES:-200} FILES=${FILES:-50} SMALL=${SMALL:-262144} BIG=${BIG:-3} BIGSIZE=${BIGSIZE:-268435456}
# shellcheck source=bench/bench_lib.sh
source "$(dirname "$0")/bench_lib.sh"
bench_work
bench_server_dir $((STUDIES * FILES * SMALL + BIG * BIGSIZE))

big_files=$(for i in $(seq 1 "$BIG"); do printf '%s{"name": "big-%d.bin", "size": %d}' "$([[ $i -gt 1 ]] && echo ,)" "$i" "$BIGSIZE"; done)
cat >"$work/seed.json" <<JSON
{"seed": 7, "users": [{"login": "bench", "password": "bench"}],
 "projects": [{"id": "00000000-0000-4000-8000-00000000b001", "name": "Bench", "studyType": "Study",
   "s3Prefix": "projects/bench/", "members": [{"login": "bench", "role": "DATA_MANAGER"}],
   "institutes": [
    {"id": "00000000-0000-4000-8000-00000000b0a1", "name": "Small", "studyType": "Study",
     "s3Prefix": "institutes/small/",
     "generate": {"studies": $STUDIES, "filesPerStudy": $FILES, "fileSize": $SMALL}},
    {"id": "00000000-0000-4000-8000-00000000b0b2", "name": "Big", "studyType": "Study",
     "s3Prefix": "institutes/big/",
     "studies": [{"studyType": "Study", "studyId": "S", "studyDate": "2021-01-01T00:00:00",
       "patient": {"patientId": "P", "patientName": "P"}, "files": [$big_files]}]}]}]}
JSON
bench_start_sandbox "$build" "$work"

# LOGIN=once (default): `igtcloud login` runs beside the benchmark, as a user
# logs in once, and each download reuses its session; awscli's credentials are
# likewise fetched before its clock starts. LOGIN=each: every download logs in
# itself (the sandbox's PBKDF2 with 600,000 rounds then counts in its time).
LOGIN=${LOGIN:-once}
if [[ $LOGIN == once ]]; then
  echo bench | "$build/src/cli/igtcloud" login -d "$api" -u bench --password-stdin >/dev/null 2>&1 &
  login_pid=$!
  for _ in $(seq 100); do [[ -s $CLOUD_TOKEN_MMAP ]] && break; sleep 0.1; done
  [[ -s $CLOUD_TOKEN_MMAP ]] || { echo "bench: igtcloud login did not write its token file" >&2; exit 1; }
fi

run_pair() { # label institute prefix
  local label=$1 inst=$2 prefix=$3
  sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
  read -r iw ic ir < <(bench_measure igt-$label sh -c "echo bench | '$build/src/cli/igtcloud' download -q --domain '$api' -u bench --password-stdin '$work/igt-$label' Bench '$inst'")
  bench_aws_env GET "$prefix"
  sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
  read -r aw ac ar < <(bench_measure aws-$label aws s3 cp --recursive --only-show-errors --endpoint-url "$endpoint" "s3://$bucket/$prefix" "$work/aws-$label")
  bench_report "$label" "$iw" "$ic" "$ir" "$aw" "$ac" "$ar"
  rm -rf "$work/igt-$label" "$work/aws-$label"
}
echo "small: $STUDIES studies x $FILES files x $SMALL B; big: $BIG x $BIGSIZE B; login: $LOGIN"
run_pair small Small institutes/small/
run_pair big Big institutes/big/
