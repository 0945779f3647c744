// tests/unit/test_migration_importers.cpp: importing the logins that mcp-remote and Codex keep on disk.
// The mcp-remote fixtures are byte-for-byte what mcp-remote 0.15.1 and 0.1.18 wrote through their own code
// (tests/fixtures/mcp_remote_generate.mjs); the Codex fixture follows codex-rs/rmcp-client's
// FallbackTokenEntry. Importers must never change the files they read: checked by content, mode, mtime,
// ctime.
#include <doctest/doctest.h>

#include <tokenvault/backend/sealed_file.hpp>
#include <tokenvault/cipher/xchacha20poly1305.hpp>
#include <tokenvault/detail/md5.hpp>
#include <tokenvault/diagnostics/callback.hpp>
#include <tokenvault/keyring/memory.hpp>
#include <tokenvault/locking/process.hpp>
#include <tokenvault/migration/chain.hpp>
#include <tokenvault/migration/codex.hpp>
#include <tokenvault/migration/mcp_remote.hpp>
#include <tokenvault/migration/none.hpp>
#include <tokenvault/store.hpp>

#include <unistd.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "../support/legacy.hpp"
#include "../support/temp_dir.hpp"
#include "../support/tokens.hpp"

namespace test_migration_importers {  // unity builds put several test files in one translation unit

namespace tv = tokenvault;
namespace fs = std::filesystem;

namespace {

const std::string server_1 = "https://mcp.example.com/sse";
const std::string server_2 = "https://mcp2.example.com/mcp";
const std::string server_3 = "https://old.example.com/mcp";
const std::string server_4 = "https://broken.example.com/mcp";
const std::string hash_1 = "494d19bc05f3885edf847e391b7f9153";  // node: md5("https://mcp.example.com/sse")
const std::string hash_2 =
    "1de3eb8a8b7c1dee54efed118feb51b7";  // mcp-remote 0.15.1 with --resource and --header

// Written by mcp-remote 0.15.1 (NodeOAuthClientProvider.saveTokens / saveClientInformation).
const std::string v1_tokens = R"({
  "access_token": "mcpr-at",
  "token_type": "Bearer",
  "expires_in": 3600,
  "refresh_token": "mcpr-rt",
  "scope": "read write",
  "expires_at": 1795411511802,
  "requested_scope": "openid email profile"
})";
const std::string v1_client_info = R"({
  "client_id": "cid-from-mcp-remote",
  "client_secret": "csecret-from-mcp-remote",
  "redirect_uris": [
    "http://localhost:1/oauth/callback"
  ]
})";
// Written by mcp-remote 0.1.18 (mode 0644, no expires_at).
const std::string old_tokens = R"({
  "access_token": "mcpr-old-at",
  "token_type": "Bearer",
  "expires_in": 3600,
  "refresh_token": "mcpr-old-rt",
  "scope": "read write"
})";

/// Looks for mcp-remote files beside the store directory; the servers are the caller's configuration.
struct test_mcp_remote : tv::migration::mcp_remote_config {
    static fs::path base_directory(const tv::store_options& o) {
        return o.directory.parent_path() / "mcp-auth";
    }
    static std::vector<tv::migration::mcp_remote_server> servers(const tv::store_options&) {
        return {{server_1, {}, {}},
                {server_2, {"https://resource.example.com", R"({"X-Api":"1"})"}, {}},
                {server_3, {}, {}},
                {server_4, {}, {}},
                {"not a url", {}, {}}};
    }
};

/// Looks for the Codex home beside the store directory.
struct test_codex : tv::migration::codex_config {
    static fs::path home(const tv::store_options& o) { return o.directory.parent_path() / "codex-home"; }
};

using key_holder = tv::keyring::allow_volatile<tv::keyring::memory>;
template <class M>
using store_t = tv::token_store<tv::backend::sealed_file<key_holder>, tv::cipher::xchacha20poly1305,
                                tv::locking::process, M, tv::diagnostics::callback>;
