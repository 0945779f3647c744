// tests/unit/test_resolution_log.cpp: diagnostics::resolution_log, the store-resolution log.
//
// The verdict table and the file format in-process; drift, resets, logins, corruption and failures of
// the log across real processes (fork), with backend::keyring_bundle over a real keyring::first_available
// chain of two persistent test tiers (key-file keyrings; the first can be switched off per process), and
// backend::sealed_file, whose header pins the tier (no drift: an error that names the tier).
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <tokenvault/backend/keyring_bundle.hpp>
#include <tokenvault/backend/sealed_file.hpp>
#include <tokenvault/cipher/xchacha20poly1305.hpp>
#include <tokenvault/diagnostics/callback.hpp>
#include <tokenvault/diagnostics/counters.hpp>
#include <tokenvault/diagnostics/resolution.hpp>
#include <tokenvault/diagnostics/resolution_log.hpp>
#include <tokenvault/json.hpp>
#include <tokenvault/keyring/file.hpp>
#include <tokenvault/keyring/first_available.hpp>
#include <tokenvault/lifecycle.hpp>
#include <tokenvault/locking/process.hpp>
#include <tokenvault/migration/none.hpp>
#include <tokenvault/store.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "support/temp_dir.hpp"
#include "support/tokens.hpp"

namespace test_resolution_log {  // unity builds put several test files in one translation unit

using namespace tokenvault;
namespace fs = std::filesystem;

namespace {

// Whether tier_a opens in this process (each forked child sets its own).
bool tier_a_up = true;

/// A persistent test keyring (keyring::file in a sub-directory of its own) named tier_a or tier_b;
/// tier_a answers "not available here" while tier_a_up is false.
template <int N>
struct test_tier {
    using policy_family = family::keyring;
    static constexpr std::string_view tier = N == 0 ? "tier_a" : "tier_b";
    static constexpr bool persistent = true;
    static constexpr std::size_t max_item_size = keyring::file::max_item_size;
    keyring::file inner;

    [[nodiscard]] static result<std::optional<test_tier>> open(const keyring_options& options) {
        if (N == 0 && !tier_a_up) return std::optional<test_tier>{};
        auto own = options;
        own.directory = options.directory / std::string(tier);
        auto opened = keyring::file::open(own);
        if (!opened) return opened.error();
        if (!*opened) return std::optional<test_tier>{};
        return std::optional<test_tier>{test_tier{std::move(**opened)}};
    }
    [[nodiscard]] std::string_view tier_name() const { return tier; }
    [[nodiscard]] result<std::optional<detail::secure_buffer>> read(std::string_view account) {
        return inner.read(account);
    }
    [[nodiscard]] result<void> write(std::string_view account, std::span<const std::byte> secret) {
        return inner.write(account, secret);
    }
    [[nodiscard]] result<bool> erase(std::string_view account) { return inner.erase(account); }
};

using chain = keyring::first_available<test_tier<0>, test_tier<1>>;
using log_policy = diagnostics::resolution_log<diagnostics::counters>;
template <class K>
using store_over = token_store<backend::keyring_bundle<K>, cipher::xchacha20poly1305, locking::process,
                               migration::none, log_policy>;
using automatic_store = store_over<chain>;
using explicit_store = store_over<test_tier<1>>;

store_options options_in(const fs::path& dir) {
    store_options o;
    o.app_name = tvtest::unique_name("tv-resolution");
    o.directory = dir;
    o.file_name = "tokens.test";
    o.lock_timeout = std::chrono::milliseconds(5000);
    return o;
}

/// Runs `fn` in a forked child and returns its exit status (fn's return value), -1 if it died.
template <class Fn>
int in_child(Fn&& fn) {
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
        int code = 120;
        try {
            code = fn();
        } catch (...) {
            code = 121;
        }
        std::_Exit(code);
    }
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/// Child body: with tier_a up or down, does `action` on a fresh store and returns the drifts it saw
/// (100 + n when a token operation failed).
template <class Store, class Action>
int process_with(const store_options& options, bool a_up, Action&& action) {
    tier_a_up = a_up;
    Store store(options);
    if (!action(store)) return 100;
    const auto drifts = store.diagnostics().drifts();
    if (drifts != store.diagnostics().inner().read().drifts) return 110;
    return static_cast<int>(drifts);
}

const auto do_put = [](auto& store) {
    return store.put(tvtest::id_for(1), tvtest::sample_token("one")).has_value();
};
const auto do_get = [](auto& store) { return store.get(tvtest::id_for(1)).has_value(); };
const auto do_erase = [](auto& store) { return store.erase(tvtest::id_for(1)).has_value(); };
const auto do_update_reset = [](auto& store) {
    return store.update(tvtest::id_for(1), [](std::optional<token>& t) { t.reset(); }).has_value();
};

diagnostics::resolution_history history_in(const fs::path& dir) {
    auto read = diagnostics::read_resolution_log(dir);
    REQUIRE(read.has_value());
    REQUIRE(read->has_value());
    return **read;
}

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

void spit(const fs::path& p, const std::string& text) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    fs::permissions(p, fs::perms::owner_read | fs::perms::owner_write);
}

diagnostics::resolution_observation observed(std::string tier,
                                             events::store_mode mode = events::store_mode::automatic,
                                             std::string backend = "b/chain") {
    return diagnostics::resolution_observation{
        "tokens.test", mode, std::move(backend), std::move(tier), events::resolution_cause::preferred, {}, {},
        false};
}

/// An automatic resolution of `backend` in `directory` to `tier` (a view of its arguments).
events::store_resolved automatic_resolution(const std::string& directory, std::string_view store,
                                            std::string_view backend, std::string_view tier,
                                            events::resolution_reason reason, bool moved = false) {
    return events::store_resolved{.directory = directory,
                                  .store = store,
                                  .credential = {},
                                  .mode = events::store_mode::automatic,
                                  .backend = backend,
                                  .tier = tier,
                                  .reason = reason,
                                  .moved = moved};
}

/// The first tier of the chain opened.
constexpr events::resolution_reason preferred{events::resolution_cause::preferred, {}, {}};

}  // namespace

