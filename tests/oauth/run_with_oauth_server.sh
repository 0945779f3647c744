#!/usr/bin/env bash
# tests/oauth/run_with_oauth_server.sh SERVER_SOURCE INSTALL_DIR COMMAND [ARGS...]
#
# Runs COMMAND next to a real OAuth authorization server and a protected resource on 127.0.0.1
# (SERVER_SOURCE/server.mjs: oidc-provider from npm, installed once into INSTALL_DIR, normally inside the
# build directory, from the committed package-lock.json), and exits with COMMAND's status. Exported:
#   TOKENVAULT_OAUTH_AS   the authorization server (issuer), e.g. http://127.0.0.1:41234
#   TOKENVAULT_OAUTH_RS   the protected resource's origin; its MCP endpoint is $TOKENVAULT_OAUTH_RS/mcp
# The server is started fresh for each run, on ports the kernel picks, and stopped afterwards (it also
# exits by itself when this script dies: its stdin is a pipe this script holds). Without node/npm, or when
# the install fails, COMMAND is skipped (exit 77) unless TOKENVAULT_REQUIRE_OAUTH_SERVER=1 (tools/test.sh
# sets it), which makes that an error.
set -u

if [[ $# -lt 3 ]]; then
    echo "usage: $0 SERVER_SOURCE INSTALL_DIR COMMAND [ARGS...]" >&2
    exit 2
fi
source_dir=$1
install_dir=$2
shift 2
require=${TOKENVAULT_REQUIRE_OAUTH_SERVER:-0}

unavailable() {
    echo "run_with_oauth_server: $1" >&2
    if [[ $require == 1 ]]; then exit 1; fi
    exit 77
}

command -v node >/dev/null 2>&1 || unavailable "node is missing: run tools/bootstrap.sh"
command -v npm >/dev/null 2>&1 || unavailable "npm is missing: run tools/bootstrap.sh"

# Install once per build directory (tests run in parallel: under a lock), again when the lock file changes.
mkdir -p "$install_dir" || exit 1
(
    flock -w 600 9 || exit 1
    if ! cmp -s "$source_dir/package-lock.json" "$install_dir/package-lock.json" ||
        [[ ! -f "$install_dir/node_modules/oidc-provider/package.json" ]]; then
        cp "$source_dir/package.json" "$source_dir/package-lock.json" "$install_dir/" &&
            npm ci --prefix "$install_dir" --no-audit --no-fund --loglevel=error >"$install_dir/npm.log" 2>&1 ||
            { cat "$install_dir/npm.log" >&2; rm -f "$install_dir/package-lock.json"; exit 1; }
    fi
    # Next to its node_modules: ES modules resolve packages from the script's directory.
    if ! cmp -s "$source_dir/server.mjs" "$install_dir/server.mjs"; then
        cp "$source_dir/server.mjs" "$install_dir/server.mjs.tmp" && mv "$install_dir/server.mjs.tmp" "$install_dir/server.mjs"
    fi
) 9>"$install_dir/.install.lock" || unavailable "npm ci of oidc-provider failed (see above)"

state=$(mktemp -d "${TMPDIR:-/tmp}/tokenvault-oauth.XXXXXX") || exit 1
server_pid=""
cleanup() {
    exec 3>&- 2>/dev/null
    if [[ -n $server_pid ]]; then
        kill "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
    fi
    rm -rf "$state"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

mkfifo "$state/stdin" || exit 1
node "$install_dir/server.mjs" "$state" <"$state/stdin" >"$state/server.log" 2>&1 &
server_pid=$!
exec 3>"$state/stdin"

for _ in $(seq 1 300); do
    [[ -f $state/ports.json ]] && break
    if ! kill -0 "$server_pid" 2>/dev/null; then
        cat "$state/server.log" >&2
        unavailable "the OAuth test server did not start"
    fi
    sleep 0.1
done
[[ -f $state/ports.json ]] || { cat "$state/server.log" >&2; unavailable "the OAuth test server did not start in 30 s"; }

ports=$(cat "$state/ports.json")
as_port=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["as"])' "$ports")
rs_port=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["rs"])' "$ports")
export TOKENVAULT_OAUTH_AS="http://127.0.0.1:$as_port"
export TOKENVAULT_OAUTH_RS="http://127.0.0.1:$rs_port"

"$@"
status=$?
if [[ $status -ne 0 ]]; then
    echo "---- OAuth test server log ----" >&2
    tail -n 50 "$state/server.log" >&2
fi
exit $status
