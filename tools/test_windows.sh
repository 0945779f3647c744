#!/usr/bin/env bash
# tools/test_windows.sh: the Windows phase of the test suite: cross-built with mingw-w64, run under wine.
#
#   1. packages: mingw-w64 with posix threads (the win32-thread variant has no std::thread) and wine64,
#      plus what building libsodium needs
#   2. libsodium for mingw, built once from Debian's source package and cached in the build directory
#      (tools/build_mingw_sodium.sh)
#   3. a meson cross build (exe_wrapper wine, static linking) of what differs on Windows: the platform,
#      store and cross-process tests, the Windows keyring tests, the Windows conformance matrix, and
#      tvctl (meson.build lists them; portable logic is tested on Linux), at -O0 without debug
#      information (static links of debug builds took minutes)
#   4. meson test under wine, in a private WINEPREFIX and HOME kept in the build directory
#   5. the quickstart built from single_include/ alone, run twice (the second run finds the first's token),
#      and tvctl run against that store
# The last line is `windows: N passed, N failed (M s)`; exits non-zero on any failure.
#
# usage: tools/test_windows.sh
# env:   TOKENVAULT_BUILD_WINDOWS_DIR (default build-windows); TOKENVAULT_SKIP_WINDOWS=1 skips the phase
#        locally (refused when CI=true); JOBS (default 2)
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
start=$(date +%s)
jobs=${JOBS:-2}
build=${TOKENVAULT_BUILD_WINDOWS_DIR:-build-windows}
mkdir -p "$build"
build=$(cd "$build" && pwd)

passed=0
failed=0
finish() {
    echo "windows: $passed passed, $failed failed ($(($(date +%s) - start)) s)"
    [[ $failed -eq 0 && $passed -gt 0 ]]
    exit
}
problem() {
    failed=$((failed + 1))
    echo "tools/test_windows.sh: FAILED: $*" >&2
}
section() { printf '\n==== windows: %s (at %d s) ====\n' "$*" "$(($(date +%s) - start))"; }

if [[ "${TOKENVAULT_SKIP_WINDOWS:-0}" == 1 ]]; then
    if [[ "${CI:-}" == true ]]; then
        problem "TOKENVAULT_SKIP_WINDOWS=1 is not allowed in CI"
        finish
    fi
    echo "windows: skipped (TOKENVAULT_SKIP_WINDOWS=1)"
    exit 0
fi

# --------------------------------------------------------------------------------------------------
section "packages"
packages=(g++-mingw-w64-x86-64-posix gcc-mingw-w64-x86-64-posix wine wine64 lld
          autoconf automake libtool dpkg-dev make pkg-config)
missing=()
for package in "${packages[@]}"; do
    [[ $(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null) == installed ]] || missing+=("$package")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo -n)
    echo "installing ${missing[*]}"
    if ! { "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
           "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
               --no-upgrade "${missing[@]}"; } </dev/null; then
        problem "could not install ${missing[*]}"
        finish
    fi
fi
cxx=x86_64-w64-mingw32-g++-posix
cc=x86_64-w64-mingw32-gcc-posix

# --------------------------------------------------------------------------------------------------
# libsodium: no Debian package for mingw; tools/build_mingw_sodium.sh builds Debian's source package once
# into the build directory (about 2 minutes; tools/test.sh starts it in the background earlier).
section "libsodium for mingw"
sodium_prefix=$build/deps/sodium
if ! JOBS=$jobs bash "$root/tools/build_mingw_sodium.sh" "$build"; then
    problem "building libsodium for mingw failed"
    finish
fi

# --------------------------------------------------------------------------------------------------
# Headers of the header-only dependencies, without the rest of /usr/include (glibc's headers break mingw).
section "cross build"
sysinc=$build/deps/include
mkdir -p "$sysinc" "$build/deps/pkgconfig" "$build/deps/boost-lib"  # Hana is headers only
for name in boost nlohmann doctest CLI; do
    [[ -e /usr/include/$name ]] && ln -sfn "/usr/include/$name" "$sysinc/$name"
done
cp "$sodium_prefix/lib/pkgconfig/libsodium.pc" "$build/deps/pkgconfig/"
json_version=$(pkg-config --modversion nlohmann_json 2>/dev/null || echo 3.11.2)
cat >"$build/deps/pkgconfig/nlohmann_json.pc" <<EOF
Name: nlohmann_json
Description: JSON for Modern C++ (headers only)
Version: $json_version
Cflags: -I$sysinc
EOF
cat >"$build/deps/mingw.ini" <<EOF
[binaries]
c = '$cc'
cpp = ['python3', '$root/tools/mingw_cxx.py', '$cxx']  # links with lld when installed (see the script)
ar = 'x86_64-w64-mingw32-ar'
strip = 'x86_64-w64-mingw32-strip'
windres = 'x86_64-w64-mingw32-windres'
pkgconfig = 'pkg-config'
exe_wrapper = 'wine'

[properties]
pkg_config_libdir = ['$build/deps/pkgconfig']
boost_includedir = '$sysinc'
boost_librarydir = '$build/deps/boost-lib'

[built-in options]
# -mbig-obj: tvctl.cpp has more sections than plain COFF allows
cpp_args = ['-I$sysinc', '-Wa,-mbig-obj']
cpp_link_args = ['-static']

