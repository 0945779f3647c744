// tests/unit/test_store_basics.cpp: the public API through the umbrella header only (also built
// against the single header), plus the things the matrix does not cover: presets, store_with, errors,
// redaction and diagnostics.
#include <doctest/doctest.h>

#include <tokenvault/tokenvault.hpp>

#include <memory>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

namespace test_store_basics {  // unity builds put several test files in one translation unit

using namespace tokenvault;

namespace {
credential_id id(const char* url) { return credential_id::parse(url).value(); }
token make(const char* access) {
    token t;
    t.access_token = secret_string{access};
    return t;
}
}  // namespace

TEST_CASE("store_with names policies in any order and fills in the defaults") {
    using a = store_with<locking::none, diagnostics::counters>;
    using b = store_with<diagnostics::counters, locking::none, backend::memory>;
    static_assert(std::is_same_v<a, b>);
    static_assert(std::is_same_v<a, token_store<backend::memory, cipher::xchacha20poly1305, locking::none,
                                                migration::none, diagnostics::counters>>);
    static_assert(std::is_same_v<store_with<>, token_store<>>);
    static_assert(std::is_same_v<presets::memory_mt, store_with<locking::threads>>);
    CHECK(true);
}

TEST_CASE("a quick tour of the memory store") {
    presets::memory_st store;
    const auto server = id("https://MCP.Example.com:443/mcp#fragment");
    CHECK(server.resource() == "https://mcp.example.com/mcp");
    REQUIRE(store.put(server, make("secret-value")).has_value());
    auto got = store.get(server);
    REQUIRE(got.has_value());
    REQUIRE(got->has_value());
    CHECK((*got)->access_token.reveal() == "secret-value");
}

TEST_CASE("secrets print as <redacted>") {
    token t = make("canary-access-1234");
    t.refresh_token = secret_string{"canary-refresh-5678"};
    std::ostringstream out;
    out << t << " " << t.access_token << " " << *t.refresh_token;
    CHECK(out.str().find("canary") == std::string::npos);
    CHECK(out.str().find("<redacted>") != std::string::npos);
}

TEST_CASE("errors say what to do and carry no secret") {
    presets::memory_st store;
    token bad = make("canary-bad-token");
    bad.token_type = "";
    auto r = store.put(id("https://x.example/mcp"), bad);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().message().find("canary") == std::string::npos);
    CHECK(r.code().category().name() == std::string("tokenvault"));
    CHECK_THROWS_AS((void)r.value(), bad_result_access);
    CHECK(make_error_code(errc::keyring_locked).message().find("unlock") != std::string::npos);
    CHECK(make_error_code(errc::cipher_unavailable).message().find("xchacha20poly1305") != std::string::npos);
}

TEST_CASE("diagnostics::callback receives typed events without secrets") {
    store_with<locking::none, diagnostics::callback> store;
    struct seen_operation {
        std::string operation, credential;
        bool failed;
    };
    std::vector<seen_operation> seen;
    store.diagnostics().set([&](const events::any& e) {  // events are views: copy what is kept
        if (const auto* op = std::get_if<events::store_operation>(&e))
            seen.push_back({std::string(events::to_string(op->operation)), std::string(op->credential),
                            static_cast<bool>(op->failure)});
    });
    const auto server = id("https://x.example/mcp");
    REQUIRE(store.put(server, make("canary-cb-token")).has_value());
    REQUIRE(seen.size() == 1);
    CHECK(seen.front().operation == "put");
    CHECK(seen.front().credential == server.hash());
    CHECK_FALSE(seen.front().failed);
}

TEST_CASE("diagnostics::counters counts operations and failures") {
    store_with<locking::threads, diagnostics::counters> store;
    REQUIRE(store.put(id("https://x.example/mcp"), make("a")).has_value());
    CHECK(store.compare_and_swap(id("https://x.example/mcp"), 99, make("b")).code() == errc::conflict);
    const auto counts = store.diagnostics().read();
    CHECK(counts.operations == 2);
    CHECK(counts.operation_failures == 1);
}

TEST_CASE("diagnostics::none costs nothing") {
    static_assert(std::is_empty_v<diagnostics::none>);
    static_assert(std::is_empty_v<locking::none>);
    static_assert(sizeof(presets::memory_st) < sizeof(store_with<locking::none, diagnostics::counters>));
    CHECK(true);
}

