#!/usr/bin/env bash
# igtcloud download --verify-multipart: a file that a multipart upload made
# (ETag "<MD5 of the parts' MD5s>-N") is checked part by part, so a byte that
# rots on the server's disk fails the file (exit 6, nothing under its name),
# where the default check, by size, lets it through. A sound file passes both
# ways; only the checking run asks for part 1 (HEAD ?partNumber=1).
set -euo pipefail
: "${IGTCLOUD:?}" "${IGTCLOUD_SANDBOX:?}"
command -v python3 >/dev/null || { echo "SKIP: python3 needed to rot a byte in place"; exit 0; }
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
make_work igtcloud-verify-mp
export IGTCLOUD_STATE_DIR="$work/state"
start_sandbox "$work/cloud" --seed demo --log-requests "$work/requests.log"

up() { echo demo | "$IGTCLOUD" upload --domain "$api" -u demo --password-stdin -q "$@"; }
dl() { echo demo | "$IGTCLOUD" download --domain "$api" -u demo --password-stdin -q "$@"; }
part_heads() { grep '"method":"HEAD"' "$work/requests.log" | grep -c '"range":"part 1"' || true; }

MB=$((1024 * 1024))
S="$work/local/Hospital A/Parts---Study"; mkdir -p "$S"
head -c $((20 * MB + 123)) /dev/urandom >"$S/big.bin"   # 8 + 8 + 4 MiB parts
# With Content-MD5, not CRC32C: the object gets no CRC32C to be checked against instead.
up "$work/local" "Demo Project" "Hospital A" --checksum md5 2>"$work/up.err" ||
  fail "upload: $(cat "$work/up.err")"
obj=$(find "$work/cloud/objects" -path "*/files/big.bin" | head -1)
[[ -n "$obj" ]] || fail "big.bin is not on the server"

# Sound: both ways give the file; only --verify-multipart asks for part 1.
heads=$(part_heads)
dl "$work/plain" "Demo Project" "Hospital A" 2>"$work/e" || fail "download: $(cat "$work/e")"
[[ $(part_heads) -eq $heads ]] || fail "a download without --verify-multipart asked for part 1"
dl --verify-multipart "$work/checked" "Demo Project" "Hospital A" 2>"$work/e" ||
  fail "download --verify-multipart: $(cat "$work/e")"
[[ $(part_heads) -eq $((heads + 1)) ]] || fail "download --verify-multipart did not ask for part 1"
got=$(find "$work/checked" -name big.bin)
[[ -n "$got" ]] || fail "big.bin was not downloaded"
check_file "$got" "$S/big.bin"
echo "ok: a sound multipart file downloads checked part by part"

# One byte of part 2 rots, the file's times kept (the sandbox keeps its ETag).
python3 - "$obj" <<'EOF'
import os, sys
path = sys.argv[1]
st = os.stat(path)
with open(path, "r+b") as f:
    f.seek(9 * 1024 * 1024 + 5)
    b = f.read(1)
    f.seek(9 * 1024 * 1024 + 5)
    f.write(bytes([b[0] ^ 0x5A]))
os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
EOF
rc=0
dl --verify-multipart "$work/bad" "Demo Project" "Hospital A" 2>"$work/bad.err" || rc=$?
[[ $rc -eq 6 ]] || fail "rotten part: exit $rc, want 6: $(cat "$work/bad.err")"
matches -F "big.bin" "$work/bad.err" && matches -F "multipart ETag" "$work/bad.err" ||
  fail "rotten part: the error does not name the file and the check: $(cat "$work/bad.err")"
[[ -z "$(find "$work/bad" -name big.bin)" ]] || fail "the rotten file was kept under its name"
[[ -z "$(find "$work/bad" -name '*.igtcloud-part')" ]] || fail "a partial file was left behind"
dl "$work/unchecked" "Demo Project" "Hospital A" 2>"$work/e" || fail "size-only download: $(cat "$work/e")"
[[ -n "$(find "$work/unchecked" -name big.bin)" ]] || fail "size-only download: big.bin missing"
echo "ok: a rotten byte in a part fails the file with --verify-multipart (exit 6); by size it passes"
