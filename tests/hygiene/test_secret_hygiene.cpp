// tests/hygiene/test_secret_hygiene.cpp: no freed heap block still holds a secret after any parse path.
//
// This executable replaces the global operator new and delete (so it is a suite of its own): while a
// test scans, every block freed is searched for a canary token before it goes back to the heap. A copy
// of a token that was freed without being wiped (a parser's buffer, a temporary std::string, a JSON
// document, a fingerprint's text) is counted. Covered: token endpoint responses (read_token_response,
// token_from_response, the credential manager's refresh), parse_token and serialize_token, unknown fields
// holding secrets, the store's own bundle read and write path, and the Codex, mcp-remote and legacy
// keyring importers. Blocks are searched for the canary as written in the input and as decoded from
// JSON escapes.
#include <doctest/doctest.h>

#include <malloc.h>

#include <tokenvault/backend/sealed_file.hpp>
#include <tokenvault/cipher/xchacha20poly1305.hpp>
#include <tokenvault/diagnostics/none.hpp>
#include <tokenvault/json.hpp>
#include <tokenvault/keyring/memory.hpp>
#include <tokenvault/lifecycle.hpp>
#include <tokenvault/locking/process.hpp>
#include <tokenvault/migration/claude_code.hpp>
#include <tokenvault/migration/codex.hpp>
#include <tokenvault/migration/keyring_items.hpp>
#include <tokenvault/migration/mcp_remote.hpp>
#include <tokenvault/migration/none.hpp>
#include <tokenvault/migration/opencode.hpp>
#include <tokenvault/store.hpp>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <new>

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "support/memory_keyring.hpp"
#include "support/temp_dir.hpp"

namespace {

// The canary every test plants (set before a scan starts; plain chars, no allocation while scanning).
char g_canary[64] = {};
std::size_t g_canary_size = 0;
std::atomic<bool> g_scanning{false};
std::atomic<std::size_t> g_leaks{0};

void inspect(void* p) noexcept {
    if (p == nullptr || !g_scanning.load(std::memory_order_relaxed) || g_canary_size == 0) return;
    const std::size_t n = ::malloc_usable_size(p);
    if (n >= g_canary_size && ::memmem(p, n, g_canary, g_canary_size) != nullptr)
        g_leaks.fetch_add(1, std::memory_order_relaxed);
}

void* allocate(std::size_t n) {
    void* p = std::malloc(n == 0 ? 1 : n);
    if (p == nullptr) throw std::bad_alloc();
    return p;
}

/// Counts the freed blocks that still hold `canary` while `fn` runs.
template <class Fn>
std::size_t leaks_during(std::string_view canary, Fn&& fn) {
    REQUIRE(canary.size() < sizeof g_canary);
    std::memcpy(g_canary, canary.data(), canary.size());
    g_canary_size = canary.size();
    g_leaks = 0;
    struct scan {
        scan() noexcept { g_scanning = true; }
        ~scan() { g_scanning = false; }
    } scanning;
    fn();
    return g_leaks.load();
}

}  // namespace

void* operator new(std::size_t n) { return allocate(n); }
void* operator new[](std::size_t n) { return allocate(n); }
void operator delete(void* p) noexcept {
    inspect(p);
    std::free(p);
}
void operator delete[](void* p) noexcept {
    inspect(p);
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    inspect(p);
    std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
    inspect(p);
    std::free(p);
}

namespace tv = tokenvault;
namespace fs = std::filesystem;

namespace {

constexpr std::string_view canary = "CANARYh7Qz3kWm9pXr";

/// A JSON string holding the canary, long enough to leave the short-string buffer, half of it escaped.
std::string secret_json(std::string_view tag) {
    return "\"" + std::string(canary) + "-" + std::string(tag) +
           "-\\u0041\\/0123456789abcdefghijklmnopqrstuvwxyz\"";
}

std::string response_body() {
    return "{\"access_token\":" + secret_json("at") + ",\"refresh_token\":" + secret_json("rt") +
           ",\"id_token\":" + secret_json("id") + ",\"token_type\":\"Bearer\",\"expires_in\":3600," +
           "\"x-secret\":{\"nested\":[" + secret_json("extra") + "]}}";
}

/// Wipes a std::string the test itself owns before it is freed (its copies are not the library's).
void wipe(std::string& s) {
    std::memset(s.data(), 0, s.size());
    s.clear();
    s.shrink_to_fit();
}

}  // namespace

