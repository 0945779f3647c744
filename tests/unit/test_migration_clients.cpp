// tests/unit/test_migration_clients.cpp: importing the MCP logins Claude Code and opencode keep on disk.
// The fixtures are byte for byte what the clients' own login code wrote (Claude Code 2.1.332 `claude mcp
// login`, opencode 1.18.33 `opencode mcp auth`, against tests/fixtures/oauth_login_server.mjs; copies in
// tests/fixtures/clients/). The importers must never change the files they read.
#include <doctest/doctest.h>

#include <tokenvault/backend/sealed_file.hpp>
#include <tokenvault/cipher/xchacha20poly1305.hpp>
#include <tokenvault/diagnostics/callback.hpp>
#include <tokenvault/keyring/memory.hpp>
#include <tokenvault/locking/process.hpp>
#include <tokenvault/migration/chain.hpp>
#include <tokenvault/migration/claude_code.hpp>
#include <tokenvault/migration/opencode.hpp>
#include <tokenvault/store.hpp>

#include <memory>
#include <string>
#include <vector>

#include "../support/legacy.hpp"
#include "../support/temp_dir.hpp"

namespace test_migration_clients {  // unity builds put several test files in one translation unit

namespace tv = tokenvault;
namespace fs = std::filesystem;

namespace {

// Claude Code 2.1.332, ~/.claude/.credentials.json after `claude mcp login fixture`.
const std::string claude_file =
    R"({"mcpOAuth":{"fixture|089c68f51447b06b":{"serverName":"fixture","serverUrl":"http://127.0.0.1:18080/mcp","accessToken":"LkFtJF832wRQxFvCawgtdwFP1nZyi1TIqDhMc-uO94p","discoveryState":{"authorizationServerUrl":"http://127.0.0.1:18080","oauthMetadataFound":true,"authServerMetadataUrl":null},"clientId":"u1GWGK7rpJyetSzLNSGZdBOIQlgd9Gf6xp9aQWeZeQ7","issuer":"http://127.0.0.1:18080","redirectUri":"http://localhost:61051/callback","refreshToken":"fiSiDxPKDk8cI_D9cuE7K285J365eeeu-tqrK1ge0WU","expiresAt":1795969587898,"scope":"mcp.read mcp.write"}}})";

// opencode 1.18.33, ~/.local/share/opencode/mcp-auth.json after `opencode mcp auth fixture`.
const std::string opencode_file = R"({
  "fixture": {
    "tokens": {
      "accessToken": "ELwH4X9ccXWDfBWWO6Rgfz4DjMWFYHsIHrIMVGn-HHn",
      "refreshToken": "Smh14AAU_cvL-XYf9iq8ZKz6z0ejo4q5ZoccItlkjQx",
      "expiresAt": 1795969622.216,
      "scope": "mcp.read mcp.write"
    },
    "clientInfo": {
      "clientId": "OiQ-HODQnIsUNyhI75k5770esNswaHDFMHaIbFJNDhH",
      "clientIdIssuedAt": 1795966019
    },
    "serverUrl": "http://127.0.0.1:18080/mcp"
  }
})";

struct test_claude : tv::migration::claude_code_config {
    static fs::path credentials_file(const tv::store_options& o) {
        return o.directory.parent_path() / "claude" / ".credentials.json";
    }
};
struct test_opencode : tv::migration::opencode_config {
    static fs::path auth_file(const tv::store_options& o) {
        return o.directory.parent_path() / "opencode" / "mcp-auth.json";
    }
};

using key_holder = tv::keyring::allow_volatile<tv::keyring::memory>;
template <class M>
using store_t = tv::token_store<tv::backend::sealed_file<key_holder>, tv::cipher::xchacha20poly1305,
                                tv::locking::process, M, tv::diagnostics::callback>;
using claude_store = store_t<tv::migration::from_claude_code<test_claude>>;
using opencode_store = store_t<tv::migration::from_opencode<test_opencode>>;

struct fixture {
    tvtest::temp_dir dir;
    tv::store_options options;
    std::vector<tv::events::any> events;
    fixture() {
        options.app_name = tvtest::unique_name("tv-clients");
        options.directory = dir.path() / "store";
    }
    fs::path claude_file() const { return dir.path() / "claude" / ".credentials.json"; }
    fs::path opencode_file() const { return dir.path() / "opencode" / "mcp-auth.json"; }
    template <class S>
    std::unique_ptr<S> open() {
        auto s = std::make_unique<S>(options);
        s->diagnostics().set([this](const tv::events::any& e) { events.push_back(e); });
        return s;
    }
};

