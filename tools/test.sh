#!/usr/bin/env bash
# tools/test.sh: the whole test suite, as CI runs it (.ci/run).
#
#   1. tools/bootstrap.sh (installs missing Debian packages); then libsodium for mingw starts building in the
#      background (tools/build_mingw_sodium.sh, nice -n 19) for the Windows phase, which waits for it at normal
#      priority
#   2. format: the C++ files the project owns match .clang-format (tools/format.sh --check, clang-format 14)
#   3. build-test: warnings as errors, every feature on; all suites (unit, matrix, integration, meta)
#   4. build-asan: clang, -Werror, AddressSanitizer + UndefinedBehaviorSanitizer; unit, matrix, integration,
#      oauth, hygiene
#   5. build-tsan: ThreadSanitizer; only the thread and lifecycle tests (tests/thread_sanitizer_tests.txt)
#   6. build-fuzz: clang; the libFuzzer harnesses of tests/fuzz, each over its seed corpus, then a short
#      time-boxed run (suite fuzz)
#   7. windows: cross-built with mingw-w64 and run under wine (tools/test_windows.sh; TOKENVAULT_SKIP_WINDOWS=1
#      skips it locally, never in CI)
# and prints, last, one line `tokenvault: N passed, N failed` summed over the meson test runs (a build or
# configure failure counts as one failure). Exits non-zero on any failure.
#
# usage: tools/test.sh [--no-asan] [--no-tsan] [--no-fuzz]   (build directories are reused: reconfigured,
#        not wiped)
# env:   TOKENVAULT_BUILD_TEST_DIR, TOKENVAULT_BUILD_ASAN_DIR, TOKENVAULT_BUILD_TSAN_DIR,
#        TOKENVAULT_BUILD_FUZZ_DIR, TOKENVAULT_BUILD_WINDOWS_DIR (also read by tools/test_windows.sh)
#        override the build directory names.
# Integration tests run inside tests/integration/run_with_keyring.sh, which gives each one a private
# D-Bus session with gnome-keyring-daemon; TOKENVAULT_REQUIRE_KEYRING=1 makes a missing keyring an error.
# OAuth tests run inside tests/oauth/run_with_oauth_server.sh (oidc-provider on 127.0.0.1, installed from
# npm into the build directory); TOKENVAULT_REQUIRE_OAUTH_SERVER=1 makes a missing server an error.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
jobs=2
build_test=${TOKENVAULT_BUILD_TEST_DIR:-build-test}
build_asan=${TOKENVAULT_BUILD_ASAN_DIR:-build-asan}
build_tsan=${TOKENVAULT_BUILD_TSAN_DIR:-build-tsan}
build_fuzz=${TOKENVAULT_BUILD_FUZZ_DIR:-build-fuzz}
run_asan=1
run_tsan=1
run_fuzz=1
for arg in "$@"; do
    case "$arg" in
        --no-asan) run_asan=0 ;;
        --no-tsan) run_tsan=0 ;;
        --no-fuzz) run_fuzz=0 ;;
        *) echo "usage: tools/test.sh [--no-asan] [--no-tsan] [--no-fuzz]" >&2; exit 2 ;;
    esac
done

passed=0
failed=0
skipped=0
problems=()

note_failure() {  # a failure that is not a test: configure, build, bootstrap
    failed=$((failed + 1))
    problems+=("$1")
    echo "tools/test.sh: FAILED: $1" >&2
}

section() { printf '\n==== %s ====\n' "$*"; }

renice_tree() {  # renice_tree NICENESS PID: that process and its descendants (their later children inherit it)
    local niceness=$1 pid=$2 child
    renice -n "$niceness" -p "$pid" >/dev/null 2>&1 || true
    for child in $(pgrep -P "$pid" 2>/dev/null); do
        renice_tree "$niceness" "$child"
    done
}

configure() {  # configure DIR OPTIONS...: set up, or reconfigure an existing build directory
    local dir=$1
    shift
    if [[ -f "$dir/meson-private/coredata.dat" ]]; then
        meson setup --reconfigure "$dir" "$@" || meson setup --wipe "$dir" "$@"
    else
        rm -rf "$dir"
        meson setup "$dir" "$@"
    fi
}

count_results() {  # count_results DIR: add the results of the last meson test run in DIR
    local log="$1/meson-logs/testlog.json"
    local counts
    if [[ ! -f "$log" ]]; then
        echo "0 0 0"
        return
    fi
    counts=$(python3 - "$log" <<'PY'
import json, sys
ok = bad = skip = 0
with open(sys.argv[1], encoding="utf-8") as f:
    for line in f:
        line = line.strip()
        if not line:
            continue
        result = json.loads(line).get("result", "")
        if result in ("OK", "EXPECTEDFAIL"):
            ok += 1
        elif result == "SKIP":
            skip += 1
        else:  # FAIL, TIMEOUT, UNEXPECTEDPASS, ERROR
            bad += 1
print(ok, bad, skip)
PY
) || counts="0 0 0"
    echo "$counts"
}

