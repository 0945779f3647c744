"""Shared helpers of the meta test scripts: compiler command line, pkg-config flags, parallel runs.

Every script takes the same compiler options, passed by meson.build:
  --cxx "COMMAND"        the C++ compiler meson uses (shell-quoted, may be "ccache c++")
  --flags "FLAGS"        the flags meson would use (standard, warnings, -Werror), shell-quoted
  --pkg NAME             a pkg-config module every translation unit needs (repeatable)
  --feature NAME         an enabled optional feature: secret_service, keyctl, curl (repeatable)
  --jobs N               parallel compiler runs (default 2: the machine has 2 cores)

It also decides when a translation unit may start from a precompiled <nlohmann/json.hpp>
(json_prefix_is_safe, JsonPrefix), which compile_headers.py and compile_fail.py use to save the 2.5 s
that parsing nlohmann/json costs g++ in every header that includes it.
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
import threading
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


# ---------------------------------------------------------------------------------------------------
# A precompiled <nlohmann/json.hpp> in front of a translation unit, where it cannot change what compiles.

JSON_HEADER = "nlohmann/json.hpp"
_DIRECTIVE = re.compile(r"^\s*#\s*(\w+)\s*(.*)$")
_INCLUDE_TARGET = re.compile(r'^([<"])([^>"]+)[>"]')
_JSON_MACRO = re.compile(r"^(?:JSON_|NLOHMANN_)")


def _logical_lines(text):
    """The lines of a C++ file without comments (`//` to the end of the line, `/* ... */`)."""
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.DOTALL)
    return [re.sub(r"//.*$", "", line) for line in text.splitlines()]


def _resolve(kind, name, including_file, include_dir):
    """The file of the tokenvault include directory that `#include <name>` / `"name"` names, else None."""
    candidates = [os.path.join(include_dir, name)]
    if kind == '"':
        candidates.insert(0, os.path.join(os.path.dirname(including_file), name))
    for candidate in candidates:
        candidate = os.path.normpath(candidate)
        if os.path.isfile(candidate) and os.path.abspath(candidate).startswith(os.path.abspath(include_dir) + os.sep):
            return candidate
    return None


def _json_in_closure(path, include_dir, seen):
    """True when <nlohmann/json.hpp> appears anywhere in the textual include closure of `path` (every
    #include line followed, whatever #if it stands under)."""
    if path in seen:
        return False
    seen.add(path)
    with open(path, encoding="utf-8") as f:
        lines = _logical_lines(f.read())
    for line in lines:
        match = _DIRECTIVE.match(line)
        if not match or match.group(1) != "include":
            continue
        target = _INCLUDE_TARGET.match(match.group(2).strip())
        if not target:
            continue
        if target.group(2) == JSON_HEADER:
            return True
        resolved = _resolve(target.group(1), target.group(2), path, include_dir)
        if resolved and _json_in_closure(resolved, include_dir, seen):
            return True
    return False


def json_prefix_is_safe(path, include_dir):
    """Whether compiling `path` (a header's test translation unit, or a compile-fail case) with a
    precompiled <nlohmann/json.hpp> in front compiles exactly what compiling it plainly does.

    Followed textually, in the order the preprocessor meets them, the #include lines of `path` and of
    the tokenvault headers it reaches (each header once: they all use #pragma once) must reach
    <nlohmann/json.hpp> through a chain of includes that stand under no #if and that no code line
    precedes in their file. Then, in the plain compile, the only code before nlohmann/json is that of
    headers read completely before it, and their own include closures do not contain nlohmann/json
    (else it would have come earlier): each of them is checked alone without any prefix, by its own
    headers_compile_alone entry. Every line after that point sees the same declarations in both
    compiles (the same headers, standard headers in another order, which does not matter). Nothing
    before the point may #define a JSON_* or NLOHMANN_* macro (it could configure nlohmann/json), and a
    conditional include whose closure holds nlohmann/json makes the answer no. So the prefix cannot
    hide a missing #include: not of nlohmann/json, not of a standard header it brings."""
    visited = set()

    def walk(current):  # "found", "absent" or "unsafe"
        visited.add(current)
        with open(current, encoding="utf-8") as f:
            lines = _logical_lines(f.read())
        depth = 0
        code_seen = False
        for line in lines:
            if not line.strip():
                continue
            match = _DIRECTIVE.match(line)
            if not match:
                code_seen = True
                continue
            directive, rest = match.group(1), match.group(2).strip()
            if directive in ("if", "ifdef", "ifndef"):
                depth += 1
            elif directive == "endif":
                depth -= 1
            elif directive == "define" and _JSON_MACRO.match(rest):
                return "unsafe"
            elif directive == "include":
                target = _INCLUDE_TARGET.match(rest)
                if not target:
                    return "unsafe"  # a computed include: cannot follow it
                if target.group(2) == JSON_HEADER:
                    return "found" if depth == 0 and not code_seen else "unsafe"
                resolved = _resolve(target.group(1), target.group(2), current, include_dir)
                if resolved is None or resolved in visited:
                    continue
                if depth > 0:
                    if _json_in_closure(resolved, include_dir, set(visited)):
                        return "unsafe"
                    continue  # may or may not be read: not marked as visited
                outcome = walk(resolved)
                if outcome == "found" and code_seen:
                    return "unsafe"
                if outcome != "absent":
                    return outcome
        return "absent"

    return walk(os.path.abspath(path)) == "found"


class JsonPrefix:
    """A precompiled header holding only <nlohmann/json.hpp>, built on first use in `work` with exactly
    the flags of the translation units that use it (one per distinct flag list). g++ finds
    `prefix.hpp.gch` next to the `-include`d `prefix.hpp`, clang gets it with -include-pch; both are told
    -Winvalid-pch, so a precompiled header the compiler cannot use is a warning (an error under -Werror)
    instead of a silent plain parse."""

    def __init__(self, tools, work):
        self.tools = tools
        self.work = os.path.join(work, "json-prefix")
        self.clang = tools.is_clang()
        self._built = {}  # flags tuple -> (returncode, output, args for the translation unit)
        self._lock = threading.Lock()
        self._locks = {}

    def arguments(self, flags):
        """Compiler arguments that put the precompiled nlohmann/json in front of a translation unit
        compiled with `flags`, or raises RuntimeError when it could not be built."""
        key = tuple(flags)
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._built:
                self._built[key] = self._build(flags, len(self._built))
        code, output, args = self._built[key]
        if code != 0:
            raise RuntimeError("building the precompiled <nlohmann/json.hpp> failed:\n" + tail(output))
        return args

    def _build(self, flags, index):
        directory = os.path.join(self.work, str(index))
        os.makedirs(directory, exist_ok=True)
        header = os.path.join(directory, "prefix.hpp")
        with open(header, "w", encoding="utf-8") as f:
            f.write(f"#include <{JSON_HEADER}>\n")
        compiled = header + (".pch" if self.clang else ".gch")
        command = self.tools.cxx + list(flags) + ["-x", "c++-header", header, "-o", compiled]
        code, output, _ = self.tools.run(command)
        if code == 0 and output.strip():
            code = 1  # a warning while building it: treat as a failure, the flags must stay clean
        args = ["-Winvalid-pch"] + (["-include-pch", compiled] if self.clang else ["-include", header])
        return code, output, args
