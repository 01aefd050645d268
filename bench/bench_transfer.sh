#!/usr/bin/env bash
# Benchmark of the transfer engine against awscli and rclone, in one run, on
# the same data and the same server: the sandbox's S3 endpoint, and Ceph RGW
# with --rgw. Prints wall time, MiB/s, CPU seconds, peak RSS, the server's CPU
# seconds and ratios; then issue 5's goals, each against the floor the
# server's own CPU sets on this machine's cores.
#
#   bench/bench_transfer.sh [--rgw] [--only small|large|medium] [BUILD_DIR]
#
# Datasets: small = 2,000 x 256 KiB, large = 2 x 1 GiB, medium = 200 x 4 MiB
# (BENCH_SCALE=N divides the file counts, and the large file size, by N).
# BENCH_REQUESTS: requests in flight for every tool (default 16; our engine's
# default when set to 0 for igtcloud is its own). BENCH_CHECKSUM: crc32c | md5
# | sha256 for our uploads (default crc32c, the engine's; awscli and rclone send
# Content-MD5, and RGW 16 does not check CRC32C: BENCH_CHECKSUM=md5 compares like
# with like there). BENCH_TOOLS: the tools to run
# (default "igtcloud awscli rclone"; ratios need igtcloud). BENCH_SSE=0: uploads
# without x-amz-server-side-encryption (default: every tool sends AES256). BENCH_REPEAT=N runs
# every measurement N times and reports the median wall time (and its CPU/RSS).
# BENCH_PART_MIB=N: our engine's multipart part size (default: the engine's, 8).
# BENCH_RANGE_MIB=N: our engine's ranged GET size (default: the engine's, 8).
# BENCH_WARMUP=0: no untimed upload of each set before the measured runs.
# BENCH_WARM=0: no fresh memory handed to each download (see measure()).
# BENCH_SERVER_DIR: where the sandbox keeps its objects. Default: a folder in
# /dev/shm when that is a tmpfs with 12 GiB free, else beside the datasets. The
# sandbox stands in for a remote cloud, so its disk should not be the client's:
# on this machine's root file system (ext4 without a journal) creating a file
# scans past every inode deleted in the last minutes, which made the sandbox's
# side of 2,000 small uploads cost up to 0.6 s more CPU depending on what ran
# before. The datasets and the downloads stay on the disk of TMPDIR.
# Needs: scripts/install-deps.sh bench (awscli rclone time) and, for --rgw, rgw.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
RGW=0
ONLY=""
BUILD=""
while [ $# -gt 0 ]; do
  case "$1" in
    --rgw) RGW=1 ;;
    --only) ONLY=$2; shift ;;
    *) BUILD=$1 ;;
  esac
  shift
done
BUILD=${BUILD:-/tmp/igtcloud-bench-build}
SCALE=${BENCH_SCALE:-1}
REQ=${BENCH_REQUESTS:-16}
AWS=/usr/bin/aws
RCLONE=$(command -v rclone)
TIME=/usr/bin/time
TOOLS=${BENCH_TOOLS:-igtcloud awscli rclone}
REPEAT=${BENCH_REPEAT:-1}
CHECKSUM=${BENCH_CHECKSUM:-crc32c}
# Server-side encryption on uploads, for every tool alike (the cloud wants it;
# RGW with SSE-S3 encrypts, which costs its CPU): BENCH_SSE=0 turns it off.
SSE=${BENCH_SSE:-1}
AWS_SSE=(); RCLONE_SSE=()
[ "$SSE" = 1 ] && { AWS_SSE=(--sse AES256); RCLONE_SSE=(--s3-server-side-encryption AES256); }
for b in $AWS $RCLONE $TIME; do [ -x "$b" ] || { echo "missing $b: scripts/install-deps.sh bench" >&2; exit 2; }; done

echo "== building (Release) in $BUILD" >&2
cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DIGTCLOUD_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j2 --target igtcloud igtcloud-sandbox >/dev/null
cc -O2 -std=c11 -D_DEFAULT_SOURCE -I"$SRC/include" -I"$BUILD/include" "$SRC/bench/bench_transfer.c" \
   -L"$BUILD/src/lib" -ligtcloud -Wl,-rpath,"$BUILD/src/lib" -o "$BUILD/bench_transfer"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/igtcloud-bench.XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [ "$RGW" = 1 ] && "$SRC/tests/interop/ceph-rgw.sh" stop "$WORK/rgw" >/dev/null 2>&1 || true
  rm -rf "$WORK"
  [ -n "${SERVER_TMP:-}" ] && rm -rf "$SERVER_TMP"
  return 0
}
trap cleanup EXIT

