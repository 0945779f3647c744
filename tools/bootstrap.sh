#!/usr/bin/env bash
# tools/bootstrap.sh: installs the Debian packages tokenvault needs to build, test and package.
# The OAuth tests also need node and npm: their script installs oidc-provider from the npm registry
# into the build directory (tests/oauth/run_with_oauth_server.sh).
# Does nothing when they are all present; otherwise runs apt-get update once and installs the missing
# ones, non-interactively (as root directly, else through sudo). Safe with no stdin (CI).
set -euo pipefail

packages=(
    g++ meson ninja-build pkg-config python3 cmake clang-format-14
    libboost-dev libsodium-dev doctest-dev nlohmann-json3-dev libcli11-dev
    libsecret-1-dev libkeyutils-dev keyutils
    gnome-keyring libsecret-tools dbus dbus-x11
    libcurl4-openssl-dev nodejs
    clang libclang-rt-dev
    # the Windows phase (tools/test_windows.sh): mingw-w64 with posix threads, wine, lld (links the
    # Windows executables in seconds, tools/mingw_cxx.py), and what building libsodium from its Debian
    # source package needs
    g++-mingw-w64-x86-64-posix gcc-mingw-w64-x86-64-posix wine wine64 lld autoconf automake libtool dpkg-dev make
)

missing=()
for package in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)
    if [[ "$status" != "installed" ]]; then
        missing+=("$package")
    fi
done

# npm: Debian's package, unless the installed nodejs brings its own (NodeSource builds do, and conflict
# with Debian's npm).
if ! command -v npm >/dev/null 2>&1; then
    missing+=(npm)
fi

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "bootstrap: all ${#packages[@]} packages present"
    exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
    sudo=()
elif command -v sudo >/dev/null 2>&1; then
    sudo=(sudo -n)
else
    echo "bootstrap: missing packages: ${missing[*]}; not root and no sudo: install them yourself" >&2
    exit 1
fi

echo "bootstrap: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" </dev/null
echo "bootstrap: done"
