#!/usr/bin/env bash
# Listing an institute's studies stays within bounded memory whatever their
# number (issue #5: peak RSS under 64 MiB whatever the dataset size). The API
# answers an institute's studies as one JSON array; the answer is parsed as it
# arrives and each study spooled to a temporary file (download, csv) or kept
# as a look-up index of 24 bytes (upload). Against a real sandbox, the peak
# RSS of each command over an institute of 5,000 studies is compared with the
# same command over one of 50:
#   * download --dry-run: every study planned (its file listing fetched);
#   * csv: a row per study;
#   * upload --dry-run of one local study, matched among the institute's.
# The code that parsed the whole answer and kept every study (about 3.5 KiB a
# study at the peak, 1.1 KiB kept) grew by 23 MB for each of them here.
set -euo pipefail
: "${IGTCLOUD:?}" "${IGTCLOUD_SANDBOX:?}"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
make_work igtcloud-studymem sb
export XDG_STATE_HOME="$work/state"   # upload's journal, not the user's
unset IGTCLOUD_STATE_DIR

big=5000 small=50
# The growth allowed from 50 to 5,000 studies: a dry run's collision map keeps
# each study's folder (measured: 0.7-1.0 MB in all, allocator noise included);
# csv and upload grow by under 0.3 MB. Under AddressSanitizer every command
# grows by 3.0-3.5 MB more: its depot of allocation stacks (without it,
# malloc_context_size=0, the growth is 0.8-1.4 MB).
bound_kib=2048
[[ "${SANITIZE:-OFF}" == "ON" ]] && bound_kib=5120

cat >"$work/sb/seed.json" <<EOF
{"users": [{"login": "demo", "password": "demo"}],
 "projects": [
  {"name": "Big", "id": "big", "members": ["demo"],
   "institutes": [{"name": "Inst", "generate": {"studies": $big, "filesPerStudy": 1,
                                                 "fileSize": 16}}]},
  {"name": "Small", "id": "small", "members": ["demo"],
   "institutes": [{"name": "Inst", "generate": {"studies": $small, "filesPerStudy": 1,
                                                 "fileSize": 16}}]}]}
EOF
export IGTCLOUD_SANDBOX_PASSWORD_ITERATIONS=1000   # six logins, no need to make them slow
start_sandbox "$work/sb/cloud" --seed "$work/sb/seed.json"

# Freed memory must be reused for the peaks to mean anything under
# AddressSanitizer, whose quarantine would otherwise keep it (builds without
# it ignore the variable).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0"

# peak OUT COMMAND ARGS...: run igtcloud COMMAND ARGS (password on stdin,
# stderr to $work/OUT); sets $kib to its peak RSS and fails unless it exits 0.
peak() {
  local out=$work/$1 cmd=$2 line; shift 2
  line=$(echo demo | peak_rss /dev/null "$out" \
    "$IGTCLOUD" "$cmd" --domain "$api" -u demo --password-stdin "$@")
  [[ ${line%% *} -eq 0 ]] || fail "$cmd $*: exit ${line%% *}: $(cat "$out")"
  kib=${line##* }
}

# compare WHAT SMALL_KIB BIG_KIB
compare() {
  echo "$1: $2 KiB over $small studies, $3 KiB over $big"
  (( $3 - $2 < bound_kib )) ||
    fail "$1: peak RSS grew by $(( $3 - $2 )) KiB from $small to $big studies (bound $bound_kib)"
  echo "ok: $1 keeps no study in memory"
}

# ---- download --dry-run --------------------------------------------------------
peak small-dry.err download -q "$work/small-dry" Small --dry-run
grep -q "^Dry run: $small studies; would download $small files" "$work/small-dry.err" ||
  fail "small dry run: $(cat "$work/small-dry.err")"
small_kib=$kib
peak big-dry.err download -q "$work/big-dry" Big --dry-run
grep -q "^Dry run: $big studies; would download $big files" "$work/big-dry.err" ||
  fail "big dry run: $(cat "$work/big-dry.err")"
compare "download --dry-run" "$small_kib" "$kib"

# ---- csv -----------------------------------------------------------------------
mkdir "$work/csv"
peak small-csv.err csv "$work/csv" Small
[[ $(wc -l <"$work/csv/cloud_Small.csv") -eq $((small + 1)) ]] ||
  fail "small csv: $(head -3 "$work/csv/cloud_Small.csv")"
small_kib=$kib
peak big-csv.err csv "$work/csv" Big
[[ $(wc -l <"$work/csv/cloud_Big.csv") -eq $((big + 1)) ]] ||
  fail "big csv: $(wc -l <"$work/csv/cloud_Big.csv") lines"
# The rows come in the API's order: the last study last.
tail -1 "$work/csv/cloud_Big.csv" | matches "^S$(printf %06d "$big"),"
compare "csv" "$small_kib" "$kib"

# ---- upload --dry-run: one local study matched among the institute's -----------
# The folder as download writes it matches the last study listed: every study
# is looked at before it is found.
last=$(printf 'P%06d---S%06d' "$big" "$big")
mkdir -p "$work/up/Inst/$last/files" "$work/up/Inst/P000001---S000001/files"
echo new >"$work/up/Inst/$last/files/new.txt"
echo new >"$work/up/Inst/P000001---S000001/files/new.txt"
peak small-up.err upload "$work/up" Small Inst --dry-run
matches "studies: 1 found, 0 created" "$work/small-up.err" ||
  fail "small upload: $(cat "$work/small-up.err")"
small_kib=$kib
rm -r "$work/up/Inst/P000001---S000001"
mkdir -p "$work/up/Inst/P000001---S000001/files"
echo new >"$work/up/Inst/P000001---S000001/files/new.txt"
peak big-up.err upload "$work/up" Big Inst --dry-run
# Both folders name existing studies: nothing would be created.
matches "studies: 2 found, 0 created" "$work/big-up.err" ||
  fail "big upload: $(cat "$work/big-up.err")"
compare "upload --dry-run" "$small_kib" "$kib"
