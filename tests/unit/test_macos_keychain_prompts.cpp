// tests/unit/test_macos_keychain_prompts.cpp: keychain dialogs counted, tokenvault against a per-item layout.
//
// 50 servers, 20 real processes (forked, each a program of its own to the fake keychain, sharing it
// through a state file under flock), 1,000 refreshes per round, in three rounds: the user answers "Allow",
// then "Always Allow", then the same programs run again. tokenvault (presets::macos_desktop: one data key
// item, written once, read once per process) must show at most one dialog per process before "Always
// Allow" and none after it. The control keeps one keychain item per token and rewrites it on each refresh
// (SecItemDelete + SecItemAdd under a per-server lock, as clients that store a token per item do), through
// the same fake: every refresh by another program than the last writer must show a dialog, in every
// round, because a rewrite resets the item's access list. The counts are printed as PROMPTS lines.
// Under the sanitizers (meson.build sets TOKENVAULT_TEST_REDUCED_WORKLOAD=1 there) the same rounds run
// with 10 servers and 6 processes, each process still refreshing every server once per round: the same
// code paths and assertions, 60 refreshes per round instead of 1,000, over 11 keychain items, not 51.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <tokenvault/keyring/macos_keychain.hpp>
#include <tokenvault/presets_macos.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "support/fake_keychain.hpp"
#include "support/forked.hpp"
#include "support/temp_dir.hpp"
#include "support/tokens.hpp"

namespace test_macos_keychain_prompts {  // unity builds put several test files in one translation unit

namespace fs = std::filesystem;
namespace fake = tvtest::fake_keychain;
namespace kc = tokenvault::keyring::keychain;
namespace dm = tokenvault::detail::macos_keychain;
using namespace tokenvault;

namespace {

bool reduced_workload() {
    const char* set = std::getenv("TOKENVAULT_TEST_REDUCED_WORKLOAD");
    return set != nullptr && std::string_view(set) == "1";
}

const int servers = reduced_workload() ? 10 : 50;
const int processes = reduced_workload() ? 6 : 20;
const int refreshes_per_process = servers;  // each server once: 20 x 50 = 1,000 refreshes per round
constexpr std::string_view control_service = "per-item-client";

std::string identity_of(int process) { return "client-" + std::to_string(process); }
std::string account_of(int server) { return "server-" + std::to_string(server); }

/// An exclusive flock on `path` for the scope (the control's per-server refresh lock).
class held_lock {
public:
    explicit held_lock(const fs::path& path) : fd_(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600)) {
        while (fd_ >= 0 && ::flock(fd_, LOCK_EX) != 0) {
        }
    }
    held_lock(const held_lock&) = delete;
    held_lock& operator=(const held_lock&) = delete;
    ~held_lock() {
        if (fd_ >= 0) ::close(fd_);
    }
    [[nodiscard]] bool held() const noexcept { return fd_ >= 0; }

private:
    int fd_;
};

/// The control: one keychain item per token, read and rewritten (delete + add) on every refresh.
class per_item_client {
public:
    per_item_client() : api_(*kc::current_api()) {}

    /// The item's text; errSecSuccess or Security's refusal.
    kc::os_status read(const std::string& account, std::string& out) const {
        dm::dictionary q = query(account);
        q.set(kc::cf_constant::return_data, kc::cf_constant::boolean_true);
        q.set(kc::cf_constant::match_limit, kc::cf_constant::match_limit_one);
        kc::cf_ref found = nullptr;
        const kc::os_status s = api_.copy_matching(q.get(), &found);
        const dm::cf_owned owned(api_, found);
        if (s == kc::status::success)
            out.assign(reinterpret_cast<const char*>(api_.data_bytes(found)),
                       static_cast<std::size_t>(api_.data_size(found)));
        return s;
    }