using mcp_store = store_t<tv::migration::from_mcp_remote<test_mcp_remote>>;
using codex_store = store_t<tv::migration::from_codex<test_codex>>;
using plain_store = store_t<tv::migration::none>;

struct fixture {
    tvtest::temp_dir dir;
    tv::store_options options;
    std::vector<tv::events::any> events;

    fixture() {
        options.app_name = tvtest::unique_name("tv-import");
        options.directory = dir.path() / "store";
    }
    fs::path mcp_auth() const { return dir.path() / "mcp-auth"; }
    fs::path codex_file() const { return dir.path() / "codex-home" / ".credentials.json"; }
    template <class S>
    std::unique_ptr<S> open() {
        auto s = std::make_unique<S>(options);
        s->diagnostics().set([this](const tv::events::any& e) { events.push_back(e); });
        return s;
    }
    /// Every regular file under `root` with its state.
    static std::map<fs::path, tvtest::file_state> snapshot(const fs::path& root) {
        std::map<fs::path, tvtest::file_state> out;
        for (const auto& e : fs::recursive_directory_iterator(root))
            if (e.is_regular_file()) out[e.path()] = tvtest::state_of(e.path());
        return out;
    }
};

tv::credential_id id(const std::string& url) { return tv::credential_id::parse(url).value(); }

template <class S>
std::optional<tv::token> get(S& store, const std::string& url) {
    auto got = store.get(id(url));
    REQUIRE(got.has_value());
    return *got;
}

tv::clock::time_point unix_ms(long long ms) {
    return tv::clock::time_point{
        std::chrono::duration_cast<tv::clock::duration>(std::chrono::milliseconds{ms})};
}

}  // namespace

TEST_CASE("md5_hex matches node's crypto (the hash mcp-remote names its files by)") {
    using tv::detail::md5_hex;
    CHECK(md5_hex("") == "d41d8cd98f00b204e9800998ecf8427e");
    CHECK(md5_hex("abc") == "900150983cd24fb0d6963f7d28e17f72");
    CHECK(md5_hex(server_1) == hash_1);
    CHECK(md5_hex("12345678901234567890123456789012345678901234567890123456789012345678901234567890") ==
          "57edf4a22be3c955ac49da2e2107b67a");
    const auto hashes = tv::migration::from_mcp_remote<test_mcp_remote>::file_hashes(
        test_mcp_remote::servers({})[1], id(server_2));
    REQUIRE(!hashes.empty());
    CHECK(hashes.front() == hash_2);
}