TEST_CASE("judge_resolution: drift only for an automatic change of tier of a present credential") {
    using diagnostics::judge_resolution;
    using v = diagnostics::resolution_verdict;
    diagnostics::resolution_record r{"tokens.test", events::store_mode::automatic,
                                     "b/chain",     "tier_a",
                                     "preferred",   true,
                                     clock::now(),  0};
    CHECK(judge_resolution(nullptr, observed("tier_a"), false) == v::baseline);
    CHECK(judge_resolution(&r, observed("tier_a"), false) == v::unchanged);
    CHECK(judge_resolution(&r, observed("tier_b"), false) == v::drift);
    CHECK(judge_resolution(&r, observed("tier_b"), true) == v::moved);  // a login under way
    auto moved = observed("tier_b");
    moved.moved = true;
    CHECK(judge_resolution(&r, moved, false) == v::moved);
    CHECK(judge_resolution(&r, observed("tier_b", events::store_mode::explicit_tier), false) == v::reset);
    CHECK(judge_resolution(&r, observed("tier_a", events::store_mode::explicit_tier), false) == v::reset);
    CHECK(judge_resolution(&r, observed("tier_b", events::store_mode::automatic, "other/chain"), false) ==
          v::reset);
    auto other_store = observed("tier_b");
    other_store.store = "other.sealed";
    CHECK(judge_resolution(&r, other_store, false) == v::reset);
    r.present = false;  // logged out
    CHECK(judge_resolution(&r, observed("tier_b"), false) == v::absent);
    r.mode = events::store_mode::explicit_tier;
    r.present = true;
    CHECK(judge_resolution(&r, observed("tier_b", events::store_mode::explicit_tier), false) == v::reset);
}

