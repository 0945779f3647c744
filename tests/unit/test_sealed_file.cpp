// tests/unit/test_sealed_file.cpp: backend::sealed_file through token_store, on real files and processes.
//
// Round trips across instances and fork()ed processes, keyring traffic (one read for many gets, one
// write per process, none for a miss), merges of concurrent writers, on-disk secrecy and modes,
// refusals that leave the file byte-for-byte unchanged (foreign key, missing key, newer version, other
// cipher, insecure modes, symlinks, oversize), quarantine of certain corruption, remembered keyring
// failures, tier fall-through, AES-GCM key rotation, the documented format, and 200 SIGKILL crash rounds.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "tokenvault/backend/sealed_file.hpp"
#include "tokenvault/cipher/aes256gcm.hpp"
#include "tokenvault/cipher/xchacha20poly1305.hpp"
#include "tokenvault/diagnostics/callback.hpp"
#include "tokenvault/diagnostics/counters.hpp"
#include "tokenvault/keyring/file.hpp"
#include "tokenvault/keyring/first_available.hpp"
#include "tokenvault/keyring/memory.hpp"
#include "tokenvault/locking/process.hpp"
#include "tokenvault/migration/none.hpp"
#include "tokenvault/presets.hpp"
#include "tokenvault/store.hpp"

#include "support/forked.hpp"
#include "support/memory_keyring.hpp"
#include "support/temp_dir.hpp"
#include "support/tokens.hpp"

