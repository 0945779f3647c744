#!/bin/sh
# tests/integration/run_with_keyring.sh COMMAND [ARGS...]
#
# Runs COMMAND with real keyrings of its own, and exits with COMMAND's status:
#   - a private D-Bus session (dbus-run-session) with gnome-keyring-daemon serving the Secret Service,
#     its "login" collection created and unlocked with a throw-away password piped on stdin;
#   - HOME and the XDG directories in a fresh 0700 temp directory (so nothing touches the real user's
#     keyrings or config), removed afterwards;
#   - a fresh anonymous kernel session keyring (keyctl session -) when the kernel allows it.
# Works as root in a container with no X. Exported for the tests:
#   TOKENVAULT_TEST_SECRET_SERVICE=1  a Secret Service is running and unlocked
#   TOKENVAULT_TEST_KEYCTL=1          the kernel keyring is usable
# Missing tools: COMMAND runs without a Secret Service (its keyring tests should skip) unless
# TOKENVAULT_REQUIRE_KEYRING=1 (tools/test.sh sets it), which makes that an error.
set -u

if [ $# -eq 0 ]; then
    echo "usage: $0 COMMAND [ARGS...]" >&2
    exit 2
fi

require="${TOKENVAULT_REQUIRE_KEYRING:-0}"
missing=""
for tool in dbus-run-session dbus-send gnome-keyring-daemon; do
    command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done

keyctl_prefix=""
if command -v keyctl >/dev/null 2>&1 && keyctl session - true >/dev/null 2>&1; then
    keyctl_prefix="keyctl session -"
    TOKENVAULT_TEST_KEYCTL=1
    export TOKENVAULT_TEST_KEYCTL
fi

if [ -n "$missing" ]; then
    if [ "$require" = 1 ]; then
        echo "run_with_keyring: missing:$missing; run tools/bootstrap.sh" >&2
        exit 1
    fi
    echo "run_with_keyring: warning: no Secret Service (missing:$missing); running without one" >&2
    exec $keyctl_prefix "$@"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tokenvault-keyring.XXXXXX") || exit 1
chmod 700 "$tmp"
mkdir -m 700 "$tmp/home" "$tmp/data" "$tmp/config" "$tmp/cache" "$tmp/run"
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

HOME="$tmp/home" XDG_DATA_HOME="$tmp/data" XDG_CONFIG_HOME="$tmp/config" XDG_CACHE_HOME="$tmp/cache" \
XDG_RUNTIME_DIR="$tmp/run" TOKENVAULT_KEYRING_LOG="$tmp/gnome-keyring.log" \
TOKENVAULT_KEYCTL_PREFIX="$keyctl_prefix" TOKENVAULT_REQUIRE_KEYRING="$require" \
dbus-run-session -- sh -c '
    unset DISPLAY WAYLAND_DISPLAY
    printf "%s" "tokenvault-test-$$" |
        gnome-keyring-daemon --foreground --unlock --components=secrets >"$TOKENVAULT_KEYRING_LOG" 2>&1 &
    daemon=$!
    ready=0
    tries=0
    while [ $tries -lt 100 ]; do
        if dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
                org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null |
                grep -q "boolean true"; then
            ready=1
            break
        fi
        kill -0 "$daemon" 2>/dev/null || break
        tries=$((tries + 1))
        sleep 0.1
    done
    if [ $ready = 1 ]; then
        TOKENVAULT_TEST_SECRET_SERVICE=1
        export TOKENVAULT_TEST_SECRET_SERVICE
    else
        echo "run_with_keyring: gnome-keyring-daemon did not register org.freedesktop.secrets:" >&2
        cat "$TOKENVAULT_KEYRING_LOG" >&2
        if [ "$TOKENVAULT_REQUIRE_KEYRING" = 1 ]; then
            kill "$daemon" 2>/dev/null
            exit 1
        fi
    fi
    unset TOKENVAULT_KEYRING_LOG TOKENVAULT_REQUIRE_KEYRING
    prefix=$TOKENVAULT_KEYCTL_PREFIX
    unset TOKENVAULT_KEYCTL_PREFIX
    $prefix "$@"
    status=$?
    kill "$daemon" 2>/dev/null
    wait "$daemon" 2>/dev/null
    exit $status
' run_with_keyring "$@"
