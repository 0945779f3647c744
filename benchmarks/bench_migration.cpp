// benchmarks/bench_migration.cpp: migrating 1,000 legacy per-item entries from keyring::file into a sealed
// file (`migration_1000_items`), and the keyring writes that migration makes.
//
// Subject: a fresh token_store<sealed_file<keyring::file>, xchacha20poly1305, locking::process,
// from_keyring_items<keyring::file>> answering its first list(): it reads the index and the items, seals and
// durably writes the file (creating the data key), then deletes the items and the index. Baseline, the
// irreducible work done bare: reading the same index and items through keyring::file, one durable write
// of a file of the sealed file's size, and deleting the items and the index through the same keyring.
// Medians of interleaved runs (alternating which goes first), each on freshly written legacy items (setup
// not timed). Both sides are dominated by one directory fsync per deleted item: on a busy disk, run more.
#include <tokenvault/backend/sealed_file.hpp>
#include <tokenvault/cipher/xchacha20poly1305.hpp>
#include <tokenvault/diagnostics/none.hpp>
#include <tokenvault/keyring/file.hpp>
#include <tokenvault/locking/process.hpp>
#include <tokenvault/migration/keyring_items.hpp>
#include <tokenvault/platform/platform.hpp>
#include <tokenvault/store.hpp>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_common.hpp"

namespace tv = tokenvault;
namespace fs = std::filesystem;

namespace {

/// keyring::file, counting the writes and erases made through it (by the backend and by the migration).
struct counting_file_keyring {
    using policy_family = tv::family::keyring;
    static constexpr std::string_view tier = tv::keyring::file::tier;
    static constexpr bool persistent = true;
    static constexpr std::size_t max_item_size = tv::keyring::file::max_item_size;
    static inline std::atomic<std::size_t> writes{0};
    static inline std::atomic<std::size_t> erases{0};
    tv::keyring::file inner;

    [[nodiscard]] static tv::result<std::optional<counting_file_keyring>> open(const tv::keyring_options& o) {
        auto opened = tv::keyring::file::open(o);
        if (!opened) return opened.error();
        if (!*opened) return std::optional<counting_file_keyring>{};
        return std::optional<counting_file_keyring>{counting_file_keyring{std::move(**opened)}};
    }
    [[nodiscard]] std::string_view tier_name() const { return inner.tier_name(); }
    [[nodiscard]] tv::result<std::optional<tv::detail::secure_buffer>> read(std::string_view account) {
        return inner.read(account);
    }
    [[nodiscard]] tv::result<void> write(std::string_view account, std::span<const std::byte> secret) {
        ++writes;
        return inner.write(account, secret);
    }
    [[nodiscard]] tv::result<bool> erase(std::string_view account) {
        ++erases;
        return inner.erase(account);
    }
};

using store_type =
    tv::token_store<tv::backend::sealed_file<counting_file_keyring>, tv::cipher::xchacha20poly1305,
                    tv::locking::process, tv::migration::from_keyring_items<counting_file_keyring>,
                    tv::diagnostics::none>;

constexpr int items = 1000;

std::string url(int i) { return "https://mcp" + std::to_string(i) + ".example.com/mcp"; }
std::string account(int i) { return "oauth:" + url(i); }

void check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "bench_migration: %s\n", what);
        std::exit(1);
    }
}