make_set() { # name count size_bytes
  local dir=$WORK/data/$1; mkdir -p "$dir"
  local n=$(( $2 / SCALE )); [ "$n" -ge 1 ] || n=1
  local size=$3
  # One random block, varied per file by a header, so generation is quick.
  head -c "$size" /dev/urandom > "$WORK/block"
  for i in $(seq 1 "$n"); do
    { printf '%08d' "$i"; tail -c +9 "$WORK/block"; } > "$dir/f$i.bin"
  done
}
echo "== generating datasets in $WORK/data" >&2
sets=()
want() { [ -z "$ONLY" ] || [ "$ONLY" = "$1" ]; }
if want small; then make_set small 2000 $((256 * 1024)); sets+=(small); fi
if want large; then make_set large 2 $((1024 * 1024 * 1024 / SCALE)); sets+=(large); fi
if want medium; then make_set medium 200 $((4 * 1024 * 1024)); sets+=(medium); fi

# CPU time (user+sys, in clock ticks) the server's processes ($SERVER_PIDS)
# have used so far: on cores shared with the client, the server's CPU for a
# run sets a floor under its wall time, whatever the client (see the goals
# printed at the end, and bench/README.md).
server_cpu() {
  local p t=0
  for p in $SERVER_PIDS; do
    t=$(( t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0) ))
  done
  echo "$t"
}
TICKS=$(getconf CLK_TCK)
SERVER_PIDS=""

# One measured command: prints "wall user+sys maxrss_kib server_cpu", the run
# of median wall time out of $REPEAT. $MEASURE_CLEAN (a path) is removed
# before each run.
measure() {
  local out=$WORK/time.txt runs=$WORK/runs.txt i
  : > "$runs"
  for i in $(seq 1 "$REPEAT"); do
    [ -n "${MEASURE_CLEAN:-}" ] && rm -rf "$MEASURE_CLEAN"
    # Untimed: the dirty pages of earlier runs go to disk now, so no tool's
    # writes are throttled for what the tools before it wrote.
    sync
    # Before a download (MEASURE_CLEAN names its destination): this VM has
    # free page reporting (dmesg: "Free page reporting enabled"), so memory
    # left free for a few seconds (the last run's deleted files) goes back to
    # the host, and page cache written into it costs the writer about twice
    # the kernel time (2 GiB: 1.2 s -> 2.5 s of system CPU, for every tool
    # alike; which run got which was luck). Filling and freeing as much tmpfs
    # as the download will write, right before it, hands every tool memory
    # freed just now. BENCH_WARM=0 turns it off.
    if [ -n "${MEASURE_CLEAN:-}" ] && [ -n "${MEASURE_WARM:-}" ] && [ "${BENCH_WARM:-1}" = 1 ] &&
       [ "$(df --output=avail -B1 /dev/shm 2>/dev/null | tail -1)" -gt $((MEASURE_WARM * 2)) ] 2>/dev/null; then
      head -c "$MEASURE_WARM" /dev/zero > /dev/shm/.igtcloud-bench-warm
      rm -f /dev/shm/.igtcloud-bench-warm
    fi
    local before; before=$(server_cpu)
    if ! $TIME -f '%e %U %S %M' -o "$out" "$@" >"$WORK/cmd.log" 2>&1; then
      echo "FAILED: $*" >&2; tail -n 5 "$WORK/cmd.log" >&2; echo "0 0 0 0 0"; return
    fi
    local after; after=$(server_cpu)
    read -r wall u s rss < "$out"
    echo "$wall $(echo "$u + $s" | bc -l) $rss $(echo "($after - $before) / $TICKS" | bc -l)" >> "$runs"
  done
  sort -n "$runs" | sed -n "$(( (REPEAT + 1) / 2 ))p"
}

