#!/usr/bin/env bash
# igtcloud download and csv against a real sandbox: both layouts compared file
# by file with the sandbox's objects, categories, filters, re-run, kill -9 and
# resume, faults, short tokens, exit codes, CSV columns/append/--files.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
make_work igtcloud-dltest

# run_sandbox DATA_DIR [extra args...]: a sandbox logging its requests; sets $api, $s3
run_sandbox() { start_sandbox "$1" --log-requests "$work/requests.log" "${@:2}"; }

dl() { echo demo | "$IGTCLOUD" download --domain "$api" -u demo --password-stdin -q "$@"; }
csv() { echo demo | "$IGTCLOUD" csv --domain "$api" -u demo --password-stdin "$@"; }
s3_gets() { grep -c '"service":"s3".*"method":"GET"' "$work/requests.log" || true; }

objects=
run_sandbox "$work/cloud" --seed demo
objects="$work/cloud/objects"
A="$objects/institutes/hospital-a"

# ---- usage errors and missing things ---------------------------------------
set +e
"$IGTCLOUD" download "$work/x" "Demo Project" --start 2021-13-01 >/dev/null 2>&1; rc=$?
[[ $rc -eq 2 ]] || fail "bad --start: exit $rc, want 2"
"$IGTCLOUD" download "$work/x" "Demo Project" --end yesterday >/dev/null 2>&1; rc=$?
[[ $rc -eq 2 ]] || fail "bad --end: exit $rc, want 2"
"$IGTCLOUD" csv "$work/x" "Demo Project" --start 2021-02-30 >/dev/null 2>&1; rc=$?
[[ $rc -eq 2 ]] || fail "csv bad date: exit $rc, want 2"
"$IGTCLOUD" download "$work/x" "Demo Project" --folder-structure tree >/dev/null 2>&1; rc=$?
[[ $rc -eq 2 ]] || fail "bad --folder-structure: exit $rc"
"$IGTCLOUD" download "$work/x" "Demo Project" --category pictures >/dev/null 2>&1; rc=$?
[[ $rc -eq 2 ]] || fail "bad --category: exit $rc"
dl "$work/x" "No Such Project" 2>"$work/err"; rc=$?
[[ $rc -eq 4 ]] || fail "missing project: exit $rc, want 4"
grep -q "project 'No Such Project' not found" "$work/err" || fail "missing project message"
dl "$work/x" "Demo Project" "Hospital Z" 2>"$work/err"; rc=$?
[[ $rc -eq 4 ]] || fail "missing institute: exit $rc, want 4"
echo wrong | "$IGTCLOUD" download --domain "$api" -u demo --password-stdin "$work/x" "Demo Project" \
  >/dev/null 2>&1; rc=$?
[[ $rc -eq 3 ]] || fail "bad password: exit $rc, want 3"
set -e
"$IGTCLOUD" download --help | matches -- '--concurrent-files' || fail "download --help"
"$IGTCLOUD" csv --help | matches -- '--files' || fail "csv --help"
echo "ok: usage errors, not found (4), login failure (3)"

# ---- flat layout, every category, compared with the objects ----------------
t="$work/flat"
dl "$t" "Demo Project" --category files --category dicom --category annotations
s1=$(find "$A" -path '*/files/notes.txt' | sed 's|/files/notes.txt$||')
d="$t/Hospital A/PAT-001---STUDY-1"
check_file "$d/files/notes.txt" "$s1/files/notes.txt"
check_file "$d/files/run1/xa-0001.dcm" "$s1/files/run1/xa-0001.dcm"
check_file "$d/dicom/series1/img-0001.dcm" "$s1/0/series1/img-0001.dcm"
check_file "$d/dicom/series1/img-0002.dcm" "$s1/0/series1/img-0002.dcm"
check_file "$d/annotations/labels.json" "$s1/annotations/labels.json"
jq -e '.studyIdHumanReadable == "PAT-001/STUDY-1" and .patient.patientName == "Doe^John"' \
  "$d/study.json" >/dev/null || fail "study.json content"
head -2 "$d/study.json" | tail -1 | matches '^    "studyType": "Study",$' || fail "study.json is not 4-space indented in API order"
# Every downloaded file (all institutes) equals its object; count them.
n=0
while IFS= read -r -d '' f; do
  rel=${f#"$t/"}
  case "$rel" in .igtcloud/*|*/study.json) continue ;; esac
  n=$((n + 1))
