#!/usr/bin/env bash
# igtcloud download holds no per-file state for the whole run (issue #5: peak
# RSS under 64 MiB whatever the dataset size). Against a real sandbox, the
# peak RSS of runs over a project of 200 studies x 200 files is compared with
# the same runs over a project of 200 studies x 1 file, so that what is kept
# per study cancels out and what is kept per file shows:
#   * a dry run (every file planned and claimed; no manifest);
#   * a re-run where every file is on disk and vouched for by the completion
#     manifest (claims, the manifest's index; no S3 request at all).
# The tree of the big project is written by this script (files of the listed
# size and their manifest lines), so 40,000 downloads are not needed. The
# code that kept a claim and a manifest entry per file for the whole run
# (about 350 bytes a file) grew by 4 MB (dry run) and 12 MB (re-run) here.
#
# Then what is kept per file of one study: one study of 20,000 files against
# one of 200, a dry run, a fresh download and a re-run each. The code that
# queued a whole study at once and held its listing and claims while it was
# planned grew by 43 MB (fresh), 7 MB (dry run) and 7 MB (re-run) here.
set -euo pipefail
: "${IGTCLOUD:?}" "${IGTCLOUD_SANDBOX:?}"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
make_work igtcloud-dlmem sb

studies=200 per_study=200 size=16
files=$((studies * per_study))
wide=20000 narrow=200
# The growth allowed from 200 to 40,000 files (or to one study of 20,000):
# the manifest's index (12 bytes a line, 480 KB), the index of the claims of
# the study being planned (about 12 bytes a path, 256 KB for 20,000), and the
# allocator's noise (measured: under 500 KB, with AddressSanitizer too).
bound_kib=2048

cat >"$work/sb/seed.json" <<EOF
{"users": [{"login": "demo", "password": "demo"}],
 "projects": [
  {"name": "Big", "id": "big", "members": ["demo"],
   "institutes": [{"name": "Inst", "generate": {"studies": $studies, "filesPerStudy": $per_study,
                                                 "fileSize": $size}}]},
  {"name": "Small", "id": "small", "members": ["demo"],
   "institutes": [{"name": "Inst", "generate": {"studies": $studies, "filesPerStudy": 1,
                                                 "fileSize": $size}}]},
  {"name": "Wide", "id": "wide", "members": ["demo"],
   "institutes": [{"name": "Inst", "generate": {"studies": 1, "filesPerStudy": $wide,
                                                 "fileSize": $size}}]},
  {"name": "Narrow", "id": "narrow", "members": ["demo"],
   "institutes": [{"name": "Inst", "generate": {"studies": 1, "filesPerStudy": $narrow,
                                                 "fileSize": $size}}]}]}
EOF
export IGTCLOUD_SANDBOX_PASSWORD_ITERATIONS=1000   # five logins, no need to make them slow
start_sandbox "$work/sb/cloud" --seed "$work/sb/seed.json" --log-requests "$work/sb/requests.log"

# Freed memory must be reused for the peaks to mean anything under
# AddressSanitizer, whose quarantine would otherwise keep it (builds without
# it ignore the variable). The thread's own quarantine too: its 1 MiB of
# freed chunks filled only by runs that free more than that, so it was in
# the peak of a study of 20,000 files and not in that of one of 200.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0:thread_local_quarantine_size_kb=0"

