// benchmarks/bench_contention.cpp: how long a put waits when many processes write one store.
//
//   contended_put_p99   16 forked processes, each with its own presets::embedded store over one directory,
//                       put their own credential 30 times in a loop, all at once; value = the 99th
//                       percentile of those 480 put latencies; baseline = 16 x the median of an
//                       uncontended put into the same store (the parent alone, measured before and after
//                       the contended run and averaged), i.e. the time the 15 other writers' work and
//                       its own take. A fair lock keeps the ratio near 1; target <= 1.5.
//   contended_put_p50   the median of the same 480 latencies, against the same baseline (for context).
//   contended_put_p99_vs_work
//                       the same p99 against 16 x the median of a put that follows another writer's put (two
//                       stores of the parent alternating): under contention every put finds the file
//                       changed and reads it again before writing, work an uncontended put skips. The gap
//                       between this ratio and 1 is the lock's (hand-over and waiting order); the gap
//                       between the two p99 ratios is the re-read's.
//   contended_io_floor_p99
//                       what the disk alone allows: 16 processes pass a token round a ring of pipes (a
//                       perfectly fair hand-over, no lock and no store work) and each, holding it, replaces a
//                       file of the store file's size (temp, fsync, rename), passes the token on and then
//                       flushes the directory, as a put does; value = the 99th percentile of the time
//                       between a process's consecutive replacements; baseline = 16 x the median of the
//                       same replacement alone. No lock alone can get contended_put_p99 below this ratio;
//                       group commit can, because one replacement saves the changes of several writers.
//
// Scratch files go to $TMPDIR unless it is tmpfs, else /var/tmp (fsync must cost what it costs on a
// disk); they are removed at exit.
#include <sodium.h>
#include <unistd.h>

#include <tokenvault/presets.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "../tests/support/forked.hpp"
#include "bench_common.hpp"
#include "bench_tokens.hpp"

namespace tv = tokenvault;

namespace {

constexpr int processes = 16;
constexpr int puts_each = 30;
constexpr int baseline_puts = 61;

pid_t scratch_owner = 0;

[[noreturn]] void fail(const std::string& what) {
    std::fprintf(stderr, "bench_contention: %s\n", what.c_str());
    std::fflush(stderr);
    if (::getpid() != scratch_owner) ::_exit(1);
    std::exit(1);
}

tv::credential_id make_id(int i) {
    auto id = tv::credential_id::parse("https://mcp" + std::to_string(i) + ".example.com/mcp");
    if (!id) fail("credential_id::parse");
    return *id;
}

/// The latency of one put of `id` into `store`, in ns.
double timed_put(tv::presets::embedded& store, const tv::credential_id& id, int version) {
    const double start = tvbench::now_ns();
    auto written = store.put(id, tvbench::make_token(version));
    const double elapsed = tvbench::now_ns() - start;
    if (!written) fail("put: " + written.error().message());
    return elapsed;
}

/// The median latency of `baseline_puts` uncontended puts of one credential (the first one is a warm-up).
double uncontended_median(tv::presets::embedded& store, const tv::credential_id& id) {
    std::vector<double> samples;
    (void)timed_put(store, id, 0);
    for (int i = 1; i <= baseline_puts; ++i) samples.push_back(timed_put(store, id, i));
    return tvbench::median(samples);
}

/// The median latency of `baseline_puts` puts that each follow a put of another store over the same file,
/// so that each reads the file again before it writes (the first pair is a warm-up).
double alternating_median(tv::presets::embedded& store, const tv::store_options& options,
                          const tv::credential_id& id, const tv::credential_id& other_id) {
    tv::presets::embedded other(options);
    std::vector<double> samples;
    (void)timed_put(other, other_id, 0);
    (void)timed_put(store, id, 0);
    for (int i = 1; i <= baseline_puts; ++i) {
        (void)timed_put(other, other_id, i);
        samples.push_back(timed_put(store, id, i));
    }
    return tvbench::median(samples);
}

/// The value at quantile `q` (0..1) of `samples` (nearest rank).
double quantile(std::vector<double> samples, double q) {
    std::sort(samples.begin(), samples.end());
    const auto rank = static_cast<std::size_t>(q * static_cast<double>(samples.size()) + 0.5);
    return samples[std::min(samples.size() - 1, rank == 0 ? 0 : rank - 1)];
}

/// The numbers of a line of space-separated numbers.
std::vector<double> split_numbers(const std::string& line) {
    std::vector<double> values;
    std::size_t at = 0;
    while (at < line.size()) {
        std::size_t used = 0;
        values.push_back(std::stod(line.substr(at), &used));
        at += used;
        while (at < line.size() && line[at] == ' ') ++at;
    }
    return values;
}

/// The numbers every child reported (one line each), once all of them have exited cleanly; `who` names a
/// child in failure messages.
std::vector<double> collect(tvtest::line_pipe& results, std::vector<tvtest::forked_child>& children,
                            const std::string& who) {
    std::vector<double> values;
    for (std::size_t p = 0; p < children.size(); ++p) {
        const auto line = results.receive(std::chrono::seconds(300));
        if (!line) fail(who + " did not report");
        for (const auto& value : split_numbers(*line)) values.push_back(value);
    }
    for (auto& child : children)
        if (child.wait(std::chrono::seconds(60)) != 0) fail(who + " failed");
    return values;
}

/// The time, in ns, of one durable replacement of `file` by `bytes`, as a put makes it.
double timed_replace(const std::filesystem::path& file, std::span<const std::byte> bytes) {
    const double start = tvbench::now_ns();
    auto replaced = tv::platform::replace_file(file, bytes);
    if (!replaced || !replaced->sync.complete()) fail("replace_file");
    return tvbench::now_ns() - start;
}

/// contended_io_floor_p99's ring: the p99 of the times between consecutive replacements of one process, and
/// the median of a replacement alone, in ns.
std::pair<double, double> io_floor(const std::filesystem::path& dir, std::size_t size) {
    const std::vector<std::byte> bytes(size, std::byte{0x5a});
    const auto file = dir / "floor.bin";
    std::vector<double> alone;
    for (int i = 0; i <= baseline_puts; ++i) alone.push_back(timed_replace(file, bytes));
    alone.erase(alone.begin());  // warm-up

    std::vector<std::array<int, 2>> ring(processes);
    for (auto& p : ring)
        if (::pipe(p.data()) != 0) fail("pipe");
    tvtest::line_pipe results;
    std::vector<tvtest::forked_child> children;
    children.reserve(processes);
    for (int p = 0; p < processes; ++p) {
        children.emplace_back([&, p] {
            const auto next = static_cast<std::size_t>((p + 1) % processes);
            double last = 0;
            std::string line;
            for (int i = 0; i <= puts_each; ++i) {
                char c = 0;
                while (::read(ring[static_cast<std::size_t>(p)][0], &c, 1) < 0 && errno == EINTR) {
                }
                auto replaced = tv::platform::replace_file(file, bytes);
                if (!replaced) return 1;
                while (::write(ring[next][1], &c, 1) < 0 && errno == EINTR) {
                }
                if (!replaced->sync.complete()) return 1;
                const double now = tvbench::now_ns();
                if (i > 0) line += std::to_string(now - last) + " ";  // 15 others' turns and its own
                last = now;
            }
            results.send(line);
            return 0;
        });
    }
    const char token = 't';
    if (::write(ring[0][1], &token, 1) != 1) fail("write");
    const auto gaps = collect(results, children, "a ring member");
    for (auto& p : ring) {
        ::close(p[0]);
        ::close(p[1]);
    }
    return {quantile(gaps, 0.99), tvbench::median(alone)};
}

}  // namespace