TEST_CASE("the detector finds a freed copy of the canary (it can fail)") {
    const auto found = leaks_during(canary, [] {
        auto* copy =
            new std::string(std::string(canary) + " in a plain heap string, long enough for the heap");
        delete copy;
    });
    CHECK(found >= 1);
    CHECK(leaks_during(canary, [] {
              tv::detail::secret_text wiped(canary);
              wiped += " in wiped memory, long enough for the heap";
          }) == 0);
    // What parsing a response into a plain JSON document and dumping it did: copies left behind.
    std::string body = "{\"access_token\":" + secret_json("at") + "}";
    CHECK(leaks_during(canary, [&] {
              auto doc = nlohmann::json::parse(body);
              auto text = doc.dump();
          }) >= 2);
    wipe(body);
}

TEST_CASE("token endpoint responses leave no freed copy of a token") {
    std::string body = response_body();
    const auto now = tv::clock::now();
    CHECK(leaks_during(canary, [&] {
              auto answer = tv::read_token_response(body, now);
              REQUIRE(answer.outcome() == tv::refresh_outcome::refreshed);
              tv::token copy = answer.issued();
              tv::token moved = std::move(copy);
          }) == 0);
    CHECK(leaks_during(canary, [&] { auto t = tv::token_from_response(body, now); }) == 0);
    std::string error_body =
        "{\"error\":\"invalid_request\",\"error_description\":" + secret_json("desc") + "}";
    CHECK(leaks_during(canary, [&] { auto answer = tv::read_token_response(error_body, now, 400); }) == 0);
    std::string bad_body =
        "{\"access_token\":" + secret_json("at") + ",\"expires_at\":\"2201-01-01T00:00:00Z\"}";
    CHECK(leaks_during(canary, [&] { auto answer = tv::read_token_response(bad_body, now); }) == 0);
    wipe(body);
    wipe(error_body);
    wipe(bad_body);
}

TEST_CASE("parse_token, serialize_token and unknown fields leave no freed copy of a token") {
    std::string body = response_body();
    CHECK(leaks_during(canary, [&] {
              auto t = tv::parse_token(body, {tv::clock::now()});
              REQUIRE(t.has_value());
              auto text = tv::serialize_token(*t);
              REQUIRE(text.has_value());
              auto back = tv::parse_token(text->view());
              REQUIRE(back.has_value());
              tv::extra_json extra = back->extra;  // a copy of unknown fields holding a secret
              extra["more"] = extra;
          }) == 0);
    wipe(body);
}

TEST_CASE("the store's bundle read and write path leaves no freed copy of a token") {
    using store_type =
        tv::token_store<tv::backend::sealed_file<tv::keyring::allow_volatile<tv::keyring::memory>>,
                        tv::cipher::xchacha20poly1305, tv::locking::process, tv::migration::none,
                        tv::diagnostics::none>;
    tvtest::temp_dir dir(true);
    const auto o = tvtest::fresh_store_options(dir, "tv-hygiene-");
    const auto id = tv::credential_id::parse("https://mcp.example.com/mcp").value();
    const auto other = tv::credential_id::parse("https://other.example.com/mcp").value();
    std::string body = response_body();
    CHECK(leaks_during(canary, [&] {
              auto t = tv::parse_token(body, {tv::clock::now()});
              REQUIRE(t.has_value());
              {
                  store_type writer(o);
                  REQUIRE(writer.put(id, *t));
                  REQUIRE(writer.put(other, *t));  // a second write copies the first entry's text
              }
              store_type reader(o);  // a cold load: decrypt, read, cache
              auto got = reader.get(id);
              REQUIRE(got.has_value());
              REQUIRE(got->has_value());
              auto listed = reader.list();
              REQUIRE(reader.erase(other));
          }) == 0);
    wipe(body);
}

namespace {

const std::string server_url = "https://mcp.example.com/sse";

struct hygiene_codex : tv::migration::codex_config {
    static fs::path home(const tv::store_options& o) { return o.directory.parent_path() / "codex"; }
};
struct hygiene_mcp_remote : tv::migration::mcp_remote_config {
    static fs::path base_directory(const tv::store_options& o) {
        return o.directory.parent_path() / "mcp-auth";
    }
    static std::vector<tv::migration::mcp_remote_server> servers(const tv::store_options&) {
        return {{server_url, {}, {}}};
    }
};

template <class M>
using import_store = tv::token_store<tv::backend::memory, tv::cipher::xchacha20poly1305, tv::locking::threads,
                                     M, tv::diagnostics::none>;

void write_text(const fs::path& p, std::string text) {
    fs::create_directories(p.parent_path());
    {
        std::ofstream out(p, std::ios::binary);
        out << text;
    }
    fs::permissions(p, fs::perms::owner_read | fs::perms::owner_write);
    wipe(text);
}

}  // namespace