# peak OUT ARGS...: run igtcloud download ARGS (password on stdin, stderr to
# $work/OUT); sets $kib to its peak RSS and fails unless it exits 0.
peak() {
  local out=$work/$1 line; shift
  line=$(echo demo | peak_rss /dev/null "$out" \
    "$IGTCLOUD" download --domain "$api" -u demo --password-stdin -q "$@")
  [[ ${line%% *} -eq 0 ]] || fail "download $*: exit ${line%% *}: $(cat "$out")"
  kib=${line##* }
}
s3_gets() { grep -c '"service":"s3".*"method":"GET"' "$work/sb/requests.log" || true; }

# ---- the small project, downloaded for real ----------------------------------
peak small.err "$work/small" Small
grep -q "^Downloaded $studies files" "$work/small.err" || fail "small: $(cat "$work/small.err")"
# The generated layout (docs/sandbox-seed.md) the big tree below is written in.
[[ -f "$work/small/Inst/P000001---S000001/file-0001.bin" ]] ||
  fail "unexpected layout: $(find "$work/small" -maxdepth 3 | head)"
peak small-dry.err "$work/small-dry" Small --dry-run
small_dry=$kib
peak small-rerun.err "$work/small" Small
grep -q "^Downloaded 0 files (0 B), skipped $studies " "$work/small-rerun.err" ||
  fail "small re-run: $(cat "$work/small-rerun.err")"
small_rerun=$kib

# ---- the big project: a dry run ----------------------------------------------
peak big-dry.err "$work/big-dry" Big --dry-run
grep -q "would download $files files" "$work/big-dry.err" || fail "big dry run: $(cat "$work/big-dry.err")"
[[ ! -e "$work/big-dry" ]] || fail "the dry run wrote $work/big-dry"
echo "dry run: $small_dry KiB for $studies files, $kib KiB for $files"
(( kib - small_dry < bound_kib )) ||
  fail "dry run: peak RSS grew by $((kib - small_dry)) KiB from $studies to $files files (bound $bound_kib)"
echo "ok: a dry run over $files files holds no per-file state"

# ---- the big project: a re-run over a complete tree -----------------------------
# Every file at its place with the listed size, each vouched for by a manifest
# line. A study's files are hard links of one file (they share its size and
# time): 40,000 links take a second where 40,000 new files take many.
python3 - "$work/big" "$studies" "$per_study" "$size" <<'EOF'
import os, sys
top, studies, per_study, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
os.makedirs(os.path.join(top, ".igtcloud"))
with open(os.path.join(top, ".igtcloud", "download-manifest"), "w") as manifest:
    for i in range(1, studies + 1):
        folder = "Inst/P%06d---S%06d" % (i, i)
        os.makedirs(os.path.join(top, folder))
        first = os.path.join(top, folder, "file-0001.bin")
        with open(first, "wb") as f:
            f.write(b"x" * size)
        st = os.stat(first)
        for j in range(1, per_study + 1):
            rel = "%s/file-%04d.bin" % (folder, j)
            if j > 1:
                os.link(first, os.path.join(top, rel))
            manifest.write("1 %d %d %d - %s\n" % (st.st_size, st.st_mtime_ns // 10**9,
                                                   st.st_mtime_ns % 10**9, rel))
EOF
gets=$(s3_gets)
peak big-rerun.err "$work/big" Big
grep -q "^Downloaded 0 files (0 B), skipped $files " "$work/big-rerun.err" ||
  fail "big re-run: $(cat "$work/big-rerun.err")"
[[ $(s3_gets) -eq $gets ]] || fail "big re-run sent $(( $(s3_gets) - gets )) S3 GETs"
echo "re-run: $small_rerun KiB for $studies files, $kib KiB for $files"
(( kib - small_rerun < bound_kib )) ||
  fail "re-run: peak RSS grew by $((kib - small_rerun)) KiB from $studies to $files files (bound $bound_kib)"
echo "ok: a re-run over $files files holds only the manifest's index"

# ---- one study of many files: dry run, fresh download, re-run -------------------
# grown WHAT SMALL BIG: fail unless BIG KiB is within the bound of SMALL KiB.
grown() {
  echo "$1: $2 KiB for one study of $narrow files, $3 KiB for one of $wide"
  (( $3 - $2 < bound_kib )) ||
    fail "$1: peak RSS grew by $(($3 - $2)) KiB from one study of $narrow files to one of $wide (bound $bound_kib)"
}
for p in narrow wide; do
  n=$([[ $p == wide ]] && echo "$wide" || echo "$narrow")
  P=$([[ $p == wide ]] && echo Wide || echo Narrow)
  peak "$p-dry.err" "$work/$p-dry" "$P" --dry-run
  grep -q "would download $n files" "$work/$p-dry.err" || fail "$p dry run: $(cat "$work/$p-dry.err")"
  eval "${p}_dry=\$kib"
  peak "$p.err" "$work/$p" "$P"
  grep -q "^Downloaded $n files" "$work/$p.err" || fail "$p: $(cat "$work/$p.err")"
  eval "${p}_fresh=\$kib"
  peak "$p-rerun.err" "$work/$p" "$P"
  grep -q "^Downloaded 0 files (0 B), skipped $n " "$work/$p-rerun.err" ||
    fail "$p re-run: $(cat "$work/$p-rerun.err")"
  eval "${p}_rerun=\$kib"
done
[[ $(find "$work/wide" -name '*.bin' | wc -l) -eq $wide ]] || fail "wide: not every file is on disk"
grown "one study, dry run" "$narrow_dry" "$wide_dry"
grown "one study, fresh download" "$narrow_fresh" "$wide_fresh"
grown "one study, re-run" "$narrow_rerun" "$wide_rerun"
echo "ok: one study of $wide files is planned a few files at a time, its listing and claims out of memory"
