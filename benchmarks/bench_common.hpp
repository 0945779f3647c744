// benchmarks/bench_common.hpp: timing helpers and the BENCH line every benchmark prints.
//
// Every figure is a ratio against a baseline measured in the same run: medians of many interleaved
// runs, so that machine noise hits both sides alike.
#pragma once

#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace tvbench {

/// Prints `BENCH name=<id> value=<v> unit=<unit> baseline=<b> ratio=<v/b>`.
inline void report(const std::string& name, double value, const std::string& unit, double baseline) {
    std::printf("BENCH name=%s value=%.6g unit=%s baseline=%.6g ratio=%.4f\n", name.c_str(), value,
                unit.c_str(), baseline, baseline > 0 ? value / baseline : 0.0);
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

/// Nanoseconds since an arbitrary epoch (steady clock).
inline double now_ns() {
    return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

/// Medians of `runs` interleaved single measurements of `subject()` and `baseline()` (ns each), for
/// calls too slow or too noisy (fsync) to batch. Each callable runs once per run; the order alternates
/// so that neither side always follows the other.
template <class Subject, class Baseline>
std::pair<double, double> interleaved_once(Subject&& subject, Baseline&& baseline, int runs) {
    std::vector<double> s, b;
    for (int r = 0; r < runs; ++r) {
        const auto time = [](auto& fn) {
            const double start = now_ns();
            fn();
            return now_ns() - start;
        };
        if (r % 2 == 0) {
            b.push_back(time(baseline));
            s.push_back(time(subject));
        } else {
            s.push_back(time(subject));
            b.push_back(time(baseline));
        }
    }
    return {median(s), median(b)};
}

/// A private scratch directory on a real disk (fsync figures mean nothing on tmpfs), removed on
/// destruction: $TMPDIR unless it is tmpfs, else /var/tmp.
struct scratch_dir {
    std::filesystem::path path;
    scratch_dir() {
        std::string base = "/var/tmp";
        if (const char* env = std::getenv("TMPDIR"); env != nullptr && *env == '/') {
            struct statfs fs {};
            if (::statfs(env, &fs) == 0 && fs.f_type != TMPFS_MAGIC) base = env;
        }
        remove_left_behind(base);
        std::string pattern = base + "/tv-bench-" + std::to_string(::getpid()) + "-XXXXXX";
        if (::mkdtemp(pattern.data()) == nullptr) {
            std::perror("mkdtemp");
            std::abort();
        }
        path = pattern;
    }
    scratch_dir(const scratch_dir&) = delete;
    scratch_dir& operator=(const scratch_dir&) = delete;

    /// Removes the scratch directories in `base` of benchmarks that were killed before their cleanup ran
    /// (`tv-bench-<pid>-*` of a process that no longer exists).
    static void remove_left_behind(const std::string& base) {
        std::error_code ec;
        for (std::filesystem::directory_iterator it(base, ec), end; !ec && it != end; it.increment(ec)) {
            const auto name = it->path().filename().string();
            if (name.rfind("tv-bench-", 0) != 0) continue;
            const auto dash = name.find('-', 9);
            if (dash == std::string::npos || dash == 9) continue;
            const std::string digits = name.substr(9, dash - 9);
            if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 9) continue;
            const auto pid = static_cast<pid_t>(std::stol(digits));
            if (::kill(pid, 0) == 0 || errno != ESRCH) continue;  // alive, or not ours to judge
            std::error_code ignored;
            std::filesystem::remove_all(it->path(), ignored);
        }
    }
    ~scratch_dir() {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
    }
};

/// The bare durable atomic replace a persistent store cannot do without: exclusive-create a 0600 temp
/// file in `dir`, write `size` bytes, fsync, rename over `dir/name`, fsync `dir`. False on any failure.
inline bool durable_write(const std::filesystem::path& dir, const std::string& name, const void* data,
                          std::size_t size) {
    const auto temp = dir / ("." + name + ".tmp");
    const auto target = dir / name;
    const int fd = ::open(temp.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, S_IRUSR | S_IWUSR);
    if (fd < 0) return false;
    const auto* p = static_cast<const char*>(data);
    std::size_t left = size;
    while (left > 0) {
        const auto n = ::write(fd, p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            ::close(fd);
            ::unlink(temp.c_str());
            return false;
        }
        p += n;
        left -= static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0 || ::rename(temp.c_str(), target.c_str()) != 0) return false;
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return false;
    const bool synced = ::fsync(dfd) == 0;
    return ::close(dfd) == 0 && synced;
}

/// The size of the file at `p` (0 when it cannot be stat'ed).
inline std::size_t file_size(const std::filesystem::path& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 ? static_cast<std::size_t>(st.st_size) : 0;
}

}  // namespace tvbench
