#!/usr/bin/env bash
# The journal of multipart uploads against a real sandbox:
#  1. a run SIGKILLed right after CreateMultipartUpload (parts slowed down by
#     a fault) has the upload id in its journal already, and the re-run
#     resumes that very upload (ListParts, no second CreateMultipartUpload);
#  2. journaled uploads that will not be resumed are aborted, not left open:
#     the local file changed since, the local file was removed, or the key is
#     already complete on the server (an upload already gone counts as aborted);
# after every run the sandbox holds no open multipart upload (its
# data/multipart folder and its s3_uploads table are empty).
set -euo pipefail
: "${IGTCLOUD:?}" "${IGTCLOUD_SANDBOX:?}"
command -v python3 >/dev/null || { echo "SKIP: python3 needed for JSON checks"; exit 0; }
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
make_work igtcloud-upjournal
UP=
cleanup_extra() { if [[ -n "$UP" ]]; then kill -9 "$UP" 2>/dev/null || true; fi; }
export IGTCLOUD_STATE_DIR="$work/state"
ADMIN=upload-journal-admin
DATA="$work/data"
LOG="$work/requests.log"
J="$IGTCLOUD_STATE_DIR/upload-journal"

start_sandbox "$DATA" --seed demo --log-requests "$LOG" --admin-token "$ADMIN"
[[ $api == http* && $s3 == http* ]] || fail "sandbox did not start: $(cat "$sb_dir/sandbox.err")"