TEST_CASE("from_mcp_remote imports the newest token per server across version directories") {
    fixture f;
    const auto v1 = f.mcp_auth() / "mcp-remote-v1";
    const auto old = f.mcp_auth() / "mcp-remote-0.1.18";
    const long t_old = 1'700'000'000, t_new = 1'700'100'000;
    tvtest::write_file(v1 / (hash_1 + "_tokens.json"), v1_tokens);
    tvtest::write_file(v1 / (hash_1 + "_client_info.json"), v1_client_info);
    tvtest::write_file(old / (hash_1 + "_tokens.json"), old_tokens, 0644);
    tvtest::write_file(old / (hash_1 + "_client_info.json"), v1_client_info, 0644);
    tvtest::write_file(v1 / (hash_2 + "_tokens.json"), v1_tokens);
    const auto hash_3 = tv::detail::md5_hex(server_3);
    tvtest::write_file(f.mcp_auth() / "mcp-remote-0.0.9" / (hash_3 + "_tokens.json"), old_tokens, 0644);
    const auto hash_4 = tv::detail::md5_hex(server_4);
    tvtest::write_file(v1 / (hash_4 + "_tokens.json"), R"({"access_token": 17, "token_type": "Bearer"})");
    tvtest::write_file(f.mcp_auth() / "unrelated.json", "{}");

    bool old_is_newer = false;
    SUBCASE("the v1 file is newer") { old_is_newer = false; }
    SUBCASE("the 0.1.18 file is newer") { old_is_newer = true; }
    tvtest::set_mtime(v1 / (hash_1 + "_tokens.json"), old_is_newer ? t_old : t_new);
    tvtest::set_mtime(old / (hash_1 + "_tokens.json"), old_is_newer ? t_new : t_old);
    tvtest::set_mtime(f.mcp_auth() / "mcp-remote-0.0.9" / (hash_3 + "_tokens.json"), t_old);
    const auto before = fixture::snapshot(f.mcp_auth());

    auto store = f.open<mcp_store>();
    auto one = get(*store, server_1);
    REQUIRE(one.has_value());
    if (old_is_newer) {
        CHECK(one->access_token.reveal() == "mcpr-old-at");
        CHECK(one->expires_at ==
              tv::clock::time_point{std::chrono::seconds{t_new + 3600}});  // mtime + expires_in
    } else {
        CHECK(one->access_token.reveal() == "mcpr-at");
        CHECK(one->expires_at == unix_ms(1795411511802));
        CHECK(one->extra.value("requested_scope", "") == "openid email profile");
    }
    REQUIRE(one->refresh_token.has_value());
    CHECK(one->scopes == std::vector<std::string>{"read", "write"});
    CHECK(one->client_id == "cid-from-mcp-remote");
    REQUIRE(one->client_secret.has_value());
    CHECK(one->client_secret->reveal() == "csecret-from-mcp-remote");

    auto two = get(*store, server_2);  // hashed with mcp-remote's extra options
    REQUIRE(two.has_value());
    CHECK(two->access_token.reveal() == "mcpr-at");
    CHECK(two->client_id.empty());  // no client_info.json beside it

    auto three = get(*store, server_3);
    REQUIRE(three.has_value());
    CHECK(three->expires_at == tv::clock::time_point{std::chrono::seconds{t_old + 3600}});
    CHECK_FALSE(get(*store, server_4).has_value());

    CHECK(tvtest::migrated(f.events, "mcp_remote") == 3);
    CHECK(tvtest::skips(f.events, "mcp_remote", make_error_code(tv::errc::wrong_type)) == 1);
    CHECK(tvtest::skips(f.events, "mcp_remote", make_error_code(tv::errc::invalid_url)) == 1);
    CHECK(fixture::snapshot(f.mcp_auth()) == before);  // never modified, never deleted
}

TEST_CASE("imported credentials follow the store: it wins, and a logout is never undone by a re-import") {
    fixture f;
    const auto v1 = f.mcp_auth() / "mcp-remote-v1";
    tvtest::write_file(v1 / (hash_1 + "_tokens.json"), v1_tokens);
    tvtest::write_file(v1 / (hash_2 + "_tokens.json"), v1_tokens);
    {
        auto current = f.open<plain_store>();
        tv::token t;
        t.access_token = tv::secret_string{"current-1"};
        REQUIRE(current->put(id(server_1), t).has_value());
    }
    auto store = f.open<mcp_store>();
    CHECK(get(*store, server_1)->access_token.reveal() == "current-1");
    CHECK(get(*store, server_2)->access_token.reveal() == "mcpr-at");
    REQUIRE(store->erase(id(server_2)).value());  // logout
    REQUIRE(store->erase(id(server_1)).value());

    f.events.clear();
    auto next = f.open<mcp_store>();
    CHECK_FALSE(get(*next, server_1).has_value());
    CHECK_FALSE(get(*next, server_2).has_value());
    CHECK(tvtest::migrated(f.events, "mcp_remote") == 0);
}

