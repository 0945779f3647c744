// tests/unit/test_migration_process.cpp: migration across real processes (fork) with a sealed file whose
// key, and the legacy items, live in keyring::file: two processes starting at once migrate once and lose
// nothing; the migrated store opens in a fresh process; a process killed (SIGKILL) between the durable
// save and the deletes leaves both copies, and the next start finishes the job without duplicating.
#include <doctest/doctest.h>

#include <tokenvault/backend/sealed_file.hpp>
#include <tokenvault/cipher/xchacha20poly1305.hpp>
#include <tokenvault/diagnostics/callback.hpp>
#include <tokenvault/keyring/file.hpp>
#include <tokenvault/locking/process.hpp>
#include <tokenvault/migration/keyring_items.hpp>
#include <tokenvault/migration/none.hpp>
#include <tokenvault/store.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "../support/legacy.hpp"
#include "../support/temp_dir.hpp"

namespace test_migration_process {  // unity builds put several test files in one translation unit

namespace tv = tokenvault;

namespace {

/// keyring::file that kills its process (SIGKILL, no clean-up) on the first erase while `armed`.
struct dying_file_keyring {
    using policy_family = tv::family::keyring;
    static constexpr std::string_view tier = tv::keyring::file::tier;
    static constexpr bool persistent = true;
    static constexpr std::size_t max_item_size = tv::keyring::file::max_item_size;
    static inline bool armed = false;
    tv::keyring::file inner;

    [[nodiscard]] static tv::result<std::optional<dying_file_keyring>> open(const tv::keyring_options& o) {
        auto opened = tv::keyring::file::open(o);
        if (!opened) return opened.error();
        if (!*opened) return std::optional<dying_file_keyring>{};
        return std::optional<dying_file_keyring>{dying_file_keyring{std::move(**opened)}};
    }
    [[nodiscard]] std::string_view tier_name() const { return inner.tier_name(); }
    [[nodiscard]] tv::result<std::optional<tv::detail::secure_buffer>> read(std::string_view account) {
        return inner.read(account);
    }
    [[nodiscard]] tv::result<void> write(std::string_view account, std::span<const std::byte> secret) {
        return inner.write(account, secret);
    }
    [[nodiscard]] tv::result<bool> erase(std::string_view account) {
        if (armed) ::kill(::getpid(), SIGKILL);
        return inner.erase(account);
    }
};
static_assert(tv::keyring::keyring_policy<dying_file_keyring>);

template <class M>
using store_t = tv::token_store<tv::backend::sealed_file<tv::keyring::file>, tv::cipher::xchacha20poly1305,
                                tv::locking::process, M, tv::diagnostics::callback>;
using migrating_store = store_t<tv::migration::from_keyring_items<tv::keyring::file>>;
using dying_store = store_t<tv::migration::from_keyring_items<dying_file_keyring>>;
using plain_store = store_t<tv::migration::none>;

constexpr int item_count = 24;

std::string url(int i) { return "https://mcp" + std::to_string(i) + ".example.com/mcp"; }

/// A store directory whose keyring::file holds `item_count` legacy items and their index.
struct fixture {
    tvtest::temp_dir dir;
    tv::store_options options;

    fixture() {
        options.app_name = tvtest::unique_name("tv-migration-proc");
        options.directory = dir.path() / "store";
        options.lock_timeout = std::chrono::milliseconds(30000);
        auto legacy = keyring();
        nlohmann::json index = nlohmann::json::array();
        for (int i = 0; i < item_count; ++i) {
            index.push_back(url(i));
            tvtest::write_item(legacy, "oauth:" + url(i), tvtest::legacy_token(std::to_string(i)).dump());
        }
        tvtest::write_item(legacy, "oauth:index", index.dump());
    }
    [[nodiscard]] tv::keyring::file keyring() const {
        return std::move(*tv::keyring::file::open(options.keyring()).value());
    }
    /// How many legacy items (index included) are left.
    [[nodiscard]] int legacy_left() const {
        auto k = keyring();
        int left = tvtest::has_item(k, "oauth:index") ? 1 : 0;
        for (int i = 0; i < item_count; ++i) left += tvtest::has_item(k, "oauth:" + url(i)) ? 1 : 0;
        return left;
    }
};

/// Runs `body` in a child process and returns its exit status (waitpid's).
template <class Body>
int in_child(Body&& body) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) ::_exit(body());
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    return status;
}