TEST_CASE("the resolution log format round-trips, skips malformed records and refuses what it is not") {
    diagnostics::resolution_history h;
    const auto hash = tvtest::id_for(1).hash();
    h.credentials[hash] =
        diagnostics::resolution_record{"tokens.sealed",
                                       events::store_mode::automatic,
                                       "sealed_file/first_available(secret_service,file)",
                                       "file",
                                       "secret_service:unavailable",
                                       true,
                                       std::chrono::time_point_cast<std::chrono::seconds>(clock::now()),
                                       2};
    h.drifts.push_back({std::chrono::time_point_cast<std::chrono::seconds>(clock::now()), hash,
                        "secret_service", "file", "secret_service:unavailable"});
    const auto text = diagnostics::serialize_resolution_log(h);
    auto back = diagnostics::parse_resolution_log(text);
    REQUIRE(back.has_value());
    REQUIRE(back->credentials.count(hash) == 1);
    const auto& r = back->credentials.at(hash);
    CHECK(r.tier == "file");
    CHECK(r.mode == events::store_mode::automatic);
    CHECK(r.drifts == 2);
    CHECK(r.present);
    CHECK(r.updated_at == h.credentials[hash].updated_at);
    REQUIRE(back->drifts.size() == 1);
    CHECK(back->drifts[0].previous == "secret_service");
    CHECK(back->dropped == 0);

    auto doc = nlohmann::json::parse(text);
    doc["credentials"]["not-a-hash"] = doc["credentials"][hash];
    doc["credentials"][tvtest::id_for(2).hash()] = {{"tier", 7}};
    doc["drift_history"].push_back("nonsense");
    doc["credentials"][tvtest::id_for(3).hash()] = doc["credentials"][hash];
    doc["credentials"][tvtest::id_for(3).hash()]["tier"] = "has space";  // not a clean name
    auto partial = diagnostics::parse_resolution_log(doc.dump());
    REQUIRE(partial.has_value());
    CHECK(partial->credentials.size() == 1);
    CHECK(partial->drifts.size() == 1);
    CHECK(partial->dropped == 4);

    for (const std::string bad : {"", "{", "[]", "{\"format\":\"other\",\"version\":1}",
                                  "{\"format\":\"tokenvault-resolutions\"}", "\x00\xff garbage"}) {
        auto parsed = diagnostics::parse_resolution_log(bad);
        REQUIRE_FALSE(parsed.has_value());
        CHECK(parsed.error() == errc::malformed_json);
    }
    auto newer = diagnostics::parse_resolution_log(R"({"format":"tokenvault-resolutions","version":2})");
    REQUIRE_FALSE(newer.has_value());
    CHECK(newer.error() == errc::unsupported_format_version);
}

