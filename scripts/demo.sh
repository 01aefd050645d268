#!/usr/bin/env bash
# The main job end to end on the local sandbox: build, start it with the demo
# world, log in once, download the demo project, upload a new study, list the
# project to CSV. A short look at the raw REST API comes first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh normal >/dev/null

bin=build/normal
igtcloud="$bin/src/cli/igtcloud"
work=$(mktemp -d "${TMPDIR:-/tmp}/igtcloud-demo.XXXXXX")
sandbox_pid= login_pid=
cleanup() {
  [[ -n "$login_pid" ]] && kill "$login_pid" 2>/dev/null && wait "$login_pid" 2>/dev/null
  [[ -n "$sandbox_pid" ]] && kill "$sandbox_pid" 2>/dev/null && wait "$sandbox_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n$ %s\n' "$*"; }

# Start the sandbox on free ports and wait for its ready line.
mkfifo "$work/ready"
"$bin/src/sandbox/igtcloud-sandbox" --listen 127.0.0.1:0 --data "$work/cloud" --seed demo \
  --log-requests "$work/requests.log" >"$work/ready" 2>"$work/sandbox.log" &
sandbox_pid=$!
read -r ready_line <"$work/ready"
api=${ready_line#ready api=}; api=${api%% *}
echo "sandbox: $ready_line"

# --- The REST API as any HTTP client sees it --------------------------------------
step "curl -X POST $api/api/auth/login (demo/demo), then GET /api/data/projects"
curl -sS -D "$work/headers" -o "$work/login.json" -H 'Content-Type: application/json' \
  -d '{"grantType": "password", "username": "demo", "password": "demo"}' "$api/api/auth/login"
csrf=$(jq -r .CSRFToken "$work/login.json")
hp=$(sed -n 's/^Set-Cookie: jwt_header_payload=\([^;]*\).*/\1/ip' "$work/headers" | tr -d '\r')
sig=$(sed -n 's/^Set-Cookie: jwt_signature=\([^;]*\).*/\1/ip' "$work/headers" | tr -d '\r')
jwt="$hp.$sig"
curl -sS -f -H "X-JWT: $jwt" -H "X-CSRF-TOKEN: $csrf" "$api/api/data/projects" \
  | jq -r '.[] | "project \(.name): \(.institutes | map(.name) | join(", "))"'
curl -sS -X POST -H "X-JWT: $jwt" -H "X-CSRF-TOKEN: $csrf" "$api/api/auth/logout" >/dev/null

# --- The igtcloud command: log in once, then download, upload, list ---------------
export CLOUD_TOKEN_MMAP="$work/token" CLOUD_DOMAIN="$api"
step "igtcloud login -u demo --password-stdin &   (stays running, keeps the session fresh)"
echo demo | "$igtcloud" login -u demo --password-stdin &
login_pid=$!
for _ in $(seq 100); do [[ -s "$CLOUD_TOKEN_MMAP" ]] && break; sleep 0.1; done
echo "logged in as $("$igtcloud" get-token -t jwt | cut -d. -f2 | base64 -d 2>/dev/null | jq -r .sub)"

step "igtcloud download $work/download 'Demo Project' --category files --category dicom --category annotations"
"$igtcloud" download "$work/download" "Demo Project" --category files --category dicom --category annotations
(cd "$work/download" && find . -path ./.igtcloud -prune -o -type f -print | sort)

step "igtcloud upload $work/upload 'Demo Project' 'Hospital A'   (a new study from a local folder)"
mkdir -p "$work/upload/Hospital A/PAT-NEW---STUDY-NEW/run1"
printf 'demo upload\n' >"$work/upload/Hospital A/PAT-NEW---STUDY-NEW/notes.txt"
head -c 3000000 /dev/urandom >"$work/upload/Hospital A/PAT-NEW---STUDY-NEW/run1/xa.dcm"
# Above 16 MiB: sent as a multipart upload (8 MiB parts, in parallel).
head -c 20000000 /dev/urandom >"$work/upload/Hospital A/PAT-NEW---STUDY-NEW/run1/cine.bin"
"$igtcloud" upload "$work/upload" "Demo Project" "Hospital A"

step "igtcloud download again: only the new study is fetched, byte-identical, its multipart file checked against its full-object CRC32C"
"$igtcloud" download "$work/download" "Demo Project" "Hospital A" --category files --category dicom --category annotations
# The check's question to the server: the checksum (HEAD, x-amz-checksum-mode); a
# composite one (other clients' uploads) would need part 1's size too.
grep -F 'cine.bin' "$work/requests.log" | grep -F '"operation":"HeadObject"' |
  sed -E 's/.*"status":([0-9]+).*/\1 &/
          s/^([0-9]+) .*"range":"part ([0-9]+)".*/sandbox log: HEAD cine.bin?partNumber=\2 -> \1 (its part size)/
          s/^([0-9]+) .*/sandbox log: HEAD cine.bin, x-amz-checksum-mode -> \1 (its checksum)/' || true
# The cloud names the new study's folder (patient/study id it assigned); find it by content.
for name in xa.dcm cine.bin; do
  fetched=$(find "$work/download/Hospital A" -path "*/files/run1/$name" -newer "$work/upload/Hospital A/PAT-NEW---STUDY-NEW/notes.txt")
  cmp "$work/upload/Hospital A/PAT-NEW---STUDY-NEW/run1/$name" "$fetched" \
    && echo "${fetched#$work/download/}: identical to the uploaded file"
done

step "igtcloud csv $work 'Demo Project'"
"$igtcloud" csv "$work" "Demo Project"
# A glimpse: three columns picked by name (the demo's values hold no commas).
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; print "studyIdHumanReadable,studyDate,description"; next }
         { print $col["studyIdHumanReadable"] "," $col["studyDate"] "," $col["description"] }' \
  "$work/cloud_Demo Project.csv"

step "stop igtcloud login (logs out, removes the token file)"
kill "$login_pid"; wait "$login_pid" || true; login_pid=
[[ -e "$CLOUD_TOKEN_MMAP" ]] && echo "token file still there!" || echo "token file removed"
echo
echo "demo finished: the sandbox stops now."
