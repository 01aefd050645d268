#!/usr/bin/env bash
# Files that a multipart upload made (ETag "<MD5 of the parts' MD5s>-N").
# Uploaded with CRC32C checksums (the default), the object has a full-object
# CRC32C, and every download checks it: a byte rotten on the server's disk
# fails the file (exit 6, nothing under its name). Uploaded with
# --checksum md5, it has none: igtcloud download --verify-multipart checks it
# part by part against its ETag, so a rotten byte fails it, where the default
# check, by size, lets it through. Sound files pass every way; part 1 is
# asked for (HEAD ?partNumber=1) by the MD5 check only: the full-object
# CRC32C needs no part size.
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
S="$work/local-md5/Hospital A/Parts---Study"; mkdir -p "$S"
head -c $((20 * MB + 123)) /dev/urandom >"$S/big.bin"   # 8 + 8 + 4 MiB parts
up --checksum md5 "$work/local-md5" "Demo Project" "Hospital A" 2>"$work/up.err" ||
  fail "upload: $(cat "$work/up.err")"
C="$work/local-crc/Hospital A/Crc---Study"; mkdir -p "$C"
head -c $((17 * MB + 5)) /dev/urandom >"$C/crc.bin"     # 8 + 8 + 1 MiB parts
up "$work/local-crc" "Demo Project" "Hospital A" 2>"$work/up.err" || fail "upload: $(cat "$work/up.err")"
obj=$(find "$work/cloud/objects" -path "*/files/big.bin" | head -1)
[[ -n "$obj" ]] || fail "big.bin is not on the server"
crc_obj=$(find "$work/cloud/objects" -path "*/files/crc.bin" | head -1)
[[ -n "$crc_obj" ]] || fail "crc.bin is not on the server"

# Flip byte $2 of file $1 in place, its times kept (the sandbox keeps its ETag).
rot() {
  python3 - "$1" "$2" <<'EOF'
import os, sys
path, at = sys.argv[1], int(sys.argv[2])
st = os.stat(path)
with open(path, "r+b") as f:
    f.seek(at)
    b = f.read(1)
    f.seek(at)
    f.write(bytes([b[0] ^ 0x5A]))
os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
EOF
}

# Sound: every way gives the files. Part 1 of big.bin is asked for only with
# --verify-multipart; that of crc.bin never (its checksum is the whole object's).
heads=$(part_heads)
dl "$work/plain" "Demo Project" "Hospital A" 2>"$work/e" || fail "download: $(cat "$work/e")"
[[ $(part_heads) -eq $heads ]] ||
  fail "a download without --verify-multipart sent $(($(part_heads) - heads)) part HEADs, want none"
check_file "$(find "$work/plain" -name crc.bin)" "$C/crc.bin"
dl --verify-multipart "$work/checked" "Demo Project" "Hospital A" 2>"$work/e" ||
  fail "download --verify-multipart: $(cat "$work/e")"
[[ $(part_heads) -eq $((heads + 1)) ]] || fail "download --verify-multipart did not ask for big.bin's part 1 (only)"
got=$(find "$work/checked" -name big.bin)
[[ -n "$got" ]] || fail "big.bin was not downloaded"
check_file "$got" "$S/big.bin"
check_file "$(find "$work/checked" -name crc.bin)" "$C/crc.bin"
echo "ok: sound multipart files download checked part by part"

# A byte of crc.bin's part 2 rots: every download fails that file, and only it.
rot "$crc_obj" $((9 * MB + 11))
rc=0
dl "$work/crcbad" "Demo Project" "Hospital A" 2>"$work/crcbad.err" || rc=$?
[[ $rc -eq 6 ]] || fail "rotten crc.bin: exit $rc, want 6: $(cat "$work/crcbad.err")"
matches -F "crc.bin" "$work/crcbad.err" && matches -F "differs from the object's checksum" "$work/crcbad.err" ||
  fail "rotten crc.bin: the error does not name the file and the check: $(cat "$work/crcbad.err")"
[[ -z "$(find "$work/crcbad" -name crc.bin)" ]] || fail "the rotten crc.bin was kept under its name"
[[ -z "$(find "$work/crcbad" -name '*.igtcloud-part')" ]] || fail "a partial file was left behind"
[[ -n "$(find "$work/crcbad" -name big.bin)" ]] || fail "big.bin failed beside the rotten crc.bin"
rot "$crc_obj" $((9 * MB + 11))   # sound again
echo "ok: a rotten byte in a part of a file uploaded with CRC32C fails it by default (exit 6)"

# One byte of big.bin's part 2 rots.
rot "$obj" $((9 * MB + 5))
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