TEST_CASE("aes256gcm reports missing hardware as an error, never a crash") {
    auto available = cipher::aes256gcm::available();
    if (!available) CHECK(available.code() == errc::cipher_unavailable);
    std::vector<std::byte> key(32), nonce(cipher::aes256gcm::nonce_size), msg(10, std::byte{7});
    std::vector<std::byte> sealed(msg.size() + cipher::aes256gcm::tag_size), opened(msg.size());
    auto s = cipher::aes256gcm::seal(key, nonce, {}, msg, sealed);
    CHECK(s.has_value() == available.has_value());
    if (s) {
        CHECK(cipher::aes256gcm::open(key, nonce, {}, sealed, opened).has_value());
        CHECK(opened == msg);
        sealed[3] ^= std::byte{1};
        CHECK(cipher::aes256gcm::open(key, nonce, {}, sealed, opened).code() == errc::corrupt_file);
    }
}

TEST_CASE("ciphers seal, open and detect tampering") {
    std::vector<std::byte> key(32, std::byte{1}), nonce(cipher::xchacha20poly1305::nonce_size, std::byte{2});
    std::vector<std::byte> ad{std::byte{9}}, msg(100, std::byte{3});
    std::vector<std::byte> sealed(msg.size() + cipher::xchacha20poly1305::tag_size), opened(msg.size());
    REQUIRE(cipher::xchacha20poly1305::seal(key, nonce, ad, msg, sealed).has_value());
    CHECK(sealed != std::vector<std::byte>(sealed.size()));
    REQUIRE(cipher::xchacha20poly1305::open(key, nonce, ad, sealed, opened).has_value());
    CHECK(opened == msg);
    ad[0] = std::byte{8};
    CHECK(cipher::xchacha20poly1305::open(key, nonce, ad, sealed, opened).code() == errc::corrupt_file);
    CHECK(cipher::xchacha20poly1305::seal(std::span<const std::byte>(key).first(5), nonce, ad, msg, sealed)
              .code() == errc::invalid_argument);
    std::vector<std::byte> plain(msg.size());
    REQUIRE(cipher::none::seal(key, {}, {}, msg, plain).has_value());
    CHECK(plain == msg);
}

namespace {
/// Counts live instances, to catch a result that leaks or destroys twice.
struct counted {
    static inline int alive = 0;
    int value = 0;
    explicit counted(int v) : value(v) { ++alive; }
    counted(const counted& o) : value(o.value) { ++alive; }
    counted(counted&& o) noexcept : value(o.value) { ++alive; }
    counted& operator=(const counted&) = default;
    counted& operator=(counted&&) noexcept = default;
    ~counted() { --alive; }
};
}  // namespace

TEST_CASE("result holds a value or an error through every copy, move and assignment") {
    {
        result<counted> v{counted{1}};
        result<counted> e{error{errc::conflict, "here"}};
        CHECK(counted::alive == 1);
        result<counted> v2 = v;  // copy of a value
        result<counted> e2 = e;  // copy of an error
        CHECK(counted::alive == 2);
        CHECK(v2->value == 1);
        CHECK(e2.error() == errc::conflict);
        v2 = e;  // value -> error
        CHECK(counted::alive == 1);
        CHECK_FALSE(v2.has_value());
        CHECK(v2.error().context == "here");
        e2 = v;  // error -> value
        CHECK(counted::alive == 2);
        CHECK(e2->value == 1);
        e2 = result<counted>{counted{5}};  // value -> value, by move
        CHECK(e2->value == 5);
        v2 = std::move(e2);  // error -> value, by move
        CHECK(v2->value == 5);
        CHECK(counted::alive == 3);
        auto moved = std::move(v);
        CHECK(moved->value == 1);
        const auto& same = v2;
        v2 = same;  // self-assignment keeps the value
        CHECK(v2->value == 5);
        CHECK(result<counted> { std::in_place, 7 } -> value == 7);
    }
    CHECK(counted::alive == 0);
    static_assert(!std::is_copy_constructible_v<result<std::unique_ptr<int>>>);
    static_assert(std::is_nothrow_move_constructible_v<result<std::unique_ptr<int>>>);
    result<std::unique_ptr<int>> owner{std::make_unique<int>(3)};
    auto taken = std::move(owner);
    CHECK(**taken == 3);
}

TEST_CASE("with_token shows the cached token under the read lock, or nullptr") {
    presets::memory_mt store;
    const auto present = id("https://mcp.example.com/with-token");
    REQUIRE(store.put(present, make("at-visible")));
    auto seen = store.with_token(present, [](const token* t) -> result<std::string> {
        if (t == nullptr) return error{errc::not_logged_in};
        return std::string(t->access_token.reveal());
    });
    REQUIRE(seen.has_value());
    CHECK(*seen == "at-visible");
    auto missing = store.with_token(id("https://mcp.example.com/absent"),
                                    [](const token* t) -> result<bool> { return t == nullptr; });
    REQUIRE(missing.has_value());
    CHECK(*missing);
}

}  // namespace test_store_basics
