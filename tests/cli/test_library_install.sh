#!/usr/bin/env bash
# libigtcloud as other programs see it: only igtcloud_ symbols exported, a
# versioned SONAME, and an install tree that pkg-config can build against.
set -euo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }

exported=$(nm -D --defined-only "$LIBIGTCLOUD" | awk '{print $3}')
[[ -n "$exported" ]] || fail "no exported symbols in $LIBIGTCLOUD"
# The fuzz-instrumented build adds the linker's section markers for coverage counters.
stray=$(grep -v -E '^igtcloud_|^__(start|stop)___sancov_' <<<"$exported" || true)
[[ -z "$stray" ]] || fail "symbols outside the igtcloud_ namespace are exported: $stray"
grep -q '^igtcloud_version$' <<<"$exported" || fail "igtcloud_version is not exported"
soname=$(objdump -p "$LIBIGTCLOUD" | awk '/SONAME/ {print $2}')
[[ "$soname" =~ ^libigtcloud\.so\.[0-9]+$ ]] || fail "unexpected SONAME '$soname'"

prefix=$(mktemp -d "${TMPDIR:-/tmp}/igtcloud-install.XXXXXX")
trap 'rm -rf "$prefix"' EXIT
cmake --install "$BUILD_DIR" --prefix "$prefix" >/dev/null
for f in bin/igtcloud bin/igtcloud-sandbox include/igtcloud/igtcloud.h include/igtcloud/version.h \
         include/igtcloud/export.h lib/libigtcloud.a lib/pkgconfig/igtcloud.pc; do
  [[ -e "$prefix/$f" ]] || fail "install is missing $f"
done
ls "$prefix"/lib/libigtcloud.so.* >/dev/null || fail "install is missing the shared library"
for f in share/man/man1/igtcloud.1 share/man/man1/igtcloud-sandbox.1 \
         share/bash-completion/completions/igtcloud share/bash-completion/completions/igtcloud-sandbox \
         include/igtcloud/upgrade.h; do
  [[ -s "$prefix/$f" ]] || fail "install is missing $f"
done
installed_version=$("$prefix/bin/igtcloud" version | awk '{print $2}')
grep -q "^\.TH IGTCLOUD 1 .*igtcloud $installed_version" "$prefix/share/man/man1/igtcloud.1" \
  || fail "the installed igtcloud(1) does not carry version $installed_version"
! grep -q '@[A-Z_]*@' "$prefix"/share/man/man1/*.1 || fail "unsubstituted @VARIABLE@ in the man pages"

cat >"$prefix/use.c" <<'C'
#include <igtcloud/igtcloud.h>
#include <stdio.h>
#include <string.h>
int main(void)
{
    if (igtcloud_global_init() < 0)
        return 1;
    printf("%s\n", igtcloud_version());
    igtcloud_global_shutdown();
    return strcmp(igtcloud_version(), IGTCLOUD_VERSION) != 0;
}
C
extra=()
[[ "${SANITIZE:-OFF}" == "ON" ]] && extra=(-fsanitize=address,undefined)
flags=$(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs igtcloud)
"${CC:-cc}" -std=c11 -Wall -Werror "${extra[@]}" "$prefix/use.c" -o "$prefix/use" $flags
version=$(LD_LIBRARY_PATH="$prefix/lib" "$prefix/use") || fail "program built against the install failed"
[[ "$version" == "$("$prefix/bin/igtcloud" version | awk '{print $2}')" ]] \
  || fail "library version '$version' differs from the installed igtcloud's"

# The programs in examples/ build against the install with pkg-config alone.
for example in "$SOURCE_DIR"/examples/*.c; do
  name=$(basename "$example" .c)
  "${CC:-cc}" -std=c11 -D_XOPEN_SOURCE=700 -Wall -Wextra -Werror "${extra[@]}" "$example" \
    -o "$prefix/$name" $flags || fail "examples/$name.c does not build against the install"
  set +e
  LD_LIBRARY_PATH="$prefix/lib" "$prefix/$name" >/dev/null 2>&1; rc=$?
  set -e
  [[ $rc -ne 127 && $rc -lt 128 ]] || fail "examples/$name built against the install does not run (exit $rc)"
done
echo "ok: exports, soname, install tree (man pages, completion), pkg-config builds of a program and examples/"
