#!/usr/bin/env bash
# Throughput of the digests over every byte moved (MD5 one stream and eight
# side by side, CRC32C, SHA-256), ours against OpenSSL's, on this CPU.
#
#   bench/bench_hash.sh [BUILD_DIR] [MIB]
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
BUILD=${1:-/tmp/igtcloud-bench-build}
MIB=${2:-256}
echo "== building (Release) in $BUILD" >&2
cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DIGTCLOUD_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j2 --target igtcloud_static >/dev/null
cc -O2 -std=c11 -D_DEFAULT_SOURCE -I"$SRC/include" -I"$BUILD/include" -I"$SRC/src/lib" \
   "$SRC/bench/bench_hash.c" "$BUILD/src/lib/libigtcloud.a" \
   $(pkg-config --libs libcurl jansson expat openssl) -lpthread -o "$BUILD/bench_hash"
"$BUILD/bench_hash" "$MIB"
