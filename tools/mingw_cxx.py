#!/usr/bin/env python3
"""tools/mingw_cxx.py: the mingw-w64 g++ of the Windows phase, linking with lld.

Debian's mingw-w64 g++ always links with GNU ld (it is configured --with-ld, which -fuse-ld cannot
override). GNU ld's PE linker is slow on objects with tens of thousands of COMDAT sections, which every
-O0 C++ object here has: linking tvctl.exe took 36 s, the same link with lld 0.4 s, and the executable
runs the same under wine. So this wrapper passes compiles (and every other call that is not a link, such
as meson's --version probes) to g++ unchanged; for a link it asks g++ for its linker command line
(-###) and runs that with ld.lld in its MinGW mode (-m i386pep), leaving out what only GNU ld knows (the
LTO plugin, --allow-shlib-undefined). Without ld.lld it links with g++ as before.

usage: mingw_cxx.py REAL_GXX ARGS...      (tools/test_windows.sh names it as the cross file's cpp)
"""
import os
import shlex
import shutil
import subprocess
import sys

NOT_A_LINK = {"-c", "-S", "-E", "-M", "-MM", "-fsyntax-only", "-###", "--version", "-v", "-dumpversion",
              "-dumpmachine", "-x"}
GNU_LD_ONLY = {"--allow-shlib-undefined"}  # meson adds it for GNU ld; lld's MinGW mode refuses it
SOURCES = (".c", ".cc", ".cpp", ".cxx", ".C")  # a call naming one compiles it first: left to g++ whole


def is_link(args):
    """A call that only links objects: no compile step (no source file), no probe, an output file."""
    if any(arg in NOT_A_LINK or arg.startswith("-print-") or arg.endswith(SOURCES) for arg in args):
        return False
    return "-o" in args


def linker_command(gxx, args):
    """g++'s own linker command line for `args` (the collect2 line of -###), made into an ld.lld one."""
    probe = subprocess.run([gxx, *args, "-###"], capture_output=True, text=True)
    if probe.returncode != 0:
        return None
    lines = [line for line in probe.stderr.splitlines() if "collect2" in line]
    if not lines:
        return None
    words = shlex.split(lines[-1])[1:]
    command = ["ld.lld"]
    i = 0
    while i < len(words):
        word = words[i]
        if word == "-plugin":
            i += 2
            continue
        if word.startswith("-plugin-opt=") or word.startswith("-plugin=") or word in GNU_LD_ONLY:
            i += 1
            continue
        command.append(word)
        i += 1
    return command if "-m" in command and "i386pep" in command else None


def main():
    if len(sys.argv) < 2:
        print("usage: mingw_cxx.py REAL_GXX ARGS...", file=sys.stderr)
        return 2
    gxx, args = sys.argv[1], sys.argv[2:]
    if is_link(args) and shutil.which("ld.lld"):
        command = linker_command(gxx, args)
        if command is not None:
            return subprocess.run(command).returncode
    os.execvp(gxx, [gxx, *args])
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(main())
