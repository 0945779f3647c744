// tests/unit/test_keyring_bundle.cpp: backend::keyring_bundle through token_store.
//
// One keyring read for many gets, round trips across instances, the size limit enforced before any
// keyring write (a Windows-sized keyring of 2560 bytes), unparsable items refused and never overwritten,
// remembered keyring failures, reload before every write (a writer that bypasses the stamp), and
// cross-process visibility and merging with real processes over keyring::file.
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "tokenvault/backend/keyring_bundle.hpp"
#include "tokenvault/diagnostics/counters.hpp"
#include "tokenvault/keyring/file.hpp"
#include "tokenvault/keyring/memory.hpp"
#include "tokenvault/locking/process.hpp"
#include "tokenvault/migration/none.hpp"
#include "tokenvault/store.hpp"

#include "support/forked.hpp"
#include "support/memory_keyring.hpp"
#include "support/temp_dir.hpp"
#include "support/tokens.hpp"

namespace test_keyring_bundle {  // unity builds put several test files in one translation unit

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace tokenvault;

namespace {

/// keyring::memory with the item limit of Windows Credential Manager (2560 bytes).
class small_keyring {
public:
    using policy_family = family::keyring;
    static constexpr std::string_view tier = "small";
    static constexpr bool persistent = false;
    static constexpr std::size_t max_item_size = 2560;
    [[nodiscard]] static result<std::optional<small_keyring>> open(const keyring_options& options) {
        auto inner = keyring::memory::open(options);
        if (!inner) return inner.error();
        if (!*inner) return std::optional<small_keyring>{};
        return std::optional<small_keyring>{small_keyring{std::move(**inner)}};
    }
    [[nodiscard]] std::string_view tier_name() const noexcept { return tier; }
    [[nodiscard]] result<std::optional<detail::secure_buffer>> read(std::string_view account) {
        return inner_.read(account);
    }
    [[nodiscard]] result<void> write(std::string_view account, std::span<const std::byte> secret) {
        if (secret.size() > max_item_size)
            return error{errc::keyring_item_too_large, "small_keyring: truncated!"};
        return inner_.write(account, secret);
    }
    [[nodiscard]] result<bool> erase(std::string_view account) { return inner_.erase(account); }

private:
    explicit small_keyring(keyring::memory inner) : inner_(std::move(inner)) {}
    keyring::memory inner_;
};
static_assert(keyring::keyring_policy<small_keyring>);

template <class K>
using bundle_store = token_store<backend::keyring_bundle<K>, cipher::xchacha20poly1305, locking::process,
                                 migration::none, diagnostics::counters>;
using mem_store = bundle_store<keyring::memory>;

static_assert(backend::backend_policy<backend::keyring_bundle<keyring::memory>>);
static_assert(backend::keyring_bundle<keyring::file>::persistent);
static_assert(!backend::keyring_bundle<keyring::memory>::persistent);
static_assert(backend::keyring_bundle<keyring::memory>::shared &&
              !backend::keyring_bundle<keyring::memory>::uses_cipher);
static_assert(backend::traits_of<backend::keyring_bundle<keyring::memory>>.reload_before_write);

std::error_code ec(errc c) { return make_error_code(c); }

/// Options for a store in `<dir>/store` with a fresh keyring::memory service.
store_options options_in(const tvtest::temp_dir& dir) {
    return tvtest::fresh_store_options(dir, "tv-bundle-");
}

credential_id id(int n) {
    return credential_id::parse("https://mcp.example.com/b" + std::to_string(n)).value();
}

token make_token(const std::string& access) {
    token t;
    t.access_token = secret_string(access);
    t.refresh_token = secret_string("refresh-" + access);
    t.scopes = {"read", "write"};
    return t;
}

using tvtest::control_of;
using tvtest::reads_of;
using tvtest::writes_of;

/// The bundle item of the store's keyring::memory service, or "" when absent.
std::string item_of(const store_options& o) { return tvtest::item_of(o, "bundle"); }

/// Sets the bundle item of the store's keyring::memory service.
void set_item(const store_options& o, std::string_view bytes) { tvtest::set_item(o, "bundle", bytes); }

}  // namespace

TEST_CASE("keyring_bundle: a second instance reads the first one's bundle from the one item") {
    tvtest::temp_dir tmp;
    auto o = options_in(tmp);
    {
        mem_store a(o);
        REQUIRE(a.put(id(1), make_token("one")));
        REQUIRE(a.put(id(2), make_token("two")));
    }
    mem_store b(o);
    auto got = b.get(id(2));
    REQUIRE(got);
    REQUIRE(got->has_value());
    CHECK((*got)->access_token.reveal() == "two");
    auto c = control_of(o);
    {
        const std::lock_guard lock(c->mutex);
        REQUIRE(c->items.size() == 1);
        CHECK(c->items.begin()->first == "bundle");
    }
    CHECK(item_of(o).find("tokenvault-bundle") != std::string::npos);
    CHECK(fs::exists(o.directory / "keyring-bundle.lock"));
    CHECK(fs::exists(o.directory / "keyring-bundle.stamp"));
    CHECK(b.backend().status().tier == "memory");
}

TEST_CASE("keyring_bundle: 50 gets cost one keyring read; reads of an empty store write nothing") {
    tvtest::temp_dir tmp;
    auto o = options_in(tmp);
    {
        mem_store empty(o);
        for (int i = 0; i < 20; ++i) {
            auto got = empty.get(id(i));
            REQUIRE(got);
            CHECK_FALSE(got->has_value());
        }
        CHECK(reads_of(o) == 1);
        CHECK(writes_of(o) == 0);
        CHECK(item_of(o).empty());
    }
    {
        mem_store a(o);
        for (int i = 0; i < 5; ++i) REQUIRE(a.put(id(i), make_token("t" + std::to_string(i))));
    }
    const auto before = reads_of(o);
    mem_store b(o);
    for (int i = 0; i < 50; ++i) REQUIRE(b.get(id(i)));
    REQUIRE(b.list());
    CHECK(reads_of(o) - before == 1);
    CHECK(b.diagnostics().read().keyring_reads == 1);
}

TEST_CASE("keyring_bundle: a bundle over the keyring's item limit is refused before any write") {
    tvtest::temp_dir tmp;
    auto o = options_in(tmp);
    bundle_store<small_keyring> s(o);
    int stored = 0;
    result<std::uint64_t> last = std::uint64_t{0};
    for (int i = 0; i < 100; ++i) {
        const auto item_before = item_of(o);
        const auto writes_before = writes_of(o);
        last = s.put(id(i), make_token(std::string(200, 'a')));
        if (!last) {
            CHECK(writes_of(o) == writes_before);  // refused before the keyring saw it
            CHECK(item_of(o) == item_before);
            break;
        }
        ++stored;
    }
    REQUIRE_FALSE(last);
    CHECK(last.code() == ec(errc::keyring_item_too_large));
    CHECK(last.error().context.find("2560") != std::string::npos);
    CHECK(last.error().context.find("truncated") == std::string::npos);  // our check, not the keyring's
    CHECK(stored > 2);
    auto kept = s.list();  // the cache was rolled back: what is stored is what the keyring holds
    REQUIRE(kept);
    CHECK(kept->size() == static_cast<std::size_t>(stored));
    bundle_store<small_keyring> fresh(o);
    auto again = fresh.list();
    REQUIRE(again);
    CHECK(again->size() == static_cast<std::size_t>(stored));
}

TEST_CASE("keyring_bundle: an item that is not a bundle is refused and never overwritten") {
    tvtest::temp_dir tmp;
    auto o = options_in(tmp);
    std::string garbage;
    errc expected = errc::malformed_json;
    SUBCASE("not JSON") { garbage = "{not json"; }
    SUBCASE("JSON, not a bundle") { garbage = R"({"tokens":[1,2,3]})"; }
    SUBCASE("a newer bundle version") {
        garbage = R"({"format":"tokenvault-bundle","version":99,"entries":{}})";
        expected = errc::unsupported_format_version;
    }
    set_item(o, garbage);
    mem_store s(o);
    for (int i = 0; i < 3; ++i) CHECK(s.get(id(1)).code() == ec(expected));
    CHECK(s.put(id(1), make_token("x")).code() == ec(expected));
    CHECK(s.erase(id(1)).code() == ec(expected));
    CHECK(item_of(o) == garbage);
    CHECK(writes_of(o) == 0);
    CHECK(reads_of(o) == 1);  // remembered: no prompt storm
}

TEST_CASE("keyring_bundle: a failed keyring read is remembered until the store is reopened") {
    tvtest::temp_dir tmp;
    auto o = options_in(tmp);
    {
        mem_store a(o);
        REQUIRE(a.put(id(1), make_token("x")));
    }
    auto c = control_of(o);
    {
        const std::lock_guard lock(c->mutex);
        c->fail_reads = errc::keyring_denied;
    }
    const auto before = reads_of(o);
    mem_store s(o);
    for (int i = 0; i < 10; ++i) CHECK(s.get(id(1)).code() == ec(errc::keyring_denied));
    CHECK(s.put(id(2), make_token("y")).code() == ec(errc::keyring_denied));
    CHECK(reads_of(o) - before == 1);
    {
        const std::lock_guard lock(c->mutex);
        c->fail_reads.reset();
    }
    mem_store reopened(o);
    auto got = reopened.get(id(1));
    REQUIRE(got);
    CHECK(got->has_value());
}

TEST_CASE("keyring_bundle: a write reloads the item first, even when the stamp did not change") {
    tvtest::temp_dir tmp;
    auto o = options_in(tmp);
    mem_store s(o);
    REQUIRE(s.put(id(1), make_token("one")));
    // Another writer (an older program, another directory sharing the service) replaces the item
    // without touching our stamp: reads keep the cache, but the next write must not drop its entry.
    {
        mem_store other(o);
        REQUIRE(other.get(id(1)));
        bundle b = [&] {
            auto parsed = parse_bundle(item_of(o));
            REQUIRE(parsed);
            return std::move(*parsed);
        }();
        b.last_generation += 1;
        b.entries.emplace(id(2).hash(),
                          entry{id(2), make_token("sneaked-in"), b.last_generation, clock::now(), {}});
        auto text = serialize_bundle(b);
        REQUIRE(text);
        set_item(o, text->view());
    }
    REQUIRE(s.put(id(3), make_token("three")));
    auto all = s.list();
    REQUIRE(all);
    CHECK(all->size() == 3);
    auto parsed = parse_bundle(item_of(o));
    REQUIRE(parsed);
    CHECK(parsed->entries.count(id(2).hash()) == 1);
    CHECK(parsed->entries.count(id(3).hash()) == 1);
}

TEST_CASE("keyring_bundle: another process's write is seen by a cached reader and merged by writers") {
    tvtest::temp_dir tmp;
    auto o = options_in(tmp);
    using file_store = bundle_store<keyring::file>;
    file_store parent(o);
    REQUIRE(parent.put(id(0), make_token("parent")));
    REQUIRE(parent.get(id(0)));
    auto worker = [&](int base) {
        return [&o, base] {
            file_store s(o);
            for (int i = 0; i < 50; ++i)
                if (!s.put(id(base + i), make_token(tvtest::numbered("p", base + i)))) return 10;
            return 0;
        };
    };
    const pid_t a = tvtest::spawn(worker(100));
    const pid_t b = tvtest::spawn(worker(1000));
    CHECK(tvtest::wait_for(a) == 0);
    CHECK(tvtest::wait_for(b) == 0);
    auto seen = parent.get(id(149));  // the stamp changed: the cached parent reloads with one lstat
    REQUIRE(seen);
    REQUIRE(seen->has_value());
    CHECK((*seen)->access_token.reveal() == "p149");
    auto all = parent.list();
    REQUIRE(all);
    CHECK(all->size() == 101);
    CHECK(parent.diagnostics().read().reloads >= 1);
}

}  // namespace test_keyring_bundle