    /// Replaces the item: SecItemDelete, then SecItemAdd (a new item: only the writer on its list).
    kc::os_status rewrite(const std::string& account, const std::string& text) const {
        const kc::os_status removed = api_.remove(query(account).get());
        if (removed != kc::status::success && removed != kc::status::item_not_found) return removed;
        dm::dictionary attributes = query(account);
        attributes.set_bytes(kc::cf_constant::value_data,
                             std::as_bytes(std::span<const char>(text.data(), text.size())));
        return api_.add(attributes.get(), nullptr);
    }

private:
    [[nodiscard]] dm::dictionary query(const std::string& account) const {
        dm::dictionary d(api_);
        d.set(kc::cf_constant::sec_class, kc::cf_constant::class_generic_password);
        d.set_text(kc::cf_constant::attr_service, control_service);
        d.set_text(kc::cf_constant::attr_account, account);
        return d;
    }

    const kc::keychain_api& api_;
};

/// A process of the tokenvault layout: one refresh per server, each a read-modify-write of its token.
int tokenvault_process(const store_options& options, int process, fake::answer answer) {
    fake::set_identity(identity_of(process));
    fake::set_answer(answer);
    presets::macos_desktop store(options);
    for (int k = 0; k < refreshes_per_process; ++k) {
        const int server = (process + k) % servers;
        auto refreshed = store.update(tvtest::id_for(server), [&](std::optional<token>& t) -> result<void> {
            if (!t) return error{errc::not_logged_in, "no token to refresh"};
            const int count = t->extra.value("refreshes", 0) + 1;
            t->extra["refreshes"] = count;
            t->access_token = secret_string{"at-" + std::to_string(server) + "-" + std::to_string(count)};
            t->refresh_token = secret_string{"rt-" + std::to_string(server) + "-" + std::to_string(count)};
            return {};
        });
        if (!refreshed) return 10;
    }
    return store.backend().tier() == "macos_keychain" ? 0 : 11;
}

/// A process of the control layout: one refresh per server, each a locked read and rewrite of its item.
int control_process(const fs::path& locks, int process, fake::answer answer) {
    fake::set_identity(identity_of(process));
    fake::set_answer(answer);
    const per_item_client client;
    for (int k = 0; k < refreshes_per_process; ++k) {
        const int server = (process + k) % servers;
        const held_lock lock(locks / (account_of(server) + ".lock"));
        if (!lock.held()) return 20;
        std::string count;
        if (client.read(account_of(server), count) != kc::status::success) return 21;
        if (client.rewrite(account_of(server), std::to_string(std::stoi(count) + 1)) != kc::status::success)
            return 22;
    }
    return 0;
}

/// Dialogs per program in a round: the counts after minus before.
std::map<std::string, std::uint64_t> dialogs_between(const fake::counters& before,
                                                     const fake::counters& after) {
    std::map<std::string, std::uint64_t> shown;
    for (int p = 0; p < processes; ++p) {
        const auto id = identity_of(p);
        const auto was = before.prompts_by.count(id) != 0 ? before.prompts_by.at(id) : 0;
        const auto is = after.prompts_by.count(id) != 0 ? after.prompts_by.at(id) : 0;
        shown[id] = is - was;
    }
    return shown;
}

struct round_result {
    std::uint64_t total = 0;
    std::uint64_t most_per_process = 0;
};

/// Runs `processes` children of `body(process)` at once; their dialogs per program.
template <class Body>
round_result run_round(Body body) {
    const auto before = fake::snapshot().counts;
    std::vector<pid_t> children;
    for (int p = 0; p < processes; ++p) children.push_back(tvtest::spawn([&, p] { return body(p); }));
    for (const pid_t child : children) CHECK(tvtest::wait_for(child) == 0);
    const auto shown = dialogs_between(before, fake::snapshot().counts);
    round_result r;
    for (const auto& [id, n] : shown) {
        r.total += n;
        r.most_per_process = std::max(r.most_per_process, n);
    }
    return r;
}

void report(std::string_view layout, std::string_view round, const round_result& r) {
    std::printf(
        "PROMPTS layout=%.*s round=%.*s servers=%d processes=%d refreshes=%d prompts=%llu "
        "max_per_process=%llu\n",
        static_cast<int>(layout.size()), layout.data(), static_cast<int>(round.size()), round.data(), servers,
        processes, processes * refreshes_per_process, static_cast<unsigned long long>(r.total),
        static_cast<unsigned long long>(r.most_per_process));
    std::fflush(stdout);
}

}  // namespace