TEST_CASE("resolution_log in one process: records, forwards events, ignores what it cannot use") {
    tvtest::temp_dir dir;
    diagnostics::resolution_log<diagnostics::callback> log;
    std::vector<events::any> seen;
    log.inner().set([&](const events::any& e) { seen.push_back(e); });
    const auto hash = tvtest::id_for(1).hash();
    const std::string directory = dir.path().string();

    log.on(events::store_operation{
        events::operation_kind::put, hash, {}});  // no store resolved yet: nothing to record
    CHECK_FALSE(fs::exists(dir.path() / "resolutions.json"));
    log.on(automatic_resolution(directory, "tokens.test", "b/chain", "tier_a", preferred));
    log.on(events::store_operation{events::operation_kind::put, hash, {}});
    log.on(events::store_operation{events::operation_kind::put, "not-a-hash", {}});
    log.on(events::store_operation{events::operation_kind::put, tvtest::id_for(2).hash(),
                                   make_error_code(errc::io_error)});  // failed
    CHECK(seen.size() == 5);                                           // every event reaches the inner policy
    CHECK(log.path() == dir.path() / "resolutions.json");
    auto h = history_in(dir.path());
    REQUIRE(h.credentials.size() == 1);
    CHECK(h.credentials.at(hash).tier == "tier_a");
    CHECK(h.credentials.at(hash).reason == "preferred");
    CHECK(h.credentials.at(hash).present);
    struct stat st {};
    REQUIRE(::stat((dir.path() / "resolutions.json").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);

    // Another process resolves tier_b for the same backend: drift, reported through the inner policy.
    diagnostics::resolution_log<diagnostics::callback> later;
    std::vector<events::drift> drifts;
    later.inner().set([&](const events::any& e) {
        if (const auto* d = std::get_if<events::drift>(&e)) drifts.push_back(*d);
    });
    later.on(automatic_resolution(directory, "tokens.test", "b/chain", "tier_b",
                                  events::resolution_reason{events::resolution_cause::fallback, "tier_a",
                                                            events::tier_failure::unavailable}));
    REQUIRE(drifts.size() == 1);  // the string views were valid during the call only: compare right away
    CHECK(drifts[0].reason.cause == events::resolution_cause::fallback);
    CHECK(drifts[0].reason.failure == events::tier_failure::unavailable);
    CHECK(drifts[0].current == "tier_b");
    CHECK(later.drifts() == 1);
    h = history_in(dir.path());
    CHECK(h.credentials.at(hash).tier == "tier_b");
    CHECK(h.credentials.at(hash).drifts == 1);
    REQUIRE(h.drifts.size() == 1);
    CHECK(h.drifts[0].previous == "tier_a");
    CHECK(h.drifts[0].current == "tier_b");
    CHECK(h.drifts[0].reason == "tier_a:unavailable");
    CHECK(h.drifts[0].credential == hash);
}

TEST_CASE(
    "drift across real processes: an automatic resolution that flips tiers is reported, each flip once") {
    tvtest::temp_dir dir;
    const auto options = options_in(dir.path());
    CHECK(in_child([&] { return process_with<automatic_store>(options, true, do_put); }) == 0);
    auto h = history_in(dir.path());
    REQUIRE(h.credentials.size() == 1);
    CHECK(h.credentials.begin()->second.tier == "tier_a");
    CHECK(h.credentials.begin()->second.reason == "preferred");

    // tier_a is gone in the next process: the token "disappears", and the log says why.
    CHECK(in_child([&] { return process_with<automatic_store>(options, false, do_get); }) == 1);
    h = history_in(dir.path());
    CHECK(h.credentials.begin()->second.tier == "tier_b");
    CHECK(h.credentials.begin()->second.reason == "tier_a:unavailable");
    REQUIRE(h.drifts.size() == 1);
    CHECK(h.drifts.back().previous == "tier_a");
    CHECK(h.drifts.back().current == "tier_b");

    // The same resolution again is no news; the flip back is.
    CHECK(in_child([&] { return process_with<automatic_store>(options, false, do_get); }) == 0);
    CHECK(in_child([&] { return process_with<automatic_store>(options, true, do_get); }) == 1);
    h = history_in(dir.path());
    CHECK(h.drifts.size() == 2);
    CHECK(h.credentials.begin()->second.drifts == 2);
    CHECK(h.credentials.begin()->second.tier == "tier_a");
}

TEST_CASE("an explicit mode or another backend resets the baseline without drift") {
    tvtest::temp_dir dir;
    const auto options = options_in(dir.path());
    CHECK(in_child([&] { return process_with<automatic_store>(options, true, do_put); }) == 0);
    // Explicitly configured tier_b: a choice, not drift; the record now says explicit.
    CHECK(in_child([&] { return process_with<explicit_store>(options, true, do_put); }) == 0);
    auto h = history_in(dir.path());
    CHECK(h.credentials.begin()->second.mode == events::store_mode::explicit_tier);
    CHECK(h.credentials.begin()->second.tier == "tier_b");
    CHECK(h.credentials.begin()->second.reason == "configured");
    // Back to automatic (tier_a): the baseline was explicit, so this is a reset, not drift.
    CHECK(in_child([&] { return process_with<automatic_store>(options, true, do_get); }) == 0);
    h = history_in(dir.path());
    CHECK(h.credentials.begin()->second.mode == events::store_mode::automatic);
    CHECK(h.credentials.begin()->second.tier == "tier_a");
    CHECK(h.drifts.empty());
    // Another backend (another chain) resets too.
    using other_chain = keyring::first_available<test_tier<1>, test_tier<0>>;
    CHECK(in_child([&] { return process_with<store_over<other_chain>>(options, true, do_get); }) == 0);
    h = history_in(dir.path());
    CHECK(h.credentials.begin()->second.tier == "tier_b");
    CHECK(h.credentials.begin()->second.backend == "keyring_bundle/first_available(tier_b,tier_a)");
    CHECK(h.drifts.empty());
}

TEST_CASE("a re-login is not drift: after a logout, and when the login is announced") {
    tvtest::temp_dir dir;
    const auto options = options_in(dir.path());
    // Login in tier_a, logout in tier_a, login again where only tier_b is available.
    CHECK(in_child([&] { return process_with<automatic_store>(options, true, do_put); }) == 0);
    CHECK(in_child([&] { return process_with<automatic_store>(options, true, do_erase); }) == 0);
    auto h = history_in(dir.path());
    REQUIRE(h.credentials.size() == 1);
    CHECK_FALSE(h.credentials.begin()->second.present);  // the record survives the logout
    CHECK(in_child([&] { return process_with<automatic_store>(options, false, do_put); }) == 0);
    h = history_in(dir.path());
    CHECK(h.credentials.begin()->second.present);
    CHECK(h.credentials.begin()->second.tier == "tier_b");
    CHECK(h.drifts.empty());

    // An update that resets the token is a logout too.
    CHECK(in_child([&] { return process_with<automatic_store>(options, false, do_update_reset); }) == 0);
    h = history_in(dir.path());
    CHECK_FALSE(h.credentials.begin()->second.present);
    CHECK(in_child([&] { return process_with<automatic_store>(options, false, do_put); }) == 0);
    h = history_in(dir.path());
    CHECK(h.credentials.begin()->second.present);

    // A backend change while logged out keeps the record logged out: no drift later.
    CHECK(in_child([&] { return process_with<automatic_store>(options, false, do_erase); }) == 0);
    CHECK(in_child([&] { return process_with<explicit_store>(options, true, do_get); }) == 0);
    h = history_in(dir.path());
    CHECK_FALSE(h.credentials.begin()->second.present);
    CHECK(h.credentials.begin()->second.mode == events::store_mode::explicit_tier);
    CHECK(in_child([&] { return process_with<automatic_store>(options, false, do_get); }) == 0);
    CHECK(in_child([&] { return process_with<automatic_store>(options, true, do_put); }) == 0);
    CHECK(history_in(dir.path()).drifts.empty());

    // A login (announced with events::login, as credential_manager::login does) over a credential that
    // an earlier process placed in another tier: a deliberate new placement.
    CHECK(in_child([&] {
              return process_with<automatic_store>(options, true, [](auto& store) {
                  store.diagnostics().on(events::login{tvtest::id_for(1).hash()});
                  return store.put(tvtest::id_for(1), tvtest::sample_token("again")).has_value();
              });
          }) == 0);
    h = history_in(dir.path());
    CHECK(h.credentials.begin()->second.tier == "tier_a");
    CHECK(h.drifts.empty());
}

TEST_CASE("credential_manager::login in another tier is not drift; a plain read there is") {
    struct provider {
        [[nodiscard]] refresh_result refresh(const token&) {
            return refresh_result::failed(error{errc::io_error});
        }
        [[nodiscard]] result<token> authorize() { return tvtest::sample_token("login"); }
    };
    tvtest::temp_dir dir;
    const auto options = options_in(dir.path());
    const auto login = [](automatic_store& store) {
        credential_manager<automatic_store> manager(store);
        provider p;
        return manager.login(tvtest::id_for(1), p).has_value();
    };
    CHECK(in_child([&] { return process_with<automatic_store>(options, true, login); }) == 0);
    CHECK(in_child([&] { return process_with<automatic_store>(options, false, login); }) == 0);
    CHECK(in_child([&] { return process_with<automatic_store>(options, true, login); }) == 0);
    CHECK(history_in(dir.path()).drifts.empty());
    CHECK(in_child([&] { return process_with<automatic_store>(options, false, do_get); }) == 1);
}

TEST_CASE("a deliberate move (re-seal or migration) is not drift") {
    tvtest::temp_dir dir;
    const auto hash = tvtest::id_for(1).hash();
    const std::string directory = dir.path().string();
    {
        log_policy log;
        log.on(automatic_resolution(directory, "s", "b", "tier_a", preferred));
        log.on(events::store_operation{events::operation_kind::put, hash, {}});
    }
    {
        log_policy log;  // a re-seal into tier_b reports moved
        log.on(automatic_resolution(directory, "s", "b", "tier_b", preferred, true));
        CHECK(log.drifts() == 0);
    }
    {
        log_policy log;  // a migration reported before the resolution it caused
        log.on(events::migration{"legacy", 1, 0, {}});
        log.on(automatic_resolution(directory, "s", "b", "tier_a", preferred));
        CHECK(log.drifts() == 0);
        CHECK(log.inner().read().migrations == 1);
    }
    {
        log_policy log;  // and an ordinary flip afterwards is drift again
        log.on(automatic_resolution(directory, "s", "b", "tier_b",
                                    events::resolution_reason{events::resolution_cause::fallback, "x",
                                                              events::tier_failure::unavailable}));
        CHECK(log.drifts() == 1);
        CHECK(log.inner().read().drifts == 1);
    }
    const auto h = history_in(dir.path());
    CHECK(h.drifts.size() == 1);
}

TEST_CASE("a corrupt log is tolerated and repaired; a partly corrupt one keeps its good records") {
    tvtest::temp_dir dir;
    const auto options = options_in(dir.path());
    const auto log_file = dir.path() / "resolutions.json";
    CHECK(in_child([&] { return process_with<automatic_store>(options, true, do_put); }) == 0);
    for (const std::string& garbage :
         {std::string("{not json"), std::string(""), std::string("[1,2,3]"), std::string(1000, '\xff')}) {
        spit(log_file, garbage);
        // The token operation works; the log is rewritten valid (the credential is recorded again).
        CHECK(in_child([&] { return process_with<automatic_store>(options, true, do_put); }) == 0);
        auto h = history_in(dir.path());
        CHECK(h.credentials.size() == 1);
        CHECK(h.credentials.begin()->second.tier == "tier_a");
    }
    // One bad record among good ones: the good ones survive (so drift is still detected), the bad one goes.
    auto doc = nlohmann::json::parse(slurp(log_file));
    doc["credentials"][tvtest::id_for(9).hash()] = "garbage";
    spit(log_file, doc.dump());
    CHECK(in_child([&] { return process_with<automatic_store>(options, false, do_get); }) == 1);
    auto h = history_in(dir.path());
    CHECK(h.credentials.size() == 1);
    CHECK(h.drifts.size() == 1);
    // Group-readable (someone chmod'ed it): read_private_file refuses it, so it is rewritten 0600.
    fs::permissions(log_file, fs::perms::group_read, fs::perm_options::add);
    CHECK(in_child([&] { return process_with<automatic_store>(options, false, do_put); }) == 0);
    struct stat st {};
    REQUIRE(::stat(log_file.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE("a log that cannot be written never fails a token operation") {
    tvtest::temp_dir dir;
    const auto options = options_in(dir.path());
    CHECK(in_child([&] { return process_with<automatic_store>(options, true, do_put); }) == 0);
    const auto log_file = dir.path() / "resolutions.json";

    SUBCASE("the log and its lock are directories (fails even for root)") {
        fs::remove(log_file);
        fs::remove(dir.path() / "resolutions.json.lock");
        fs::create_directory(log_file);
        fs::create_directory(dir.path() / "resolutions.json.lock");
        CHECK(in_child([&] {
                  tier_a_up = false;
                  automatic_store store(options);
                  if (!store.put(tvtest::id_for(2), tvtest::sample_token("two"))) return 100;
                  auto got = store.get(tvtest::id_for(2));
                  if (!got || !*got) return 101;
                  if (!store.erase(tvtest::id_for(2))) return 102;
                  return store.diagnostics().failures() > 0 ? 0 : 103;
              }) == 0);
        CHECK(fs::is_directory(log_file));
    }
    SUBCASE("the log is a symlink: never followed, never replaced") {
        const auto target = dir.path() / "elsewhere.json";
        spit(target, "precious");
        fs::create_symlink(target, log_file.string() + ".tmp-link");
        fs::remove(log_file);
        fs::rename(log_file.string() + ".tmp-link", log_file);
        CHECK(in_child([&] { return process_with<automatic_store>(options, false, do_put); }) == 0);
        CHECK(slurp(target) == "precious");
        CHECK(fs::is_symlink(log_file));
    }
    SUBCASE("a read-only directory (skipped as root, who may write anyway)") {
        if (::geteuid() == 0) return;
        // The store's lock file exists already (opened for writing, not created); the log cannot be replaced.
        fs::permissions(dir.path(), fs::perms::owner_read | fs::perms::owner_exec);
        CHECK(in_child([&] {
                  tier_a_up = false;
                  automatic_store store(options);
                  if (!store.get(tvtest::id_for(1))) return 100;
                  return store.diagnostics().drifts() == 1 && store.diagnostics().failures() > 0 ? 0 : 101;
              }) == 0);
        fs::permissions(dir.path(), fs::perms::owner_all);
    }
}

TEST_CASE("the log and its events carry no secret") {
    tvtest::temp_dir dir;
    const auto options = options_in(dir.path());
    const std::string canary = "CANARY-resolution-7f3a9c";
    std::ostringstream events_text;
    {
        tier_a_up = true;
        token_store<backend::keyring_bundle<chain>, cipher::xchacha20poly1305, locking::process,
                    migration::none, diagnostics::resolution_log<diagnostics::callback>>
            store(options);
        store.diagnostics().inner().set([&](const events::any& e) {
            std::visit(
                [&](const auto& ev) {
                    using E = std::decay_t<decltype(ev)>;
                    if constexpr (std::is_same_v<E, events::store_resolved>)
                        events_text << ev.directory << ev.store << ev.credential << ev.backend << ev.tier
                                    << events::to_string(ev.reason);
                    else if constexpr (std::is_same_v<E, events::store_operation>)
                        events_text << events::to_string(ev.operation) << ev.credential
                                    << ev.failure.message();
                    else if constexpr (std::is_same_v<E, events::drift>)
                        events_text << ev.credential << ev.previous << ev.current
                                    << events::to_string(ev.reason);
                },
                e);
        });
        auto t = tvtest::sample_token(canary);
        t.client_secret = secret_string{canary + "-client-secret"};
        REQUIRE(store.put(tvtest::id_for(1), t).has_value());
        REQUIRE(store.get(tvtest::id_for(1)).has_value());
    }
    tier_a_up = false;
    {
        automatic_store store(options);
        REQUIRE(store.get(tvtest::id_for(1)).has_value());
        CHECK(store.diagnostics().drifts() == 1);
    }
    tier_a_up = true;
    CHECK_FALSE(events_text.str().empty());
    CHECK(events_text.str().find("CANARY") == std::string::npos);
    const auto log_text = slurp(dir.path() / "resolutions.json");
    CHECK(log_text.find("CANARY") == std::string::npos);
    CHECK(log_text.find(tvtest::id_for(1).resource()) == std::string::npos);  // no raw URL either
}

TEST_CASE("a sealed file pins its tier: no silent drift, an error naming the tier, and drift-free logs") {
    using sealed_store = token_store<backend::sealed_file<chain>, cipher::xchacha20poly1305, locking::process,
                                     migration::none, log_policy>;
    tvtest::temp_dir dir;
    const auto options = options_in(dir.path());
    CHECK(in_child([&] { return process_with<sealed_store>(options, true, do_put); }) == 0);
    auto h = history_in(dir.path());
    REQUIRE(h.credentials.size() == 1);
    CHECK(h.credentials.begin()->second.tier == "tier_a");
    CHECK(h.credentials.begin()->second.backend == "sealed_file/first_available(tier_a,tier_b)");
    // Reopened with tier_a available: the header names the tier; same tier, no drift, no rewrite.
    const auto before = fs::last_write_time(dir.path() / "resolutions.json");
    CHECK(in_child([&] { return process_with<sealed_store>(options, true, do_get); }) == 0);
    CHECK(history_in(dir.path()).credentials.begin()->second.reason == "preferred");
    CHECK(fs::last_write_time(dir.path() / "resolutions.json") == before);
    // tier_a is gone: the store refuses (the key is there), instead of resolving tier_b and losing tokens.
    CHECK(in_child([&] {
              tier_a_up = false;
              sealed_store store(options);
              auto got = store.get(tvtest::id_for(1));
              if (got || got.error() != errc::foreign_key) return 100;
              if (got.error().message().find("tier_a") == std::string::npos) return 101;
              return static_cast<int>(store.diagnostics().drifts());
          }) == 0);
    h = history_in(dir.path());
    CHECK(h.drifts.empty());
    CHECK(h.credentials.begin()->second.tier == "tier_a");
}

}  // namespace test_resolution_log
