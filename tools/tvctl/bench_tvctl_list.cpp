// tools/tvctl/bench_tvctl_list.cpp: `tvctl list` on a 1,000-token store.
//
// usage: bench_tvctl_list TVCTL SEED_STORE
// Seeds a 1,000-token and a 1-token embedded store (seed_store bulk), runs `tvctl --stats list` on each
// (interleaved, medians), and prints: the keyring reads of the 1,000-token list (target: 1, against a
// baseline of 1), and its wall time against the 1-token list (process start, key fetch and file read
// are the same; the ratio is the cost of 999 more entries). Exits non-zero if the output is incomplete.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "../../benchmarks/bench_common.hpp"

namespace {

struct run_result {
    int status = -1;
    std::string out;
    std::string err;
    double ms = 0;
};

std::string drain(int fd) {
    std::string text;
    char buffer[65536];
    for (;;) {
        const auto n = ::read(fd, buffer, sizeof buffer);
        if (n <= 0) break;
        text.append(buffer, static_cast<std::size_t>(n));
    }
    return text;
}

/// Runs argv with stdin from /dev/null; captures stdout and stderr (through files: no pipe deadlock).
run_result run(const std::vector<std::string>& argv, const std::filesystem::path& scratch) {
    run_result r;
    const auto out_path = scratch / "out.txt";
    const auto err_path = scratch / "err.txt";
    const auto start = std::chrono::steady_clock::now();
    const pid_t pid = ::fork();
    if (pid == 0) {
        const int in = ::open("/dev/null", O_RDONLY);
        const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (in < 0 || out < 0 || err < 0) ::_exit(126);
        ::dup2(in, 0);
        ::dup2(out, 1);
        ::dup2(err, 2);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    r.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    const int out = ::open(out_path.c_str(), O_RDONLY);
    const int err = ::open(err_path.c_str(), O_RDONLY);
    if (out >= 0) r.out = drain(out);
    if (err >= 0) r.err = drain(err);
    ::close(out);
    ::close(err);
    return r;
}

long stat_of(const std::string& err, const std::string& name) {
    const auto at = err.find(name + "=");
    return at == std::string::npos ? -1 : std::stol(err.substr(at + name.size() + 1));
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: bench_tvctl_list TVCTL SEED_STORE\n");
        return 2;
    }
    const std::string tvctl = argv[1], seed = argv[2];
    std::string pattern = (std::filesystem::temp_directory_path() / "tvctl-bench-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) return 1;
    const std::filesystem::path root = pattern;
    const auto big = (root / "big").string(), small = (root / "small").string();
    int code = 0;
    if (run({seed, big, "bench", "1000", "BENCHCANARY", "bulk"}, root).status != 0 ||
        run({seed, small, "bench", "1", "BENCHCANARY", "bulk"}, root).status != 0) {
        std::fprintf(stderr, "bench_tvctl_list: seeding failed\n");
        code = 1;
    } else {
        const auto list = [&](const std::string& dir) {
            return run({tvctl, "--stats", "--app", "bench", "--dir", dir, "list"}, root);
        };
        const auto first = list(big);
        std::size_t lines = 0;
        for (const char ch : first.out) lines += ch == '\n';
        const long reads = stat_of(first.err, "keyring_reads");
        if (first.status != 0 || lines != 1001 || reads < 0) {
            std::fprintf(stderr, "bench_tvctl_list: tvctl list failed (exit %d, %zu lines): %s\n",
                         first.status, lines, first.err.c_str());
            code = 1;
        } else {
            std::vector<double> big_ms, small_ms;
            for (int i = 0; i < 9; ++i) {
                small_ms.push_back(list(small).ms);
                big_ms.push_back(list(big).ms);
            }
            tvbench::report("tvctl_list_keyring_reads", static_cast<double>(reads), "reads", 1.0);
            tvbench::report("tvctl_list_1000", tvbench::median(big_ms), "ms", tvbench::median(small_ms));
            if (reads != 1) code = 1;
        }
    }
    std::error_code ignored;
    std::filesystem::remove_all(root, ignored);
    return code;
}