namespace test_sealed_file {  // unity builds put several test files in one translation unit

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace tokenvault;

namespace {

using memory_key = keyring::allow_volatile<keyring::memory>;
template <class K, class C = cipher::xchacha20poly1305, class D = diagnostics::counters>
using sealed_store = token_store<backend::sealed_file<K>, C, locking::process, migration::none, D>;
using mem_store = sealed_store<memory_key>;
using event_store = sealed_store<memory_key, cipher::xchacha20poly1305, diagnostics::callback>;
using file_store = sealed_store<keyring::file>;
using chain_store = sealed_store<keyring::first_available<memory_key, keyring::file>>;

static_assert(backend::backend_policy<backend::sealed_file<keyring::file>>);
static_assert(backend::backend_policy<backend::sealed_file<memory_key>>);
static_assert(keyring::accepted_key_holder<keyring::first_available<memory_key, keyring::file>>);
static_assert(!keyring::accepted_key_holder<keyring::memory>);
static_assert(!keyring::accepted_key_holder<keyring::first_available<keyring::memory, keyring::file>>);
static_assert(std::is_same_v<presets::embedded, token_store<backend::sealed_file<keyring::file>,
                                                            cipher::xchacha20poly1305, locking::process>>);

std::error_code ec(errc c) { return make_error_code(c); }

/// Options for a store in `<dir>/store` with a fresh keyring::memory service.
store_options options_in(const tvtest::temp_dir& dir) {
    return tvtest::fresh_store_options(dir, "tv-sealed-");
}

fs::path sealed_path(const store_options& o) { return o.directory / o.file_name; }

credential_id id(int n) {
    return credential_id::parse("https://mcp.example.com/s" + std::to_string(n)).value();
}

token make_token(const std::string& access) {
    token t;
    t.access_token = secret_string(access);
    t.refresh_token = secret_string("refresh-" + access);
    t.expires_at = clock::now() + 1h;
    t.scopes = {"read"};
    return t;
}

std::string read_all(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    REQUIRE(in);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Replaces `p` by a new file (a new inode: the change check is identity-based, and an in-place rewrite
/// within one coarse clock tick with the same size would look unchanged).
void write_all(const fs::path& p, std::string_view bytes, mode_t mode = 0600) {
    const auto temp = p.string() + ".test-tmp";
    const int fd = ::open(temp.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, mode);
    REQUIRE(fd >= 0);
    REQUIRE(::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
    REQUIRE(::fchmod(fd, mode) == 0);
    REQUIRE(::close(fd) == 0);
    REQUIRE(::rename(temp.c_str(), p.c_str()) == 0);
}

mode_t mode_of(const fs::path& p) {
    struct stat st {};
    REQUIRE(::lstat(p.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

/// Files in `dir` whose names contain `part`.
std::vector<fs::path> files_containing(const fs::path& dir, std::string_view part) {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.path().filename().string().find(part) != std::string::npos) out.push_back(e.path());
    return out;
}

using tvtest::control_of;
using tvtest::item_of;
using tvtest::random_hex;
using tvtest::reads_of;
using tvtest::set_item;
using tvtest::writes_of;

std::span<const std::byte> as_bytes(std::string_view s) {
    return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

/// Every string an event carries, for secret scans.
std::string text_of(const events::any& e) {
    return std::visit(
        [](const auto& ev) -> std::string {
            using E = std::decay_t<decltype(ev)>;
            std::string out;
            if constexpr (std::is_same_v<E, events::quarantined>)
                out = ev.original + " " + ev.moved_to + " " + ev.reason.message();
            if constexpr (std::is_same_v<E, events::keyring_read> || std::is_same_v<E, events::keyring_write>)
                out = std::string(ev.tier) + " " + ev.failure.message();
            if constexpr (std::is_same_v<E, events::store_operation>)
                out = std::string(events::to_string(ev.operation)) + " " + std::string(ev.credential) + " " +
                      ev.failure.message();
            if constexpr (std::is_same_v<E, events::drift>) out = ev.previous + " " + ev.current;
            return out;
        },
        e);
}

/// The header of the sealed file at `p` (the test reads it as docs/FORMAT.md describes).
backend::sealed_file_header header_of(const fs::path& p) {
    const auto bytes = read_all(p);
    auto h = backend::parse_sealed_header(as_bytes(bytes));
    REQUIRE(h);
    return *h;
}

}  // namespace

TEST_CASE("sealed_file: a second instance reads what the first wrote; disk and keyring hold no token") {
    tvtest::temp_dir tmp;
    auto o = options_in(tmp);
    const std::string canary = "CANARY-sealed-" + random_hex(8);
    {
        mem_store a(o);
        REQUIRE(a.put(id(1), make_token(canary)));
        REQUIRE(a.put(id(2), make_token("second")));
        CHECK(a.backend().status().key_cached);
    }
    mem_store b(o);  // fresh cache, fresh backend: the key comes from the keyring again
    auto got = b.get(id(1));
    REQUIRE(got);
    REQUIRE(got->has_value());
    CHECK((*got)->access_token.reveal() == canary);
    CHECK((*got)->refresh_token->reveal() == "refresh-" + canary);
    auto list = b.list();
    REQUIRE(list);
    CHECK(list->size() == 2);

    const auto raw = read_all(sealed_path(o));
    CHECK(raw.find(canary) == std::string::npos);
    CHECK(raw.find("refresh-") == std::string::npos);
    CHECK(raw.find("tokenvault-bundle") == std::string::npos);
    CHECK(raw.compare(0, 8, "TVSEALED") == 0);

    auto c = control_of(o);
    {
        const std::lock_guard lock(c->mutex);
        REQUIRE(c->items.size() == 1);
        CHECK(c->items.begin()->first == "data-key");
        CHECK(c->items.begin()->second.size() == 32);
        CHECK(c->items.begin()->second.view().find(canary) == std::string_view::npos);
    }
    CHECK(mode_of(o.directory) == 0700);
    CHECK(mode_of(sealed_path(o)) == 0600);
    CHECK(mode_of(sealed_path(o).string() + ".lock") == 0600);

    const auto h = header_of(sealed_path(o));
    CHECK(h.version == 1);
    CHECK(h.cipher_id == cipher::xchacha20poly1305::id);
    CHECK(h.tier == "memory");
    CHECK(h.seal_counter == 2);
    auto key_id = backend::sealed_key_fingerprint(as_bytes(item_of(o, "data-key")));
    REQUIRE(key_id);
    CHECK(h.key_id == *key_id);
}

TEST_CASE("sealed_file: after another instance's write, a re-read serves exactly what a new instance reads") {
    tvtest::temp_dir tmp;
    auto o = options_in(tmp);
    mem_store a(o);
    mem_store b(o);
    for (int i = 1; i <= 3; ++i) REQUIRE(a.put(id(i), make_token("a" + std::to_string(i))));
    REQUIRE(b.put(id(2), make_token("b2")));  // a's file changed: one entry rewritten, one added
    REQUIRE(b.put(id(4), make_token("b4")));
    // `a` reads the file again, taking over its entries 1 and 3 (their text is unchanged).
    auto listed = a.list();
    REQUIRE(listed);
    REQUIRE(listed->size() == 4);
    mem_store fresh(o);
    for (int i = 1; i <= 4; ++i) {
        auto mine = a.get_entry(id(i));
        auto theirs = fresh.get_entry(id(i));
        REQUIRE(mine);
        REQUIRE(theirs);
        REQUIRE(mine->has_value());
        REQUIRE(theirs->has_value());
        CHECK((*mine)->token == (*theirs)->token);
        CHECK((*mine)->generation == (*theirs)->generation);
        CHECK((*mine)->updated_at == (*theirs)->updated_at);
        CHECK((*mine)->extra == (*theirs)->extra);  // what a put holds is what a reader reads back
    }
    CHECK((*a.get(id(2)))->access_token.reveal() == "b2");
}

TEST_CASE("sealed_file: status reports the file, the tier, the key and the identity") {
    tvtest::temp_dir tmp;
    auto o = options_in(tmp);
    mem_store s(o);
    auto before = s.backend().status();
    CHECK(before.file == sealed_path(o));
    CHECK(before.lock_file == fs::path(sealed_path(o).string() + ".lock"));
    CHECK_FALSE(before.key_cached);
    CHECK(before.tier.empty());
    CHECK_FALSE(before.identity_known);
    REQUIRE(s.put(id(1), make_token("x")));
    auto after = s.backend().status();
    CHECK(after.key_cached);
    CHECK(after.tier == "memory");
    CHECK(after.identity_known);
    REQUIRE(after.identity.has_value());
    CHECK(after.seal_counter == 1);
    CHECK_FALSE(after.keyring_failure.has_value());
    struct stat st {};
    REQUIRE(::lstat(sealed_path(o).c_str(), &st) == 0);
    CHECK(after.identity->ino == static_cast<std::uint64_t>(st.st_ino));
}

TEST_CASE("sealed_file: a fork()ed child's writes reach the parent, cached or fresh") {
    tvtest::temp_dir tmp;
    auto o = options_in(tmp);
    mem_store parent(o);
    REQUIRE(parent.put(id(1),
                       make_token("from-parent")));  // the key exists before the fork: the child inherits it
    REQUIRE(parent.get(id(1)));
    const pid_t pid = tvtest::spawn([&] {
        mem_store child(o);
        if (!child.put(id(2), make_token("from-child"))) return 1;
        auto mine = child.get(id(1));
        if (!mine || !mine->has_value() || (*mine)->access_token.reveal() != "from-parent") return 2;
        return 0;
    });
    CHECK(tvtest::wait_for(pid) == 0);
    auto seen = parent.get(id(2));  // the cached parent notices the child's write with one stat
    REQUIRE(seen);
    REQUIRE(seen->has_value());
    CHECK((*seen)->access_token.reveal() == "from-child");
    CHECK(parent.diagnostics().read().reloads == 1);
    mem_store fresh(o);
    auto again = fresh.get(id(2));
    REQUIRE(again);
    CHECK(again->has_value());
}

TEST_CASE("sealed_file: 50 gets cost one keyring read; a process writes its key once") {
    tvtest::temp_dir tmp;
    auto o = options_in(tmp);
    {
        mem_store writer(o);
        REQUIRE(writer.put(id(0), make_token("t0")));  // the first save: one lookup (a miss), one key write
        CHECK(reads_of(o) == 1);
        CHECK(writes_of(o) == 1);
        for (int i = 1; i <= 10; ++i) REQUIRE(writer.put(id(i), make_token("w")));
        CHECK(reads_of(o) == 1);
        CHECK(writes_of(o) == 1);
    }
    const auto reads_before = reads_of(o);
    const auto writes_before = writes_of(o);
    mem_store reader(o);
    for (int i = 0; i < 50; ++i) REQUIRE(reader.get(id(i)));
    CHECK(reads_of(o) - reads_before == 1);
    for (int i = 1; i <= 10; ++i) REQUIRE(reader.put(id(i), make_token("t" + std::to_string(i))));
    for (int i = 0; i < 50; ++i) REQUIRE(reader.get(id(i)));
    CHECK(reads_of(o) - reads_before == 1);
    CHECK(writes_of(o) == writes_before);  // the key exists: no keyring write at all
    CHECK(reader.diagnostics().read().keyring_reads == 1);
    CHECK(reader.diagnostics().read().file_writes == 10);
}

TEST_CASE("sealed_file: reads on an empty store touch neither keyring nor file") {
    tvtest::temp_dir tmp;
    auto o = options_in(tmp);
    mem_store s(o);
    for (int i = 0; i < 20; ++i) {
        auto got = s.get(id(i));
        REQUIRE(got);
        CHECK_FALSE(got->has_value());
    }
    auto list = s.list();
    REQUIRE(list);
    CHECK(list->empty());
    auto erased = s.erase(id(3));  // nothing to erase: no write either
    REQUIRE(erased);
    CHECK_FALSE(*erased);
    CHECK(reads_of(o) == 0);
    CHECK(writes_of(o) == 0);
    CHECK(item_of(o, "data-key").empty());
    CHECK_FALSE(fs::exists(sealed_path(o)));
    CHECK_FALSE(s.backend().status().key_cached);
}

TEST_CASE("sealed_file: two processes putting 50 ids each lose nothing") {
    tvtest::temp_dir tmp;
    auto o = options_in(tmp);
    auto worker = [&](int base) {
        return [&o, base] {
            file_store s(o);
            for (int i = 0; i < 50; ++i)
                if (!s.put(id(base + i), make_token(tvtest::numbered("p", base + i)))) return 10;
            return 0;
        };
    };
    const pid_t a = tvtest::spawn(worker(0));
    const pid_t b = tvtest::spawn(worker(1000));
    CHECK(tvtest::wait_for(a) == 0);
    CHECK(tvtest::wait_for(b) == 0);
    file_store parent(o);
    auto list = parent.list();
    REQUIRE(list);
    CHECK(list->size() == 100);
    for (int i = 0; i < 50; ++i) {
        for (const int base : {0, 1000}) {
            auto got = parent.get(id(base + i));
            REQUIRE(got);
            REQUIRE(got->has_value());
            CHECK((*got)->access_token.reveal() == tvtest::numbered("p", base + i));
        }
    }
    // One key for both (created once under the store lock), in the file keyring.
    CHECK(header_of(sealed_path(o)).tier == "file");
}

TEST_CASE("sealed_file: an insecure or symlinked file is refused and left unchanged") {
    tvtest::temp_dir tmp;
    auto o = options_in(tmp);
    {
        mem_store a(o);
        REQUIRE(a.put(id(1), make_token("x")));
    }
    const auto path = sealed_path(o);
    const auto original = read_all(path);
    SUBCASE("group-readable") {
        REQUIRE(::chmod(path.c_str(), 0640) == 0);
        mem_store s(o);
        CHECK(s.get(id(1)).code() == ec(errc::insecure_permissions));
        CHECK(s.put(id(2), make_token("y")).code() == ec(errc::insecure_permissions));
        CHECK(mode_of(path) == 0640);
    }
    SUBCASE("world-readable after a cached load") {
        mem_store s(o);
        REQUIRE(s.get(id(1)));
        ::usleep(20'000);  // past a coarse clock tick, so the chmod's ctime differs from the write's
        REQUIRE(::chmod(path.c_str(), 0604) == 0);  // ctime changes: the next get re-checks
        CHECK(s.get(id(1)).code() == ec(errc::insecure_permissions));
        CHECK(s.put(id(2), make_token("y")).code() == ec(errc::insecure_permissions));
    }
    SUBCASE("a symlink to a valid sealed file") {
        const auto real = tmp / "elsewhere.sealed";
        fs::rename(path, real);
        fs::create_symlink(real, path);
        mem_store s(o);
        CHECK(s.get(id(1)).code() == ec(errc::symlink_refused));
        CHECK(s.put(id(2), make_token("y")).code() == ec(errc::symlink_refused));
        CHECK(fs::is_symlink(path));
        CHECK(read_all(real) == original);
        return;
    }
    CHECK(read_all(path) == original);
    CHECK(files_containing(o.directory, ".corrupt-").empty());
}

TEST_CASE("sealed_file: an unreadable file is refused, never overwritten") {
    tvtest::temp_dir tmp;
    // Root reads anything: run the scenario as an unprivileged user in a child when we are root. Sticky,
    // as a shared directory must be to hold a store directory.
    const bool root = ::geteuid() == 0;
    if (root) REQUIRE(::chmod(tmp.path().c_str(), 01777) == 0);
    auto o = options_in(tmp);
    const pid_t pid = tvtest::spawn([&] {
        if (root && (::setgid(65534) != 0 || ::setuid(65534) != 0)) return 20;
        {
            mem_store a(o);
            if (!a.put(id(1), make_token("x"))) return 21;
        }
        const auto path = sealed_path(o);
        const auto original = read_all(path);
        if (::chmod(path.c_str(), 0) != 0) return 22;
        mem_store s(o);
        if (s.get(id(1)).code() != ec(errc::unreadable_store)) return 23;
        if (s.put(id(2), make_token("y")).code() != ec(errc::unreadable_store)) return 24;
        if (::chmod(path.c_str(), 0600) != 0) return 25;
        if (read_all(path) != original) return 26;
        return 0;
    });
    CHECK(tvtest::wait_for(pid) == 0);
}

TEST_CASE("sealed_file: an oversized file is refused without being read") {
    tvtest::temp_dir tmp;
    auto o = options_in(tmp);
    REQUIRE(::mkdir(o.directory.c_str(), 0700) == 0);
    const auto path = sealed_path(o);
    {
        const int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        REQUIRE(fd >= 0);
        REQUIRE(::write(fd, "TVSEALED", 8) == 8);
        REQUIRE(::ftruncate(fd, off_t{1} << 30) == 0);  // 1 GiB, sparse
        REQUIRE(::close(fd) == 0);
    }
    mem_store s(o);
    const auto started = std::chrono::steady_clock::now();
    CHECK(s.get(id(1)).code() == ec(errc::too_large));
    CHECK(s.put(id(1), make_token("x")).code() == ec(errc::too_large));
    CHECK(std::chrono::steady_clock::now() - started < 1s);
    CHECK(fs::file_size(path) == (std::uintmax_t{1} << 30));
    CHECK(reads_of(o) == 0);
}

TEST_CASE("sealed_file: certain corruption is quarantined, reported once, and the store goes on") {
    tvtest::temp_dir tmp;
    auto o = options_in(tmp);
    {
        mem_store a(o);
        REQUIRE(a.put(id(1), make_token("before")));
    }
    const auto path = sealed_path(o);
    auto bytes = read_all(path);
    std::string damaged;
    SUBCASE("garbage") { damaged = random_hex(200); }
    SUBCASE("empty") { damaged = ""; }
    SUBCASE("truncated in the header") { damaged = bytes.substr(0, 20); }
    SUBCASE("truncated after the header") { damaged = bytes.substr(0, header_of(path).size + 3); }
    SUBCASE("truncated ciphertext") { damaged = bytes.substr(0, bytes.size() - 5); }
    SUBCASE("a flipped ciphertext byte") {
        damaged = bytes;
        damaged[damaged.size() / 2 + 40] = static_cast<char>(damaged[damaged.size() / 2 + 40] ^ 0x01);
    }
    SUBCASE("a flipped seal counter (authenticated header)") {
        damaged = bytes;
        const auto h = header_of(path);
        damaged[h.size - 8] = static_cast<char>(damaged[h.size - 8] ^ 0x40);
    }
    SUBCASE("version 0") {
        damaged = bytes;
        damaged[8] = 0;
        damaged[9] = 0;
    }
    write_all(path, damaged);

    std::vector<events::quarantined> quarantines;
    event_store s(o);
    s.diagnostics().set([&](const events::any& e) {
        if (const auto* q = std::get_if<events::quarantined>(&e)) quarantines.push_back(*q);
    });
    auto first = s.get(id(1));
    REQUIRE_FALSE(first);
    CHECK(first.code() == ec(errc::corrupt_file));
    REQUIRE(quarantines.size() == 1);
    CHECK(quarantines[0].original == path.string());
    CHECK(first.error().context.find(quarantines[0].moved_to) != std::string::npos);
    CHECK(read_all(quarantines[0].moved_to) == damaged);
    CHECK(mode_of(quarantines[0].moved_to) == 0600);
    CHECK_FALSE(fs::exists(path));

    auto second = s.get(id(1));  // reported once: the next load sees no file
    REQUIRE(second);
    CHECK_FALSE(second->has_value());
    REQUIRE(s.put(id(2), make_token("after")));
    CHECK(quarantines.size() == 1);
    mem_store fresh(o);
    auto got = fresh.get(id(2));
    REQUIRE(got);
    REQUIRE(got->has_value());
    CHECK((*got)->access_token.reveal() == "after");
    CHECK(files_containing(o.directory, ".corrupt-").size() == 1);
}

TEST_CASE(
    "sealed_file: a put that meets a corrupt file quarantines it and fails with corrupt_file, unapplied") {
    tvtest::temp_dir tmp;
    auto o = options_in(tmp);
    std::vector<events::quarantined> quarantines;
    event_store s(o);
    s.diagnostics().set([&](const events::any& e) {
        if (const auto* q = std::get_if<events::quarantined>(&e)) quarantines.push_back(*q);
    });
    REQUIRE(s.put(id(1), make_token("one")));
    auto bytes = read_all(sealed_path(o));
    bytes.back() = static_cast<char>(bytes.back() ^ 0x80);  // the tag
    write_all(sealed_path(o), bytes);

    auto put = s.put(id(2), make_token("two"));  // the caller that meets the damage is told
    REQUIRE_FALSE(put);
    CHECK(put.code() == ec(errc::corrupt_file));
    REQUIRE(quarantines.size() == 1);
    CHECK(put.error().context.find(quarantines[0].moved_to) != std::string::npos);
    CHECK(put.error().message().find("not applied") != std::string::npos);
    CHECK(read_all(quarantines[0].moved_to) == bytes);
    CHECK_FALSE(fs::exists(sealed_path(o)));  // the put was not applied

    REQUIRE(s.put(id(2), make_token("two")));  // a retry works on what is there now
    CHECK(quarantines.size() == 1);
    auto one = s.get(id(1));
    REQUIRE(one);
    CHECK_FALSE(one->has_value());  // it was in the corrupt file only
    mem_store fresh(o);
    auto two = fresh.get(id(2));
    REQUIRE(two);
    CHECK(two->has_value());
}

TEST_CASE("sealed_file: a file sealed by another key is refused, unchanged, and the keyring is asked once") {
    tvtest::temp_dir tmp;
    auto o = options_in(tmp);
    {
        mem_store a(o);
        REQUIRE(a.put(id(1), make_token("x")));
    }
    const auto path = sealed_path(o);
    const auto original = read_all(path);
    const auto other_key = random_hex(16);  // 32 bytes, not the file's key
    SUBCASE("the key item was replaced") { set_item(o, "data-key", other_key); }
    SUBCASE("the key item was deleted") {
        auto c = control_of(o);
        const std::lock_guard lock(c->mutex);
        c->items.clear();
    }
    const auto key_before = item_of(o, "data-key");
    const auto reads_before = reads_of(o);
    const auto writes_before = writes_of(o);
    mem_store b(o);
    for (int i = 0; i < 5; ++i) {
        auto got = b.get(id(1));
        REQUIRE_FALSE(got);
        CHECK(got.code() == ec(errc::foreign_key));
        CHECK(got.error().context.find("'memory'") != std::string::npos);
        const auto message = got.error().message();
        const auto said = message.find("left unchanged");
        CHECK(said != std::string::npos);
        CHECK(message.find("left unchanged", said + 1) == std::string::npos);  // said once, not twice
    }
    auto put = b.put(id(2), make_token("y"));
    CHECK(put.code() == ec(errc::foreign_key));
    CHECK(reads_of(o) - reads_before <= 2);  // "data-key" and "data-key.previous", once
    CHECK(writes_of(o) == writes_before);    // never a new key that would orphan the file
    CHECK(item_of(o, "data-key") == key_before);
    CHECK(read_all(path) == original);
    CHECK(files_containing(o.directory, ".corrupt-").empty());
}

TEST_CASE("sealed_file: a newer format version or unknown flags are refused and never overwritten") {
    tvtest::temp_dir tmp;
    auto o = options_in(tmp);
    {
        mem_store a(o);
        REQUIRE(a.put(id(1), make_token("x")));
    }
    const auto path = sealed_path(o);
    auto bytes = read_all(path);
    SUBCASE("version 2") { bytes[8] = 2; }
    SUBCASE("version 256") {
        bytes[8] = 0;
        bytes[9] = 1;
    }
    SUBCASE("flags") { bytes[11] = 0x01; }
    write_all(path, bytes);
    mem_store b(o);
    CHECK(b.get(id(1)).code() == ec(errc::unsupported_format_version));
    CHECK(b.put(id(2), make_token("y")).code() == ec(errc::unsupported_format_version));
    CHECK(read_all(path) == bytes);
    CHECK(files_containing(o.directory, ".corrupt-").empty());
}

TEST_CASE("sealed_file: a file sealed with another cipher is refused naming that cipher") {
    tvtest::temp_dir tmp;
    auto o = options_in(tmp);
    {
        mem_store a(o);
        REQUIRE(a.put(id(1), make_token("x")));
    }
    const auto original = read_all(sealed_path(o));
    sealed_store<memory_key, cipher::aes256gcm> other(o);  // the cipher check comes before AES is needed
    auto got = other.get(id(1));
    REQUIRE_FALSE(got);
    CHECK(got.code() == ec(errc::invalid_argument));
    CHECK(got.error().context.find("cipher::xchacha20poly1305") != std::string::npos);
    CHECK(got.error().context.find("cipher::aes256gcm") != std::string::npos);
    CHECK(other.put(id(2), make_token("y")).code() == ec(errc::invalid_argument));
    CHECK(read_all(sealed_path(o)) == original);
}

TEST_CASE("sealed_file: a failed key fetch is remembered: one keyring read for ten gets") {
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
    mem_store b(o);
    for (int i = 0; i < 10; ++i) {
        auto got = b.get(id(1));
        REQUIRE_FALSE(got);
        CHECK(got.code() == ec(errc::keyring_denied));
    }
    CHECK(b.put(id(2), make_token("y")).code() == ec(errc::keyring_denied));
    CHECK(reads_of(o) - before == 1);
    CHECK(b.backend().status().keyring_failure.has_value());
    {
        const std::lock_guard lock(c->mutex);
        c->fail_reads.reset();
    }
    CHECK(b.get(id(1)).code() == ec(errc::keyring_denied));  // until the store is reopened
    CHECK(reads_of(o) - before == 1);
    mem_store reopened(o);
    auto got = reopened.get(id(1));
    REQUIRE(got);
    CHECK(got->has_value());
}

TEST_CASE("sealed_file: a failed key creation is remembered and creates nothing") {
    tvtest::temp_dir tmp;
    auto o = options_in(tmp);
    auto c = control_of(o);
    {
        const std::lock_guard lock(c->mutex);
        c->fail_writes = errc::keyring_locked;
    }
    mem_store s(o);
    for (int i = 0; i < 5; ++i) CHECK(s.put(id(i), make_token("x")).code() == ec(errc::keyring_locked));
    CHECK(writes_of(o) == 1);
    CHECK_FALSE(fs::exists(sealed_path(o)));
    auto got = s.get(id(0));  // the rolled-back cache holds nothing
    REQUIRE(got);
    CHECK_FALSE(got->has_value());
}

TEST_CASE("sealed_file: the keyring chain falls through, and a file keeps the tier its header names") {
    tvtest::temp_dir tmp;
    auto o = options_in(tmp);
    auto c = control_of(o);
    SUBCASE("memory unavailable: the key goes to the file tier, and stays there") {
        {
            const std::lock_guard lock(c->mutex);
            c->unavailable = true;
        }
        {
            chain_store a(o);
            REQUIRE(a.put(id(1), make_token("x")));
            CHECK(a.backend().status().tier == "file");
        }
        CHECK(header_of(sealed_path(o)).tier == "file");
        {
            const std::lock_guard lock(c->mutex);
            c->unavailable = false;  // the first tier answers again
        }
        chain_store b(o);
        auto got = b.get(id(1));
        REQUIRE(got);
        CHECK(got->has_value());
        REQUIRE(b.put(id(2), make_token("y")));
        CHECK(b.backend().status().tier == "file");
        CHECK(header_of(sealed_path(o)).tier == "file");  // no ping-pong between tiers
        CHECK(reads_of(o) == 0);
        CHECK(writes_of(o) == 0);
    }
    SUBCASE("the header's tier is unavailable now: refused, no second key elsewhere") {
        {
            chain_store a(o);
            REQUIRE(a.put(id(1), make_token("x")));
            CHECK(a.backend().status().tier == "memory");
        }
        const auto original = read_all(sealed_path(o));
        {
            const std::lock_guard lock(c->mutex);
            c->unavailable = true;
        }
        chain_store b(o);
        auto got = b.get(id(1));
        REQUIRE_FALSE(got);
        CHECK(got.code() == ec(errc::foreign_key));
        CHECK(got.error().context.find("'memory', which is unavailable now") != std::string::npos);
        CHECK(b.put(id(2), make_token("y")).code() == ec(errc::foreign_key));
        CHECK(read_all(sealed_path(o)) == original);
        CHECK_FALSE(fs::exists(o.directory / "keyring"));  // the file tier was never even opened
    }
}

TEST_CASE("sealed_file: the keyring tier is reported once, as chosen by the chain or by the file header") {
    using chain_events = sealed_store<keyring::first_available<memory_key, keyring::file>,
                                      cipher::xchacha20poly1305, diagnostics::callback>;
    tvtest::temp_dir tmp;
    auto o = options_in(tmp);
    struct seen_resolution {
        std::string tier, reason, backend;
        events::store_mode mode;
    };
    std::vector<seen_resolution> seen;
    const auto collect = [&](const events::any& e) {
        if (const auto* r = std::get_if<events::store_resolved>(&e))
            seen.push_back(
                {std::string(r->tier), events::to_string(r->reason), std::string(r->backend), r->mode});
    };
    {
        chain_events a(o);
        a.diagnostics().set(collect);
        REQUIRE(a.put(id(1), make_token("x")));
        REQUIRE(a.put(id(2), make_token("y")));
    }
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].tier == "memory");
    CHECK(seen[0].reason == "preferred");
    CHECK(seen[0].backend == "sealed_file/first_available(memory,file)");
    CHECK(seen[0].mode == events::store_mode::automatic);
    seen.clear();
    chain_events b(o);
    b.diagnostics().set(collect);
    REQUIRE(b.get(id(1)));
    REQUIRE(b.put(id(3), make_token("z")));
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].tier == "memory");
    CHECK(seen[0].reason == "file_header");
}

TEST_CASE("sealed_file: a header naming a tier this keyring is not is refused as foreign") {
    tvtest::temp_dir tmp;
    auto o = options_in(tmp);
    {
        mem_store a(o);
        REQUIRE(a.put(id(1), make_token("x")));
    }
    const auto path = sealed_path(o);
    const auto bytes = read_all(path);
    const auto h = header_of(path);
    // Rewrite the tier "memory" as "secret_service" (the header is authenticated, but the tier check
    // comes first).
    std::string edited = bytes.substr(0, backend::sealed_file_format::fixed_size - 1);
    edited.push_back(static_cast<char>(14));
    edited += "secret_service";
    edited += bytes.substr(h.size - 8);
    write_all(path, edited);
    const auto reads_before = reads_of(o);
    mem_store b(o);
    auto got = b.get(id(1));
    REQUIRE_FALSE(got);
    CHECK(got.code() == ec(errc::foreign_key));
    CHECK(got.error().context.find("'secret_service'") != std::string::npos);
    CHECK(reads_of(o) == reads_before);
    CHECK(read_all(path) == edited);
}

TEST_CASE("sealed_file: the file follows docs/FORMAT.md byte for byte") {
    tvtest::temp_dir tmp;
    auto o = options_in(tmp);
    // A key of our own in the keyring, and a file built by hand from the format description.
    std::array<unsigned char, 32> key{};
    randombytes_buf(key.data(), key.size());
    set_item(o, "data-key", std::string_view(reinterpret_cast<const char*>(key.data()), key.size()));
    std::array<unsigned char, 32> digest{};
    {
        const std::string_view context = "tokenvault/sealed_file/key-id/v1";
        crypto_generichash_state st;
        REQUIRE(crypto_generichash_init(&st, nullptr, 0, 32) == 0);
        REQUIRE(crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(context.data()),
                                          context.size()) == 0);
        REQUIRE(crypto_generichash_update(&st, key.data(), key.size()) == 0);
        REQUIRE(crypto_generichash_final(&st, digest.data(), digest.size()) == 0);
    }
    std::string header = "TVSEALED";
    header += std::string("\x01\x00", 2);  // version 1, little-endian
    header += '\x01';                      // cipher id: xchacha20poly1305
    header += '\x00';                      // flags
    header.append(reinterpret_cast<const char*>(digest.data()), 16);
    header += '\x06';
    header += "memory";
    header += std::string("\x07\x00\x00\x00\x00\x00\x00\x00", 8);  // seal counter 7
    // The credential hash: SHA-256 hex of "tokenvault-credential-v1\n" + canonical URL + "\n" + account.
    const std::string resource = "https://mcp.example.com/s1";
    std::array<unsigned char, 32> sha{};
    const std::string hash_input = "tokenvault-credential-v1\n" + resource + "\n";
    crypto_hash_sha256(sha.data(), reinterpret_cast<const unsigned char*>(hash_input.data()),
                       hash_input.size());
    char hex[65] = {};
    sodium_bin2hex(hex, sizeof hex, sha.data(), sha.size());
    CHECK(std::string(hex) == id(1).hash());
    CHECK(credential_id::canonicalize("HTTPS://MCP.Example.COM:443/mcp?x=1#top").value() ==
          "https://mcp.example.com/mcp?x=1");  // the example of docs/FORMAT.md
    const std::string json =
        std::string(R"({"format":"tokenvault-bundle","version":1,"last_generation":3,"entries":{")") + hex +
        R"(":{"resource":")" + resource + R"(","generation":3,"updated_at":"2026-01-02T03:04:05Z",)" +
        R"("token":{"access_token":"hand-made","token_type":"Bearer"}}}})";
    std::array<unsigned char, 24> nonce{};
    randombytes_buf(nonce.data(), nonce.size());
    std::vector<unsigned char> sealed(json.size() + 16);
    unsigned long long sealed_size = 0;
    REQUIRE(crypto_aead_xchacha20poly1305_ietf_encrypt(
                sealed.data(), &sealed_size, reinterpret_cast<const unsigned char*>(json.data()), json.size(),
                reinterpret_cast<const unsigned char*>(header.data()), header.size(), nullptr, nonce.data(),
                key.data()) == 0);
    REQUIRE(::mkdir(o.directory.c_str(), 0700) == 0);
    write_all(sealed_path(o), header +
                                  std::string(reinterpret_cast<const char*>(nonce.data()), nonce.size()) +
                                  std::string(reinterpret_cast<const char*>(sealed.data()), sealed_size));

    mem_store s(o);
    auto got = s.get_entry(id(1));
    REQUIRE(got);
    REQUIRE(got->has_value());
    CHECK((*got)->token.access_token.reveal() == "hand-made");
    CHECK((*got)->generation == 3);
    REQUIRE(s.put(id(2), make_token("y")));
    CHECK(header_of(sealed_path(o)).seal_counter == 8);  // the counter continues for the same key

    // And the other way: what the store wrote opens by hand.
    const auto written = read_all(sealed_path(o));
    const auto h = header_of(sealed_path(o));
    CHECK(written.compare(0, 30, header.substr(0, 30)) == 0);
    const auto* n = reinterpret_cast<const unsigned char*>(written.data() + h.size);
    const auto* c = n + 24;
    const std::size_t c_size = written.size() - h.size - 24;
    std::vector<unsigned char> plain(c_size - 16);
    unsigned long long plain_size = 0;
    REQUIRE(crypto_aead_xchacha20poly1305_ietf_decrypt(plain.data(), &plain_size, nullptr, c, c_size,
                                                       reinterpret_cast<const unsigned char*>(written.data()),
                                                       h.size, n, key.data()) == 0);
    auto doc = nlohmann::json::parse(std::string(reinterpret_cast<const char*>(plain.data()), plain_size));
    CHECK(doc["format"] == "tokenvault-bundle");
    CHECK(doc["version"] == 1);
    CHECK(doc["entries"].size() == 2);
    CHECK(doc["entries"][id(2).hash()]["token"]["access_token"] == "y");
}

TEST_CASE("sealed_file: AES-256-GCM rotates its key past 2^31 seals, crash-safely") {
    if (crypto_aead_aes256gcm_is_available() == 0) {
        MESSAGE("skipped: this CPU has no AES-GCM instructions");
        return;
    }
    using aes_store = sealed_store<memory_key, cipher::aes256gcm>;
    tvtest::temp_dir tmp;
    auto o = options_in(tmp);
    const auto path = sealed_path(o);
    aes_store stale(o);  // keeps the first key cached throughout
    REQUIRE(stale.put(id(1), make_token("one")));
    const auto old_key = item_of(o, "data-key");

    // Re-seal the file with its seal counter at 2^31, as if it had been written that often.
    auto reseal = [&](const std::string& key, std::uint64_t counter, const std::string& key_for_id) {
        const auto bytes = read_all(path);
        const auto h = header_of(path);
        std::vector<unsigned char> plain(bytes.size() - h.size - 12 - 16);
        unsigned long long plain_size = 0;
        const auto* ad = reinterpret_cast<const unsigned char*>(bytes.data());
        REQUIRE(crypto_aead_aes256gcm_decrypt(plain.data(), &plain_size, nullptr, ad + h.size + 12,
                                              bytes.size() - h.size - 12, ad, h.size, ad + h.size,
                                              reinterpret_cast<const unsigned char*>(key.data())) == 0);
        auto kid = backend::sealed_key_fingerprint(as_bytes(key_for_id));
        REQUIRE(kid);
        auto header = backend::encode_sealed_header(cipher::aes256gcm::id, *kid, "memory", counter);
        REQUIRE(header);
        std::string out(reinterpret_cast<const char*>(header->data()), header->size());
        std::string nonce(12, '\0');
        randombytes_buf(nonce.data(), nonce.size());
        std::vector<unsigned char> sealed(plain_size + 16);
        unsigned long long sealed_size = 0;
        REQUIRE(crypto_aead_aes256gcm_encrypt(sealed.data(), &sealed_size, plain.data(), plain_size,
                                              reinterpret_cast<const unsigned char*>(out.data()), out.size(),
                                              nullptr, reinterpret_cast<const unsigned char*>(nonce.data()),
                                              reinterpret_cast<const unsigned char*>(key_for_id.data())) ==
                0);
        write_all(path, out + nonce + std::string(reinterpret_cast<const char*>(sealed.data()), sealed_size));
    };
    reseal(old_key, std::uint64_t{1} << 31, old_key);

    aes_store writer(o);
    REQUIRE(writer.get(id(1)));
    const auto writes_before = writes_of(o);
    REQUIRE(writer.put(id(2), make_token("two")));  // seal 2^31 + 1: rotate first
    CHECK(writes_of(o) - writes_before == 2);       // previous := old key, then data-key := new key
    const auto new_key = item_of(o, "data-key");
    CHECK(new_key.size() == 32);
    CHECK(new_key != old_key);
    CHECK(item_of(o, "data-key.previous") == old_key);
    auto h = header_of(path);
    CHECK(h.seal_counter == 1);
    CHECK(h.key_id == *backend::sealed_key_fingerprint(as_bytes(new_key)));

    // An instance that still caches the old key fetches the new one once, and goes on.
    auto seen = stale.get(id(2));
    REQUIRE(seen);
    CHECK(seen->has_value());
    REQUIRE(stale.put(id(3), make_token("three")));
    CHECK(header_of(path).seal_counter == 2);
    CHECK(header_of(path).key_id == h.key_id);

    // A crash between the keyring writes and the file write leaves the file under the previous key: it
    // opens.
    reseal(new_key, 5, item_of(o, "data-key"));  // (same key; now simulate the crashed state below)
    set_item(o, "data-key.previous", new_key);
    const auto newer = random_hex(16);
    set_item(o, "data-key", newer);
    aes_store after_crash(o);
    auto all = after_crash.list();
    REQUIRE(all);
    CHECK(all->size() == 3);
    REQUIRE(after_crash.put(id(4), make_token("four")));
    h = header_of(path);
    CHECK(h.key_id == *backend::sealed_key_fingerprint(as_bytes(newer)));  // moved forward to the current key
    CHECK(h.seal_counter == 1);
    aes_store fresh(o);
    auto four = fresh.get(id(4));
    REQUIRE(four);
    CHECK(four->has_value());
}

TEST_CASE("sealed_file: no token in any error or event") {
    tvtest::temp_dir tmp;
    auto o = options_in(tmp);
    const std::string canary = "CANARY-events-" + random_hex(8);
    std::string seen;
    event_store s(o);
    s.diagnostics().set([&](const events::any& e) { seen += text_of(e) + "\n"; });
    REQUIRE(s.put(id(1), make_token(canary)));
    REQUIRE(s.get(id(1)));
    auto bytes = read_all(sealed_path(o));
    bytes[bytes.size() - 3] ^= 0x10;
    write_all(sealed_path(o), bytes);
    auto bad = s.get(id(1));
    REQUIRE_FALSE(bad);
    seen += bad.error().message();
    set_item(o, "data-key", random_hex(16));
    REQUIRE(s.put(id(2), make_token(canary + "-2")));
    event_store other(o);
    auto foreign = other.get(id(2));
    if (!foreign) seen += foreign.error().message();
    CHECK(seen.find(".corrupt-") != std::string::npos);  // the scan saw the quarantine event and error
    CHECK(seen.find(canary) == std::string::npos);
    for (const auto& q : files_containing(o.directory, ".corrupt-"))
        CHECK(read_all(q).find(canary) == std::string::npos);
}

TEST_CASE("sealed_file: puts killed by SIGKILL at random moments never lose an acknowledged token") {
    // Children put ever-increasing sequence numbers into 32 ids and report each one only after put()
    // returned; each is SIGKILLed 1-20 ms after it started (every other round: after its first put was
    // acknowledged, so that kills land after acknowledged puts however slow the machine is). After every
    // kill the file must open, and every id must hold its last acknowledged value or a later one (a put
    // may land and die before reporting).
    constexpr int rounds = 200;
    constexpr int ids = 32;
    // tmpfs when there is one: fsync is then free, so the kills land in every phase of a put, not mostly
    // in fsync.
    tvtest::temp_dir tmp{/*prefer_memory_fs=*/true};
    auto o = options_in(tmp);
    std::mt19937 rng(static_cast<std::uint32_t>(randombytes_random()));
    std::uniform_int_distribution<int> micros(1000, 20000);
    std::array<long, ids> acked;
    acked.fill(-1);
    long acknowledged = 0;
    long next = 0;
    const auto acknowledge = [&](long seq) {
        acked[static_cast<std::size_t>(seq % ids)] = seq;
        ++acknowledged;
        next = seq + 1;
    };
    const auto started_at = std::chrono::steady_clock::now();
    for (int round = 0; round < rounds; ++round) {
        int fds[2] = {-1, -1};
        REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
        const pid_t pid = tvtest::spawn([&] {
            ::close(fds[0]);
            file_store s(o);
            if (!s.list()) return 32;
            const long ready = -1;  // started: the random window begins now
            if (::write(fds[1], &ready, sizeof ready) != static_cast<ssize_t>(sizeof ready)) return 31;
            for (long seq = next;; ++seq) {
                if (!s.put(id(static_cast<int>(seq % ids)), make_token(std::to_string(seq)))) return 30;
                if (::write(fds[1], &seq, sizeof seq) != static_cast<ssize_t>(sizeof seq))
                    return 31;  // < PIPE_BUF: atomic
            }
        });
        ::close(fds[1]);
        long seq = 0;
        const bool started =
            ::read(fds[0], &seq, sizeof seq) == static_cast<ssize_t>(sizeof seq) && seq == -1;
        if (started && round % 2 == 1 && ::read(fds[0], &seq, sizeof seq) == static_cast<ssize_t>(sizeof seq))
            acknowledge(seq);
        if (started) ::usleep(static_cast<useconds_t>(micros(rng)));
        ::kill(pid, SIGKILL);
        const int code = tvtest::wait_for(pid);
        REQUIRE(started);
        CHECK(code == 128 + SIGKILL);
        while (::read(fds[0], &seq, sizeof seq) == static_cast<ssize_t>(sizeof seq)) acknowledge(seq);
        ::close(fds[0]);
        next += 1;  // a put after the last acknowledged one may have landed: never reuse its number

        file_store check(o);
        auto list = check.list();
        REQUIRE(list);  // the file always opens
        for (int k = 0; k < ids; ++k) {
            const long want = acked[static_cast<std::size_t>(k)];
            if (want < 0) continue;
            auto got = check.get(id(k));
            REQUIRE(got);
            REQUIRE_MESSAGE(got->has_value(), "id " << k << " lost after round " << round);
            const long have = std::stol(std::string((*got)->access_token.reveal()));
            REQUIRE_MESSAGE(have >= want, "id " << k << " went back from " << want << " to " << have);
        }
    }
    const auto elapsed = std::chrono::steady_clock::now() - started_at;
    MESSAGE(acknowledged << " acknowledged puts over " << rounds << " SIGKILL rounds in "
                         << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() << " ms");
    CHECK(acknowledged >= rounds / 2);  // at least one in every other round: the kills did hit puts
    CHECK(files_containing(o.directory, ".tmp-").size() <=
          1);  // each writer sweeps its predecessors' temp files
    CHECK(files_containing(o.directory, ".corrupt-").empty());
}

}  // namespace test_sealed_file