/// Opens S, lists, and reports (entries, migrated) through `fd`; exit code 0 on success.
template <class S>
int open_and_report(const tv::store_options& options, int fd) {
    S store(options);
    std::size_t migrated = 0;
    store.diagnostics().set([&](const tv::events::any& e) {
        if (const auto* m = std::get_if<tv::events::migration>(&e); m && !m->failure) migrated += m->migrated;
    });
    auto all = store.list();
    if (!all) return 2;
    const std::array<std::uint32_t, 2> out{static_cast<std::uint32_t>(all->size()),
                                           static_cast<std::uint32_t>(migrated)};
    return ::write(fd, out.data(), sizeof out) == static_cast<ssize_t>(sizeof out) ? 0 : 3;
}

/// Every (resource -> access token, generation) of the store at `options`.
std::map<std::string, std::pair<std::string, std::uint64_t>> contents(const tv::store_options& options) {
    plain_store store(options);
    auto all = store.list();
    REQUIRE(all.has_value());
    std::map<std::string, std::pair<std::string, std::uint64_t>> out;
    for (const auto& info : *all) {
        auto got = store.get(info.id);
        REQUIRE(got.has_value());
        REQUIRE(got->has_value());
        out[info.id.resource()] = {std::string((*got)->access_token.reveal()), info.generation};
    }
    return out;
}

}  // namespace

TEST_CASE("two processes starting at once with legacy data migrate once and lose nothing") {
    fixture f;
    std::array<int, 2> start{}, results{};
    REQUIRE(::pipe(start.data()) == 0);
    REQUIRE(::pipe(results.data()) == 0);
    std::array<pid_t, 2> children{};
    for (auto& child : children) {
        child = ::fork();
        REQUIRE(child >= 0);
        if (child == 0) {
            ::close(start[1]);
            char go = 0;
            if (::read(start[0], &go, 1) < 0) ::_exit(4);  // both wait here until the parent lets them go
            ::_exit(open_and_report<migrating_store>(f.options, results[1]));
        }
    }
    ::close(start[0]);
    ::close(results[1]);
    ::close(start[1]);  // EOF: both children start now
    for (const auto child : children) {
        int status = 0;
        REQUIRE(::waitpid(child, &status, 0) == child);
        CHECK(WIFEXITED(status));
        CHECK(WEXITSTATUS(status) == 0);
    }
    std::vector<std::array<std::uint32_t, 2>> reports;
    std::array<std::uint32_t, 2> report{};
    while (::read(results[0], report.data(), sizeof report) == static_cast<ssize_t>(sizeof report))
        reports.push_back(report);
    ::close(results[0]);
    REQUIRE(reports.size() == 2);
    CHECK(reports[0][0] == item_count);  // both see every entry
    CHECK(reports[1][0] == item_count);
    CHECK(reports[0][1] + reports[1][1] == item_count);  // exactly one of them migrated, once
    CHECK((reports[0][1] == 0 || reports[1][1] == 0));
    CHECK(f.legacy_left() == 0);

    SUBCASE("the migrated store opens in a fresh process") {
        const int status = in_child([&] {
            const auto all = contents(f.options);
            if (all.size() != item_count) return 1;
            for (int i = 0; i < item_count; ++i) {
                const auto found = all.find(url(i));
                if (found == all.end() || found->second.first != "legacy-at-" + std::to_string(i)) return 2;
            }
            return 0;
        });
        CHECK(WIFEXITED(status));
        CHECK(WEXITSTATUS(status) == 0);
    }
}

TEST_CASE(
    "a process killed between the durable save and the deletes leaves both copies; the next start finishes") {
    fixture f;
    const int status = in_child([&] {
        dying_file_keyring::armed = true;
        dying_store store(f.options);
        (void)store.list();  // dies at the first delete, after the save
        return 0;
    });
    REQUIRE(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGKILL);

    const auto saved = contents(f.options);  // the new copy is durable...
    CHECK(saved.size() == item_count);
    CHECK(f.legacy_left() == item_count + 1);  // ...and the legacy copy is intact

    std::array<int, 2> results{};
    REQUIRE(::pipe(results.data()) == 0);
    const int next = in_child([&] { return open_and_report<migrating_store>(f.options, results[1]); });
    ::close(results[1]);
    CHECK(WIFEXITED(next));
    CHECK(WEXITSTATUS(next) == 0);
    std::array<std::uint32_t, 2> report{};
    REQUIRE(::read(results[0], report.data(), sizeof report) == static_cast<ssize_t>(sizeof report));
    ::close(results[0]);
    CHECK(report[0] == item_count);
    CHECK(report[1] == 0);  // nothing imported twice
    CHECK(f.legacy_left() == 0);
    CHECK(contents(f.options) ==
          saved);  // same tokens, same generations: no duplicate, no rewrite of entries
}

}  // namespace test_migration_process
