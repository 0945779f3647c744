#!/usr/bin/env python3
"""Reads tests/single_header_tests.txt: the unit test files also built against the single header.

usage: single_header_sources.py ROOT LIST          print the usable entries, one per line (for meson)
       single_header_sources.py ROOT LIST --check  exit 1 if an entry is missing or includes a tokenvault
                                                   header other than <tokenvault/tokenvault.hpp>
An entry qualifies when the only tokenvault header it (or a quoted helper it includes) pulls in is the
umbrella <tokenvault/tokenvault.hpp>, because single_include/ holds nothing else.
"""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
UMBRELLA = "tokenvault/tokenvault.hpp"


def entries(list_path):
    with open(list_path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if line:
                yield number, line


def foreign_includes(path, tests_dir, seen=None):
    """tokenvault headers other than the umbrella that `path` pulls in (following quoted includes)."""
    seen = set() if seen is None else seen
    if path in seen:
        return []
    seen.add(path)
    found = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            match = INCLUDE.match(line)
            if not match:
                continue
            kind, name = match.groups()
            if name.startswith("tokenvault/"):
                if name != UMBRELLA:
                    found.append(name)
                continue
            if kind == '"':
                for base in (os.path.dirname(path), tests_dir):
                    candidate = os.path.normpath(os.path.join(base, name))
                    if os.path.isfile(candidate):
                        found += foreign_includes(candidate, tests_dir, seen)
                        break
    return found


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    root, list_path = sys.argv[1], sys.argv[2]
    check = "--check" in sys.argv[3:]
    tests_dir = os.path.join(root, "tests")
    problems = []
    usable = []
    for number, entry in entries(list_path):
        path = os.path.join(root, entry)
        where = f"{os.path.relpath(list_path, root)}:{number}: {entry}"
        if not os.path.isfile(path):
            problems.append(f"{where}: no such file (remove the line or add the test)")
            continue
        foreign = foreign_includes(path, tests_dir)
        if foreign:
            problems.append(f"{where}: includes {', '.join(sorted(set(foreign)))}, which the single header "
                            f"does not provide: include only <{UMBRELLA}> or remove the line")
            continue
        usable.append(entry)
    if check:
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"single header test list: {len(usable)} usable, {len(problems)} rejected")
        return 1 if problems else 0
    for entry in usable:
        print(entry)
    return 0


if __name__ == "__main__":
    sys.exit(main())
