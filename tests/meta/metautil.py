"""Shared helpers of the meta test scripts: compiler command line, pkg-config flags, parallel runs.

Every script takes the same compiler options, passed by meson.build:
  --cxx "COMMAND"        the C++ compiler meson uses (shell-quoted, may be "ccache c++")
  --flags "FLAGS"        the flags meson would use (standard, warnings, -Werror), shell-quoted
  --pkg NAME             a pkg-config module every translation unit needs (repeatable)
  --feature NAME         an enabled optional feature: secret_service, keyctl, curl (repeatable)
  --jobs N               parallel compiler runs (default 2: the machine has 2 cores)
"""
import argparse
import concurrent.futures
import fnmatch
import json
import os
import re
import shlex
import subprocess
import sys
import time

SKIP = 77  # meson's exit code for a skipped test

HERE = os.path.dirname(os.path.abspath(__file__))

# pkg-config modules and link flags of each optional feature.
FEATURE_PKG = {"secret_service": ["libsecret-1"], "keyctl": [], "curl": ["libcurl"]}
FEATURE_LIBS = {"secret_service": [], "keyctl": ["-lkeyutils"], "curl": []}


def compiler_arguments(parser):
    parser.add_argument("--cxx", required=True, help="compiler command (shell-quoted)")
    parser.add_argument("--flags", default="", help="compiler flags (shell-quoted)")
    parser.add_argument("--pkg", action="append", default=[], help="pkg-config module needed by every TU")
    parser.add_argument("--feature", action="append", default=[], help="enabled optional feature")
    parser.add_argument("--jobs", type=int, default=2)
    return parser


class Toolchain:
    def __init__(self, args):
        self.cxx = shlex.split(args.cxx)
        self.flags = shlex.split(args.flags)
        self.features = set(args.feature)
        self.jobs = max(1, args.jobs)
        self.base_pkg = list(args.pkg)
        self._pkg_cache = {}

    def pkg_config(self, modules, what="--cflags"):
        if not modules:
            return []
        key = (tuple(modules), what)
        if key not in self._pkg_cache:
            proc = subprocess.run(["pkg-config", what] + list(modules), capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"pkg-config {what} {' '.join(modules)} failed: {proc.stderr.strip()}")
            self._pkg_cache[key] = shlex.split(proc.stdout)
        return self._pkg_cache[key]

    def feature_cflags(self, features):
        modules = [m for f in features for m in FEATURE_PKG.get(f, [])]
        return self.pkg_config(modules)

    def feature_libs(self, features):
        modules = [m for f in features for m in FEATURE_PKG.get(f, [])]
        libs = self.pkg_config(modules, "--libs")
        return libs + [lib for f in features for lib in FEATURE_LIBS.get(f, [])]

    def base_cflags(self):
        return self.pkg_config(self.base_pkg)

    def base_libs(self):
        return self.pkg_config(self.base_pkg, "--libs")

    def is_clang(self):
        proc = subprocess.run(self.cxx + ["--version"], capture_output=True, text=True)
        return "clang" in proc.stdout.lower()

    def run(self, command, cwd=None):
        """Runs a compiler command; returns (returncode, combined output, seconds)."""
        start = time.monotonic()
        proc = subprocess.run(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              stdin=subprocess.DEVNULL)
        return proc.returncode, proc.stdout, time.monotonic() - start


def parallel(jobs, function, items):
    """Maps `function` over `items` with `jobs` threads, yielding results in the order of `items`."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        yield from pool.map(function, items)


def load_requirements(path=os.path.join(HERE, "header_requirements.json")):
    with open(path, encoding="utf-8") as f:
        return json.load(f)["rules"]


def requirement_for(relative_path, rules, include_dir=None, _seen=None):
    """The rule that applies to a header path such as tokenvault/keyring/keyctl.hpp: the first rule whose
    pattern matches it, else (given include_dir) the first rule of a header it includes with quotes,
    followed transitively: a preset that includes keyring/secret_service.hpp needs libsecret too. Rules
    marked "inherit": false (headers that a portable header includes only on their own OS, under #if)
    apply to their headers alone."""
    for rule in rules:
        if fnmatch.fnmatch(relative_path, rule["pattern"]):
            if _seen is not None and rule.get("inherit", True) is False:
                return None
            return rule
    if include_dir is None:
        return None
    seen = set() if _seen is None else _seen
    if relative_path in seen:
        return None
    seen.add(relative_path)
    path = os.path.join(include_dir, relative_path)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return None
    for name in QUOTED_INCLUDE.findall(text):
        target = os.path.normpath(os.path.join(os.path.dirname(path), name))
        if not os.path.isfile(target):
            continue
        rule = requirement_for(os.path.relpath(target, include_dir).replace(os.sep, "/"), rules, include_dir, seen)
        if rule is not None:
            return rule
    return None


QUOTED_INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.MULTILINE)


def platform_allows(rule):
    platforms = rule.get("platforms")
    return platforms is None or any(sys.platform.startswith(p) for p in platforms)


def tail(text, lines=60):
    parts = text.rstrip().splitlines()
    if len(parts) <= lines:
        return "\n".join(parts)
    return "\n".join(parts[:lines]) + f"\n... ({len(parts) - lines} more lines)"
