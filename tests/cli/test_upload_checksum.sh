#!/usr/bin/env bash
# igtcloud upload --checksum: the integrity header every body is sent with.
# crc32c sends x-amz-checksum-crc32c, which the sandbox verifies and stores
# (s3_objects.crc32c), is the default; md5 sends Content-MD5 and stores none.
# Single PUTs and a multipart upload both arrive byte-identical; a bad value
# is a usage error before anything is sent.
set -euo pipefail
: "${IGTCLOUD:?}" "${IGTCLOUD_SANDBOX:?}"
command -v python3 >/dev/null || { echo "SKIP: python3 needed for the checks"; exit 0; }
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
make_work igtcloud-upload-checksum
export XDG_STATE_HOME="$work/state"
unset IGTCLOUD_STATE_DIR
DATA="$work/data"
start_sandbox "$DATA" --seed demo

up() { printf 'demo\n' | "$IGTCLOUD" upload -d "$api" -u demo --password-stdin -q "$@"; }
# The stored CRC32C (base64, "" when none was sent) of every object whose key ends in $1.
stored_crc() {
  python3 - "$DATA/sandbox.db" "$1" <<'PY'
import sqlite3,sys
db,suffix=sys.argv[1:3]
for key,crc in sqlite3.connect(db).execute("SELECT key, crc32c FROM s3_objects ORDER BY key"):
    if key.endswith(suffix): print(crc)
PY
}

set +e
err=$(up --checksum crc64 "$work" "Demo Project" 2>&1); rc=$?
set -e
[[ $rc -eq 2 ]] || fail "--checksum crc64: exit $rc, want 2"
[[ "$err" == "igtcloud: --checksum must be md5, crc32c or sha256, not 'crc64' (see 'igtcloud upload --help')" ]] ||
  fail "--checksum crc64: '$err'"
echo "ok: a bad --checksum is a usage error"

for sum in default crc32c md5; do
  opt=(--checksum "$sum"); [[ $sum == default ]] && opt=()
  L="$work/local-$sum"
  mkdir -p "$L/Hospital A/Sum---$sum"
  head -c 200000 /dev/urandom >"$L/Hospital A/Sum---$sum/small-$sum.bin"
  head -c 20000000 /dev/urandom >"$L/Hospital A/Sum---$sum/large-$sum.bin"  # multipart (> 16 MiB)
  up "${opt[@]}" "$L" "Demo Project" 2>"$work/err" || fail "upload ${opt[*]}: $(cat "$work/err")"
  for f in small large; do
    obj=$(find "$DATA/objects" -type f -name "$f-$sum.bin")
    [[ -n "$obj" ]] || fail "$f-$sum.bin is not in the sandbox"
    cmp -s "$obj" "$L/Hospital A/Sum---$sum/$f-$sum.bin" || fail "$f-$sum.bin differs on the server"
  done
  crc=$(stored_crc "small-$sum.bin")
  if [[ $sum != md5 ]]; then
    [[ "$crc" =~ ^[A-Za-z0-9+/]{6}==$ ]] || fail "--checksum $sum: the sandbox stored '$crc', no CRC32C"
  else
    [[ -z "$crc" ]] || fail "--checksum md5: a CRC32C '$crc' was sent"
  fi
done
echo "ok: crc32c (the default) and md5 upload single and multipart files byte-identical, with their header"
