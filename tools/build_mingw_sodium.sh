#!/usr/bin/env bash
# tools/build_mingw_sodium.sh: libsodium for mingw-w64, for the Windows phase (tools/test_windows.sh).
#
# There is no Debian package of libsodium for mingw: this builds Debian's source package into
# BUILD/deps/sodium (lib/libsodium.a, lib/pkgconfig/libsodium.pc), once; a later run finds it there and
# does nothing. The minimal build (what tokenvault calls: both AEADs, generichash, SHA-256, kdf,
# randombytes, secure memory) without debug information compiles a fifth less; a missing function would
# fail the Windows link. About 2 minutes, most of it ./configure on one core: tools/test.sh starts it in
# the background (nice -n 19) at its beginning, so that it runs while the other phases wait on tests.
# Needs mingw-w64, autoconf, automake, libtool, dpkg-dev, make (tools/bootstrap.sh installs them).
#
# usage: tools/build_mingw_sodium.sh BUILD   (the Windows build directory, e.g. build-windows)
# env:   JOBS (default 2)
# Exits non-zero, with the reason on stderr, when the build fails.
set -uo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: tools/build_mingw_sodium.sh BUILD" >&2
    exit 2
fi
mkdir -p "$1" && build=$(cd "$1" && pwd) || exit 1
jobs=${JOBS:-2}
cc=x86_64-w64-mingw32-gcc-posix
deps=$build/deps
sodium_prefix=$deps/sodium
if [[ -f $sodium_prefix/lib/libsodium.a && -f $sodium_prefix/lib/pkgconfig/libsodium.pc ]]; then
    echo "libsodium for mingw: cached in $sodium_prefix"
    exit 0
fi
rm -rf "$deps/apt" "$deps/src" "$sodium_prefix"
mkdir -p "$deps/apt/lists/partial" "$deps/apt/cache/archives/partial" "$deps/src"
suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
echo "deb-src http://deb.debian.org/debian $suite main" >"$deps/apt/sources.list"
apt_private=(-o "Dir::Etc::SourceList=$deps/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
             -o "Dir::State::Lists=$deps/apt/lists" -o "Dir::Cache=$deps/apt/cache")
if ! (apt-get "${apt_private[@]}" update -qq &&
      cd "$deps/src" && apt-get "${apt_private[@]}" source --download-only -qq libsodium &&
      dpkg-source -x ./libsodium_*.dsc sodium-src >/dev/null &&
      cd sodium-src && autoreconf -fi >/dev/null 2>&1 &&
      ./configure --host=x86_64-w64-mingw32 --disable-shared --enable-minimal --disable-dependency-tracking \
          --prefix="$sodium_prefix" CC="$cc" CFLAGS="-O2" >/dev/null &&
      make -j"$jobs" >/dev/null && make install >/dev/null) </dev/null; then
    rm -rf "$sodium_prefix"  # no half-installed library for a later run to take as cached
    echo "tools/build_mingw_sodium.sh: building libsodium for mingw failed" >&2
    exit 1
fi
rm -rf "$deps/src" "$deps/apt"
echo "libsodium for mingw: built into $sodium_prefix"