int main() {
    if (sodium_init() < 0) fail("sodium_init");
    tvbench::scratch_dir scratch;
    scratch_owner = ::getpid();
    tv::store_options options;
    options.app_name = "tvbench-contention";
    options.directory = scratch.path / "store";
    options.lock_timeout = std::chrono::seconds(60);

    tv::presets::embedded parent(options);
    for (int p = 0; p < processes; ++p) (void)timed_put(parent, make_id(p), 0);  // one entry per writer
    const auto solo_id = make_id(processes);
    const double before = uncontended_median(parent, solo_id);
    const double rereading_before = alternating_median(parent, options, solo_id, make_id(processes + 1));

    int gate[2];
    if (::pipe(gate) != 0) fail("pipe");
    tvtest::line_pipe results;
    std::vector<tvtest::forked_child> children;
    children.reserve(processes);
    for (int p = 0; p < processes; ++p) {
        children.emplace_back([&, p] {
            ::close(gate[1]);
            tv::presets::embedded store(options);
            const auto id = make_id(p);
            (void)timed_put(store, id, 1);  // warm: key and file loaded before the clock starts
            char c = 0;
            while (::read(gate[0], &c, 1) < 0 && errno == EINTR) {
            }
            std::string line;
            for (int i = 0; i < puts_each; ++i) line += std::to_string(timed_put(store, id, 2 + i)) + " ";
            results.send(line);
            return 0;
        });
    }
    ::close(gate[0]);
    ::close(gate[1]);  // every child sees EOF at once

    const auto latencies = collect(results, children, "a writer");

    const double after = uncontended_median(parent, solo_id);
    const double rereading_after = alternating_median(parent, options, solo_id, make_id(processes + 1));
    const double baseline = processes * (before + after) / 2;
    const double work = processes * (rereading_before + rereading_after) / 2;
    tvbench::report("contended_put_p99", quantile(latencies, 0.99) / 1e6, "ms", baseline / 1e6);
    tvbench::report("contended_put_p50", quantile(latencies, 0.50) / 1e6, "ms", baseline / 1e6);
    tvbench::report("contended_put_p99_vs_work", quantile(latencies, 0.99) / 1e6, "ms", work / 1e6);
    const auto [floor_p99, floor_alone] =
        io_floor(scratch.path,
                 static_cast<std::size_t>(std::filesystem::file_size(options.directory / options.file_name)));
    tvbench::report("contended_io_floor_p99", floor_p99 / 1e6, "ms", processes * floor_alone / 1e6);
    return 0;
}
