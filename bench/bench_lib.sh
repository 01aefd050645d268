# Helpers of the transfer benchmarks (bench_download.sh, bench_upload.sh); sourced.
# They need: $work (a scratch folder, see bench_work), curl, jq, bc, /usr/bin/time.

# bench_work: check for awscli, make $work, and remove it (and stop the
# sandbox, $pid, and a running igtcloud login, $login_pid) at exit.
bench_work() {
  command -v aws >/dev/null || { echo "awscli is required (apt-get install awscli)"; exit 1; }
  work=$(mktemp -d "${TMPDIR:-/tmp}/igtcloud-bench.XXXXXX")
  pid= login_pid=
  server_tmp=
  trap '[[ -n $login_pid ]] && kill $login_pid 2>/dev/null; [[ -n $pid ]] && kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$work" ${server_tmp:+"$server_tmp"}' EXIT
}

# bench_server_dir NEED_BYTES: set $server_dir, where the sandbox keeps its
# objects: BENCH_SERVER_DIR, else a folder in /dev/shm when that is a tmpfs
# with NEED_BYTES and 1 GiB more free, else $work. The sandbox stands in for a
# remote cloud, so its disk should not be the client's (see bench_transfer.sh:
# on this machine's ext4 without a journal, creating files after many
# deletions costs the sandbox CPU that depends on what ran before).
bench_server_dir() {
  local need_kib=$(( $1 / 1024 + 1024 * 1024 ))
  server_dir=${BENCH_SERVER_DIR:-}
  if [[ -z $server_dir && $(stat -f -c %T /dev/shm 2>/dev/null) == tmpfs ]] &&
     (( $(df -Pk /dev/shm | awk 'NR==2 {print $4}') >= need_kib )); then
    server_tmp=$(mktemp -d /dev/shm/igtcloud-bench-sandbox.XXXXXX)
    server_dir=$server_tmp
  fi
  server_dir=${server_dir:-$work}
  echo "sandbox objects in $server_dir"
}

# bench_start_sandbox BUILD_DIR WORK: start the sandbox seeded from WORK/seed.json,
# its objects in $server_dir (bench_server_dir) or WORK, set $pid and $api, log
# in as bench/bench for the credential calls ($jwt, $csrf).
bench_start_sandbox() {
  local build=$1 work=$2 line
  mkfifo "$work/ready"
  "$build/src/sandbox/igtcloud-sandbox" --listen 127.0.0.1:0 --data "${server_dir:-$work}/cloud" --seed "$work/seed.json" \
    >"$work/ready" 2>"$work/sandbox.err" &
  pid=$!
  read -r line <"$work/ready"
  api=${line#ready api=}; api=${api%% *}
  export CLOUD_TOKEN_MMAP="$work/token"
  curl -sS -D "$work/h" -o "$work/login.json" -H 'Content-Type: application/json' \
    -d '{"grantType": "password", "username": "bench", "password": "bench"}' "$api/api/auth/login"
  csrf=$(jq -r .CSRFToken "$work/login.json")
  jwt="$(sed -n 's/^Set-Cookie: jwt_header_payload=\([^;]*\).*/\1/ip' "$work/h" | tr -d '\r').$(sed -n 's/^Set-Cookie: jwt_signature=\([^;]*\).*/\1/ip' "$work/h" | tr -d '\r')"
}

# bench_aws_env ACTION PREFIX: export the AWS_* variables for credentials the
# sandbox hands out for (ACTION, PREFIX), and set $endpoint and $bucket.
bench_aws_env() {
  curl -sS -H "X-JWT: $jwt" -H "X-CSRF-TOKEN: $csrf" \
    "$api/api/auth/s3credentials?action=$1&prefix=$2" >"$work/creds.json"
  local c=".policyCredentials[0].credentials"
  export AWS_ACCESS_KEY_ID=$(jq -r "$c.accessKey" "$work/creds.json")
  export AWS_SECRET_ACCESS_KEY=$(jq -r "$c.secretKey" "$work/creds.json")
  export AWS_SESSION_TOKEN=$(jq -r "$c.sessionToken" "$work/creds.json")
  export AWS_DEFAULT_REGION=$(jq -r "$c.region" "$work/creds.json")
  endpoint=$(jq -r "$c.endpoint" "$work/creds.json")
  bucket=$(jq -r "$c.bucket" "$work/creds.json")
}

# bench_measure NAME CMD...: run CMD, print "wall cpu peak-rss-KiB".
bench_measure() {
  local name=$1 wall user sys rss; shift
  /usr/bin/time -f "%e %U %S %M" -o "$work/time.$name" "$@" >/dev/null 2>"$work/err.$name" || { cat "$work/err.$name"; exit 1; }
  read -r wall user sys rss <"$work/time.$name"
  echo "$wall $(echo "$user + $sys" | bc) $rss"
}

# bench_report LABEL IGT_WALL IGT_CPU IGT_RSS AWS_WALL AWS_CPU AWS_RSS
bench_report() {
  # bench_measure runs in a process substitution, where its exit cannot stop us.
  local v
  for v in "$2" "$3" "$4" "$5" "$6" "$7"; do
    [[ $v =~ ^[0-9]*\.?[0-9]+$ ]] || { echo "bench: $1: a measured command failed (see above)" >&2; exit 1; }
  done
  printf '%-6s igtcloud: wall %6.2f s  cpu %6.2f s  rss %6d KiB | aws: wall %6.2f s  cpu %6.2f s  rss %6d KiB | aws/igtcloud wall %.2fx cpu %.2fx\n' \
    "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$(echo "$5 / $2" | bc -l)" "$(echo "$6 / $3" | bc -l)"
}