std::span<const std::byte> bytes_of(const std::string& s) {
    return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

/// A fresh directory with `items` legacy items (docker-agent shaped tokens) and their index in keyring::file.
struct legacy_setup {
    tvbench::scratch_dir root;  // on a real disk: fsync costs nothing on tmpfs
    tv::store_options options;

    explicit legacy_setup(int run) {
        options.app_name = "tv-bench-migration-" + std::to_string(::getpid()) + "-" + std::to_string(run);
        options.directory = root.path / "store";
        auto keyring = tv::keyring::file::open(options.keyring());
        check(keyring && *keyring, "open keyring::file");
        nlohmann::json index = nlohmann::json::array();
        for (int i = 0; i < items; ++i) {
            index.push_back(url(i));
            const nlohmann::json token = {
                {"access_token", "legacy-access-" + std::to_string(i) + std::string(600, 'a')},
                {"token_type", "Bearer"},
                {"refresh_token", "legacy-refresh-" + std::to_string(i) + std::string(100, 'r')},
                {"expires_at", "2031-02-03T04:05:06Z"},
                {"scope", "read write"},
                {"client_id", "client-" + std::to_string(i)},
                {"auth_server", "https://auth.example.com"}};
            check(static_cast<bool>((**keyring).write(account(i), bytes_of(token.dump()))),
                  "write legacy item");
        }
        check(static_cast<bool>((**keyring).write("oauth:index", bytes_of(index.dump()))), "write index");
    }
    legacy_setup(const legacy_setup&) = delete;
    legacy_setup& operator=(const legacy_setup&) = delete;
};

/// Runs the migration; returns seconds, and the size of the sealed file it wrote.
double migrate(const legacy_setup& s, std::size_t& sealed_size) {
    const auto start = std::chrono::steady_clock::now();
    store_type store(s.options);
    auto all = store.list();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    check(all && all->size() == items, "migration did not bring every item over");
    sealed_size = static_cast<std::size_t>(fs::file_size(s.options.directory / s.options.file_name));
    return seconds;
}

/// The bare work: read index and items, one durable write of `file_size` bytes, delete items and index.
double bare(const legacy_setup& s, std::size_t file_size) {
    std::vector<std::byte> file(file_size, std::byte{0x5a});
    const auto start = std::chrono::steady_clock::now();
    auto keyring = tv::keyring::file::open(s.options.keyring());
    check(keyring && *keyring, "open keyring::file");
    auto index = (**keyring).read("oauth:index");
    check(index && *index, "read index");
    const auto listed = nlohmann::json::parse((*index)->view());
    std::vector<tv::detail::secure_buffer> read;
    read.reserve(items);
    for (const auto& u : listed) {
        auto item = (**keyring).read("oauth:" + u.get<std::string>());
        check(item && *item, "read item");
        read.push_back(std::move(**item));
    }
    check(static_cast<bool>(tv::platform::write_file_atomically(s.options.directory / "bare.file", file)),
          "write");
    for (const auto& u : listed)
        check(static_cast<bool>((**keyring).erase("oauth:" + u.get<std::string>())), "erase");
    check(static_cast<bool>((**keyring).erase("oauth:index")), "erase index");
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
    int runs = 7;
    if (argc > 1) runs = std::max(1, std::atoi(argv[1]));
    std::vector<double> subject, baseline;
    std::size_t sealed_size = 0;
    std::size_t writes = 0, erases = 0;
    // Alternate which side goes first, so that a slow phase of a shared disk hits both alike.
    const auto run_subject = [&](int run) {
        legacy_setup s(2 * run);
        counting_file_keyring::writes = 0;
        counting_file_keyring::erases = 0;
        subject.push_back(migrate(s, sealed_size));
        writes = counting_file_keyring::writes;
        erases = counting_file_keyring::erases;
    };
    const auto run_baseline = [&](int run) {
        legacy_setup s(2 * run + 1);
        baseline.push_back(bare(s, sealed_size));
    };
    run_subject(-1);  // warm-up, and the size of the sealed file the baseline writes
    subject.clear();
    for (int run = 0; run < runs; ++run) {
        if (run % 2 == 0) {
            run_subject(run);
            run_baseline(run);
        } else {
            run_baseline(run);
            run_subject(run);
        }
    }
    tvbench::report("migration_1000_items", tvbench::median(subject) * 1e3, "ms",
                    tvbench::median(baseline) * 1e3);
    // Bursts of other fsync traffic on a shared disk move single runs by 2x; the fastest runs show the cost.
    const double fastest_subject = *std::min_element(subject.begin(), subject.end());
    const double fastest_baseline = *std::min_element(baseline.begin(), baseline.end());
    std::printf("migration_1000_items fastest runs: %.1f ms vs %.1f ms bare (ratio %.3f)\n",
                fastest_subject * 1e3, fastest_baseline * 1e3, fastest_subject / fastest_baseline);
    // Allowed: one write for the data key, one delete per legacy item (the index is one of them).
    const std::size_t allowed = 1 + static_cast<std::size_t>(items) + 1;
    tvbench::report("migration_keyring_writes", static_cast<double>(writes + erases), "calls",
                    static_cast<double>(allowed));
    std::printf(
        "migration keyring calls: %zu write(s), %zu erase(s) for %d items + index; sealed file %zu bytes\n",
        writes, erases, items, sealed_size);
    return writes <= 1 && erases <= static_cast<std::size_t>(items) + 1 ? 0 : 1;
}