done < <(find "$t" -type f -print0)
[[ $n -eq 18 ]] || fail "flat: $n files, want 18"
[[ -z $(find "$t" -name '*.igtcloud-part' -o -name '*.igtcloud-journal') ]] || fail "temporary files left"
echo "ok: flat layout, three categories, byte-identical"

# ---- re-run moves nothing ----------------------------------------------------
before=$(s3_gets)
dl "$t" "Demo Project" --category files --category dicom --category annotations 2>"$work/err"
after=$(s3_gets)
[[ $before -eq $after ]] || fail "re-run fetched $((after - before)) objects"
# A torn file of the right size (not vouched for by the manifest) is fetched again.
size=$(stat -c %s "$d/files/run1/xa-0001.dcm")
head -c "$size" /dev/zero >"$d/files/run1/xa-0001.dcm"
dl "$t" "Demo Project" --category files --category dicom --category annotations
check_file "$d/files/run1/xa-0001.dcm" "$s1/files/run1/xa-0001.dcm"
echo "ok: re-run transfers nothing; a same-size torn file is repaired"

# ---- listing overlaps transfers --------------------------------------------
# One request in flight: the next study of the institute is listed only when
# the first study's files have all started, so the first study's GETs (one
# after another on one connection) are logged before the last listing.
start=$(wc -l <"$work/requests.log")
dl "$work/overlap" "Demo Project" "Hospital A" --concurrent-studies 1 --concurrent-files 1 \
  --category files --category dicom --category annotations
tail -n +"$((start + 1))" "$work/requests.log" >"$work/overlap.log"
first_get=$(grep -n -m1 '"service":"s3".*"method":"GET"' "$work/overlap.log" | cut -d: -f1)
last_list=$(grep -n '/studies/[^"]*/files"' "$work/overlap.log" | tail -1 | cut -d: -f1)
[[ -n "$first_get" && -n "$last_list" ]] || fail "overlap: no GET or no listing in the log"
[[ $first_get -lt $last_list ]] || fail "every study was listed before the first transfer (GET at line $first_get, last listing at $last_list)"
echo "ok: studies are listed while files move"

# ---- hierarchical, one category, one institute, filters ---------------------
t="$work/hier"
dl "$t" "Demo Project" "Hospital A" --folder-structure hierarchical --ext dcm --start 2021-03-04 --end 2021-06-10
[[ -f "$t/Hospital A/PAT-001/STUDY-1/run1/xa-0001.dcm" ]] || fail "hierarchical layout"
check_file "$t/Hospital A/PAT-001/STUDY-1/run1/xa-0001.dcm" "$s1/files/run1/xa-0001.dcm"
[[ ! -e "$t/Hospital A/PAT-001/STUDY-1/notes.txt" ]] || fail "--ext dcm let notes.txt through"
[[ -f "$t/Hospital A/PAT-001/STUDY-2/study.json" ]] || fail "--end must include the whole day"
[[ ! -e "$t/Hospital A/PAT-002" ]] || fail "--end let a later study through"
[[ ! -e "$t/Hospital B" ]] || fail "institute filter"
echo "ok: hierarchical, --ext on study files, --start/--end whole days, one institute"

# ---- project files, modified date, dry run ----------------------------------
t="$work/proj"
dl "$t" "Demo Project" --project-files --include-modified-date
check_file "$t/files/protocol/forms/consent.json" "$objects/projects/demo-project/protocol/forms/consent.json"
check_file "$t/files/reference/calibration.bin" "$objects/projects/demo-project/reference/calibration.bin"
[[ ! -e "$t/Hospital A" ]] || fail "--project-files downloaded studies"
[[ $(stat -c %Y "$t/files/README.txt") -lt $(( $(date +%s) - 5 )) ]] || \
  [[ $(stat -c %Y "$t/files/README.txt") -eq $(stat -c %Y "$objects/projects/demo-project/README.txt") ]] || \
  fail "--include-modified-date did not set the time"