template <class S>
std::optional<tv::token> get(S& store, const std::string& url) {
    auto got = store.get(tv::credential_id::parse(url).value());
    REQUIRE(got.has_value());
    return *got;
}

tv::clock::time_point unix_ms(long long ms) {
    return tv::clock::time_point{
        std::chrono::duration_cast<tv::clock::duration>(std::chrono::milliseconds{ms})};
}

}  // namespace

TEST_CASE("from_claude_code imports Claude Code's own credentials file field-exact, once") {
    fixture f;
    tvtest::write_file(f.claude_file(), claude_file);
    const auto before = tvtest::state_of(f.claude_file());
    {
        auto store = f.open<claude_store>();
        auto t = get(*store, "http://127.0.0.1:18080/mcp");
        REQUIRE(t.has_value());
        CHECK(t->access_token.reveal() == "LkFtJF832wRQxFvCawgtdwFP1nZyi1TIqDhMc-uO94p");
        REQUIRE(t->refresh_token.has_value());
        CHECK(t->refresh_token->reveal() == "fiSiDxPKDk8cI_D9cuE7K285J365eeeu-tqrK1ge0WU");
        CHECK(t->expires_at == unix_ms(1795969587898));
        CHECK(t->scopes == std::vector<std::string>{"mcp.read", "mcp.write"});
        CHECK(t->client_id == "u1GWGK7rpJyetSzLNSGZdBOIQlgd9Gf6xp9aQWeZeQ7");
        CHECK(t->issuer == "http://127.0.0.1:18080");
        CHECK(t->token_type == "Bearer");
        CHECK(tvtest::migrated(f.events, "claude_code") == 1);
        REQUIRE(store->erase(tv::credential_id::parse("http://127.0.0.1:18080/mcp").value()).value());
    }
    f.events.clear();
    auto again = f.open<claude_store>();
    CHECK_FALSE(get(*again, "http://127.0.0.1:18080/mcp").has_value());  // a logout is not undone
    CHECK(tvtest::migrated(f.events, "claude_code") == 0);
    CHECK(tvtest::state_of(f.claude_file()) == before);
}

TEST_CASE("from_claude_code: logged-out entries, bad entries and the Claude.ai login are not imported") {
    fixture f;
    const nlohmann::json doc = {
        {"claudeAiOauth", {{"accessToken", "claude-ai-at"}, {"refreshToken", "claude-ai-rt"}}},
        {"mcpOAuth",
         {{"a|1",
           {{"serverName", "a"},
            {"serverUrl", "https://a.example.com/mcp"},
            {"accessToken", "a-at"},
            {"expiresAt", 1795969587898LL},
            {"discoveryState", {{"authorizationServerUrl", "https://as.a"}}}}},
          {"a-renamed|2",
           {{"serverName", "a-renamed"},
            {"serverUrl", "https://a.example.com/mcp"},
            {"accessToken", "a-older"},
            {"expiresAt", 1700000000000LL}}},
          {"out|3",
           {{"serverName", "out"},
            {"serverUrl", "https://out.example.com/mcp"},
            {"accessToken", ""},
            {"clientId", "kept-registration"}}},
          {"nourl|4", {{"serverName", "nourl"}, {"accessToken", "x"}}},
          {"badexp|5",
           {{"serverName", "b"},
            {"serverUrl", "https://b.example.com/mcp"},
            {"accessToken", "b"},
            {"expiresAt", "tomorrow"}}},
          {"secret|6",
           {{"serverName", "s"}, {"serverUrl", "https://s.example.com/mcp"}, {"accessToken", "s-at"}}}}},
        {"mcpOAuthClientConfig", {{"secret|6", {{"clientSecret", "s-secret"}}}}}};
    tvtest::write_file(f.claude_file(), doc.dump());
    auto store = f.open<claude_store>();
    auto a = get(*store, "https://a.example.com/mcp");
    REQUIRE(a.has_value());
    CHECK(a->access_token.reveal() == "a-at");  // the later expiry wins
    CHECK(a->issuer == "https://as.a");         // from discoveryState
    auto s = get(*store, "https://s.example.com/mcp");
    REQUIRE(s.has_value());
    REQUIRE(s->client_secret.has_value());
    CHECK(s->client_secret->reveal() == "s-secret");
    CHECK_FALSE(get(*store, "https://out.example.com/mcp").has_value());
    CHECK_FALSE(get(*store, "https://b.example.com/mcp").has_value());
    auto all = store->list();
    REQUIRE(all.has_value());
    CHECK(all->size() == 2);
    CHECK(tvtest::migrated(f.events, "claude_code") == 2);
    CHECK(tvtest::skips(f.events, "claude_code", make_error_code(tv::errc::missing_field)) == 2);
    CHECK(tvtest::skips(f.events, "claude_code", make_error_code(tv::errc::wrong_type)) == 1);
}