RESULTS=$WORK/results.txt
: > "$RESULTS"
# Untimed, after a tool is done with a set: its copies leave the server, so
# the server holds at most two copies of one set at any time, whichever tool
# runs when. Without it the sandbox's tmpfs held every tool's copies of every
# set (13 GiB by the end), and RGW's 20 GiB OSD filled during the large set
# (overwritten and deleted RADOS objects wait for RGW's garbage collector,
# which is asked to run now).
drop_copies() { # target key
  case $1 in
    sandbox) rm -rf "$SERVER_DIR/sandbox/objects/${2%/}" ;;
    rgw)
      AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_ACCESS_KEY_ID=$RGW_AK AWS_SECRET_ACCESS_KEY=$RGW_SK \
        $AWS --region us-east-1 --endpoint-url "$RGW_EP" s3 rm --recursive --only-show-errors "s3://bench/$2" >/dev/null || true
      CEPH_CONF=$WORK/rgw/ceph.conf timeout 300 radosgw-admin gc process --include-all >/dev/null 2>&1 || true ;;
  esac
}
run_target() { # name endpoint bucket prefix up_ak up_sk up_tok down_ak down_sk down_tok
  local target=$1 ep=$2 bucket=$3 prefix=$4
  local uak=$5 usk=$6 utok=$7 dak=$8 dsk=$9 dtok=${10}
  cat > "$WORK/aws.cfg" <<CFG
[default]
region = us-east-1
s3 =
  addressing_style = path
  max_concurrent_requests = $REQ
  multipart_threshold = 16MB
  multipart_chunksize = 8MB
CFG
  for set in "${sets[@]}"; do
    local dir=$WORK/data/$set
    local mib; mib=$(du -sbm "$dir" | cut -f1)
    local bytes; bytes=$(du -sb "$dir" | cut -f1)
    MEASURE_WARM=$bytes # measure(): fresh memory for the downloads of this set
    # A fresh server is slow to take its first gigabytes (a new RGW's first
    # 2 GiB upload took twice as long as the next ones): warm it up untimed,
    # so the tool measured first is not the one that pays for it.
    if [ "${BENCH_WARMUP:-1}" = 1 ]; then
      S3_ENDPOINT=$ep S3_BUCKET=$bucket AWS_ACCESS_KEY_ID=$uak AWS_SECRET_ACCESS_KEY=$usk AWS_SESSION_TOKEN=$utok \
        "$BUILD/bench_transfer" up "$dir" "${prefix}bench/warmup/$set/" >/dev/null 2>&1 || echo "warm-up upload failed" >&2
      drop_copies "$target" "${prefix}bench/warmup/$set/"
    fi
    for tool in $TOOLS; do
      local key=$prefix"bench/$tool/$set/"
      local dest=$WORK/dest-$tool-$set; rm -rf "$dest" "$dir.down"; mkdir -p "$dest"
      for dir_ in up down; do
        local ak=$uak sk=$usk tok=$utok
        [ "$dir_" = down ] && { ak=$dak; sk=$dsk; tok=$dtok; }
        # Every download starts from nothing, each repeat too: a file written
        # over one still cached reuses its pages, a new one allocates them.
        local r clean=
        [ "$dir_" = down ] && clean=$dest
        case $tool in
          igtcloud)
            if [ "$dir_" = up ]; then
              r=$(S3_ENDPOINT=$ep S3_BUCKET=$bucket AWS_ACCESS_KEY_ID=$ak AWS_SECRET_ACCESS_KEY=$sk AWS_SESSION_TOKEN=$tok BENCH_REQUESTS=$REQ BENCH_CHECKSUM=$CHECKSUM BENCH_SSE=$SSE measure "$BUILD/bench_transfer" up "$dir" "$key")
            else
              r=$(S3_ENDPOINT=$ep S3_BUCKET=$bucket AWS_ACCESS_KEY_ID=$ak AWS_SECRET_ACCESS_KEY=$sk AWS_SESSION_TOKEN=$tok BENCH_REQUESTS=$REQ MEASURE_CLEAN=$dir.down measure "$BUILD/bench_transfer" down "$dir" "$key")
              rm -rf "$dir.down"
            fi ;;
          awscli)
            local src=$dir dst=s3://$bucket/$key
            [ "$dir_" = down ] && { src=s3://$bucket/$key; dst=$dest; }
            r=$(AWS_CONFIG_FILE=$WORK/aws.cfg AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_ACCESS_KEY_ID=$ak AWS_SECRET_ACCESS_KEY=$sk AWS_SESSION_TOKEN=$tok \
                MEASURE_CLEAN=$clean measure $AWS --endpoint-url "$ep" s3 cp --recursive --only-show-errors "${AWS_SSE[@]}" "$src" "$dst") ;;
          rclone)
            local src=$dir dst=:s3:$bucket/$key
            [ "$dir_" = down ] && { src=:s3:$bucket/$key; dst=$dest; }
            local tokarg=(); [ -n "$tok" ] && tokarg=(--s3-session-token="$tok")
            r=$(unset AWS_CA_BUNDLE; export RCLONE_CONFIG=/dev/null; MEASURE_CLEAN=$clean measure "$RCLONE" --s3-provider=Other \
                --s3-endpoint="$ep" --s3-access-key-id="$ak" --s3-secret-access-key="$sk" "${tokarg[@]}" \
                "${RCLONE_SSE[@]}" --s3-force-path-style=true --s3-no-check-bucket --s3-no-head --s3-list-version=2 --no-check-dest --transfers "$REQ" --checkers "$REQ" \
                --s3-upload-concurrency 8 --s3-chunk-size 8M --multi-thread-streams 8 --multi-thread-cutoff 16M \
                copy "$src" "$dst") ;;
        esac
        rm -rf "$dest"; mkdir -p "$dest"
        echo "$target $set $dir_ $tool $mib $r" >> "$RESULTS"
        echo "$target $set $dir_ $tool $r" >&2
      done
      drop_copies "$target" "$key"
    done
  done
}