TEST_CASE("mcp_remote_config and codex_config follow MCP_REMOTE_CONFIG_DIR, CODEX_HOME, then HOME") {
    const char* saved_home = std::getenv("HOME");
    const std::string home = saved_home != nullptr ? saved_home : "";
    ::setenv("HOME", "/home/someone", 1);
    ::unsetenv("MCP_REMOTE_CONFIG_DIR");
    ::unsetenv("CODEX_HOME");
    CHECK(tv::migration::mcp_remote_config::base_directory({}) == fs::path("/home/someone/.mcp-auth"));
    CHECK(tv::migration::codex_config::home({}) == fs::path("/home/someone/.codex"));
    ::setenv("MCP_REMOTE_CONFIG_DIR", "/elsewhere/auth", 1);
    ::setenv("CODEX_HOME", "/elsewhere/codex", 1);
    CHECK(tv::migration::mcp_remote_config::base_directory({}) == fs::path("/elsewhere/auth"));
    CHECK(tv::migration::codex_config::home({}) == fs::path("/elsewhere/codex"));
    ::unsetenv("MCP_REMOTE_CONFIG_DIR");
    ::unsetenv("CODEX_HOME");
    if (saved_home != nullptr)
        ::setenv("HOME", home.c_str(), 1);
    else
        ::unsetenv("HOME");
    CHECK(tv::migration::mcp_remote_config::servers({}).empty());
}

TEST_CASE("from_codex imports each server's newest entry and leaves the file as it was") {
    fixture f;
    const nlohmann::json file = {
        {"linear|0123456789abcdef",
         {{"server_name", "linear"},
          {"server_url", "https://mcp.linear.example/mcp"},
          {"client_id", "codex-client"},
          {"access_token", "codex-at-new"},
          {"expires_at", 1795411511802LL},
          {"refresh_token", "codex-rt"},
          {"scopes", {"read", "write"}},
          {"issuer", "https://auth.linear.example"}}},
        {"linear-renamed|fedcba9876543210",  // same server under another label, expiring earlier
         {{"server_name", "linear-renamed"},
          {"server_url", "https://mcp.linear.example/mcp"},
          {"client_id", "c"},
          {"access_token", "codex-at-old"},
          {"expires_at", 1700000000000LL}}},
        {"legacy|aaaaaaaaaaaaaaaa",  // an older build: "scope" string, no expiry
         {{"server_name", "legacy"},
          {"server_url", "https://legacy.example.com/mcp"},
          {"client_id", "c2"},
          {"access_token", "codex-at-legacy"},
          {"expires_at", nullptr},
          {"refresh_token", nullptr},
          {"scope", "a b"}}},
        {"executor:job:bbbbbbbbbbbbbbbb",
         {{"server_name", "executor:job"},
          {"server_url", "https://exec.example.com/mcp"},
          {"client_id", "c3"},
          {"access_token", "codex-at-exec"},
          {"executor_owned", true}}},
        {"broken|cccccccccccccccc", {{"server_name", "broken"}, {"client_id", "c4"}, {"access_token", "x"}}},
        {"saturated|dddddddddddddddd",  // Codex saturates an overflowing expiry at u64::MAX
         {{"server_name", "saturated"},
          {"server_url", "https://sat.example.com/mcp"},
          {"client_id", "c5"},
          {"access_token", "codex-at-sat"},
          {"expires_at", 18446744073709551615ULL}}}};
    tvtest::write_file(f.codex_file(), file.dump());
    const auto before = tvtest::state_of(f.codex_file());

    auto store = f.open<codex_store>();
    auto linear = get(*store, "https://mcp.linear.example/mcp");
    REQUIRE(linear.has_value());
    CHECK(linear->access_token.reveal() == "codex-at-new");
    CHECK(linear->expires_at == unix_ms(1795411511802));
    CHECK(linear->client_id == "codex-client");
    CHECK(linear->issuer == "https://auth.linear.example");
    CHECK(linear->scopes == std::vector<std::string>{"read", "write"});
    CHECK_FALSE(linear->extra.contains("server_name"));
    auto legacy = get(*store, "https://legacy.example.com/mcp");
    REQUIRE(legacy.has_value());
    CHECK(legacy->scopes == std::vector<std::string>{"a", "b"});
    CHECK_FALSE(legacy->expires_at.has_value());
    CHECK_FALSE(legacy->refresh_token.has_value());
    CHECK_FALSE(get(*store, "https://exec.example.com/mcp").has_value());
    auto saturated = get(*store, "https://sat.example.com/mcp");
    REQUIRE(saturated.has_value());
    CHECK_FALSE(saturated->expires_at.has_value());

    CHECK(tvtest::migrated(f.events, "codex") == 3);
    CHECK(tvtest::skips(f.events, "codex", make_error_code(tv::errc::missing_field)) == 1);
    CHECK(tvtest::state_of(f.codex_file()) == before);
}