TEST_CASE("from_opencode imports opencode's own mcp-auth.json field-exact, once") {
    fixture f;
    tvtest::write_file(f.opencode_file(), opencode_file);
    const auto before = tvtest::state_of(f.opencode_file());
    {
        auto store = f.open<opencode_store>();
        auto t = get(*store, "http://127.0.0.1:18080/mcp");
        REQUIRE(t.has_value());
        CHECK(t->access_token.reveal() == "ELwH4X9ccXWDfBWWO6Rgfz4DjMWFYHsIHrIMVGn-HHn");
        REQUIRE(t->refresh_token.has_value());
        CHECK(t->refresh_token->reveal() == "Smh14AAU_cvL-XYf9iq8ZKz6z0ejo4q5ZoccItlkjQx");
        CHECK(t->expires_at == unix_ms(1795969622216));  // seconds with a fraction
        CHECK(t->scopes == std::vector<std::string>{"mcp.read", "mcp.write"});
        CHECK(t->client_id == "OiQ-HODQnIsUNyhI75k5770esNswaHDFMHaIbFJNDhH");
        CHECK_FALSE(t->client_secret.has_value());
        CHECK(tvtest::migrated(f.events, "opencode") == 1);
    }
    f.events.clear();
    auto again = f.open<opencode_store>();
    CHECK(tvtest::migrated(f.events, "opencode") == 0);
    CHECK(tvtest::state_of(f.opencode_file()) == before);
}

TEST_CASE("from_opencode: logins under way, entries without a URL and deep or broken files are skipped") {
    fixture f;
    SUBCASE("entries") {
        const nlohmann::json doc = {{"pending",
                                     {{"clientInfo", {{"clientId", "c"}}},
                                      {"codeVerifier", "v"},
                                      {"oauthState", "s"},
                                      {"serverUrl", "https://pending.example.com/mcp"}}},
                                    {"old", {{"tokens", {{"accessToken", "old-at"}}}}},
                                    {"ok",
                                     {{"tokens", {{"accessToken", "ok-at"}, {"expiresAt", 1795969622}}},
                                      {"clientInfo", {{"clientId", "cid"}, {"clientSecret", "csec"}}},
                                      {"serverUrl", "https://ok.example.com/mcp"}}}};
        tvtest::write_file(f.opencode_file(), doc.dump());
        auto store = f.open<opencode_store>();
        auto ok = get(*store, "https://ok.example.com/mcp");
        REQUIRE(ok.has_value());
        REQUIRE(ok->client_secret.has_value());
        CHECK(ok->client_secret->reveal() == "csec");
        CHECK_FALSE(get(*store, "https://pending.example.com/mcp").has_value());
        CHECK(tvtest::skips(f.events, "opencode", make_error_code(tv::errc::missing_field)) == 2);
    }
    SUBCASE("nested deeper than the cap") {
        tvtest::write_file(f.opencode_file(), std::string(100000, '[') + std::string(100000, ']'));
        auto store = f.open<opencode_store>();
        CHECK(store->list().has_value());
        CHECK(tvtest::skips(f.events, "opencode", make_error_code(tv::errc::too_large)) == 1);
    }
    SUBCASE("not JSON") {
        tvtest::write_file(f.opencode_file(), "{\"fixture\": ");
        auto store = f.open<opencode_store>();
        CHECK(store->list().has_value());
        CHECK(tvtest::skips(f.events, "opencode", make_error_code(tv::errc::malformed_json)) == 1);
    }
}

TEST_CASE("json_depth_within counts brackets outside strings only") {
    using tv::detail::json_depth_within;
    CHECK(json_depth_within(R"({"a":[{"b":"[[[[{{{{"}]})", 3));
    CHECK_FALSE(json_depth_within(R"({"a":[{"b":[1]}]})", 3));
    CHECK(json_depth_within(R"("\"[[[[")", 0));
    CHECK(json_depth_within("", 0));
}

}  // namespace test_migration_clients
