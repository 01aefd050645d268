#!/usr/bin/env bash
# igtcloud upload against a real sandbox: layouts, study creation and matching,
# skip-if-complete, submit, annotations, bad inputs (nothing sent), permissions,
# service identities, injected faults and a SIGKILL in the middle.
set -euo pipefail
command -v python3 >/dev/null || { echo "SKIP: python3 needed for JSON checks"; exit 0; }
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
make_work igtcloud-upload-test
# The journal of multipart uploads in flight lives here, not in the user's home.
export XDG_STATE_HOME="$work/state"
unset IGTCLOUD_STATE_DIR
# The bad-input case leaves a file without permissions behind.
cleanup_extra() { chmod -R u+rwx "$work" 2>/dev/null || true; }

# A fresh sandbox NAME with the demo world, logging its requests to $LOG;
# the one before must still be running.
sandbox() { # sandbox NAME [extra args...]
  local name=$1; shift
  [[ -z "$sandbox_pid" ]] || kill -0 "$sandbox_pid" || fail "the sandbox died before '$name'"
  stop_sandbox
  LOG="$work/$name.log"
  start_sandbox "$work/$name.data" --seed demo --log-requests "$LOG" "$@"
}
mark() { wc -l <"$LOG"; }
# Requests after line $1 of the log, as "METHOD path" lines.
since() { tail -n +"$(( $1 + 1 ))" "$LOG" | python3 -c '
import json,os,sys
try:
    for l in sys.stdin:
        r=json.loads(l); print(r["method"], r["path"], r["status"], flush=True)
except BrokenPipeError:
    os._exit(0)'; }
# S3 requests after line $1 of the log, as "Operation key status" lines.
s3ops() { tail -n +"$(( $1 + 1 ))" "$LOG" | python3 -c '
import json,sys
for l in sys.stdin:
    r=json.loads(l)
    if r.get("service")=="s3": print(r.get("operation"), r.get("key"), r.get("status"))'; }
count_op() { s3ops "$1" | grep -c "^$2 .*$3 200$" || true; }
writes_since() { since "$1" | grep -Ev '^GET |^HEAD |/api/auth/(login|logout)' || true; }
up() { # up USER PASSWORD args...
  local u=$1 p=$2; shift 2
  printf '%s\n' "$p" | "$IGTCLOUD" upload -d "$api" -u "$u" --password-stdin "$@"
}
# JSON of an API GET as demo (or $AS_USER).
api_get() {
  python3 - "$api" "$1" "${AS_USER:-demo}" <<'PY'
import json,sys,urllib.request
api,path,user=sys.argv[1:4]
req=urllib.request.Request(api+"/api/auth/login",data=json.dumps({"grantType":"password","username":user,"password":user}).encode(),headers={"Content-Type":"application/json"})
r=urllib.request.urlopen(req); body=json.load(r)
ck={}
for h in r.headers.get_all("Set-Cookie"):
    k,v=h.split(";")[0].split("=",1); ck[k]=v
jwt=ck["jwt_header_payload"]+"."+ck["jwt_signature"]
req=urllib.request.Request(api+path,headers={"X-JWT":jwt,"X-CSRF-TOKEN":body["CSRFToken"],"Accept":"application/json"})
print(urllib.request.urlopen(req).read().decode())
PY
}
HA=6f1c2b1e-0000-4000-8000-0000000000a1
HB=6f1c2b1e-0000-4000-8000-0000000000b2
study_id_by_patient() { api_get "/api/data/hospitals/$1/studies" | python3 -c '
import json,sys
for s in json.load(sys.stdin):
    if (s.get("patient") or {}).get("patientName")==sys.argv[1] or s.get("name")==sys.argv[1]: print(s["studyDatabaseId"]); break' "$2"; }
files_of() { api_get "/api/data/hospitals/$1/studies/$2/files${3:-}" | python3 -c '
import json,sys
d=json.load(sys.stdin)
for cat in ("files","annotations","dicom"):
    for f in d.get(cat,[]): print(cat, f["fileName"], f["fileSize"], f["isCompleted"])' | cat; }

# --- usage errors -------------------------------------------------------------
set +e
"$IGTCLOUD" upload >/dev/null 2>&1; r1=$?
"$IGTCLOUD" upload a b --category dicom >/dev/null 2>&1; r2=$?
"$IGTCLOUD" upload a b --folder-structure deep >/dev/null 2>&1; r3=$?
"$IGTCLOUD" upload a b --concurrent-files 0 >/dev/null 2>&1; r4=$?
"$IGTCLOUD" upload a b --password x >/dev/null 2>&1; r5=$?
set -e
[[ "$r1$r2$r3$r4$r5" == 22222 ]] || fail "usage errors exit codes $r1 $r2 $r3 $r4 $r5"
"$IGTCLOUD" upload --help | matches -- '--folder-structure' || fail "upload --help"
"$IGTCLOUD" --help | matches '^  upload ' || fail "--help does not list upload"
echo "ok: usage"

# --- flat layout: project files, new and existing studies, ignored folders ----
sandbox flat
L="$work/flat"
mkdir -p "$L/files/sub" "$L/Hospital A/NewPat---S1" "$L/Hospital A/PAT-001---STUDY-2" "$L/Nowhere" \
         "$L/Hospital A/Json---Study/files" "$L/Hospital A/Json---Study/dicom"
echo "project readme" >"$L/files/README2.txt"
echo "nested" >"$L/files/sub/nested.txt"
head -c 300000 /dev/urandom >"$L/Hospital A/NewPat---S1/big.bin"
echo "notes" >"$L/Hospital A/NewPat---S1/notes.txt"
echo "follow-up extra" >"$L/Hospital A/PAT-001---STUDY-2/extra.txt"
echo "x" >"$L/Nowhere/x.txt"
cat >"$L/Hospital A/Json---Study/study.json" <<'J'
{"studyType": "Study", "studyId": "SJ-1", "description": "from study.json",
 "studyDate": "2023-05-06T07:08:09", "patient": {"patientId": "PJ-1", "patientName": "Json^Pat"}}
J
echo "in files" >"$L/Hospital A/Json---Study/files/kept.txt"
echo "in dicom" >"$L/Hospital A/Json---Study/dicom/dropped.dcm"

m=$(mark)
up demo demo "$L" "Demo Project" -v >"$work/o1" 2>"$work/e1" || fail "flat upload failed: $(cat "$work/e1")"
grep -q "ignored $L/Nowhere" "$work/e1" || fail "ignored folder not reported"
grep -q "dicom/ folder is not uploaded" "$work/e1" || fail "dicom/ rule not reported"
grep -q 'Uploaded 6 file(s)' "$work/e1" || fail "summary: $(tail -1 "$work/e1")"
since "$m" | matches 'PUT /igtcloud-sandbox/institutes/hospital-a/.*/files/big.bin 200' \
  || fail "big.bin not PUT"
[[ $(since "$m" | grep -c '^POST /api/data/hospitals/.*/studies 201') -eq 2 ]] \
  || fail "expected 2 studies created: $(since "$m" | grep studies)"
since "$m" | matches "PUT .*dropped.dcm" && fail "dicom/ file was uploaded"
since "$m" | matches "PUT .*study.json" && fail "study.json was uploaded as a file"
NEW=$(study_id_by_patient $HA NewPat---S1); [[ -n "$NEW" ]] || fail "study NewPat---S1 not created"
grep -q '^files big.bin 300000 True$' <<<"$(files_of $HA "$NEW")" || fail "big.bin not complete: $(files_of $HA "$NEW")"
SJ=$(study_id_by_patient $HA 'Json^Pat'); [[ -n "$SJ" ]] || fail "study from study.json not created"
grep -q '"description": *"from study.json"' <<<"$(api_get "/api/data/hospitals/$HA/studies/$SJ")" \
  || fail "study.json fields not used"
grep -q '^files kept.txt 9 True$' <<<"$(files_of $HA "$SJ")" || fail "files/ rule: kept.txt"
S2=$(api_get "/api/data/hospitals/$HA/studies" | python3 -c '
import json,sys
for s in json.load(sys.stdin):
    if s["studyIdHumanReadable"]=="PAT-001/STUDY-2": print(s["studyDatabaseId"])')
grep -q '^files extra.txt 16 True$' <<<"$(files_of $HA "$S2")" || fail "existing study not matched by folder"
echo "ok: flat layout"

# --- re-run skips complete files (asserted from the request log) ---------------
# The whole tree again: project files included. They have no completion call;
# the sandbox completes them once their object is stored with the registered size.
m=$(mark)
up demo demo "$L" "Demo Project" >"$work/o2" 2>"$work/e2" || fail "re-run failed: $(cat "$work/e2")"
grep -q 'skipped 6 already complete' "$work/e2" || fail "re-run summary: $(tail -1 "$work/e2")"
since "$m" | matches '^PUT ' && fail "re-run sent bytes again: $(since "$m" | grep '^PUT ')"
since "$m" | matches '^POST /api/data/projects/.*/files' && fail "re-run registered project files again"
since "$m" | matches '^POST /api/data/hospitals/.*/studies 201' && fail "re-run created a study"
echo "ok: skip-if-complete (study and project files)"

# --- dry run sends nothing -----------------------------------------------------
mkdir -p "$L/Hospital B/Dry---Run"; echo dry >"$L/Hospital B/Dry---Run/d.txt"
m=$(mark)
up demo demo "$L" "Demo Project" "Hospital B" --dry-run >"$work/o3" 2>"$work/e3" || fail "dry run failed"
grep -q "would upload $L/Hospital B/Dry---Run/d.txt" "$work/o3" || fail "dry run output: $(cat "$work/o3")"
[[ -z "$(writes_since "$m")" ]] || fail "dry run wrote: $(writes_since "$m")"
rm -rf "$L/Hospital B"
echo "ok: dry run"

# --- hierarchical layout ----------------------------------------------------------
H="$work/hier"; mkdir -p "$H/Hospital B/PatH/StudyH/deep"
echo one >"$H/Hospital B/PatH/StudyH/one.txt"; echo two >"$H/Hospital B/PatH/StudyH/deep/two.txt"
up demo demo "$H" "Demo Project" "Hospital B" --folder-structure hierarchical -q >"$work/o4" 2>"$work/e4" \
  || fail "hierarchical upload: $(cat "$work/e4")"
HS=$(study_id_by_patient $HB PatH); [[ -n "$HS" ]] || fail "hierarchical study not created"
grep -q '^files deep/two.txt 4 True$' <<<"$(files_of $HB "$HS")" || fail "hierarchical nested file"
m=$(mark)
up demo demo "$H" "Demo Project" "Hospital B" --folder-structure hierarchical >"$work/o4" 2>"$work/e4" \
  || fail "hierarchical re-run"
[[ -z "$(writes_since "$m")" ]] || fail "hierarchical re-run wrote: $(writes_since "$m")"
echo "ok: hierarchical"

# --- annotations, validated before anything is sent -----------------------------
A="$work/ann"; mkdir -p "$A/Hospital A/NewPat---S1"
echo '{"labels": [1, 2]}' >"$A/Hospital A/NewPat---S1/labels.json"
up demo demo "$A" "Demo Project" "Hospital A" --category annotations -q 2>"$work/e5" || fail "annotations: $(cat "$work/e5")"
grep -q '^annotations labels.json 19 True$' <<<"$(files_of $HA "$NEW" "?auxiliary=True")" \
  || fail "annotation not complete: $(files_of $HA "$NEW" "?auxiliary=True")"
echo '{"labels": [1, 2' >"$A/Hospital A/NewPat---S1/broken.json"
m=$(mark); set +e
up demo demo "$A" "Demo Project" "Hospital A" --category annotations 2>"$work/e6"; rc=$?; set -e
[[ $rc -eq 2 ]] || fail "invalid annotation exit $rc"
grep -q "broken.json: annotation is not valid JSON" "$work/e6" || fail "annotation message: $(cat "$work/e6")"
[[ -z "$(writes_since "$m")" ]] || fail "invalid annotation still sent: $(writes_since "$m")"
echo "ok: annotations"

# --- bad local input: one line naming file and field, non-zero, nothing sent -----
bad_case() { # bad_case NAME WANT_RC PATTERN
  local m rc; m=$(mark); set +e
  up demo demo "$B" "Demo Project" "Hospital A" >"$work/ob" 2>"$work/eb"; rc=$?; set -e
  [[ $rc -eq $2 ]] || fail "$1: exit $rc, want $2 ($(cat "$work/eb"))"
  grep -q -- "$3" "$work/eb" || fail "$1: message '$(cat "$work/eb")'"
  [[ $(grep -c '^igtcloud: ' "$work/eb") -eq 1 ]] || fail "$1: not one line: $(cat "$work/eb")"
  [[ -z "$(writes_since "$m")" ]] || fail "$1: sent $(writes_since "$m")"
  rm -rf "$B"
}
B="$work/bad"; mkdir -p "$B/Hospital A/Ok---One" "$B/Hospital A/Bad---Json"
echo fine >"$B/Hospital A/Ok---One/a.txt"; echo '{"studyType": "Study",' >"$B/Hospital A/Bad---Json/study.json"
bad_case "syntax" 2 "Bad---Json/study.json: not valid JSON: line"
mkdir -p "$B/Hospital A/Bad---Type"; echo '{"patient": {"patientName": 5}}' >"$B/Hospital A/Bad---Type/study.json"
bad_case "type" 2 "Bad---Type/study.json: field 'patient.patientName' must be a string"
mkdir -p "$B/Hospital A/Bad---Kind"; echo '{"studyType": "Nope"}' >"$B/Hospital A/Bad---Kind/study.json"
bad_case "studyType" 2 "Bad---Kind/study.json: field 'studyType' must be one of"
mkdir -p "$B/Hospital A/Bad---Date"; echo '{"studyDate": "04/03/2021"}' >"$B/Hospital A/Bad---Date/study.json"
bad_case "date" 2 "field 'studyDate' must be an ISO date-time"
mkdir -p "$B/Hospital A/Loop---Study/sub"; ln -s .. "$B/Hospital A/Loop---Study/sub/up"
bad_case "symlink loop" 7 "symlink loop"
mkdir -p "$B/Hospital A/Dangling---Link"; ln -s /nonexistent/file "$B/Hospital A/Dangling---Link/gone.txt"
bad_case "broken symlink" 7 "gone.txt: broken symlink"
mkdir -p "$B/Hospital A/Fifo---Study"; mkfifo "$B/Hospital A/Fifo---Study/pipe"
bad_case "special file" 7 "pipe is not a regular file"
if [[ $(id -u) -ne 0 ]]; then
  mkdir -p "$B/Hospital A/Locked---Study"; echo s >"$B/Hospital A/Locked---Study/secret.txt"
  chmod 000 "$B/Hospital A/Locked---Study/secret.txt"
  bad_case "unreadable" 7 "cannot read .*secret.txt"
fi
set +e
up demo demo "$work/does-not-exist" "Demo Project" 2>"$work/eb"; rc=$?; set -e
[[ $rc -eq 7 ]] || fail "missing LOCAL exit $rc"
echo "ok: bad inputs"

# --- submit: right and wrong password ------------------------------------------
S="$work/sub"; mkdir -p "$S/Hospital A/Submit---Me"; echo s >"$S/Hospital A/Submit---Me/s.txt"
set +e
printf 'wrong\n' | "$IGTCLOUD" upload -d "$api" -u demo --password-stdin "$S" "Demo Project" "Hospital A" --submit 2>"$work/e7"; rc=$?
set -e
# The password is asked once: a wrong one fails the login before anything is sent.
[[ $rc -eq 3 ]] || fail "wrong password exit $rc ($(cat "$work/e7"))"
# With a valid login (token file) a wrong submit password is refused by the server.
printf 'demo\n' | "$IGTCLOUD" login -d "$api" -u demo --password-stdin 2>"$work/login.err" & LOGIN_PID=$!
for _ in $(seq 50); do [[ -s "$CLOUD_TOKEN_MMAP" ]] && break; sleep 0.1; done
set +e
printf 'wrong\n' | "$IGTCLOUD" upload --password-stdin "$S" "Demo Project" "Hospital A" --submit 2>"$work/e8"; rc=$?
set -e
[[ $rc -eq 3 ]] || fail "wrong submit password exit $rc ($(cat "$work/e8"))"
grep -q "username or password is not correct" "$work/e8" || fail "submit message: $(cat "$work/e8")"
# Logged in, but --submit has no password to submit with: a usage error, nothing sent.
m=$(mark); set +e
"$IGTCLOUD" upload "$S" "Demo Project" "Hospital A" --submit </dev/null 2>"$work/e8b"; rc=$?
set -e
[[ $rc -eq 2 ]] || fail "--submit without a password: exit $rc ($(cat "$work/e8b"))"
[[ $(cat "$work/e8b") == "igtcloud: --submit needs the password and there is no terminal to ask it on; use --password-stdin" ]] ||
  fail "--submit without a password: '$(cat "$work/e8b")'"
[[ -z $(writes_since "$m") ]] || fail "--submit without a password wrote: $(writes_since "$m")"
printf 'demo\n' | "$IGTCLOUD" upload --password-stdin "$S" "Demo Project" "Hospital A" --submit 2>"$work/e9" \
  || fail "submit: $(cat "$work/e9")"
grep -q "Submit---Me: submitted" "$work/e9" || fail "not submitted: $(cat "$work/e9")"
SM=$(study_id_by_patient $HA Submit---Me)
grep -q '"electronicRecordState": *"submitted"' <<<"$(api_get "/api/data/hospitals/$HA/studies/$SM")" \
  || fail "record state not submitted"
kill -INT $LOGIN_PID; wait $LOGIN_PID || true
echo "ok: submit"

# --- a user without access ---------------------------------------------------------
m=$(mark); set +e
up other other "$L" "Demo Project" 2>"$work/e10"; rc=$?; set -e
[[ $rc -eq 4 ]] || fail "other user exit $rc"
grep -q "no project named 'Demo Project' that other may see" "$work/e10" || fail "other: $(cat "$work/e10")"
[[ -z "$(writes_since "$m")" ]] || fail "other user sent $(writes_since "$m")"
echo "ok: permissions"

# --- service identity (upload only) -------------------------------------------------
python3 - "$api" "$HA" "$work/svc" <<'PY'
import json,sys,urllib.request
api,hid,out=sys.argv[1:4]
req=urllib.request.Request(api+"/api/auth/login",data=json.dumps({"grantType":"password","username":"demo","password":"demo"}).encode(),headers={"Content-Type":"application/json"})
r=urllib.request.urlopen(req); body=json.load(r); ck={}
for h in r.headers.get_all("Set-Cookie"):
    k,v=h.split(";")[0].split("=",1); ck[k]=v
h={"X-JWT":ck["jwt_header_payload"]+"."+ck["jwt_signature"],"X-CSRF-TOKEN":body["CSRFToken"],"Content-Type":"application/json","Accept":"application/json"}
req=urllib.request.Request(api+"/api/data/organizations/"+hid+"/services",data=b'{"name":"uploader"}',headers=h)
s=json.load(urllib.request.urlopen(req))
open(out+".id","w").write(s["serviceId"]); open(out+".pem","w").write(s["privateKey"])
PY
SV="$work/svcdata"; mkdir -p "$SV/Hospital A/Svc---Study"; echo svc >"$SV/Hospital A/Svc---Study/svc.txt"
"$IGTCLOUD" upload -d "$api" -s "$work/svc.pem" -u "$(cat "$work/svc.id")" "$SV" "Demo Project" "Hospital A" -q 2>"$work/e11" \
  || fail "service upload: $(cat "$work/e11")"
SS=$(study_id_by_patient $HA Svc---Study)
grep -q '^files svc.txt 4 True$' <<<"$(files_of $HA "$SS")" || fail "service upload file not complete"
echo "ok: service identity"

# --- injected faults: transient errors are retried; a hard failure is never completed
cat >"$work/faults.json" <<'J'
[{"operation": "PutObject", "key": "*flaky*", "nth": 1, "effect": "error", "status": 503,
  "code": "SlowDown", "message": "Please reduce your request rate."},
 {"operation": "PutObject", "key": "*doomed*", "effect": "error", "status": 403,
  "code": "AccessDenied", "message": "Access Denied"}]
J
sandbox faults --faults "$work/faults.json"
F="$work/faults"; mkdir -p "$F/Hospital A/Fault---Study"
echo flaky >"$F/Hospital A/Fault---Study/flaky.txt"; echo doomed >"$F/Hospital A/Fault---Study/doomed.txt"
set +e
up demo demo "$F" "Demo Project" "Hospital A" -q 2>"$work/e12"; rc=$?; set -e
[[ $rc -eq 6 ]] || fail "partial failure exit $rc ($(cat "$work/e12"))"
grep -q "failed .*doomed.txt" "$work/e12" || fail "failed file not listed: $(cat "$work/e12")"
FS=$(study_id_by_patient $HA Fault---Study)
grep -q '^files flaky.txt 6 True$' <<<"$(files_of $HA "$FS")" || fail "retried file not complete"
grep -q '^files doomed.txt 7 True$' <<<"$(files_of $HA "$FS")" && fail "failed file marked complete"
echo "ok: faults"

# --- SIGKILL during a multipart upload: the re-run resumes it, nothing is left open ---
# Parts are slowed down so the kill lands after some parts and before the last.
cat >"$work/slowparts.json" <<'J'
[{"operation": "UploadPart", "effect": "delay", "where": "headers", "ms": 600}]
J
sandbox kill --faults "$work/slowparts.json"
K="$work/kill"; mkdir -p "$K/Hospital B/Kill---Study"
head -c $((48 * 1024 * 1024)) /dev/urandom >"$K/Hospital B/Kill---Study/large.bin"   # 6 parts of 8 MiB
for i in $(seq 1 40); do echo "$i" >"$K/Hospital B/Kill---Study/small-$i.txt"; done
m0=$(mark)
printf 'demo\n' | "$IGTCLOUD" upload -d "$api" -u demo --password-stdin "$K" "Demo Project" "Hospital B" \
  --concurrent-studies 1 --concurrent-files 2 -q 2>/dev/null &
UP=$!
for _ in $(seq 400); do
  [[ $(tail -n +"$((m0 + 1))" "$LOG" | grep '"UploadPart"' | grep 'large.bin' | grep -c '"status":200') -ge 2 ]] && break
  sleep 0.05
done
kill -9 $UP 2>/dev/null || true; wait $UP 2>/dev/null || true
# Let the server finish what the killed client had in flight.
sleep 1
p1=$(count_op "$m0" UploadPart large.bin)
[[ $p1 -ge 2 && $p1 -lt 6 ]] || fail "kill did not land inside the multipart upload ($p1 parts)"
J="$XDG_STATE_HOME/igtcloud/upload-journal"
grep -q '^1 .*/files/large.bin$' "$J" || fail "upload id of large.bin not journaled: $(cat "$J" 2>/dev/null)"
m=$(mark)
up demo demo "$K" "Demo Project" "Hospital B" -q 2>"$work/e13" || fail "re-run after kill: $(cat "$work/e13")"
KS=$(study_id_by_patient $HB Kill---Study)
grep -q "^files large.bin $((48 * 1024 * 1024)) True$" <<<"$(files_of $HB "$KS")" || fail "large.bin not complete"
[[ $(grep -c ' True$' <<<"$(files_of $HB "$KS")") -eq 41 ]] || fail "not every file complete after re-run"
# Resumed, not restarted: one multipart upload in all, ListParts, and only the missing parts sent.
[[ $(s3ops "$m0" | grep -c '^CreateMultipartUpload .*large.bin') -eq 1 ]] \
  || fail "large.bin restarted: $(s3ops "$m0" | grep large.bin | sort | uniq -c)"
[[ $(count_op "$m" ListParts large.bin) -eq 1 ]] || fail "re-run did not ask ListParts"
p2=$(count_op "$m" UploadPart large.bin)
[[ $((p1 + p2)) -eq 6 ]] || fail "parts sent again: $p1 before the kill, $p2 after (6 in all)"
[[ $(count_op "$m" CompleteMultipartUpload large.bin) -eq 1 ]] || fail "large.bin not completed once"
# Nothing left open: no multipart upload in the sandbox's data, none in the journal.
[[ -z "$(ls -A "$work/kill.data/multipart" 2>/dev/null)" ]] \
  || fail "multipart uploads left open: $(ls -A "$work/kill.data/multipart")"
[[ "$(grep '/files/large.bin$' "$J" | tail -1 | cut -c1)" == 0 ]] || fail "journal still lists large.bin"
echo "ok: SIGKILL mid-multipart, resumed ($p1 parts kept, $p2 sent)"

# --- a file that keeps changing while it is sent is never completed torn -------------
# Its PUTs are slowed down while a background loop appends to it: the size and
# mtime checked after each PUT differ, the file is sent once more, then failed.
cat >"$work/slowput.json" <<'J'
[{"operation": "PutObject", "key": "*torn.bin", "effect": "delay", "where": "headers", "ms": 700}]
J
sandbox torn --faults "$work/slowput.json"
G="$work/torn"; mkdir -p "$G/Hospital A/Torn---Study"
head -c 100000 /dev/urandom >"$G/Hospital A/Torn---Study/torn.bin"
echo steady >"$G/Hospital A/Torn---Study/steady.txt"
( while [[ ! -e "$work/torn.stop" ]]; do head -c 1000 /dev/urandom >>"$G/Hospital A/Torn---Study/torn.bin"; sleep 0.05; done ) &
APPENDER=$!
m=$(mark); set +e
up demo demo "$G" "Demo Project" "Hospital A" -q 2>"$work/e17"; rc=$?; set -e
touch "$work/torn.stop"; wait $APPENDER
[[ $rc -eq 6 ]] || fail "changing file: exit $rc ($(cat "$work/e17"))"
grep -q "failed .*torn.bin: the file changed while it was uploaded" "$work/e17" || fail "torn file not reported: $(cat "$work/e17")"
[[ $(s3ops "$m" | grep -c '^PutObject .*torn.bin 200') -eq 2 ]] || fail "torn file not sent exactly twice"
TS=$(study_id_by_patient $HA Torn---Study)
grep -q '^files torn.bin .* True$' <<<"$(files_of $HA "$TS")" && fail "torn file marked complete"
since "$m" | matches 'file-upload-completed' || fail "steady file not completed"
grep -q '^files steady.txt 7 True$' <<<"$(files_of $HA "$TS")" || fail "steady file not complete"
echo "ok: file changing during upload never completed"

# --- round trip: upload, then download gives the same bytes and study.json -----------
R="$work/rt"; mkdir -p "$R/Hospital B/RT---Study/sub"
cat >"$R/Hospital B/RT---Study/study.json" <<'J'
{"studyType": "Study", "studyId": "RT-1", "description": "round trip",
 "studyDate": "2024-01-02T03:04:05", "patient": {"patientId": "RT-P", "patientName": "RT^Pat"}}
J
head -c 70000 /dev/urandom >"$R/Hospital B/RT---Study/a.bin"
printf 'b\n' >"$R/Hospital B/RT---Study/sub/b.txt"
up demo demo "$R" "Demo Project" "Hospital B" -q 2>"$work/e14" || fail "round-trip upload: $(cat "$work/e14")"
printf 'demo\n' | "$IGTCLOUD" download -d "$api" -u demo --password-stdin "$work/dl" "Demo Project" "Hospital B" \
  >/dev/null 2>"$work/e15" || fail "round-trip download: $(cat "$work/e15")"
D=$(dirname "$(grep -l '"RT^Pat"' "$work"/dl/"Hospital B"/*/study.json | head -1)")
[[ -d "$D" ]] || fail "round trip: downloaded study not found"
cmp "$R/Hospital B/RT---Study/a.bin" "$D/a.bin" || fail "round trip: a.bin differs"
cmp "$R/Hospital B/RT---Study/sub/b.txt" "$D/sub/b.txt" || fail "round trip: sub/b.txt differs"
python3 - "$R/Hospital B/RT---Study/study.json" "$D/study.json" <<'PY' || fail "round trip: study.json differs"
import json,sys
a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2]))
for k,v in a.items():
    if k=="patient":
        for pk,pv in v.items(): assert b["patient"][pk]==pv,(pk,b["patient"].get(pk))
    else: assert b.get(k)==v,(k,b.get(k))
PY
# Uploading the downloaded folder again finds the same study and sends nothing.
m=$(mark)
up demo demo "$work/dl" "Demo Project" "Hospital B" -q 2>"$work/e16" || fail "re-upload of download: $(cat "$work/e16")"
[[ -z "$(writes_since "$m" | grep -v 'projects/.*/files')" ]] || fail "re-upload of a download wrote: $(writes_since "$m")"
echo "ok: round trip"
echo "all upload tests passed"