TEST_CASE(
    "keychain dialogs: tokenvault asks each program at most once; a per-item layout asks on every refresh") {
    tvtest::temp_dir scratch(/*prefer_memory_fs=*/true);
    fake::install(scratch / "keychain.json");
    const fs::path locks = scratch / "control-locks";
    fs::create_directories(locks);

    store_options options;
    options.app_name = "mcp-client";
    options.directory = scratch / "store";
    options.lock_timeout = std::chrono::seconds(60);

    // The program that logged in to the servers made the key item, and the control's item per server.
    fake::set_identity("login-tool");
    {
        presets::macos_desktop store(options);
        for (int s = 0; s < servers; ++s)
            REQUIRE(store.put(tvtest::id_for(s), tvtest::sample_token("server-" + std::to_string(s))));
        REQUIRE(store.backend().tier() == "macos_keychain");
    }
    const per_item_client seeder;
    for (int s = 0; s < servers; ++s) REQUIRE(seeder.rewrite(account_of(s), "0") == kc::status::success);
    REQUIRE(fake::snapshot().counts.prompts == 0);

    struct plan {
        std::string_view name;
        fake::answer answer;
    };
    const std::vector<plan> rounds = {{"allow", fake::answer::allow_once},
                                      {"always_allow", fake::answer::always_allow},
                                      {"after_always_allow", fake::answer::always_allow}};
    int round_number = 0;
    for (const auto& round : rounds) {
        ++round_number;
        CAPTURE(round.name);
        const auto ours = run_round([&](int p) { return tokenvault_process(options, p, round.answer); });
        const auto control = run_round([&](int p) { return control_process(locks, p, round.answer); });
        report("tokenvault", round.name, ours);
        report("per_item_control", round.name, control);
        MESSAGE("round " << round.name << ": tokenvault " << ours.total << " dialogs (at most "
                         << ours.most_per_process << " per process), per-item control " << control.total);

        if (round_number < 3) {
            // Each program reads the one key item once; it is not on the item's list yet.
            CHECK(ours.most_per_process <= 1);
            CHECK(ours.total == static_cast<std::uint64_t>(processes));
        } else {
            CHECK(ours.total == 0);  // "Always Allow" stuck: the item was never rewritten
        }
        // Each server is refreshed once by each program; the previous writer of its item is always
        // another program, whose rewrite left only itself on the list: processes - 1 dialogs per server
        // at least, "Always Allow" or not.
        CHECK(control.total >= static_cast<std::uint64_t>(servers * (processes - 1)));

        // No refresh was lost on either side.
        presets::macos_desktop check(options);
        for (int s = 0; s < servers; ++s) {
            auto got = check.get(tvtest::id_for(s));
            REQUIRE(got);
            REQUIRE(got->has_value());
            CHECK((*got)->extra.value("refreshes", 0) == processes * round_number);
            std::string count;
            REQUIRE(seeder.read(account_of(s), count) == kc::status::success);
            CHECK(std::stoi(count) == processes * round_number);
        }
    }
    const auto end = fake::snapshot();
    CHECK(end.counts.updates == 0);
    std::size_t key_items = 0;
    for (const auto& it : end.items)
        if (it.service == options.app_name) ++key_items;
    CHECK(key_items == 1);  // one data key item, never rewritten
    CHECK(fake::find(options.app_name, "data-key")->trusted.size() == 1 + processes);
    fake::uninstall();
}

}  // namespace test_macos_keychain_prompts