out=$(echo demo | "$IGTCLOUD" download --domain "$api" -u demo --password-stdin --dry-run "$work/dry" "Demo Project" 2>&1)
grep -q 'would download 13 files' <<<"$out" || fail "dry run: $out"
[[ ! -e "$work/dry" ]] || fail "dry run wrote something"
echo "ok: project files, modified date, dry run"

# ---- unwritable target -------------------------------------------------------
if [[ $(id -u) -ne 0 ]]; then
  mkdir "$work/ro"; chmod 0555 "$work/ro"
  set +e; dl "$work/ro" "Demo Project" 2>"$work/err"; rc=$?; set -e
  [[ $rc -eq 7 ]] || fail "unwritable target: exit $rc, want 7 ($(cat "$work/err"))"
  echo "ok: unwritable target exits 7"
fi
# Also as root: a TARGET below a regular file cannot be created.
: >"$work/plainfile"
set +e; dl "$work/plainfile/target" "Demo Project" 2>"$work/err"; rc=$?; set -e
[[ $rc -eq 7 ]] || fail "target below a file: exit $rc, want 7 ($(cat "$work/err"))"
grep -q 'cannot create' "$work/err" || fail "unclear message: $(cat "$work/err")"
echo "ok: a TARGET that cannot be created exits 7 with a clear message"

# ---- CSV -----------------------------------------------------------------------
c="$work/csv"; mkdir "$c"
csv "$c" "Demo Project" 2>/dev/null
f="$c/cloud_Demo Project.csv"
head -1 "$f" | matches $'^studyId,description,studyDate,accessionNumber,state,patientId,patientName,patientGivenname,patientFamilyname,patientDateofbirth,patientGender,patientDatabaseId,studyDatabaseId,.*\r$' \
  || fail "csv header: $(head -1 "$f")"
head -1 "$f" | matches -e 'studyType' -e 's3Prefix' -e 'patientS3Prefix' && fail "excluded columns present"
[[ $(wc -l <"$f") -eq 7 ]] || fail "csv rows: $(wc -l <"$f")"
grep -q '^STUDY-1,Coronary angiography,2021-03-04 10:00:00,ACC-1001,' "$f" || fail "csv row format"
# Append keeps the existing header's columns.
csv "$c" "Demo Project" "Hospital B" 2>/dev/null
csv "$c" "Demo Project" --start 2022-01-01 2>/dev/null
[[ $(grep -c 'studyIdHumanReadable' "$f") -eq 1 ]] || fail "append wrote a second header"
[[ $(wc -l <"$f") -eq 10 ]] || fail "append rows: $(wc -l <"$f")"
mkdir "$c/files"
csv "$c/files" "Demo Project" "Hospital B" --files --ext .dcm 2>/dev/null
g="$c/files/cloud_6f1c2b1e-0000-4000-8000-0000000000b2.csv"
head -1 "$g" | matches $',filename,filesize\r$' || fail "--files columns"
grep -q ',map.dcm,98304' "$g" || fail "--files row"
grep -q 'epd-notes' "$g" && fail "--ext filtered rows"
grep -q 'Site-1/EPD-0001' "$g" || fail "a study without matching files still gets a row"
echo "ok: csv columns, append with the existing header, --files, --ext, --start"

# ---- faults: transient errors are retried; a permanent one fails that file ---
stop_sandbox
cat >"$work/faults.json" <<'EOF'
{"rules": [
 {"operation": "GetObject", "key": "*.dcm", "every": 2, "effect": "error", "status": 503},
 {"operation": "GetObject", "key": "*report.txt", "effect": "error", "status": 403, "code": "AccessDenied"}
]}
EOF
run_sandbox "$work/cloud" --faults "$work/faults.json"
t="$work/faulty"
set +e; dl "$t" "Demo Project" 2>"$work/err"; rc=$?; set -e
[[ $rc -eq 6 ]] || fail "permanent fault: exit $rc, want 6"
grep -q 'failed: Hospital A/PAT-001---STUDY-2/report.txt' "$work/err" || fail "failed file not listed: $(cat "$work/err")"
[[ ! -e "$t/Hospital A/PAT-001---STUDY-2/report.txt" ]] || fail "failed file under its final name"
check_file "$t/Hospital A/PAT-001---STUDY-1/run1/xa-0001.dcm" "$s1/files/run1/xa-0001.dcm"
echo "ok: 503s retried, a 403 fails its file (exit 6, listed)"

