#!/usr/bin/env python3
"""tests/fuzz/run_harness.py: runs one libFuzzer harness over its corpus, then fuzzes for a bounded time.

usage: run_harness.py HARNESS FOUND_DIR SEED_DIR [--seconds N] [--jobs N] [-- EXTRA_LIBFUZZER_FLAGS...]

Every seed and every input found earlier is executed first; then the harness fuzzes for N seconds (one
process by default: the machine may be shared), writing new inputs to FOUND_DIR and a crashing input to
FOUND_DIR/../artifacts/. Prints `FUZZ harness=<name> executions=<n> crashes=<0|1> seconds=<n>` last, and
exits with the harness's status (non-zero on a crash, an oracle failure, a leak or a timeout).
"""
import argparse
import os
import re
import subprocess
import sys
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("harness")
    parser.add_argument("found")
    parser.add_argument("seeds")
    parser.add_argument("--seconds", type=int, default=25)
    parser.add_argument("extra", nargs="*")
    args = parser.parse_args()

    name = os.path.basename(args.harness).removeprefix("fuzz_")
    artifacts = os.path.join(os.path.dirname(os.path.normpath(args.found)), "..", "artifacts")
    os.makedirs(args.found, exist_ok=True)
    os.makedirs(artifacts, exist_ok=True)
    if not os.path.isdir(args.seeds) or not os.listdir(args.seeds):
        print(f"run_harness: no seeds in {args.seeds} (build the fuzz_seeds target)", file=sys.stderr)
        return 2
    command = [args.harness, f"-max_total_time={args.seconds}", "-print_final_stats=1", "-timeout=20",
               "-rss_limit_mb=3072", f"-artifact_prefix={os.path.join(artifacts, name)}-", *args.extra,
               args.found, args.seeds]
    started = time.monotonic()
    proc = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace")
    elapsed = time.monotonic() - started
    output = proc.stdout + proc.stderr
    executions = sum(int(n) for n in re.findall(r"stat::number_of_executed_units:\s*(\d+)", output))
    if proc.returncode != 0:
        # The report of the crash or oracle failure (libFuzzer prints the input's path).
        print(output[-6000:], file=sys.stderr)
    print(f"FUZZ harness={name} executions={executions} crashes={0 if proc.returncode == 0 else 1} "
          f"seconds={elapsed:.0f}")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
