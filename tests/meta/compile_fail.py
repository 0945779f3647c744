#!/usr/bin/env python3
"""Meta test: code that must not compile fails to compile, with the diagnostic it should give.

Each CASES/*.cpp starts with a comment block naming what the compiler must say:
  // expect: <substring>          required, on the first line (any compiler)
  // expect-gcc: <substring>      optional, replaces `expect` for g++
  // expect-clang: <substring>    optional, replaces `expect` for clang++
  // requires: <feature>          optional: skip unless that feature (secret_service, keyctl) is enabled;
                                  a case including keyring/secret_service.hpp etc. gets this by itself
The case passes when compiling it (-fsyntax-only, project flags, -I include) fails AND the output
contains the substring: a case that fails for another reason (a typo) does not pass.

usage: compile_fail.py --include DIR --cases DIR  + compiler options (see metautil.py)
"""
import argparse
import os
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import metautil  # noqa: E402

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


def main():
    parser = metautil.compiler_arguments(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--include", required=True, help="the include/ directory")
    parser.add_argument("--cases", required=True, help="directory of .cpp cases")
    args = parser.parse_args()
    tools = metautil.Toolchain(args)
    rules = metautil.load_requirements()
    clang = tools.is_clang()
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
        jobs.append((name, path, expected, extra))

    def compile_one(job):
        name, path, expected, extra = job
        command = tools.cxx + tools.flags + ["-I", args.include] + base + extra + ["-fsyntax-only", path]
        code, output, seconds = tools.run(command)
        return name, expected, code, output, seconds

    failures = len(problems)
    for problem in problems:
        print(f"FAIL  {problem}")
    for name, expected, code, output, seconds in metautil.parallel(tools.jobs, compile_one, jobs):
        if code == 0:
            failures += 1
            print(f"FAIL  {name}: compiled, but must not ({seconds:.1f}s)")
        elif expected not in output:
            failures += 1
            print(f"FAIL  {name}: failed to compile, but without the expected diagnostic {expected!r}")
            print(metautil.tail(output, 40))
        else:
            print(f"ok    {name}: rejected with {expected!r} ({seconds:.1f}s)")
    for item in skipped:
        print(f"skip  {item}")
    print(f"compile-fail cases: {len(cases) - failures - len(skipped)} ok, {failures} failed, {len(skipped)} skipped")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
