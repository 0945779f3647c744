#!/usr/bin/env python3
"""Meta test: every public header compiles on its own.

For each header under include/tokenvault (and, with --single, the single header) it compiles a
translation unit that contains only `#include <tokenvault/...>` (twice, to check the include guard),
with -fsyntax-only and the project's flags. Headers that need an optional feature get its pkg-config
flags, and are skipped when the feature is disabled (tests/meta/header_requirements.json).

Speed without blind spots: a header whose own includes reach <nlohmann/json.hpp> before any code (an
unconditional chain of #include lines, followed textually; metautil.json_prefix_is_safe) is compiled
with a precompiled <nlohmann/json.hpp> in front (-include, -Winvalid-pch), which saves the 2.5 s g++
spends parsing it. That cannot hide a missing #include: in the plain compile nlohmann/json and the
standard headers it brings are already there before the first line of code of such a header, and the
headers read before that point do not reach nlohmann/json themselves, so each of them is compiled alone
with no prefix at all. Every other header (one that does not reach nlohmann/json, reaches it only under
an #if or after code, and the single header) is compiled plainly, exactly as a user's program would.

usage: compile_headers.py --include DIR [--single DIR] --work DIR  + compiler options (see metautil.py)
"""
import argparse
import os
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import metautil  # noqa: E402


def headers_under(include_dir):
    found = []
    for dirpath, dirnames, filenames in os.walk(os.path.join(include_dir, "tokenvault")):
        dirnames.sort()
        for name in filenames:
            if name.endswith(".hpp"):
                found.append(os.path.relpath(os.path.join(dirpath, name), include_dir).replace(os.sep, "/"))
    return sorted(found)


def main():
    parser = metautil.compiler_arguments(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--include", required=True, help="the include/ directory")
    parser.add_argument("--single", help="the single_include/ directory: also compile its header alone")
    parser.add_argument("--work", help="directory for the generated translation units")
    args = parser.parse_args()
    tools = metautil.Toolchain(args)
    rules = metautil.load_requirements()

    work = args.work or tempfile.mkdtemp(prefix="tokenvault-headers-")
    os.makedirs(work, exist_ok=True)

    jobs = []  # (label, include dir, header, extra flags)
    skipped = []
    for header in headers_under(args.include):
        rule = metautil.requirement_for(header, rules, args.include)
        extra = []
        if rule is not None:
            if not metautil.platform_allows(rule):
                skipped.append(f"{header} (not for this platform)")
                continue
            feature = rule.get("feature")
            if feature and feature not in tools.features:
                skipped.append(f"{header} (feature {feature} disabled)")
                continue
            if feature:
                extra = tools.feature_cflags([feature])
        prefixed = metautil.json_prefix_is_safe(os.path.join(args.include, header), args.include)
        jobs.append((header, args.include, header, extra, prefixed))
    if args.single:
        jobs.append(("single_include: tokenvault/tokenvault.hpp", args.single, "tokenvault/tokenvault.hpp", [], False))

    base = tools.base_cflags()
    json_prefix = metautil.JsonPrefix(tools, work)

    def compile_one(job):
        label, include_dir, header, extra, prefixed = job
        tu = os.path.join(work, label.replace("/", "__").replace(": ", "__").replace(" ", "_") + ".cpp")
        with open(tu, "w", encoding="utf-8") as f:
            f.write(f"#include <{header}>\n#include <{header}>\n")
        flags = tools.flags + ["-I", include_dir] + base + extra
        try:
            prefix = json_prefix.arguments(flags) if prefixed else []
        except RuntimeError as error:
            return label, 1, str(error), 0.0, flags, prefixed
        command = tools.cxx + flags + prefix + ["-fsyntax-only", tu]
        code, output, seconds = tools.run(command)
        return label, code, output, seconds, command, prefixed

    failures = 0
    for label, code, output, seconds, command, prefixed in metautil.parallel(tools.jobs, compile_one, jobs):
        if code == 0 and not output.strip():
            print(f"ok    {label} ({seconds:.1f}s{', after precompiled nlohmann/json' if prefixed else ''})")
        else:
            failures += 1
            print(f"FAIL  {label}: does not compile on its own ({seconds:.1f}s)")
            print("      " + " ".join(command))
            print(metautil.tail(output))
    for item in skipped:
        print(f"skip  {item}")
    prefixed_count = sum(1 for job in jobs if job[4])
    print(f"headers alone: {len(jobs) - failures} compiled ({prefixed_count} after precompiled nlohmann/json), "
          f"{failures} failed, {len(skipped)} skipped")
    if failures:
        print("a header must include everything it uses: add the missing #include to the header")
        return 1
    return 0 if jobs else metautil.SKIP


if __name__ == "__main__":
    sys.exit(main())
