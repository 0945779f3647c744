#!/usr/bin/env python3
"""tests/fuzz/run_harness.py: runs one libFuzzer harness over its corpus, then fuzzes for a bounded time.

usage: run_harness.py BINARY [--target NAME] FOUND_DIR SEED_DIR... [--seconds N] [-LIBFUZZER_FLAG=VALUE...]

BINARY is the combined tokenvault_fuzz with --target naming the harness ($TOKENVAULT_FUZZ_TARGET), or a
harness compiled alone (fuzz_<name>).

Every seed (of every SEED_DIR that exists) and every input found earlier is executed first; then the harness
fuzzes for N seconds in one process, writing new inputs to FOUND_DIR and a crashing input to
FOUND_DIR/../../artifacts/. Prints `FUZZ harness=<name> executions=<n> crashes=<0|1> seconds=<n>` last, and
exits with the harness's status (non-zero on a crash, an oracle failure, a leak or a timeout).
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("harness")
    parser.add_argument("found")
    parser.add_argument("seeds", nargs="+")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--target", help="the harness to run in the combined binary")
    args, extra = parser.parse_known_args()

    name = args.target or os.path.basename(args.harness).removeprefix("fuzz_")
    environment = dict(os.environ)
    if args.target:
        environment["TOKENVAULT_FUZZ_TARGET"] = args.target
    artifacts = os.path.join(os.path.dirname(os.path.normpath(args.found)), "..", "artifacts")
    os.makedirs(args.found, exist_ok=True)
    os.makedirs(artifacts, exist_ok=True)
    seeds = [d for d in args.seeds if os.path.isdir(d)]
    if not any(os.listdir(d) for d in seeds):
        print(f"run_harness: no seeds in {' '.join(args.seeds)} (build the fuzz_seeds target, or commit inputs "
              f"to tests/fuzz/corpus/{name}/)", file=sys.stderr)
        return 2
    command = [args.harness, f"-max_total_time={args.seconds}", "-print_final_stats=1", "-timeout=20",
               "-rss_limit_mb=3072", f"-artifact_prefix={os.path.join(artifacts, name)}-", *extra,
               args.found, *seeds]
    started = time.monotonic()
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, errors="replace", env=environment)
    stdout, stderr = proc.communicate()
    elapsed = time.monotonic() - started
    output = stdout + stderr
    if proc.returncode == 0:  # the harness's scratch directory (fuzz_support.hpp); a crash keeps it
        for base in ("/dev/shm", "/tmp"):
            shutil.rmtree(os.path.join(base, f"tokenvault-fuzz-{proc.pid}"), ignore_errors=True)
    executions = sum(int(n) for n in re.findall(r"stat::number_of_executed_units:\s*(\d+)", output))
    if proc.returncode != 0:
        # The report of the crash or oracle failure (libFuzzer prints the input's path).
        print(output[-6000:], file=sys.stderr)
    print(f"FUZZ harness={name} executions={executions} crashes={0 if proc.returncode == 0 else 1} "
          f"seconds={elapsed:.0f}")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
