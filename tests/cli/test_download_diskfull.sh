#!/usr/bin/env bash
# Disk full during igtcloud download: the run stops at the first file that
# finds no room, with one line naming it and the reason, exit 7 (local I/O);
# nothing unverified under a final name, what arrived before stays intact,
# and a run after space is freed completes. Always with a file size limit
# (RLIMIT_FSIZE: EFBIG; igtcloud ignores SIGXFSZ itself); with a real full file system
# (ENOSPC on a small tmpfs) too when mounting is permitted.
set -euo pipefail
: "${IGTCLOUD:?}" "${IGTCLOUD_SANDBOX:?}"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
mounted=
cleanup_extra() { [[ -z "$mounted" ]] || umount "$mounted" 2>/dev/null || true; }
make_work igtcloud-diskfull

start_sandbox "$work/cloud" --seed demo
objects="$work/cloud/objects"
s1=$(find "$objects/institutes/hospital-a" -path '*/files/notes.txt' | sed 's|/files/notes.txt$||')

dl() { echo demo | "$IGTCLOUD" download --domain "$api" -u demo --password-stdin -q "$@"; }

# A clean download of each layout to compare with.
dl "$work/ref1" "Demo Project" 2>/dev/null
dl "$work/ref3" "Demo Project" --category files --category dicom --category annotations 2>/dev/null

# no_unverified TARGET REF: every file under a final name equals the clean copy; prints the count.
no_unverified() {
  local f rel n=0
  while IFS= read -r -d '' f; do
    rel=${f#"$1/"}
    case "$rel" in .igtcloud/*|*/study.json|*.igtcloud-part|*.igtcloud-journal) continue ;; esac
    cmp -s "$f" "$2/$rel" || fail "$rel is under its final name but is not the complete file"
    n=$((n + 1))
  done < <(find "$1" -type f -print0)
  echo "$n"
}

# ---- a file size limit: run1/xa-0001.dcm (300 KiB) does not fit in 200 KiB ----
t="$work/limited"
set +e
( trap - XFSZ; ulimit -f 200  # igtcloud ignores SIGXFSZ itself
  dl "$t" "Demo Project" --concurrent-studies 1 --concurrent-files 1 ) 2>"$work/err"
rc=$?
set -e
[[ $rc -eq 7 ]] || fail "size limit: exit $rc, want 7: $(cat "$work/err")"
[[ $(grep -c '^igtcloud: failed: ' "$work/err") -eq 1 ]] || fail "size limit: not one failure line: $(cat "$work/err")"
grep -q '^igtcloud: failed: Hospital A/PAT-001---STUDY-1/run1/xa-0001.dcm: .*File too large' "$work/err" ||
  fail "size limit: the line does not name the file and the reason: $(cat "$work/err")"
grep -q '^igtcloud: stopped: the target is full' "$work/err" || fail "size limit: no final line: $(cat "$work/err")"
[[ ! -e "$t/Hospital A/PAT-001---STUDY-1/run1/xa-0001.dcm" ]] || fail "size limit: a final name for the file that did not fit"
[[ ! -e "$t/Hospital B" ]] || fail "size limit: the run went on after the disk was full"
cmp -s "$t/Hospital A/PAT-001---STUDY-1/notes.txt" "$s1/files/notes.txt" || fail "size limit: notes.txt"
no_unverified "$t" "$work/ref1" >/dev/null
dl "$t" "Demo Project" 2>"$work/err" || fail "size limit: the run after it failed: $(cat "$work/err")"
[[ $(no_unverified "$t" "$work/ref1") -eq 13 ]] || fail "size limit: the run after it did not complete the tree"
echo "ok: a file size limit stops the run with exit 7 and one line; the next run completes"

# ---- a full file system (tmpfs of 400 KiB), when mounting is permitted -------
m="$work/mnt"; mkdir "$m"
if mount -t tmpfs -o size=400k igtcloud-test "$m" 2>/dev/null; then
  mounted=$m
  t="$m/t"
  set +e
  dl "$t" "Demo Project" --concurrent-studies 1 --concurrent-files 1 \
    --category files --category dicom --category annotations 2>"$work/err"
  rc=$?
  set -e
  [[ $rc -eq 7 ]] || fail "full disk: exit $rc, want 7: $(cat "$work/err")"
  [[ $(grep -c '^igtcloud: failed: ' "$work/err") -eq 1 ]] || fail "full disk: not one failure line: $(cat "$work/err")"
  grep -q '^igtcloud: failed: .*No space left on device' "$work/err" || fail "full disk: reason: $(cat "$work/err")"
  before=$(no_unverified "$t" "$work/ref3")
  [[ $before -gt 0 ]] || fail "full disk: nothing arrived before the disk was full"
  mount -o remount,size=4m "$m" || fail "cannot grow the tmpfs"
  dl "$t" "Demo Project" --category files --category dicom --category annotations 2>"$work/err" ||
    fail "full disk: the run after space was freed failed: $(cat "$work/err")"
  [[ $(no_unverified "$t" "$work/ref3") -eq 18 ]] || fail "full disk: the run after it did not complete the tree"
  [[ -z $(find "$t" -name '*.igtcloud-part' -o -name '*.igtcloud-journal') ]] || fail "full disk: temporary files left"
  echo "ok: a full file system stops the run with exit 7 and one line; the next run completes"
else
  echo "SKIP: the tmpfs part (mounting is not permitted here); the size-limit part ran"
fi