if [ -z "${BENCH_SKIP_SANDBOX:-}" ]; then
  echo "== sandbox" >&2
  SERVER_DIR=${BENCH_SERVER_DIR:-}
  if [ -z "$SERVER_DIR" ] && [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] &&
     [ "$(df -Pk /dev/shm | awk 'NR==2 {print $4}')" -ge $((12 * 1024 * 1024)) ]; then
    SERVER_DIR=$(mktemp -d /dev/shm/igtcloud-bench-sandbox.XXXXXX)
    SERVER_TMP=$SERVER_DIR
  fi
  SERVER_DIR=${SERVER_DIR:-$WORK}
  echo "== sandbox objects in $SERVER_DIR" >&2
  "$BUILD/src/sandbox/igtcloud-sandbox" --listen 127.0.0.1:0 --seed demo --data "$SERVER_DIR/sandbox" > "$WORK/sandbox.out" 2>"$WORK/sandbox.err" &
  PIDS+=($!)
  SERVER_PIDS=$!
  for _ in $(seq 1 50); do grep -qs ready "$WORK/sandbox.out" && break; sleep 0.1; done
  API=$(sed -n 's/.*ready api=\([^ ]*\).*/\1/p' "$WORK/sandbox.out")
  curl -s -D "$WORK/login.h" -o "$WORK/login.json" -H 'Content-Type: application/json' \
    -d '{"grantType":"password","username":"demo","password":"demo"}' "$API/api/auth/login"
  JWT="$(grep -o 'jwt_header_payload=[^;]*' "$WORK/login.h" | cut -d= -f2).$(grep -o 'jwt_signature=[^;]*' "$WORK/login.h" | cut -d= -f2)"
  CSRF=$(jq -r .CSRFToken "$WORK/login.json")
  for a in PUT GET; do
    curl -s -H "X-JWT: $JWT" -H "X-CSRF-TOKEN: $CSRF" "$API/api/auth/s3credentials?action=$a&prefix=projects/demo-project/" > "$WORK/creds-$a.json"
  done
  creds() { jq -r ".policyCredentials[0].credentials.$2" "$WORK/creds-$1.json"; }
  EP=$(creds PUT endpoint)
  run_target sandbox "$EP" "$(creds PUT bucket)" projects/demo-project/ \
    "$(creds PUT accessKey)" "$(creds PUT secretKey)" "$(creds PUT sessionToken)" \
    "$(creds GET accessKey)" "$(creds GET secretKey)" "$(creds GET sessionToken)"