namespace {

struct hygiene_claude : tv::migration::claude_code_config {
    static fs::path credentials_file(const tv::store_options& o) {
        return o.directory.parent_path() / "claude" / ".credentials.json";
    }
};
struct hygiene_opencode : tv::migration::opencode_config {
    static fs::path auth_file(const tv::store_options& o) {
        return o.directory.parent_path() / "opencode" / "mcp-auth.json";
    }
};

}  // namespace

TEST_CASE("the Claude Code and opencode importers leave no freed copy of a token") {
    tvtest::temp_dir dir(true);
    tv::store_options o;
    o.directory = dir.path() / "store";
    write_text(dir.path() / "claude" / ".credentials.json",
               "{\"claudeAiOauth\":{\"accessToken\":" + secret_json("ai") +
                   "},\"mcpOAuth\":{\"srv|0123456789abcdef\":{" + "\"serverName\":\"srv\",\"serverUrl\":\"" +
                   server_url + "\",\"accessToken\":" + secret_json("at") + ",\"refreshToken\":" +
                   secret_json("rt") + ",\"expiresAt\":1795392000000,\"scope\":\"a b\"," +
                   "\"clientId\":\"c\",\"clientSecret\":" + secret_json("cs") + "}}}");
    write_text(dir.path() / "opencode" / "mcp-auth.json",
               "{\"srv\":{\"serverUrl\":\"" + server_url +
                   "\",\"tokens\":{\"accessToken\":" + secret_json("oat") +
                   ",\"refreshToken\":" + secret_json("ort") + ",\"expiresAt\":1795392000,\"scope\":\"a\"}," +
                   "\"clientInfo\":{\"clientId\":\"c\",\"clientSecret\":" + secret_json("ocs") + "}}}");
    CHECK(leaks_during(canary, [&] {
              import_store<tv::migration::from_claude_code<hygiene_claude>> s(o);
              REQUIRE(s.list()->size() == 1);
          }) == 0);
    CHECK(leaks_during(canary, [&] {
              import_store<tv::migration::from_opencode<hygiene_opencode>> s(o);
              REQUIRE(s.list()->size() == 1);
          }) == 0);
}

TEST_CASE("the importers leave no freed copy of a token") {
    tvtest::temp_dir dir(true);
    tv::store_options o;
    o.directory = dir.path() / "store";
    write_text(
        dir.path() / "codex" / ".credentials.json",
        "{\"srv\":{\"server_name\":\"srv\",\"server_url\":\"" + server_url + "\",\"client_id\":\"c\"," +
            "\"access_token\":" + secret_json("at") + ",\"refresh_token\":" + secret_json("rt") +
            ",\"expires_at\":1795392000000,\"scopes\":[\"a\"],\"x\":{\"k\":" + secret_json("x") + "}}," +
            "\"bad\":{\"server_url\":\"https://h:04:/\",\"access_token\":" + secret_json("bad") + "}}");
    const auto hash = tv::detail::md5_hex(server_url);
    write_text(dir.path() / "mcp-auth" / "mcp-remote-0.1.37" / (hash + "_tokens.json"), response_body());
    write_text(dir.path() / "mcp-auth" / "mcp-remote-0.1.37" / (hash + "_client_info.json"),
               "{\"client_id\":\"cid\",\"client_secret\":" + secret_json("cs") + "}");
    CHECK(leaks_during(canary, [&] {
              import_store<tv::migration::from_codex<hygiene_codex>> s(o);
              REQUIRE(s.list()->size() == 1);
          }) == 0);
    CHECK(leaks_during(canary, [&] {
              import_store<tv::migration::from_mcp_remote<hygiene_mcp_remote>> s(o);
              REQUIRE(s.list()->size() == 1);
          }) == 0);

    // Legacy per-item keyring layout: the items live in a keyring::memory service.
    tvtest::temp_dir legacy_dir(true);
    const auto legacy = tvtest::fresh_store_options(legacy_dir, "tv-hygiene-legacy-");
    {
        auto c = tvtest::control_of(legacy);
        const std::lock_guard lock(c->mutex);
        std::string item =
            "{\"access_token\":" + secret_json("legacy") + ",\"expires_at\":\"0001-01-01T00:00:00Z\"}";
        c->items.insert_or_assign("oauth:" + server_url, tv::detail::secure_buffer::copy_of(item));
        wipe(item);
    }
    using legacy_store =
        tv::token_store<tv::backend::sealed_file<tv::keyring::allow_volatile<tv::keyring::memory>>,
                        tv::cipher::xchacha20poly1305, tv::locking::process,
                        tv::migration::from_keyring_items<tv::keyring::memory>, tv::diagnostics::none>;
    CHECK(leaks_during(canary, [&] {
              legacy_store s(legacy);
              REQUIRE(s.list()->size() == 1);
          }) == 0);
}
