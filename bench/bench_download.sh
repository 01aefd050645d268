#!/usr/bin/env bash
# igtcloud download vs `aws s3 cp --recursive` against the same sandbox with the
# same S3 credentials, in one run: STUDIES x FILES files of SMALL bytes, plus
# BIG files of BIGSIZE bytes. Prints wall, CPU, peak RSS and the ratios.
# Usage: bench/bench_download.sh BUILD_DIR   (env STUDIES FILES SMALL BIG BIGSIZE)
set -euo pipefail
build=${1:?usage: bench_download.sh BUILD_DIR}
STUDIES=${STUDIES:-200} FILES=${FILES:-50} SMALL=${SMALL:-262144} BIG=${BIG:-3} BIGSIZE=${BIGSIZE:-268435456}
command -v aws >/dev/null || { echo "awscli is required (apt-get install awscli)"; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/igtcloud-bench.XXXXXX")
pid=
trap '[[ -n $pid ]] && kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

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
mkfifo "$work/ready"
"$build/src/sandbox/igtcloud-sandbox" --listen 127.0.0.1:0 --data "$work/cloud" --seed "$work/seed.json" \
  >"$work/ready" 2>"$work/sandbox.err" &
pid=$!
read -r line <"$work/ready"
api=${line#ready api=}; api=${api%% *}
export CLOUD_TOKEN_MMAP="$work/token"

# Credentials for aws: the same endpoint the client asks for, scoped to the institute.
curl -sS -D "$work/h" -o "$work/login.json" -H 'Content-Type: application/json' \
  -d '{"grantType": "password", "username": "bench", "password": "bench"}' "$api/api/auth/login"
csrf=$(jq -r .CSRFToken "$work/login.json")
jwt="$(sed -n 's/^Set-Cookie: jwt_header_payload=\([^;]*\).*/\1/ip' "$work/h" | tr -d '\r').$(sed -n 's/^Set-Cookie: jwt_signature=\([^;]*\).*/\1/ip' "$work/h" | tr -d '\r')"
fetch_creds() { curl -sS -H "X-JWT: $jwt" -H "X-CSRF-TOKEN: $csrf" "$api/api/auth/s3credentials?action=GET&prefix=$1" >"$work/creds.json"; }
creds() { jq -r ".policyCredentials[0].credentials.$2" "$work/creds.json"; }

measure() { # name cmd... -> "wall cpu rss"
  local name=$1; shift
  /usr/bin/time -f "%e %U %S %M" -o "$work/time.$name" "$@" >/dev/null 2>"$work/err.$name" || { cat "$work/err.$name"; exit 1; }
  read -r wall user sys rss <"$work/time.$name"
  echo "$wall $(echo "$user + $sys" | bc) $rss"
}

run_pair() { # label institute prefix
  local label=$1 inst=$2 prefix=$3
  sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
  read -r iw ic ir < <(measure igt-$label sh -c "echo bench | '$build/src/cli/igtcloud' download -q --domain '$api' -u bench --password-stdin '$work/igt-$label' Bench '$inst'")
  fetch_creds "$prefix"
  export AWS_ACCESS_KEY_ID=$(creds "$prefix" accessKey) AWS_SECRET_ACCESS_KEY=$(creds "$prefix" secretKey)
  export AWS_SESSION_TOKEN=$(creds "$prefix" sessionToken) AWS_DEFAULT_REGION=$(creds "$prefix" region)
  local endpoint bucket; endpoint=$(creds "$prefix" endpoint); bucket=$(creds "$prefix" bucket)
  sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
  read -r aw ac ar < <(measure aws-$label aws s3 cp --recursive --only-show-errors --endpoint-url "$endpoint" "s3://$bucket/$prefix" "$work/aws-$label")
  printf '%-6s igtcloud: wall %6.2f s  cpu %6.2f s  rss %6d KiB | aws: wall %6.2f s  cpu %6.2f s  rss %6d KiB | aws/igtcloud wall %.2fx cpu %.2fx\n' \
    "$label" "$iw" "$ic" "$ir" "$aw" "$ac" "$ar" "$(echo "$aw / $iw" | bc -l)" "$(echo "$ac / $ic" | bc -l)"
  rm -rf "$work/igt-$label" "$work/aws-$label"
}
echo "small: $STUDIES studies x $FILES files x $SMALL B; big: $BIG x $BIGSIZE B"
run_pair small Small institutes/small/
run_pair big Big institutes/big/
