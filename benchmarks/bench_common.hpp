// benchmarks/bench_common.hpp: timing helpers and the BENCH line every benchmark prints.
//
// Every figure is a ratio against a baseline measured in the same run: medians of many interleaved
// runs, so that machine noise hits both sides alike.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace tvbench {

/// Prints `BENCH name=<id> value=<v> unit=<unit> baseline=<b> ratio=<v/b>`.
inline void report(const std::string& name, double value, const std::string& unit, double baseline) {
    std::printf("BENCH name=%s value=%.6g unit=%s baseline=%.6g ratio=%.4f\n", name.c_str(), value, unit.c_str(),
                baseline, baseline > 0 ? value / baseline : 0.0);
    std::fflush(stdout);
}

/// The median of `samples`.
inline double median(std::vector<double> samples) {
    std::sort(samples.begin(), samples.end());
    const auto n = samples.size();
    return n == 0 ? 0.0 : (n % 2 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2);
}

/// Nanoseconds per call of `fn` over `iterations` calls.
template <class Fn>
double ns_per_call(Fn&& fn, int iterations) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < iterations; ++i) fn(i);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    return std::chrono::duration<double, std::nano>(elapsed).count() / iterations;
}

/// Medians of `runs` interleaved measurements of `subject` and `baseline` (ns per call).
template <class Subject, class Baseline>
std::pair<double, double> interleaved(Subject&& subject, Baseline&& baseline, int runs, int iterations) {
    std::vector<double> s, b;
    for (int r = 0; r < runs; ++r) {
        b.push_back(ns_per_call(baseline, iterations));
        s.push_back(ns_per_call(subject, iterations));
    }
    return {median(s), median(b)};
}

/// Keeps a value alive so the optimizer cannot drop the work that produced it.
template <class T>
inline void keep(const T& value) {
    asm volatile("" : : "g"(&value) : "memory");
}

}  // namespace tvbench
