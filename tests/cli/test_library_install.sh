#!/usr/bin/env bash
# libigtcloud as other programs see it: only the public API exported, a
# versioned SONAME, and an install tree (cmake --install, make install) that
# pkg-config builds against: a program, the static library, every example.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

exported=$(nm -D --defined-only "$LIBIGTCLOUD" | awk '{print $3}')
[[ -n "$exported" ]] || fail "no exported symbols in $LIBIGTCLOUD"
# The fuzz-instrumented build adds the linker's section markers for coverage counters.
exported=$(grep -v -E '^__(start|stop)___sancov_' <<<"$exported" | sort -u)
stray=$(grep -v -E '^igtcloud_' <<<"$exported" || true)
[[ -z "$stray" ]] || fail "symbols outside the igtcloud_ namespace are exported: $(echo $stray)"
internal=$(grep -E '^igtcloud__' <<<"$exported" || true)
[[ -z "$internal" ]] || fail "internal igtcloud__ functions are exported: $(echo $internal)"
# Exactly the functions the public headers declare IGTCLOUD_EXTERN, both ways.
declared=$(cat "$SOURCE_DIR"/include/igtcloud/*.h | tr '\n' ' ' | grep -oE 'IGTCLOUD_EXTERN[^;{]*' |
  sed -E 's/^[^(]*[^a-z0-9_](igtcloud_[a-z0-9_]+) *\(.*/\1/' | sort -u)
undeclared=$(comm -23 <(echo "$exported") <(echo "$declared"))
unexported=$(comm -13 <(echo "$exported") <(echo "$declared"))
[[ -z "$undeclared" ]] || fail "exported but not declared IGTCLOUD_EXTERN in a public header: $(echo $undeclared)"
[[ -z "$unexported" ]] || fail "declared IGTCLOUD_EXTERN but not exported: $(echo $unexported)"
grep -q '^igtcloud_version$' <<<"$exported" || fail "igtcloud_version is not exported"
soname=$(objdump -p "$LIBIGTCLOUD" | awk '/SONAME/ {print $2}')
[[ "$soname" =~ ^libigtcloud\.so\.[0-9]+$ ]] || fail "unexpected SONAME '$soname'"
project_version=$(sed -n 's/^project(igtcloud VERSION \([0-9.]*\) .*/\1/p' "$SOURCE_DIR/CMakeLists.txt")
[[ "$soname" == "libigtcloud.so.${project_version%%.*}" ]] \
  || fail "SONAME $soname does not follow the major version of $project_version"

make_work igtcloud-install
prefix=$work/prefix
# lib, or lib/<multiarch> when the build was configured for /usr.
libdir=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt")
libdir=${libdir:-lib}
cmake --install "$BUILD_DIR" --prefix "$prefix" >/dev/null
# The top-level wrapper installs the same tree ("make install PREFIX=..."), and
# DESTDIR stages it. -o build: the build tree is not rebuilt under the tests' feet.
make -s -C "$SOURCE_DIR" -o build -o configure install BUILD_DIR="$BUILD_DIR" \
  PREFIX="$work/make-prefix" >/dev/null || fail "make install PREFIX=... failed"
make -s -C "$SOURCE_DIR" -o build -o configure install BUILD_DIR="$BUILD_DIR" \
  PREFIX=/opt/igtcloud DESTDIR="$work/stage" >/dev/null || fail "make install DESTDIR=... failed"
tree() { (cd "$1" && find . | sort); }
[[ -n "$(tree "$work/make-prefix")" && "$(tree "$work/make-prefix")" == "$(tree "$prefix")" ]] \
  || fail "make install and cmake --install differ: $(diff <(tree "$work/make-prefix") <(tree "$prefix") | head -5)"
[[ "$(tree "$work/stage/opt/igtcloud")" == "$(tree "$prefix")" ]] \
  || fail "make install DESTDIR=... did not stage the tree under DESTDIR/PREFIX"
for f in bin/igtcloud bin/igtcloud-sandbox include/igtcloud/igtcloud.h include/igtcloud/version.h \
         include/igtcloud/export.h "$libdir/libigtcloud.a" "$libdir/pkgconfig/igtcloud.pc"; do
  [[ -e "$prefix/$f" ]] || fail "install is missing $f"
done
[[ -L "$prefix/$libdir/$soname" && -e "$prefix/$libdir/$soname" ]] || fail "install is missing $libdir/$soname"
for header in "$SOURCE_DIR"/include/igtcloud/*.h; do
  cmp -s "$header" "$prefix/include/igtcloud/$(basename "$header")" \
    || fail "install is missing include/igtcloud/$(basename "$header")"
done
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
flags=$(PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig" pkg-config --cflags --libs igtcloud)
"${CC:-cc}" -std=c11 -Wall -Werror "${extra[@]}" "$prefix/use.c" -o "$prefix/use" $flags
version=$(LD_LIBRARY_PATH="$prefix/$libdir" "$prefix/use") || fail "program built against the install failed"
[[ "$version" == "$("$prefix/bin/igtcloud" version | awk '{print $2}')" ]] \
  || fail "library version '$version' differs from the installed igtcloud's"

# libigtcloud.a links with the modules igtcloud.pc names in Requires.private
# (their shared libraries: Debian ships no static libcurl dependencies).
pc() { PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig" pkg-config "$@"; }
requires=$(pc --print-requires-private igtcloud | awk '{print $1}')
[[ -n "$requires" ]] || fail "igtcloud.pc has no Requires.private"
"${CC:-cc}" -std=c11 -Wall -Werror "${extra[@]}" "$prefix/use.c" -o "$prefix/use-static" \
  $(pc --cflags igtcloud) $(pc --libs-only-L igtcloud) -Wl,-Bstatic -ligtcloud -Wl,-Bdynamic \
  $(pc --libs $requires) -pthread || fail "cannot link libigtcloud.a with Requires.private: $(echo $requires)"
! readelf -d "$prefix/use-static" | matches 'libigtcloud\.so' || fail "use-static still needs libigtcloud.so"
[[ "$(env -u LD_LIBRARY_PATH "$prefix/use-static")" == "$version" ]] || fail "the statically linked program failed"

# Every program in examples/ builds against the install with pkg-config alone
# and does its job against the installed igtcloud-sandbox; a new example needs
# a run here.
IGTCLOUD_SANDBOX=$prefix/bin/igtcloud-sandbox
start_sandbox "$work/cloud" --seed demo
hospital_a=6f1c2b1e-0000-4000-8000-0000000000a1   # the demo world's Hospital A
for example in "$SOURCE_DIR"/examples/*.c; do
  name=$(basename "$example" .c)
  "${CC:-cc}" -std=c11 -D_XOPEN_SOURCE=700 -Wall -Wextra -Werror "${extra[@]}" "$example" \
    -o "$prefix/$name" $flags || fail "examples/$name.c does not build against the install"
  mkdir -p "$work/run-$name"
  case $name in
    create_service)
      set +e
      out=$(cd "$work/run-$name" && echo demo | CLOUD_USERNAME=demo LD_LIBRARY_PATH="$prefix/$libdir" \
        "$prefix/$name" "$api" "$hospital_a" installed 2>"$work/run-$name.err"); rc=$?
      set -e
      [[ $rc -eq 0 ]] || fail "examples/$name against the install: exit $rc: $(cat "$work/run-$name.err")"
      [[ "$out" =~ ^[^/]+\.pem$ && -s "$work/run-$name/$out" ]] || fail "examples/$name wrote no key: '$out'"
      grep -q -- '-----BEGIN' "$work/run-$name/$out" || fail "examples/$name: $out is not a PEM key"
      ;;
    *) fail "examples/$name.c has no run in $(basename "${BASH_SOURCE[0]}")" ;;
  esac
done
stop_sandbox

# The installed tree can be moved: programs find the library beside them, and
# igtcloud.pc is relative to itself.
mv "$prefix" "$work/moved"
[[ "$(env -u LD_LIBRARY_PATH "$work/moved/bin/igtcloud" version)" == "igtcloud $installed_version" ]] \
  || fail "the moved install's igtcloud does not run"
ldd "$work/moved/bin/igtcloud" | matches "=> $work/moved/bin/../$libdir/libigtcloud.so" \
  || fail "the moved igtcloud does not use the library beside it: $(ldd "$work/moved/bin/igtcloud" | grep igtcloud)"
env -u LD_LIBRARY_PATH "$work/moved/bin/igtcloud-sandbox" --help >/dev/null || fail "the moved igtcloud-sandbox does not run"
moved_flags=$(PKG_CONFIG_PATH="$work/moved/$libdir/pkgconfig" pkg-config --cflags --libs igtcloud)
"${CC:-cc}" -std=c11 -Wall -Werror "${extra[@]}" "$work/moved/use.c" -o "$work/moved/use-moved" $moved_flags \
  || fail "igtcloud.pc of a moved install does not build"
echo "ok: exports (only the public API), soname, cmake --install and make install (DESTDIR) trees," \
  "man pages, completion, pkg-config builds (shared, static) of a program and examples/ run" \
  "against the installed sandbox, relocatable install"