run_phase() {  # run_phase LABEL DIR MESON_TEST_ARGS...: build DIR, run its tests, add up the results
    local label=$1 dir=$2
    shift 2
    section "$label: build"
    local build_ok=1 build_started=$SECONDS test_started
    # shellcheck disable=SC2086  # $ninja_targets: a word list, empty for every target
    if ! ninja -C "$dir" -j "$jobs" -k 0 ${ninja_targets:-}; then
        build_ok=0
        note_failure "$label: build failed (see the compiler errors above)"
    fi
    echo "[$label] build took $((SECONDS - build_started)) s"
    section "$label: test"
    test_started=$SECONDS
    rm -f "$dir/meson-logs/testlog.json"
    meson test -C "$dir" --no-rebuild --print-errorlogs --num-processes "$jobs" "$@" </dev/null
    local status=$?
    local ok bad skip
    read -r ok bad skip < <(count_results "$dir")
    passed=$((passed + ok))
    failed=$((failed + bad))
    skipped=$((skipped + skip))
    echo "[$label] ok=$ok failed=$bad skipped=$skip (meson test exit $status, tests took $((SECONDS - test_started)) s)"
    if [[ $status -ne 0 && $bad -eq 0 && $build_ok -eq 1 ]]; then
        note_failure "$label: meson test exited $status without a failed test"
    fi
}

export TOKENVAULT_REQUIRE_KEYRING=1
export TOKENVAULT_REQUIRE_OAUTH_SERVER=1

section "bootstrap"
if ! bash tools/bootstrap.sh </dev/null; then
    note_failure "bootstrap: tools/bootstrap.sh failed"
fi

# libsodium for the Windows phase's mingw build (tools/build_mingw_sodium.sh, about 2 minutes, mostly a
# single-threaded ./configure): started now in the background at the lowest priority, so that it uses the
# CPU the phases below leave idle while they wait on test processes; the Windows phase raises it back to
# normal priority and waits for it.
windows_build=${TOKENVAULT_BUILD_WINDOWS_DIR:-build-windows}
sodium_pid=
sodium_log=
if [[ "${TOKENVAULT_SKIP_WINDOWS:-0}" != 1 || "${CI:-}" == true ]]; then
    sodium_log=$(mktemp)
    JOBS=$jobs nice -n 19 bash tools/build_mingw_sodium.sh "$windows_build" >"$sodium_log" 2>&1 </dev/null &
    sodium_pid=$!
fi

section "format"
if bash tools/format.sh --check </dev/null; then
    passed=$((passed + 1))
else
    note_failure "format: files differ from .clang-format (bash tools/format.sh rewrites them)"
fi

# Strict build: warnings are errors, every optional keyring enabled (so a missing one is an error, not a
# silently skipped test), examples and benchmarks built (benchmarks are not run here). -O0 without debug
# information: nobody debugs these binaries, and -g costs about a seventh of the compile time.
section "build-test: configure"
if configure "$build_test" -Ddebug=false -Doptimization=0 -Dwerror=true -Dtests=enabled -Dexamples=enabled \
        -Dbenchmarks=enabled -Dsecret_service=enabled -Dkeyctl=enabled -Dcurl=enabled </dev/null; then
    run_phase build-test "$build_test"
else
    note_failure "build-test: meson setup failed"
fi

# Sanitizers, with clang at -O0: the sanitized build is compile-bound (the test matrix) and the tests
# are short. clang compiles the sanitized test matrix in well under half the time g++ takes (the largest
# file: 26 s against 66 s of CPU), and holds the code to its own -Werror, so the suite is checked by both
# compilers; meta tests are not defined under sanitizers. Line tables only (-gline-tables-only, not -g):
# sanitizer reports still name file and line, and the build takes a tenth less time.
if [[ $run_asan -eq 1 ]]; then
    section "build-asan: configure"
    if ! command -v clang++ >/dev/null 2>&1; then
        note_failure "build-asan: clang++ not found (tools/bootstrap.sh installs it)"
    elif CC=clang CXX=clang++ configure "$build_asan" -Ddebug=false -Dcpp_args=-gline-tables-only -Doptimization=0 \
            -Db_sanitize=address,undefined -Db_lundef=false -Dwerror=true -Dtests=enabled -Dexamples=disabled \
            -Dbenchmarks=disabled -Dsecret_service=enabled -Dkeyctl=enabled -Dcurl=enabled </dev/null; then
        run_phase build-asan "$build_asan" --timeout-multiplier 3  # unit, matrix, integration: no meta here
    else
        note_failure "build-asan: meson setup failed"
    fi
