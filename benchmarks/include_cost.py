#!/usr/bin/env python3
"""Compile-time cost of including tokenvault.hpp, against a TU that includes only its dependencies.

Usage: include_cost.py <c++ compiler> <include dir> [extra flags...]
Prints: BENCH name=include_cost value=<s> unit=s baseline=<s> ratio=<value/baseline>
Both translation units are compiled alternately, five times each, and the medians compared.
"""
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SUBJECT = "#include <tokenvault/tokenvault.hpp>\nint main() { return 0; }\n"
BASELINE = "#include <nlohmann/json.hpp>\n#include <sodium.h>\nint main() { return 0; }\n"


def compile_seconds(compiler, flags, source):
    start = time.perf_counter()
    subprocess.run([compiler, *flags, "-fsyntax-only", str(source)], check=True)
    return time.perf_counter() - start


def main():
    compiler, include_dir, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
    flags = ["-std=c++20", "-O2", f"-I{include_dir}", *extra]
    with tempfile.TemporaryDirectory() as tmp:
        subject, baseline = Path(tmp, "subject.cpp"), Path(tmp, "baseline.cpp")
        subject.write_text(SUBJECT)
        baseline.write_text(BASELINE)
        s, b = [], []
        for _ in range(5):
            b.append(compile_seconds(compiler, flags, baseline))
            s.append(compile_seconds(compiler, flags, subject))
    value, base = statistics.median(s), statistics.median(b)
    print(f"BENCH name=include_cost value={value:.3f} unit=s baseline={base:.3f} ratio={value / base:.3f}")


if __name__ == "__main__":
    main()
