#!/usr/bin/env bash
# Configure and build one flavour: normal (default) or asan (clang, ASan + UBSan, fuzz targets).
set -euo pipefail
cd "$(dirname "$0")/.."
flavour=${1:-normal}
case "$flavour" in
  normal) cmake -S . -B build/normal -DIGTCLOUD_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null ;;
  asan) CC=clang cmake -S . -B build/asan -DIGTCLOUD_WERROR=ON -DIGTCLOUD_SANITIZE=ON \
          -DIGTCLOUD_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null ;;
  *) echo "build.sh: unknown flavour '$flavour' (normal, asan)" >&2; exit 2 ;;
esac
cmake --build "build/$flavour" -j"$(nproc)"