fi

# ThreadSanitizer, at -O1 (TSan at -O0 runs several times slower): only the tests that run threads or the
# credential lifecycle, built as one executable (tests/thread_sanitizer_tests.txt), to keep CI time low.
if [[ $run_tsan -eq 1 ]]; then
    section "build-tsan: configure"
    tsan_started=$SECONDS
    if configure "$build_tsan" -Ddebug=true -Doptimization=1 -Db_sanitize=thread -Db_lundef=false \
            -Dwerror=false -Dtests=enabled -Dexamples=disabled -Dbenchmarks=disabled \
            -Dsecret_service=disabled -Dkeyctl=disabled </dev/null; then
        ninja_targets=tsan_tests run_phase build-tsan "$build_tsan" --suite tsan --timeout-multiplier 3
    else
        note_failure "build-tsan: meson setup failed"
    fi
    echo "[build-tsan] took $((SECONDS - tsan_started)) s"
fi

# Fuzzing: every parser of hostile input has a libFuzzer harness with a round-trip oracle
# (tests/fuzz/meson.build). clang only; tests, examples and optional keyrings off: the harnesses alone
# (libcurl on: the redirect harness decodes with it). Budget: about 4 minutes on 2 cores, build included.
# At -O1: at -O0 the build takes a third less time but the harnesses run 7 to 10 times fewer inputs.
if [[ $run_fuzz -eq 1 ]]; then
    section "build-fuzz: configure"
    fuzz_started=$SECONDS
    if ! command -v clang++ >/dev/null 2>&1; then
        note_failure "build-fuzz: clang++ not found (tools/bootstrap.sh installs it)"
    elif CXX=clang++ configure "$build_fuzz" -Ddebug=true -Doptimization=1 -Dfuzz=enabled -Dtests=disabled \
            -Dexamples=disabled -Dbenchmarks=disabled -Dsecret_service=disabled -Dkeyctl=disabled -Dcurl=enabled \
            </dev/null; then
        run_phase build-fuzz "$build_fuzz" --suite fuzz
        grep -h '^FUZZ ' "$build_fuzz/meson-logs/testlog.txt" 2>/dev/null || true
    else
        note_failure "build-fuzz: meson setup failed"
    fi
    echo "[build-fuzz] took $((SECONDS - fuzz_started)) s"
fi

# Windows: cross-built with mingw-w64, run under wine. The script prints its own summary line.
section "windows"
if [[ -n $sodium_pid ]]; then
    sodium_wait_started=$SECONDS
    # Nothing else runs now: back to normal priority, or other users' work on a shared machine starves it.
    renice_tree 0 "$sodium_pid"
    if ! wait "$sodium_pid"; then
        cat "$sodium_log"
        note_failure "windows: building libsodium for mingw in the background failed (tools/build_mingw_sodium.sh, output above)"
    fi
    echo "[windows] waited $((SECONDS - sodium_wait_started)) s for the background build of libsodium for mingw"
    rm -f "$sodium_log"
fi
windows_log=$(mktemp)
bash tools/test_windows.sh </dev/null 2>&1 | tee "$windows_log"
windows_status=${PIPESTATUS[0]}
if windows_summary=$(grep -E '^windows: [0-9]+ passed, [0-9]+ failed' "$windows_log" | tail -n 1); then
    read -r windows_ok windows_bad < <(sed -E 's/^windows: ([0-9]+) passed, ([0-9]+) failed.*/\1 \2/' <<<"$windows_summary")
    passed=$((passed + windows_ok))
    failed=$((failed + windows_bad))
    if [[ $windows_status -ne 0 && $windows_bad -eq 0 ]]; then
        note_failure "windows: tools/test_windows.sh exited $windows_status"
    fi
elif ! grep -q '^windows: skipped' "$windows_log"; then
    note_failure "windows: tools/test_windows.sh printed no summary"
fi
rm -f "$windows_log"

section "summary"
for problem in "${problems[@]}"; do
    echo "  $problem"
done
echo "skipped: $skipped"
if [[ $passed -eq 0 ]]; then
    echo "  no test passed: is the tree empty, or did every build fail?"
fi
echo "tokenvault: $passed passed, $failed failed"
if [[ $failed -ne 0 || $passed -eq 0 ]]; then
    exit 1
fi
exit 0