fi
if [ "$RGW" = 1 ]; then
  echo "== ceph rgw" >&2
  PORT=$((20000 + RANDOM % 20000))
  LINE=$(CEPH_OBJECTSTORE=${CEPH_OBJECTSTORE:-bluestore} "$SRC/tests/interop/ceph-rgw.sh" start "$PORT" "$WORK/rgw" 2>/dev/null)
  EP=$(echo "$LINE" | sed -n 's/.*endpoint=\([^ ]*\).*/\1/p')
  AK=$(echo "$LINE" | sed -n 's/.*access_key=\([^ ]*\).*/\1/p')
  SK=$(echo "$LINE" | sed -n 's/.*secret_key=\([^ ]*\).*/\1/p')
  RGW_EP=$EP RGW_AK=$AK RGW_SK=$SK
  SERVER_PIDS=$(cat "$WORK"/rgw/run/*.pid) # radosgw, its OSD and monitor
  AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK \
    $AWS --region us-east-1 --endpoint-url "$EP" s3 mb s3://bench >/dev/null
  run_target rgw "$EP" bench "" "$AK" "$SK" "" "$AK" "$SK" ""
fi

echo
printf '%-8s %-7s %-5s %-9s %8s %9s %8s %9s %9s %10s\n' target dataset dir tool wall_s MiB/s cpu_s rss_MiB srv_cpu_s "x(ours)"
while read -r target set dir_ tool mib wall cpu rss srv; do
  [ -n "$wall" ] && [ "$wall" != 0 ] || { printf '%-8s %-7s %-5s %-9s %8s\n' "$target" "$set" "$dir_" "$tool" failed; continue; }
  ours=$(awk -v t="$target" -v s="$set" -v d="$dir_" '$1==t && $2==s && $3==d && $4=="igtcloud" {print $6}' "$RESULTS")
  rate=$(echo "if ($wall > 0) $mib / $wall else 0" | bc -l)
  ratio=$(echo "if ($ours > 0) $wall / $ours else 0" | bc -l)
  printf '%-8s %-7s %-5s %-9s %8.2f %9.1f %8.2f %9.1f %9.2f %10.2f\n' "$target" "$set" "$dir_" "$tool" "$wall" "$rate" "$cpu" "$(echo "$rss / 1024" | bc -l)" "${srv:-0}" "$ratio"
done < "$RESULTS"

# Issue 5's targets, and whether the server leaves room for them. On this
# machine client and server share the cores, so no client can finish before
# the server's own CPU for the run, spread over every core, is spent: floor_s
# is our run's srv_cpu_s / cores (the server's CPU for one set is much the
# same whichever tool sends it: compare srv_cpu_s), and a goal below it
# cannot be met here by any client. with_ours_s adds our client's own CPU
# (cpu_s): a goal below it needs a client that uses less CPU, and ours_s
# close to it means the cores were busy all along.
CORES=$(nproc)
echo
printf '%-8s %-7s %-5s %-12s %7s %7s %8s %11s  %s\n' target dataset dir goal goal_s ours_s floor_s with_ours_s verdict
awk -v cores="$CORES" '
  { k = $1 " " $2 " " $3 " " $4; wall[k] = $6; cpu[k] = $7; srv[k] = $9; seen[$1 " " $2 " " $3] = 1 }
  END {
    goal["small awscli"] = 3; goal["small rclone"] = 2; goal["large awscli"] = 2; goal["large rclone"] = 1.5
    for (k in seen) {
      split(k, f, " "); ours = wall[k " igtcloud"]
      if (ours == "" || ours == 0) continue
      floor = srv[k " igtcloud"] / cores; busy = (srv[k " igtcloud"] + cpu[k " igtcloud"]) / cores
      for (g in goal) {
        split(g, h, " "); if (h[1] != f[2] || wall[k " " h[2]] == "" || wall[k " " h[2]] == 0) continue
        t = wall[k " " h[2]] / goal[g]
        v = ours <= t ? "met" : floor > t ? "out of reach here (goal < floor)" : \
            busy > t ? "not met: needs a client using less CPU (goal < with_ours)" : "NOT MET"
        printf "%-8s %-7s %-5s %-12s %7.2f %7.2f %8.2f %11.2f  %s\n", f[1], f[2], f[3], goal[g] "x " h[2], t, ours, floor, busy, v
      }
    }
  }' "$RESULTS" | sort