# ---- kill -9 mid-run, then resume; short token lifetime ----------------------
stop_sandbox
cat >"$work/slow.json" <<'EOF'
{"rules": [{"operation": "GetObject", "effect": "delay", "where": "body", "after_bytes": 1024, "ms": 1500}]}
EOF
run_sandbox "$work/cloud" --faults "$work/slow.json" --token-lifetime 200
t="$work/killed"
# Started directly (not in a subshell), so $! is igtcloud itself and kill -9 reaches it.
"$IGTCLOUD" download --domain "$api" -u demo --password-stdin -q "$t" "Demo Project" \
    --category files --category dicom --category annotations <<<demo >/dev/null 2>&1 &
victim=$!
# Kill once a file is on its way (its temporary file exists), not after a
# fixed time: how long the whole download takes is not this test's business.
for _ in $(seq 1 200); do
  [[ -n $(find "$t" -name '*.igtcloud-part' 2>/dev/null) ]] && break
  sleep 0.05
done
kill -0 "$victim" 2>/dev/null || fail "the download ended before it could be killed mid-run"
kill -9 "$victim"
wait "$victim" 2>/dev/null && fail "the killed download exited normally"
kill -0 "$victim" 2>/dev/null && fail "igtcloud still runs after kill -9"
diff -r -x .igtcloud "$t" "$work/flat" >/dev/null 2>&1 && fail "the kill came after the download was complete"
# Nothing half-written under a final name: every file there equals the verified copy.
while IFS= read -r -d '' f; do
  case "$f" in *.igtcloud-part|*.igtcloud-journal|*/.igtcloud/*) continue ;; esac
  rel=${f#"$t/"}
  cmp -s "$f" "$work/flat/$rel" || fail "after kill -9: $rel is under its final name but not complete"
done < <(find "$t" -type f -print0)
stop_sandbox
run_sandbox "$work/cloud" --token-lifetime 200
dl "$t" "Demo Project" --category files --category dicom --category annotations
check_file "$t/Hospital A/PAT-001---STUDY-1/files/run1/xa-0001.dcm" "$s1/files/run1/xa-0001.dcm"
check_file "$t/Hospital A/PAT-001---STUDY-1/dicom/series1/img-0002.dcm" "$s1/0/series1/img-0002.dcm"
[[ -z $(find "$t" -name '*.igtcloud-part' -o -name '*.igtcloud-journal') ]] || fail "temporary files left after resume"
diff -r -x .igtcloud "$t" "$work/flat" >/dev/null || fail "resumed tree differs from a clean download"
echo "ok: kill -9 leaves nothing unverified under a final name; the re-run completes"

# ---- one engine run for the whole download ----------------------------------
# Hospital A's objects answer after a second. One run lists Hospital B's
# studies while A's files are still on their way (one run per institute, or
# per batch, lists B only once A's transfers are over).
stop_sandbox
cat >"$work/slow-a.json" <<'EOF'
{"rules": [{"operation": "GetObject", "key": "institutes/hospital-a/*", "effect": "delay", "where": "headers", "ms": 1000}]}
EOF
: >"$work/requests.log"
run_sandbox "$work/cloud" --faults "$work/slow-a.json"
dl "$work/onerun" "Demo Project" --category files --category dicom --category annotations
b_listed=$(grep '"path":"/api/data/hospitals/[^"]*/studies"' "$work/requests.log" | sed -n 2p | sed 's/.*"time":\([0-9.]*\).*/\1/')
a_last=$(grep '"service":"s3".*"method":"GET".*institutes/hospital-a/' "$work/requests.log" | tail -n 1 | sed 's/.*"time":\([0-9.]*\).*/\1/')
[[ -n $b_listed && -n $a_last ]] || fail "one run: request log lacks the listing or the GETs"
awk -v b="$b_listed" -v a="$a_last" 'BEGIN { exit !(b < a) }' ||
  fail "one run: the second institute was listed only after the first one's files were in ($b_listed >= $a_last)"
diff -r -x .igtcloud "$work/onerun" "$work/flat" >/dev/null || fail "one run: tree differs from a clean download"
echo "ok: one engine run: the second institute is listed while the first one's files move"

echo "ok: all download/csv tests passed"
