#!/usr/bin/env python3
"""Meta test: the examples build against the single header alone.

Each examples/*.cpp whose only tokenvault include is <tokenvault/tokenvault.hpp> is compiled and linked
with -I single_include (no include/) plus the core dependencies' pkg-config flags. Examples that use a
platform header (keyring/secret_service.hpp, ...) need include/ and are skipped here.

usage: examples_single_header.py --examples DIR --single DIR --work DIR  + compiler options (metautil.py)
"""
import argparse
import os
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import metautil  # noqa: E402

INCLUDE = re.compile(r'^\s*#\s*include\s*[<"](tokenvault/[^>"]+)[>"]', re.MULTILINE)
UMBRELLA = "tokenvault/tokenvault.hpp"


def main():
    parser = metautil.compiler_arguments(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--examples", required=True)
    parser.add_argument("--single", required=True, help="the single_include/ directory")
    parser.add_argument("--work", required=True, help="where the executables go")
    args = parser.parse_args()
    tools = metautil.Toolchain(args)
    os.makedirs(args.work, exist_ok=True)

    names = sorted(n for n in os.listdir(args.examples) if n.endswith(".cpp")) if os.path.isdir(args.examples) else []
    jobs, skipped = [], []
    for name in names:
        with open(os.path.join(args.examples, name), encoding="utf-8") as f:
            included = set(INCLUDE.findall(f.read()))
        other = sorted(included - {UMBRELLA})
        if other:
            skipped.append(f"{name} (includes {', '.join(other)}, not in the single header)")
        else:
            jobs.append(name)
    if not jobs:
        for item in skipped:
            print(f"skip  {item}")
        print(f"no example builds from the single header alone in {args.examples}")
        return metautil.SKIP

    cflags, libs = tools.base_cflags(), tools.base_libs()

    def build(name):
        output = os.path.join(args.work, name[:-4])
        command = (tools.cxx + tools.flags + ["-I", args.single] + cflags +
                   [os.path.join(args.examples, name), "-o", output] + libs)
        code, text, seconds = tools.run(command)
        return name, code, text, seconds, command

    failures = 0
    for name, code, text, seconds, command in metautil.parallel(tools.jobs, build, jobs):
        if code == 0:
            print(f"ok    {name} ({seconds:.1f}s)")
        else:
            failures += 1
            print(f"FAIL  {name}: does not build against single_include/ alone")
            print("      " + " ".join(command))
            print(metautil.tail(text))
    for item in skipped:
        print(f"skip  {item}")
    print(f"examples on the single header: {len(jobs) - failures} built, {failures} failed, {len(skipped)} skipped")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
