#!/usr/bin/env python3
"""Meta test: code that must not compile fails to compile, with the diagnostic it should give.

Each CASES/*.cpp starts with a comment block naming what the compiler must say:
  // expect: <substring>          required, on the first line (any compiler)
  // expect-gcc: <substring>      optional, replaces `expect` for g++
  // expect-clang: <substring>    optional, replaces `expect` for clang++
  // requires: <feature>          optional: skip unless that feature (secret_service, keyctl) is enabled;
                                  a case including keyring/secret_service.hpp etc. gets this by itself
The case passes when compiling it (-fsyntax-only, project flags, -I include) fails AND the FIRST error line
contains the substring: a case that fails for another reason (a typo), or whose message comes only after
other errors, does not pass. With g++ the misuse must also give exactly one error and at most MAX_LINES lines
of output in all: one message that names the fix, not a page of template instantiations.

A case whose includes reach <nlohmann/json.hpp> before any code (metautil.json_prefix_is_safe) is
compiled with a precompiled <nlohmann/json.hpp> in front, which saves g++ 2.5 s per case: the compiler
then meets the case's code with the same declarations in scope, so it gives the same diagnostics (the
argument is in json_prefix_is_safe). Other cases are compiled plainly.

usage: compile_fail.py --include DIR --cases DIR [--work DIR]  + compiler options (see metautil.py)
"""
import argparse
import os
import re
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import metautil  # noqa: E402

MAX_LINES = 15  # g++ output lines a rejected case may print in all (context, error, source excerpt, notes)
FIRST_ERROR = re.compile(r"(?:^|: )(?:fatal )?error: ")

DIRECTIVE = re.compile(r"^\s*//\s*(expect|expect-gcc|expect-clang|requires):\s*(.*?)\s*$")


def directives(path):
    found = {}
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    first = True
    for line in lines:
        match = DIRECTIVE.match(line)
        if not match:
            if first or not line.lstrip().startswith("//"):
                break
            continue
        first = False
        found[match.group(1)] = match.group(2)
    return found


TOKENVAULT_INCLUDE = re.compile(r'^\s*#\s*include\s*[<"](tokenvault/[^>"]+)[>"]', re.MULTILINE)


def included_feature(path, include_dir, rules):
    """The feature a case needs because of a tokenvault header it includes (header_requirements.json)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for header in TOKENVAULT_INCLUDE.findall(text):
        rule = metautil.requirement_for(header, rules, include_dir)
        if rule is not None and rule.get("feature"):
            return rule["feature"]
    return None


def error_lines(output):
    """The lines of compiler output that report an error (not the notes and context around them)."""
    return [line for line in output.splitlines() if FIRST_ERROR.search(line)]


def judge(expected, output, gcc):
    """None when `output` is the rejection the case expects, else why not."""
    errors = error_lines(output)
    if not errors:
        return "failed to compile, but printed no error line"
    if expected not in errors[0]:
        return f"the first error line does not contain {expected!r}:\n  {errors[0]}"
    if gcc:
        lines = [line for line in output.splitlines() if line.strip()]
        if len(errors) != 1:
            return f"{len(errors)} errors, not one"
        if len(lines) > MAX_LINES:
            return f"{len(lines)} lines of output, more than {MAX_LINES}"
    return None


def main():
    parser = metautil.compiler_arguments(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--include", required=True, help="the include/ directory")
    parser.add_argument("--cases", required=True, help="directory of .cpp cases")
    parser.add_argument("--work", help="directory for the precompiled nlohmann/json")
    args = parser.parse_args()
    tools = metautil.Toolchain(args)
    rules = metautil.load_requirements()
    clang = tools.is_clang()
    gcc = not clang
    base = tools.base_cflags()

    cases = sorted(n for n in os.listdir(args.cases) if n.endswith(".cpp")) if os.path.isdir(args.cases) else []
    if not cases:
        print(f"no compile-fail cases in {args.cases}")
        return metautil.SKIP

    jobs, problems, skipped = [], [], []
    for name in cases:
        path = os.path.join(args.cases, name)
        found = directives(path)
        if "expect" not in found:
            problems.append(f"{name}: the first line must be `// expect: <substring of the diagnostic>`")
            continue
        feature = found.get("requires") or included_feature(path, args.include, rules)
        if feature and feature not in tools.features:
            skipped.append(f"{name} (feature {feature} disabled)")
            continue
        expected = found.get("expect-clang" if clang else "expect-gcc", found["expect"])
        extra = tools.feature_cflags([feature]) if feature else []
        jobs.append((name, path, expected, extra, metautil.json_prefix_is_safe(path, args.include)))

    work = args.work or tempfile.mkdtemp(prefix="tokenvault-compile-fail-")
    json_prefix = metautil.JsonPrefix(tools, work)

    def compile_one(job):
        name, path, expected, extra, prefixed = job
        flags = tools.flags + ["-I", args.include] + base + extra
        try:
            prefix = json_prefix.arguments(flags) if prefixed else []
        except RuntimeError as error:
            return name, expected, None, str(error), 0.0
        command = tools.cxx + flags + prefix + ["-fsyntax-only", path]
        code, output, seconds = tools.run(command)
        return name, expected, code, output, seconds

    failures = len(problems)
    for problem in problems:
        print(f"FAIL  {problem}")
    for name, expected, code, output, seconds in metautil.parallel(tools.jobs, compile_one, jobs):
        if code is None:
            failures += 1
            print(f"FAIL  {name}: {output}")
            continue
        if code == 0:
            failures += 1
            print(f"FAIL  {name}: compiled, but must not ({seconds:.1f}s)")
            continue
        why = judge(expected, output, gcc)
        if why:
            failures += 1
            print(f"FAIL  {name}: {why}")
            print(metautil.tail(output, 40))
        else:
            lines = sum(1 for line in output.splitlines() if line.strip())
            print(f"ok    {name}: rejected with {expected!r} ({lines} lines, {seconds:.1f}s)")
    for item in skipped:
        print(f"skip  {item}")
    print(f"compile-fail cases: {len(cases) - failures - len(skipped)} ok, {failures} failed, {len(skipped)} skipped")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