[host_machine]
system = 'windows'
cpu_family = 'x86_64'
cpu = 'x86_64'
endian = 'little'
EOF
meson_build=$build/meson
# Examples off: the quickstart is built below from the single header, as a user would.
# -O0 and no -g: the tests are short, and debug information made each static link take one to two minutes.
options=(--cross-file "$build/deps/mingw.ini" --buildtype=plain -Doptimization=0 -Ddebug=false -Db_ndebug=false -Dwerror=true -Dtests=enabled
         -Dexamples=disabled -Dbenchmarks=disabled -Dsecret_service=disabled -Dkeyctl=disabled)
if [[ -f $meson_build/meson-private/coredata.dat ]]; then
    meson setup --reconfigure "$meson_build" "${options[@]}" >/dev/null || rm -rf "$meson_build"
fi
if [[ ! -f $meson_build/meson-private/coredata.dat ]] && ! meson setup "$meson_build" "${options[@]}"; then
    problem "meson setup (cross) failed"
    finish
fi
if ! ninja -C "$meson_build" -j "$jobs" -k 0; then
    problem "cross build failed (see the compiler errors above)"
fi

# --------------------------------------------------------------------------------------------------
# Wine: a private prefix and HOME in the build directory, created once (its folders link into HOME).
section "wine"
export WINEPREFIX=$build/wineprefix HOME=$build/winehome WINEDEBUG=-all
export WINEDLLOVERRIDES="winemenubuilder.exe=d;winedbg.exe=d;mscoree=d;mshtml=d"
export WINEARCH=win64
mkdir -p "$HOME"
if [[ ! -f $WINEPREFIX/system.reg ]]; then
    wineboot -i >/dev/null 2>&1 </dev/null
    wineserver -w
fi
[[ -f $WINEPREFIX/system.reg ]] || { problem "wineboot could not create $WINEPREFIX"; finish; }

section "tests under wine"
rm -f "$meson_build/meson-logs/testlog.json"
meson test -C "$meson_build" --no-rebuild --print-errorlogs --num-processes "$jobs" --timeout-multiplier 3 </dev/null
status=$?
if [[ -f $meson_build/meson-logs/testlog.json ]]; then
    read -r ok bad < <(python3 - "$meson_build/meson-logs/testlog.json" <<'PY'
import json, sys
ok = bad = 0
for line in open(sys.argv[1], encoding="utf-8"):
    line = line.strip()
    if line:
        result = json.loads(line).get("result", "")
        if result in ("OK", "EXPECTEDFAIL"):
            ok += 1
        elif result != "SKIP":
            bad += 1
print(ok, bad)
PY
)
    passed=$((passed + ok))
    failed=$((failed + bad))
    [[ $status -ne 0 && $bad -eq 0 ]] && problem "meson test exited $status without a failed test"
else
    problem "meson test wrote no results"
fi

# --------------------------------------------------------------------------------------------------
# The quickstart from the single header alone (plus the Windows system libraries), run twice; then tvctl
# lists what it stored.
section "quickstart from the single header"
quick=$build/quickstart
mkdir -p "$quick"
store_dir='C:\tokenvault-quickstart'
rm -rf "$WINEPREFIX/drive_c/tokenvault-quickstart"
# Compiled, then linked (by tools/mingw_cxx.py, as the meson build links).
if ! $cxx -std=c++20 -Wall -Wextra -Wpedantic -Werror -I"$root/single_include" -I"$sysinc" \
        -I"$sodium_prefix/include" -c "$root/examples/quickstart.cpp" -o "$quick/quickstart.o" ||
   ! python3 "$root/tools/mingw_cxx.py" "$cxx" -static "$quick/quickstart.o" -o "$quick/quickstart.exe" \
        -L"$sodium_prefix/lib" -lsodium -ladvapi32 -lcrypt32 -lshell32 -lole32; then
    problem "the quickstart does not build from the single header with mingw"
else
    first=$(TOKENVAULT_DEMO_DIR=$store_dir wine "$quick/quickstart.exe" 2>&1 </dev/null | tr -d '\r')
    first_status=$?
    second=$(TOKENVAULT_DEMO_DIR=$store_dir wine "$quick/quickstart.exe" 2>&1 </dev/null | tr -d '\r')
    echo "$second"
    if [[ $first_status -ne 0 ]] || ! grep -q "stored and read back" <<<"$first$second" ||
       ! grep -q "1 credential(s)" <<<"$second"; then
        problem "the quickstart did not store and read back a token under wine"
    else
        passed=$((passed + 1))
    fi
    tvctl=$meson_build/tools/tvctl/tvctl.exe
    if [[ ! -f $tvctl ]]; then
        problem "tvctl.exe was not built (CLI11 not found by the cross build?)"
    else
        listed=$(wine "$tvctl" list --dir "$store_dir" --app tokenvault-quickstart --json </dev/null 2>&1 | tr -d '\r')
        if grep -q '"https://mcp.example.com/mcp"' <<<"$listed" && ! grep -q example-access-token <<<"$listed"; then
            passed=$((passed + 1))
        else
            echo "$listed"
            problem "tvctl list under wine did not list the quickstart's credential (or printed a token)"
        fi
    fi
fi

wineserver -w 2>/dev/null
finish
