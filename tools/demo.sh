#!/usr/bin/env bash
# tools/demo.sh: build tokenvault's examples in release mode and run the quickstart.
#
#   bootstrap -> meson setup build-demo (release) -> build the examples -> run examples/quickstart.cpp
#   (or examples/demo.cpp). Extra arguments are passed to the example.
# env: TOKENVAULT_BUILD_DEMO_DIR overrides the build directory (default build-demo).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${TOKENVAULT_BUILD_DEMO_DIR:-build-demo}

bash tools/bootstrap.sh </dev/null

options=(--buildtype=release -Dwerror=false -Dtests=disabled -Dbenchmarks=disabled -Dexamples=enabled)
if [[ -f "$build/meson-private/coredata.dat" ]]; then
    meson setup --reconfigure "$build" "${options[@]}" >/dev/null
else
    rm -rf "$build"
    meson setup "$build" "${options[@]}" >/dev/null
fi
ninja -C "$build" -j 2

for name in quickstart demo; do
    if [[ -x "$build/$name" ]]; then
        echo "==== running examples/$name.cpp ===="
        exec "$build/$name" "$@"
    fi
done
echo "tools/demo.sh: no examples/quickstart.cpp or examples/demo.cpp yet: nothing to run" >&2
exit 1
