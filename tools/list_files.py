#!/usr/bin/env python3
"""List files under a directory whose names end with a suffix, for meson (which does not glob).

usage: list_files.py DIR SUFFIX [--relative-to BASE]

Prints one path per line, sorted, with forward slashes: relative to BASE when given, else as found
under DIR. A missing DIR prints nothing (an absent tests/ or examples/ directory is not an error).
meson reads the list at configure time: run `meson setup --reconfigure BUILDDIR` after adding a file.
"""
import argparse
import os
import sys


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory")
    parser.add_argument("suffix")
    parser.add_argument("--relative-to", dest="base", default=None)
    parser.add_argument("--no-recurse", action="store_true", help="only the directory itself")
    args = parser.parse_args()

    root = args.directory
    if not os.path.isdir(root):
        return 0
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        if args.no_recurse:
            dirnames[:] = []
        for name in filenames:
            if name.endswith(args.suffix) and not name.startswith("."):
                path = os.path.join(dirpath, name)
                if args.base is not None:
                    path = os.path.relpath(path, args.base)
                found.append(path.replace(os.sep, "/"))
    for path in sorted(found):
        sys.stdout.write(path + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
