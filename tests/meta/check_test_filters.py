#!/usr/bin/env python3
"""Meta test: the per-file test registrations together run every test case of a suite executable.

meson registers each tests/<suite>/*.cpp as its own test, running the suite executable with
`--source-file=*/<file>`. A test case whose __FILE__ is none of those files (say, a TEST_CASE written in
a shared helper header) would then never run; this check finds such cases.

usage: check_test_filters.py SUITE_EXECUTABLE FILE...
"""
import re
import subprocess
import sys

COUNT = re.compile(r"test cases passing the current filters:\s*(\d+)")


def doctest(exe, *args):
    proc = subprocess.run([exe, "--no-version", *args], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise RuntimeError(f"{exe} {' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout


def count(exe, *args):
    match = COUNT.search(doctest(exe, "--count", *args))
    if not match:
        raise RuntimeError(f"{exe}: no test case count in the output of --count")
    return int(match.group(1))


def names(exe, *args):
    lines = doctest(exe, "--list-test-cases", *args).splitlines()
    return {line for line in lines if line and not line.startswith(("[doctest]", "====="))}


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    exe, files = sys.argv[1], sys.argv[2:]
    filters = [f"--source-file=*/{f}" for f in files]
    total = count(exe)
    covered = sum(count(exe, flt) for flt in filters)
    print(f"{exe}: {total} test cases, {covered} reached through the {len(files)} per-file registrations")
    if covered == total:
        return 0
    missed = names(exe) - set().union(*(names(exe, flt) for flt in filters))
    for name in sorted(missed):
        print(f"  not run by any registration: {name}")
    print("define every TEST_CASE in the tests/<suite>/*.cpp file that registers it (a helper header may\n"
          "define TEST_CASE_TEMPLATE_DEFINE; the .cpp applies it), or tell meson.build about the file")
    return 1


if __name__ == "__main__":
    sys.exit(main())
