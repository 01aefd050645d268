#!/usr/bin/env bash
# igtcloud download and csv against a sandbox planted with hostile names (an
# "unchecked" seed, docs/sandbox-seed.md): institute names, readable study ids
# and file names with "..", absolute paths, backslashes, control characters,
# names longer than NAME_MAX, empty names, collisions (the same path twice, a
# file named study.json, a reserved temporary suffix, a file where a folder
# goes, two studies in one folder, a study folder inside another's), names
# differing only in case, trailing dots and spaces, unicode.
# Nothing may be written outside TARGET, nothing overwritten by a collision,
# each refused name is one line, the exit code is 6, everything else arrives.
set -euo pipefail
: "${IGTCLOUD:?}" "${IGTCLOUD_SANDBOX:?}"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
make_work igtcloud-hostile sb
mkdir -p "$work/d1/d2/d3"

# Targets sit four folders below $work, so "../" chains of the names below
# would land in $work itself: the victim files must stay as they are.
echo "victim" >"$work/victim.txt"
long=$(printf 'L%.0s' {1..300})
abs="$work/victim.txt"

# file NAME CONTENT [FILENAME]: a study file whose API fileName may differ from its key.
file() {
  if [[ $# -eq 3 ]]; then
    printf '{"name": "%s", "content": "%s", "fileName": "%s"}' "$1" "$2" "$3"
  else
    printf '{"name": "%s", "content": "%s"}' "$1" "$2"
  fi
}
# study HUMAN-ID: a study with one good file f.txt whose content names the study.
study() {
  printf '{"studyId": "x", "studyIdHumanReadable": "%s", "studyDate": "2021-03-04T10:00:00",
           "patient": {"patientId": "x"}, "files": [%s]}' "$1" "$(file f.txt "in $2")"
}
institute() { # NAME STUDY-LABEL
  printf '{"name": "%s", "studies": [%s]}' "$1" "$(study Q1/R1 "$2")"
}

cat >"$work/sb/seed.json" <<EOF
{"unchecked": true,
 "users": [{"login": "demo", "password": "demo"}],
 "projects": [
  {"name": "Hostile Project", "id": "hostile", "members": ["demo"],
   "files": [
     $(file ok.txt "project ok"),
     $(file sub/x.txt "project sub"),
     $(file p1.txt "escape" "../../../../../victim.txt"),
     $(file p2.txt "absolute" "$abs"),
     $(file p3.txt "dots" "sub/../../../../../../victim.txt")
   ],
   "institutes": [
    {"name": "Good Hospital", "studies": [
      {"studyId": "S1", "studyIdHumanReadable": "P1/S1", "studyDate": "2021-03-04T10:00:00",
       "patient": {"patientId": "P1", "patientName": "Doe^J"},
       "files": [
         $(file a.txt "good a"),
         $(file sub/b.txt "good b"),
         $(file e1.txt "escape" "../../../../../../victim.txt"),
         $(file e2.txt "absolute" "$abs"),
         $(file e3.txt "backslash" 'a\\b.txt'),
         $(file e4.txt "dotdot" "sub/../../x.txt"),
         $(file e5.txt "escape char" 'esc\u001b[31m.txt'),
         $(file e6.txt "empty" ""),
         $(file e7.txt "long" "$long.txt"),
         $(file e8.txt "tab" 'tab\there.txt'),
         $(file e9.txt "dot dot" ".."),
         $(file e10.txt "dot" "."),
         $(file e11.txt "slash" "dir/"),
         $(file e12.txt "c1" 'nel\u0085x.txt'),
         $(file d1.txt "dup one" "dup.txt"),
         $(file d2.txt "dup two" "dup.txt"),
         $(file j.txt "not a study" "study.json"),
         $(file r.txt "reserved" "a.txt.igtcloud-part"),
         $(file s.txt "file over folder" "sub"),
         $(file q1.txt "file first" "pre"),
         $(file q2.txt "folder second" "pre/c.txt"),
         $(file c1.txt "upper" "Case.txt"),
         $(file c2.txt "lower" "case.txt"),
         $(file t.txt "trailing" "trailing. "),
         $(file u.txt "unicode" "Ünïcødé-名前.txt"),
         $(file n.txt "newline" 'line\nbreak.txt'),
         $(file k.txt "quote" '\"q\",x.txt')
       ]},
      $(study "../../../../../victim-study" "victim study"),
      $(study "/abs/S2" "abs study"),
      $(study "" "empty study"),
      $(study 'P3\\S3' "backslash study"),
      $(study "PC/SC" "pc slash"),
      $(study "PC---SC" "pc dashes"),
      $(study "P4/$long" "long study"),
      $(study "P5/S5. " "trailing study"),
      $(study 'P6/S6\u001b' "control study"),
      $(study "PX/SX" "upper study"),
      $(study "px/sx" "lower study"),
      $(study "PN" "outer study"),
      $(study "PN/SN" "inner study"),
      $(study "QN/SN" "inner first"),
      $(study "QN" "outer second")
    ]},
    $(institute "../../../../victim-inst" "victim inst"),
    $(institute ".." "dotdot inst"),
    $(institute "" "empty inst"),
    $(institute 'Evil\\Inst' "backslash inst"),
    $(institute "$long" "long inst"),
    $(institute ".igtcloud" "reserved inst"),
    $(institute "Ünï Hospital" "unicode inst"),
    $(institute "Trail. " "trailing inst")
   ]},
  {"name": "../../../../csv-escape", "id": "csvescape", "members": ["demo"],
   "institutes": [$(institute "Plain" "plain")]}
 ]}
EOF
jq -e . "$work/sb/seed.json" >/dev/null || fail "the test's seed is not JSON"

# Without "unchecked" the seeder refuses a planted readable id.
jq 'del(.unchecked)' "$work/sb/seed.json" >"$work/sb/checked.json"
set +e
"$IGTCLOUD_SANDBOX" --listen 127.0.0.1:0 --data "$work/sb/checked" --seed "$work/sb/checked.json" \
  >/dev/null 2>"$work/sb/err"; rc=$?
set -e
[[ $rc -eq 1 ]] && grep -q "unknown field 'fileName'" "$work/sb/err" || fail "a checked seed took fileName: $(cat "$work/sb/err")"
jq 'del(.unchecked) | .projects[0].files = [] | .projects[0].institutes[0].studies[0].files = []' \
  "$work/sb/seed.json" >"$work/sb/checked.json"
set +e
"$IGTCLOUD_SANDBOX" --listen 127.0.0.1:0 --data "$work/sb/checked2" --seed "$work/sb/checked.json" \
  >/dev/null 2>"$work/sb/err"; rc=$?
set -e
[[ $rc -eq 1 ]] && grep -q "studyIdHumanReadable' is assigned by the seeder" "$work/sb/err" ||
  fail "a checked seed took a readable id: $(cat "$work/sb/err")"

start_sandbox "$work/sb/cloud" --seed "$work/sb/seed.json"

dl() { echo demo | "$IGTCLOUD" download --domain "$api" -u demo --password-stdin -q "$@"; }

# outside_check TARGET: nothing new anywhere in $work but TARGET and the sandbox's folder.
outside_check() {
  [[ $(cat "$work/victim.txt") == victim ]] || fail "$1: victim.txt was overwritten"
  local stray
  stray=$(find "$work" -newer "$work/stamp" -not -path "$work/sb" -not -path "$work/sb/*" \
            -not -path "$1" -not -path "$1/*" -not -path "$work/d1/d2/d3" -print)
  [[ -z "$stray" ]] || fail "$1: written outside TARGET: $stray"
  [[ -z $(find "$1" -name '*.igtcloud-part' -o -name '*.igtcloud-journal') ]] ||
    fail "$1: temporary files left"
}
content() { [[ -f "$1" ]] || fail "missing $1"; [[ $(cat "$1") == "$2" ]] || fail "$1: '$(cat "$1")', want '$2'"; }
# refused PATTERN: exactly one failure line matches the fixed string.
refused() {
  local n
  n=$(grep -cF -- "$1" "$work/sb/failed" || true)
  [[ $n -eq 1 ]] || fail "$label: $n failure lines name '$1', want 1: $(cat "$work/sb/err")"
}

# Every line the run printed is either a failure, the summary or the exit message.
check_lines() {
  grep -v -e '^igtcloud: failed: ' -e '^Downloaded ' -e '^igtcloud: [0-9]* of [0-9]* files failed$' \
    "$work/sb/err" && fail "$label: unexpected output" || true
}

run_layout() { # LABEL TARGET EXPECTED-FAILURES args...
  label=$1 t=$2 want=$3; shift 3
  touch "$work/stamp"; sleep 0.01
  set +e; dl "$t" "Hostile Project" "$@" 2>"$work/sb/err"; rc=$?; set -e
  [[ $rc -eq 6 ]] || fail "$label: exit $rc, want 6: $(cat "$work/sb/err")"
  grep '^igtcloud: failed: ' "$work/sb/err" >"$work/sb/failed" || true
  local n; n=$(wc -l <"$work/sb/failed")
  [[ $n -eq $want ]] || fail "$label: $n failure lines, want $want: $(cat "$work/sb/err")"
  # No control character reaches the terminal from a name (tab excepted, none is expected).
  LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$work/sb/err" && fail "$label: control characters printed"
  check_lines
  outside_check "$t"
}

# Files of study P1/S1, shared by both layouts: 18 refused, the rest downloaded.
check_p1() { # DIR
  local d=$1
  content "$d/a.txt" "good a"
  content "$d/sub/b.txt" "good b"
  content "$d/dup.txt" "dup one"
  content "$d/pre" "file first"
  [[ ! -e "$d/pre/c.txt" ]] || fail "pre/c.txt written through a file"
  content "$d/Case.txt" "upper"
  content "$d/case.txt" "lower"
  content "$d/trailing. " "trailing"
  content "$d/Ünïcødé-名前.txt" "unicode"
  jq -e '.studyIdHumanReadable == "P1/S1"' "$d/study.json" >/dev/null || fail "study.json was overwritten"
  [[ ! -e "$d/a.txt.igtcloud-part" ]] || fail "reserved temporary name written"
  [[ -d "$d/sub" ]] || fail "folder sub replaced"
  [[ $(find "$d" -maxdepth 1 -type f | wc -l) -eq 9 ]] ||
    fail "$d: $(find "$d" -maxdepth 1 -type f | wc -l) files, want 9: $(ls -A "$d")"
  refused "P1${sep}S1/../../../../../../victim.txt"
  refused "P1${sep}S1/$work/victim.txt"
  refused 'P1'"$sep"'S1/a\b.txt'
  refused "P1${sep}S1/sub/../../x.txt"
  refused "P1${sep}S1/esc?[31m.txt"
  refused "P1${sep}S1/: "   # the empty name
  refused "P1${sep}S1/$long.txt"
  refused "P1${sep}S1/tab?here.txt"
  refused "P1${sep}S1/..:"
  refused "P1${sep}S1/.:"
  refused "P1${sep}S1/dir/:"
  refused "P1${sep}S1/nel?x.txt"
  refused "P1${sep}S1/dup.txt:"
  refused "P1${sep}S1/study.json:"
  refused "P1${sep}S1/a.txt.igtcloud-part:"
  refused "P1${sep}S1/sub:"
  refused "P1${sep}S1/pre/c.txt:"
  refused "P1${sep}S1/line?break.txt"
  content "$d/\"q\",x.txt" "quote"
}

# Institutes: six refused, three good ones (one is "Good Hospital").
check_institutes() { # TARGET STUDY-FOLDER
  local t=$1 s=$2
  content "$t/Ünï Hospital/$s/f.txt" "in unicode inst"
  content "$t/Trail. /$s/f.txt" "in trailing inst"
  [[ $(find "$t" -mindepth 1 -maxdepth 1 | LC_ALL=C sort | tr '\n' '|') == "$t/.igtcloud|$t/Good Hospital|$t/Trail. |$t/Ünï Hospital|" ]] ||
    fail "$label: top level: $(ls -A "$t")"
  refused "institute '../../../../victim-inst'"
  refused "institute '..'"
  refused "institute ''"
  refused "institute 'Evil\\Inst'"
  refused "institute '${long:0:150}"
  refused "institute '.igtcloud'"
}

# ---- flat ----------------------------------------------------------------
sep=---
t="$work/d1/d2/d3/flat"
# 18 file names + 5 studies ("", backslash, the PC---SC collision, long, control) + 6 institutes
run_layout flat "$t" 29
g="$t/Good Hospital"
check_p1 "$g/P1---S1"
content "$g/..---..---..---..---..---victim-study/f.txt" "in victim study"
content "$g/---abs---S2/f.txt" "in abs study"
content "$g/PC---SC/f.txt" "in pc slash"
content "$g/P5---S5. /f.txt" "in trailing study"
content "$g/PX---SX/f.txt" "in upper study"
content "$g/px---sx/f.txt" "in lower study"
content "$g/PN/f.txt" "in outer study"
content "$g/PN---SN/f.txt" "in inner study"
content "$g/QN---SN/f.txt" "in inner first"
content "$g/QN/f.txt" "in outer second"
refused "Good Hospital/PC---SC:"
refused "Good Hospital/P3\\S3"
refused "Good Hospital/P4/$long"
refused "Good Hospital/P6/S6?"
[[ $(find "$g" -mindepth 1 -maxdepth 1 | wc -l) -eq 11 ]] || fail "flat: study folders: $(ls -A "$g")"
check_institutes "$t" "Q1---R1"
echo "ok: flat layout refuses hostile names and downloads the rest"

# A second run refuses the same, overwrites nothing and moves nothing more.
run_layout flat-rerun "$t" 29
check_p1 "$g/P1---S1"
grep -q '^Downloaded 0 files' "$work/sb/err" || fail "re-run downloaded again: $(tail -1 "$work/sb/err")"
echo "ok: a re-run refuses the same names and keeps every file"

# ---- hierarchical ----------------------------------------------------------
sep=/
t="$work/d1/d2/d3/hier"
# 18 file names + 8 studies (victim, absolute, "", backslash, long, control, PN/SN inside PN,
# QN holding QN/SN) + 6 institutes
run_layout hierarchical "$t" 32 --folder-structure hierarchical
g="$t/Good Hospital"
check_p1 "$g/P1/S1"
content "$g/PC/SC/f.txt" "in pc slash"
content "$g/PC---SC/f.txt" "in pc dashes"
content "$g/P5/S5. /f.txt" "in trailing study"
content "$g/PX/SX/f.txt" "in upper study"
content "$g/px/sx/f.txt" "in lower study"
refused "Good Hospital/../../../../../victim-study"
refused "Good Hospital//abs/S2"
refused "Good Hospital/P4/$long"
# A study folder inside another study's would mix their files: the first listed wins.
content "$g/PN/f.txt" "in outer study"
content "$g/QN/SN/f.txt" "in inner first"
[[ ! -e "$g/PN/SN" && ! -e "$g/QN/f.txt" && ! -e "$g/QN/study.json" ]] || fail "hierarchical: a nested study was written"
refused "Good Hospital/PN/SN: refused study "
refused "'Good Hospital/PN' is already the folder of another study"
refused "Good Hospital/QN: refused study "
refused "'Good Hospital/QN' already holds the folder of another study"
[[ $(find "$g" -mindepth 1 -maxdepth 1 | LC_ALL=C sort | tr '\n' '|') == "$g/P1|$g/P5|$g/PC|$g/PC---SC|$g/PN|$g/PX|$g/QN|$g/px|" ]] ||
  fail "hierarchical: $(ls -A "$g")"
check_institutes "$t" "Q1/R1"
echo "ok: hierarchical layout refuses hostile names and downloads the rest"

# ---- several categories: names stay inside their category folder -----------
t="$work/d1/d2/d3/cats"
sep=---
run_layout categories "$t" 28 --category files --category dicom
content "$t/Good Hospital/P1---S1/files/study.json" "not a study"
content "$t/Good Hospital/P1---S1/files/a.txt" "good a"
jq -e '.studyIdHumanReadable == "P1/S1"' "$t/Good Hospital/P1---S1/study.json" >/dev/null ||
  fail "categories: study.json"
echo "ok: with category folders study.json is an ordinary file name"

# ---- project files -----------------------------------------------------------
t="$work/d1/d2/d3/proj"
label=project
touch "$work/stamp"; sleep 0.01
set +e; dl "$t" "Hostile Project" --project-files 2>"$work/sb/err"; rc=$?; set -e
[[ $rc -eq 6 ]] || fail "project files: exit $rc, want 6: $(cat "$work/sb/err")"
grep '^igtcloud: failed: ' "$work/sb/err" >"$work/sb/failed" || true
[[ $(wc -l <"$work/sb/failed") -eq 3 ]] || fail "project files: $(cat "$work/sb/err")"
refused "files/../../../../../victim.txt"
refused "files/$work/victim.txt"
refused "files/sub/../../../../../../victim.txt"
content "$t/files/ok.txt" "project ok"
content "$t/files/sub/x.txt" "project sub"
outside_check "$t"
echo "ok: project files with hostile names are refused, the rest downloaded"

# ---- csv -----------------------------------------------------------------------
c="$work/d1/d2/d3/csv"; mkdir -p "$c"
touch "$work/stamp"; sleep 0.01
echo demo | "$IGTCLOUD" csv --domain "$api" -u demo --password-stdin "$c" "Hostile Project" --files \
  2>"$work/sb/err" || fail "csv: $(cat "$work/sb/err")"
f="$c/cloud_Hostile Project.csv"
python3 - "$f" <<'EOF' || fail "csv listing does not parse back"
import csv, sys
with open(sys.argv[1], newline='', encoding='utf-8') as fh:
    rows = list(csv.DictReader(fh))
names = [r['filename'] for r in rows if r['filename']]
for want in ['line\nbreak.txt', '"q",x.txt', 'esc\x1b[31m.txt', '', 'Ünïcødé-名前.txt']:
    assert want in names or want == '', repr(want)
assert names.count('dup.txt') == 2, names
assert sum(1 for r in rows if r['filename'] == 'f.txt') == 23, len(rows)
EOF
outside_check "$c"
set +e
echo demo | "$IGTCLOUD" csv --domain "$api" -u demo --password-stdin "$c" "../../../../csv-escape" \
  2>"$work/sb/err"; rc=$?
set -e
[[ $rc -eq 8 ]] || fail "csv of a project whose name is a path: exit $rc, want 8 ($(cat "$work/sb/err"))"
[[ $(wc -l <"$work/sb/err") -eq 1 ]] || fail "csv: more than one line: $(cat "$work/sb/err")"
grep -q "^igtcloud: refused .*csv-escape" "$work/sb/err" || fail "csv message: $(cat "$work/sb/err")"
outside_check "$c"
[[ $(find "$c" -type f | wc -l) -eq 1 ]] || fail "csv wrote a second file: $(ls -A "$c")"
echo "ok: csv lists hostile names quoted and refuses a listing name that is a path"

echo "ok: all hostile-name tests passed"