TEST_CASE(
    "a Codex file that is a directory, not JSON, a symlink or someone else's is skipped with an event") {
    fixture f;
    tv::errc expected = tv::errc::not_a_regular_file;
    SUBCASE("a directory") { fs::create_directories(f.codex_file()); }
    SUBCASE("not JSON") {
        tvtest::write_file(f.codex_file(), "this is not json");
        expected = tv::errc::malformed_json;
    }
    SUBCASE("a JSON array") {
        tvtest::write_file(f.codex_file(), "[1, 2]");
        expected = tv::errc::wrong_type;
    }
    SUBCASE("a symlink") {
        tvtest::write_file(f.dir.path() / "real.json", "{}");
        fs::create_directories(f.codex_file().parent_path());
        fs::create_symlink(f.dir.path() / "real.json", f.codex_file());
        expected = tv::errc::symlink_refused;
    }
    SUBCASE("owned by another user") {
        if (::geteuid() != 0) return;  // only root can give a file away
        tvtest::write_file(f.codex_file(), "{}");
        REQUIRE(::chown(f.codex_file().c_str(), 65534, 65534) == 0);
        expected = tv::errc::wrong_owner;
    }
    auto store = f.open<codex_store>();
    auto all = store->list();
    REQUIRE(all.has_value());
    CHECK(all->empty());
    CHECK(tvtest::skips(f.events, "codex", make_error_code(expected)) == 1);
    CHECK(store->put(id(server_1), tvtest::sample_token("x")).has_value());  // start-up was not blocked
}

TEST_CASE("importers and legacy keyring layouts chain together") {
    using tv::keyring::memory;
    using all_sources = tv::migration::chain<tv::migration::from_legacy_keyring<memory>,
                                             tv::migration::from_mcp_remote<test_mcp_remote>,
                                             tv::migration::from_codex<test_codex>>;
    fixture f;
    tvtest::write_file(f.mcp_auth() / "mcp-remote-v1" / (hash_1 + "_tokens.json"), v1_tokens);
    tvtest::write_file(f.codex_file(), nlohmann::json{{"k",
                                                       {{"server_name", "s"},
                                                        {"server_url", server_1},
                                                        {"client_id", "c"},
                                                        {"access_token", "codex-loses"}}},
                                                      {"k2",
                                                       {{"server_name", "s2"},
                                                        {"server_url", server_3},
                                                        {"client_id", "c"},
                                                        {"access_token", "codex-wins"}}}}
                                           .dump());
    auto legacy = std::move(*memory::open(f.options.keyring()).value());
    tvtest::write_item(legacy, "oauth:tokens", nlohmann::json{{server_2, tvtest::legacy_token("b")}}.dump());

    auto store = f.open<store_t<all_sources>>();
    CHECK(get(*store, server_1)->access_token.reveal() == "mcpr-at");  // mcp-remote is listed before Codex
    CHECK(get(*store, server_2)->access_token.reveal() == "legacy-at-b");
    CHECK(get(*store, server_3)->access_token.reveal() == "codex-wins");
    CHECK_FALSE(tvtest::has_item(legacy, "oauth:tokens"));
    CHECK(fs::exists(f.codex_file()));
}

}  // namespace test_migration_importers
