#!/usr/bin/env bash
# Build twice (normal, and AddressSanitizer + UndefinedBehaviorSanitizer with
# the fuzz targets) and run the whole CTest suite on both. Extra arguments go
# to ctest (e.g. -L unit, -R sandbox). The last line is one summary of both
# runs in CTest's own form, so a failure in either build shows there.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh interop rgw || exit 1
scripts/fetch-test-vectors.sh build/normal || exit 1
scripts/fetch-test-vectors.sh build/asan || exit 1
scripts/build.sh normal || { echo "test.sh: the normal build failed" >&2; exit 1; }
scripts/build.sh asan || { echo "test.sh: the asan+ubsan build failed" >&2; exit 1; }

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Sandboxes started by the tests hash passwords with fewer PBKDF2 rounds (see
# src/sandbox/password.c); the suite logs in thousands of times.
export IGTCLOUD_SANDBOX_PASSWORD_ITERATIONS=${IGTCLOUD_SANDBOX_PASSWORD_ITERATIONS:-20000}

logs=$(mktemp -d "${TMPDIR:-/tmp}/igtcloud-test.XXXXXX") || exit 1
trap 'rm -rf "$logs"' EXIT
rc=0 passed=0 failed=0 total=0 odd=
for flavour in normal asan; do
  echo "== $flavour build =="
  (cd "build/$flavour" && ctest --output-on-failure -j2 "$@") 2>&1 | tee "$logs/$flavour"
  run_rc=${PIPESTATUS[0]}
  # CTest's summary: "N% tests passed, F tests failed out of T".
  summary=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests failed out of [0-9]+$' "$logs/$flavour" | tail -n 1)
  run_failed=$(sed -E 's/.* ([0-9]+) tests failed out of [0-9]+$/\1/' <<<"$summary")
  run_total=$(sed -E 's/.* out of ([0-9]+)$/\1/' <<<"$summary")
  if [[ -n "$summary" ]]; then
    failed=$((failed + run_failed)) total=$((total + run_total))
    passed=$((passed + run_total - run_failed))
  fi
  if [[ $run_rc -ne 0 ]]; then
    rc=1
    # A ctest that failed without counting a failed test (no summary, a crash).
    [[ -n "$summary" && $run_failed -gt 0 ]] || odd+=" $flavour (ctest exit $run_rc)"
  fi
done

echo "== both builds =="
if [[ $total -eq 0 ]]; then
  echo "test.sh: no tests ran"
  exit 1
fi
# The same rounding as CTest: never 100% while a test failed.
awk -v p="$passed" -v f="$failed" -v t="$total" 'BEGIN {
  pct = int(p * 100 / t + 0.5); if (f > 0 && pct > 99) pct = 99
  printf "%d%% tests passed, %d tests failed out of %d\n", pct, f, t }'
[[ -z "$odd" ]] || echo "test.sh: FAILED: ctest failed without a failed test in:$odd"
exit "$rc"