faults() { # faults POST|DELETE [json]
  curl -sf -X "$1" -H "X-Admin-Token: $ADMIN" -H 'Content-Type: application/json' \
    ${2:+--data "$2"} "$s3/_admin/faults" >/dev/null || fail "admin $1 /_admin/faults"
}
slow_parts() { faults POST '[{"operation": "UploadPart", "effect": "delay", "where": "headers", "ms": 4000}]'; }
mark() { wc -l <"$LOG"; }
# S3 requests after line $1 of the log, as "Operation key status" lines.
s3ops() { tail -n +"$(( $1 + 1 ))" "$LOG" | python3 -c '
import json,sys
for l in sys.stdin:
    r=json.loads(l)
    if r.get("service")=="s3": print(r.get("operation"), r.get("key"), r.get("status"))'; }
count() { s3ops "$1" | grep -c "^$2 .*/$3 $4\$" || true; }
upload() {
  printf 'demo\n' | "$IGTCLOUD" upload -d "$api" -u demo --password-stdin "$@"
}
# Open multipart uploads in the sandbox: part folders and rows of s3_uploads.
open_uploads() {
  ls -A "$DATA/multipart" 2>/dev/null || true
  python3 - "$DATA" <<'PY'
import os,sqlite3,sys
db = os.path.join(sys.argv[1], "sandbox.db")
if not os.path.exists(db):
    print("no", db)
for (uid, key) in sqlite3.connect(db).execute("SELECT upload_id, key FROM s3_uploads"):
    print("row", uid, key)
PY
}
no_open_uploads() {
  local left; left=$(open_uploads)
  [[ -z "$left" ]] || fail "$1: multipart uploads left open: $left"
}
# The live journal line of a key ("" when its last line ended it).
journaled_id() { awk -v k="$1" '$NF == k { id = ($1 == "1") ? $5 : "" } END { print id }' "$J" 2>/dev/null; }
# The live journaled upload id of the key ending in /$1 ("" when none).
journaled_name() {
  awk -v n="/$1" '{ k = $NF; if (substr(k, length(k) - length(n) + 1) == n) id = ($1 == "1") ? $5 : "" }
                  END { print id }' "$J" 2>/dev/null
}
# Start an upload in the background and SIGKILL it once the sandbox has
# answered CreateMultipartUpload for $1 and the client has journaled the id
# (the sandbox's log line can come before the client read the answer). Parts
# are slowed down (4 s), so the run is still sending them: the caller checks
# that no part of $1 had completed.
printf 'demo\n' >"$work/password"
kill_after_create() {
  local name=$1; shift
  local m; m=$(mark)
  "$IGTCLOUD" upload -d "$api" -u demo --password-stdin "$@" -q <"$work/password" 2>/dev/null &
  UP=$!
  local t=0
  until tail -n +"$((m + 1))" "$LOG" | grep '"CreateMultipartUpload"' | matches "/$name\""; do
    t=$((t + 1)); [[ $t -lt 20000 ]] || fail "no CreateMultipartUpload for $name"
  done
  t=0
  until [[ -n "$(journaled_name "$name")" ]]; do
    t=$((t + 1)); [[ $t -lt 200 ]] || break  # 2 s, well within the parts' delay; the caller reports it
    sleep 0.01
  done
  kill -9 "$UP" 2>/dev/null || true; wait "$UP" 2>/dev/null || true; UP=
  [[ $(count "$m" UploadPart "$name" 200) -eq 0 ]] || fail "a part of $name completed before the kill"
}

MB=$((1024 * 1024))
L="$work/local"; S="$L/Hospital A/Journal---Study"; mkdir -p "$S"
head -c $((24 * MB)) /dev/urandom >"$S/resume.bin"   # 3 parts of 8 MiB

# ---- 1. the id is journaled before any part leaves; the re-run resumes it ----
slow_parts
kill_after_create resume.bin "$L" "Demo Project" "Hospital A"
KEY=$(s3ops 0 | awk '$1 == "CreateMultipartUpload" && $2 ~ /\/resume.bin$/ { print $2; exit }')
ID=$(journaled_id "$KEY")
[[ -n "$ID" ]] || fail "upload id of resume.bin not journaled at once: $(cat "$J" 2>/dev/null)"
[[ -d "$DATA/multipart/$ID" ]] && open_uploads | matches "^row $ID " \
  || fail "journaled id $ID is not the sandbox's open upload: $(open_uploads)"
faults DELETE
m=$(mark)
upload "$L" "Demo Project" "Hospital A" -q 2>"$work/e1" || fail "re-run: $(cat "$work/e1")"
[[ $(count "$m" ListParts resume.bin 200) -eq 1 ]] || fail "re-run did not ask ListParts: $(s3ops "$m")"
[[ $(s3ops "$m" | grep -c '^CreateMultipartUpload .*/resume.bin ') -eq 0 ]] \
  || fail "re-run started a second multipart upload: $(s3ops "$m")"
[[ $(count "$m" CompleteMultipartUpload resume.bin 200) -eq 1 ]] || fail "resume.bin not completed"
[[ -z "$(journaled_id "$KEY")" ]] || fail "journal still lists resume.bin"
no_open_uploads "resume"
echo "ok: upload id journaled before any part; the re-run resumed that upload"

# ---- 2a. the local file changed since: the old upload is aborted -------------
head -c $((24 * MB)) /dev/urandom >"$S/changed.bin"
slow_parts
kill_after_create changed.bin "$L" "Demo Project" "Hospital A"
KEY2=${KEY%/resume.bin}/changed.bin
OLD=$(journaled_id "$KEY2")
[[ -n "$OLD" && -d "$DATA/multipart/$OLD" ]] || fail "changed.bin: no journaled open upload"
faults DELETE
head -c $((20 * MB)) /dev/urandom >"$S/changed.bin"     # another size and mtime
m=$(mark)
upload "$L" "Demo Project" "Hospital A" -q 2>"$work/e2" || fail "run after change: $(cat "$work/e2")"
[[ $(count "$m" AbortMultipartUpload changed.bin 204) -eq 1 ]] \
  || fail "old upload of changed.bin not aborted: $(s3ops "$m")"
[[ ! -e "$DATA/multipart/$OLD" ]] || fail "old upload $OLD still open"
[[ $(count "$m" ListParts changed.bin 200) -eq 0 ]] || fail "changed.bin resumed instead of aborted"
[[ $(count "$m" CreateMultipartUpload changed.bin 200) -eq 1 && \
   $(count "$m" CompleteMultipartUpload changed.bin 200) -eq 1 ]] || fail "changed.bin not sent anew"
obj=$(find "$DATA/objects" -path "*/files/changed.bin" | head -1)
[[ -n "$obj" ]] && cmp -s "$obj" "$S/changed.bin" || fail "changed.bin on the server differs"
[[ -z "$(journaled_id "$KEY2")" ]] || fail "journal still lists changed.bin"
no_open_uploads "changed"
echo "ok: a changed file's journaled upload is aborted and the new one completed"

# ---- 2b. the local file was removed: its upload is aborted -------------------
head -c $((24 * MB)) /dev/urandom >"$S/removed.bin"
slow_parts
kill_after_create removed.bin "$L" "Demo Project" "Hospital A"
KEY3=${KEY%/resume.bin}/removed.bin
OLD=$(journaled_id "$KEY3")
[[ -n "$OLD" && -d "$DATA/multipart/$OLD" ]] || fail "removed.bin: no journaled open upload"
faults DELETE
rm "$S/removed.bin"
echo more >"$S/other.txt"
m=$(mark)
upload "$L" "Demo Project" "Hospital A" -q 2>"$work/e3" || fail "run after removal: $(cat "$work/e3")"
[[ $(count "$m" AbortMultipartUpload removed.bin 204) -eq 1 ]] \
  || fail "upload of removed.bin not aborted: $(s3ops "$m")"
[[ -z "$(journaled_id "$KEY3")" ]] || fail "journal still lists removed.bin"
no_open_uploads "removed"
echo "ok: a removed file's journaled upload is aborted"

# ---- 2c. the key is complete on the server: aborted (already gone is fine) ---
printf '1 %s 1 0 %s %s\n' $((24 * MB)) GoneUpload0123 "$KEY" >>"$J"
m=$(mark)
upload "$L" "Demo Project" "Hospital A" -q 2>"$work/e4" || fail "run with a stale line: $(cat "$work/e4")"
[[ $(count "$m" AbortMultipartUpload resume.bin 404) -eq 1 ]] \
  || fail "stale upload of a complete key not aborted: $(s3ops "$m")"
[[ $(s3ops "$m" | grep -c '^\(PutObject\|UploadPart\|CreateMultipartUpload\) ') -eq 0 ]] \
  || fail "complete files sent again: $(s3ops "$m")"
[[ -z "$(journaled_id "$KEY")" ]] || fail "journal still lists the complete key"
no_open_uploads "complete"
echo "ok: a complete key's journaled upload is aborted (gone already) and its line ended"
