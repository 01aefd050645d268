#!/usr/bin/env bash
# Build twice (normal, and AddressSanitizer + UndefinedBehaviorSanitizer with
# the fuzz targets) and run the whole CTest suite on both. Extra arguments go
# to ctest (e.g. -L unit, -R sandbox).
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh interop rgw || exit 1
scripts/fetch-test-vectors.sh build/normal || exit 1
scripts/fetch-test-vectors.sh build/asan || exit 1
scripts/build.sh normal || exit 1
scripts/build.sh asan || exit 1

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Sandboxes started by the tests hash passwords with fewer PBKDF2 rounds (see
# src/sandbox/password.c); the suite logs in thousands of times.
export IGTCLOUD_SANDBOX_PASSWORD_ITERATIONS=${IGTCLOUD_SANDBOX_PASSWORD_ITERATIONS:-20000}
normal_rc=0
echo "== normal build =="
(cd build/normal && ctest --output-on-failure -j2 "$@") || normal_rc=$?
echo "== asan+ubsan build =="
(cd build/asan && ctest --output-on-failure -j2 "$@")
asan_rc=$?
[[ $normal_rc -eq 0 && $asan_rc -eq 0 ]]
