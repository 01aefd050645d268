#!/usr/bin/env bash
# The main job end to end on the local sandbox: build, start it with the demo
# world, log in, and browse the demo project as a user would.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh normal >/dev/null

bin=build/normal
work=$(mktemp -d "${TMPDIR:-/tmp}/igtcloud-demo.XXXXXX")
sandbox_pid=
cleanup() {
  [[ -n "$sandbox_pid" ]] && kill "$sandbox_pid" 2>/dev/null && wait "$sandbox_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# Start the sandbox on a free port and wait for its ready line.
mkfifo "$work/ready"
"$bin/src/sandbox/igtcloud-sandbox" --listen 127.0.0.1:0 --data "$work/cloud" --seed demo \
  >"$work/ready" 2>"$work/sandbox.log" &
sandbox_pid=$!
read -r ready_line <"$work/ready"
api=${ready_line#ready api=}; api=${api%% *}
echo "sandbox: $ready_line"

step() { printf '\n$ %s\n' "$*"; }

# Log in as the demo user: the JWT arrives in two cookies, the CSRF token in the body.
step "curl -X POST $api/api/auth/login (demo/demo)"
curl -sS -D "$work/headers" -o "$work/login.json" -H 'Content-Type: application/json' \
  -d '{"grantType": "password", "username": "demo", "password": "demo"}' "$api/api/auth/login"
csrf=$(jq -r .CSRFToken "$work/login.json")
hp=$(sed -n 's/^Set-Cookie: jwt_header_payload=\([^;]*\).*/\1/ip' "$work/headers" | tr -d '\r')
sig=$(sed -n 's/^Set-Cookie: jwt_signature=\([^;]*\).*/\1/ip' "$work/headers" | tr -d '\r')
jwt="$hp.$sig"
echo "logged in as $(jq -r .sub "$work/login.json")"

api_get() { curl -sS -f -H "X-JWT: $jwt" -H "X-CSRF-TOKEN: $csrf" -H 'Accept: application/json' "$api$1"; }

step "GET /api/data/projects"
api_get /api/data/projects | jq -r '.[] | "project \(.name)  id=\(.id)  s3Prefix=\(.s3Prefix)"'
project=$(api_get /api/data/projects | jq -r '.[0].id')

step "GET /api/data/projects/$project/hospitals"
api_get "/api/data/projects/$project/hospitals" | jq -r '.[] | "institute \(.name)  id=\(.id)"'
hospital=$(api_get "/api/data/projects/$project/hospitals" | jq -r '.[0].id')

step "GET /api/data/hospitals/$hospital/studies"
api_get "/api/data/hospitals/$hospital/studies" | jq -r '.[] | "study \(.studyIdHumanReadable)  type=\(.studyType)"'
study=$(api_get "/api/data/hospitals/$hospital/studies" | jq -r '.[0].studyDatabaseId')

step "GET /api/data/hospitals/$hospital/studies/$study/files"
api_get "/api/data/hospitals/$hospital/studies/$study/files" | jq -r '.files[] | "\(.fileSize)\t\(.fileName)"'

step "GET /api/auth/s3credentials?action=GET&prefix=..."
prefix=$(api_get "/api/data/hospitals/$hospital/studies" | jq -r '.[0].s3Prefix')
api_get "/api/auth/s3credentials?action=GET&prefix=$prefix" | jq '.policyCredentials[0] | {allowed, expires: .credentials.expires}'

step "igtcloud download (the demo project, every category) and igtcloud csv"
export CLOUD_TOKEN_MMAP="$work/token"
echo demo | "$bin/src/cli/igtcloud" download --domain "$api" -u demo --password-stdin \
  "$work/download" "Demo Project" --category files --category dicom --category annotations
(cd "$work/download" && find . -path ./.igtcloud -prune -o -type f -print | sort)
echo demo | "$bin/src/cli/igtcloud" csv --domain "$api" -u demo --password-stdin "$work/download" "Demo Project"
cut -d, -f1-4 "$work/download/cloud_Demo Project.csv"

step "curl -X POST $api/api/auth/logout"
curl -sS -X POST -H "X-JWT: $jwt" -H "X-CSRF-TOKEN: $csrf" "$api/api/auth/logout"; echo
echo
echo "demo finished: the sandbox stops now."
