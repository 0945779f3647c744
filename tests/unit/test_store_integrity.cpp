// tests/unit/test_store_integrity.cpp: every damage is told once, to the caller that meets it.
//
// On the shipped preset (presets::embedded: sealed file, key in keyring::file, no diagnostics) and real
// processes: a put in a second process that meets a damaged file fails with corrupt_file naming the
// quarantine copy; generations stay unique across a quarantine or a deleted file, so a stale
// compare-and-swap conflicts; damaged keys get errc::damaged_key and change nothing; reads create no key
// material; a file replaced by an older copy is reported once; writers SIGKILLed mid-write leave temp files
// (one holds the passphrase) that the next writer removes.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "tokenvault/backend/sealed_file.hpp"
#include "tokenvault/diagnostics/callback.hpp"
#include "tokenvault/keyring/file.hpp"
#include "tokenvault/locking/process.hpp"
#include "tokenvault/presets.hpp"
#include "tokenvault/store.hpp"

#include "support/forked.hpp"
#include "support/memory_keyring.hpp"
#include "support/temp_dir.hpp"

namespace test_store_integrity {  // unity builds put several test files in one translation unit

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace tokenvault;

namespace {

using embedded = presets::embedded;
using observed = token_store<backend::sealed_file<keyring::file>, cipher::xchacha20poly1305, locking::process,
                             migration::none, diagnostics::callback>;

std::error_code ec(errc c) { return make_error_code(c); }

store_options options_in(const tvtest::temp_dir& dir, const std::string& sub = "store") {
    if (sodium_init() < 0) throw std::runtime_error("sodium_init failed");
    store_options o;
    o.app_name = tvtest::unique_name("tv-integrity");
    o.directory = dir / sub;
    o.lock_timeout = 5s;
    return o;
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
    return t;
}

std::string read_all(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    REQUIRE(in);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Replaces `p` by a new 0600 file holding `bytes` (a new inode, as any writer that replaces files makes).
void replace_file(const fs::path& p, std::string_view bytes) {
    const auto temp = p.string() + ".test-tmp";
    const int fd = ::open(temp.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
    REQUIRE(fd >= 0);
    REQUIRE(::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
    REQUIRE(::close(fd) == 0);
    REQUIRE(::rename(temp.c_str(), p.c_str()) == 0);
}

/// Files in `dir` whose names contain `part`.
std::vector<fs::path> files_containing(const fs::path& dir, std::string_view part) {
    std::vector<fs::path> out;
    std::error_code ignored;
    for (const auto& e : fs::directory_iterator(dir, ignored))
        if (e.path().filename().string().find(part) != std::string::npos) out.push_back(e.path());
    return out;
}

/// Every file of `dir` (not recursive) with its content: what a call must leave exactly as it was.
std::map<std::string, std::string> snapshot(const fs::path& dir) {
    std::map<std::string, std::string> out;
    std::error_code ignored;
    for (const auto& e : fs::directory_iterator(dir, ignored))
        if (e.is_regular_file()) out[e.path().filename().string()] = read_all(e.path());
    return out;
}

/// The keyring::file of the store with options `o`, opened as the store opens it.
keyring::file key_file_of(const store_options& o) {
    auto opened = keyring::file::open(o.keyring());
    REQUIRE(opened);
    REQUIRE(opened->has_value());
    return std::move(**opened);
}

/// Flips one bit in the middle of the file at `p`.
void flip_a_byte(const fs::path& p) {
    auto bytes = read_all(p);
    REQUIRE(bytes.size() > 8);
    bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x04);
    replace_file(p, bytes);
}

/// The generations of every entry of the store at `o`, read by a fresh instance.
std::vector<std::uint64_t> generations_at(const store_options& o) {
    embedded s(o);
    auto listed = s.list();
    REQUIRE(listed);
    std::vector<std::uint64_t> out;
    for (const auto& e : *listed) out.push_back(e.generation);
    return out;
}

/// Runs `writer()` in a child process and SIGKILLs it the moment a file whose name satisfies `watched`
/// appears in `dir` (inotify); returns whether such a file survived the kill, i.e. the writer died
/// between creating its temp file and renaming it.
bool killed_mid_write(const fs::path& dir, const std::function<bool(std::string_view)>& watched,
                      const std::function<int()>& writer) {
    const int watch = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    REQUIRE(watch >= 0);
    REQUIRE(::inotify_add_watch(watch, dir.c_str(), IN_CREATE) >= 0);
    const pid_t pid = tvtest::spawn(writer);
    bool killed = false;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!killed && std::chrono::steady_clock::now() < deadline) {
        pollfd p{watch, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        alignas(inotify_event) char buffer[4096];
        const ssize_t n = ::read(watch, buffer, sizeof buffer);
        for (ssize_t at = 0; n > 0 && at < n;) {
            const auto* event = reinterpret_cast<const inotify_event*>(buffer + at);
            if (event->len > 0 && watched(event->name)) {
                ::kill(pid, SIGKILL);
                killed = true;
                break;
            }
            at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
        }
    }
    if (!killed) ::kill(pid, SIGKILL);
    (void)tvtest::wait_for(pid);
    ::close(watch);
    std::error_code ignored;
    for (const auto& e : fs::directory_iterator(dir, ignored))
        if (watched(e.path().filename().string())) return true;
    return false;
}

bool starts_with(std::string_view name, std::string_view prefix) {
    return name.substr(0, prefix.size()) == prefix;
}

}  // namespace

TEST_CASE(
    "integrity: a put in a second process that meets a damaged file fails with corrupt_file naming "
    "the quarantine copy") {
    tvtest::temp_dir tmp;
    const auto o = options_in(tmp);
    embedded owner(o);  // the process that stored 20 credentials
    for (int i = 0; i < 20; ++i) REQUIRE(owner.put(id(i), make_token("t" + std::to_string(i))));
    flip_a_byte(sealed_path(o));
    const auto damaged = read_all(sealed_path(o));

    tvtest::line_pipe told;
    const int code = tvtest::run_in_child([&] {
        embedded writer(o);
        auto put = writer.put(id(100), make_token("new"));
        if (put) return 1;  // a silent success would hide that 20 credentials are gone
        told.send(std::to_string(put.code().value()) + " " + put.error().message());
        return writer.put(id(100), make_token("new")) ? 0 : 2;  // the retry works on what is there
    });
    CHECK(code == 0);
    const auto line = told.receive(5s);
    REQUIRE(line);
    CHECK(starts_with(*line, std::to_string(static_cast<int>(errc::corrupt_file)) + " "));
    const auto quarantined = files_containing(o.directory, ".corrupt-");
    REQUIRE(quarantined.size() == 1);
    CHECK(line->find(quarantined[0].string()) != std::string::npos);  // the copy is named
    CHECK(line->find("not applied") != std::string::npos);
    CHECK(read_all(quarantined[0]) == damaged);

    auto listed = owner.list();  // the owner's next read sees what the store holds now
    REQUIRE(listed);
    REQUIRE(listed->size() == 1);
    CHECK(listed->front().id == id(100));
}

TEST_CASE(
    "integrity: generations stay unique across a quarantine or a deleted file; a stale "
    "compare-and-swap conflicts") {
    tvtest::temp_dir tmp;
    const auto o = options_in(tmp);
    embedded holder(o);
    for (int i = 0; i < 5; ++i) REQUIRE(holder.put(id(i), make_token("before")));
    auto held = holder.get_entry(id(3));  // a compare-and-swap in flight holds this generation
    REQUIRE(held);
    REQUIRE(held->has_value());
    const auto before = generations_at(o);
    const auto highest_before = *std::max_element(before.begin(), before.end());

    bool quarantine = false;
    SUBCASE("the file was quarantined") {
        quarantine = true;
        flip_a_byte(sealed_path(o));
    }
    SUBCASE("the file was deleted") { fs::remove(sealed_path(o)); }

    // Another process writes id(3) again and again after the damage: 30 generations, as many as any
    // restart at 1 would need to hand out the held one again.
    tvtest::line_pipe generations;
    const int code = tvtest::run_in_child([&] {
        embedded writer(o);
        if (quarantine && writer.put(id(3), make_token("after")).code() != ec(errc::corrupt_file)) return 1;
        for (int i = 0; i < 30; ++i) {
            auto g = writer.put(id(3), make_token("after-" + std::to_string(i)));
            if (!g) return 2;
            generations.send(std::to_string(*g));
        }
        return 0;
    });
    REQUIRE(code == 0);
    for (int i = 0; i < 30; ++i) {
        const auto line = generations.receive(5s);
        REQUIRE(line);
        CHECK(std::stoull(*line) > highest_before);
    }
    auto stale = holder.compare_and_swap(id(3), (*held)->generation, make_token("stale"));
    CHECK(stale.code() == ec(errc::conflict));
    embedded reader(o);
    auto now = reader.get(id(3));
    REQUIRE(now);
    REQUIRE(now->has_value());
    CHECK((*now)->access_token.reveal() == "after-29");
}

TEST_CASE("integrity: a damaged key is damaged_key: nothing is moved, created or overwritten") {
    tvtest::temp_dir tmp;
    const auto o = options_in(tmp);
    {
        embedded first(o);
        REQUIRE(first.put(id(1), make_token("one")));
    }
    const auto keyring_dir = o.keyring().directory;
    std::string expected_context;
    SUBCASE("a flipped byte in the data-key item") {
        flip_a_byte(*key_file_of(o).item_path(backend::sealed_file<keyring::file>::key_account));
        expected_context = "failed authentication";
    }
    SUBCASE("a passphrase of 31 bytes") {
        const auto passphrase = read_all(keyring_dir / "passphrase");
        replace_file(keyring_dir / "passphrase", passphrase.substr(0, 31));
        expected_context = "31 bytes";
    }
    SUBCASE("a data key of the wrong size") {
        const std::string short_key(31, 'k');
        REQUIRE(
            key_file_of(o).write(backend::sealed_file<keyring::file>::key_account,
                                 std::as_bytes(std::span<const char>(short_key.data(), short_key.size()))));
        expected_context = "31 bytes, not a 32-byte data key";
    }
    SUBCASE("a data-key item whose passphrase is gone") {
        fs::remove(keyring_dir / "passphrase");
        expected_context = "is missing";
    }
    const auto file_before = read_all(sealed_path(o));
    const auto keyring_before = snapshot(keyring_dir);

    embedded s(o);
    for (int attempt = 0; attempt < 2; ++attempt) {
        auto got = s.get(id(1));
        REQUIRE_FALSE(got);
        CHECK(got.code() == ec(errc::damaged_key));
        CHECK(got.error().context.find(expected_context) != std::string::npos);
        CHECK(got.error().message().find("left unchanged") != std::string::npos);
        CHECK(got.error().message().find("logging in again does not help") != std::string::npos);
        CHECK(got.error().message().find("moved aside") == std::string::npos);
        CHECK(got.error().message().find("unlock") == std::string::npos);
    }
    CHECK(s.put(id(2), make_token("two")).code() == ec(errc::damaged_key));  // logging in again: no help
    CHECK(s.list().code() == ec(errc::damaged_key));
    CHECK(read_all(sealed_path(o)) == file_before);
    CHECK(files_containing(o.directory, ".corrupt-").empty());
    CHECK(snapshot(keyring_dir) == keyring_before);  // no new passphrase, no new key
}

TEST_CASE("integrity: reads never create key material") {
    tvtest::temp_dir tmp;
    const auto o = options_in(tmp);
    const auto keyring_dir = o.keyring().directory;

    SUBCASE("a store with no file: nothing is created by get, get_entry or list") {
        embedded s(o);
        auto got = s.get(id(1));
        REQUIRE(got);
        CHECK_FALSE(got->has_value());
        REQUIRE(s.get_entry(id(1)));
        REQUIRE(s.list());
        CHECK_FALSE(fs::exists(keyring_dir / "passphrase"));
        CHECK(files_containing(keyring_dir, ".item").empty());
    }

    SUBCASE("a store whose key file passphrase is missing: a get in another process creates none") {
        {
            embedded first(o);
            REQUIRE(first.put(id(1), make_token("one")));
        }
        fs::remove(keyring_dir / "passphrase");
        const auto file_before = read_all(sealed_path(o));
        const auto keyring_before = snapshot(keyring_dir);
        const int code = tvtest::run_in_child([&] {
            embedded reader(o);
            if (reader.get(id(1)).code() != ec(errc::damaged_key)) return 1;
            if (reader.list().code() != ec(errc::damaged_key)) return 2;
            return 0;
        });
        CHECK(code == 0);
        CHECK_FALSE(fs::exists(keyring_dir / "passphrase"));
        CHECK(snapshot(keyring_dir) == keyring_before);
        CHECK(read_all(sealed_path(o)) == file_before);

        // Nor does a write: a new passphrase would orphan the data-key item for good.
        embedded writer(o);
        CHECK(writer.put(id(2), make_token("two")).code() == ec(errc::damaged_key));
        auto ring = key_file_of(o);
        const std::string key(32, 'k');
        auto written = ring.write("another", std::as_bytes(std::span<const char>(key.data(), key.size())));
        REQUIRE_FALSE(written);
        CHECK(written.error() == errc::damaged_key);
        CHECK(written.error().context.find("1 item(s)") != std::string::npos);
        CHECK_FALSE(fs::exists(keyring_dir / "passphrase"));
        CHECK(read_all(sealed_path(o)) == file_before);
    }
}

TEST_CASE(
    "integrity: a file replaced by an older copy is reported once, by the read or write that meets it") {
    tvtest::temp_dir tmp;
    const auto o = options_in(tmp);
    std::vector<events::rolled_back> reports;
    observed s(o);
    s.diagnostics().set([&](const events::any& e) {
        if (const auto* r = std::get_if<events::rolled_back>(&e))
            reports.push_back(events::rolled_back{{}, r->seen_counter, r->file_counter});
    });
    REQUIRE(s.put(id(1), make_token("v1")));
    const auto old_copy = read_all(sealed_path(o));  // seal counter 1
    REQUIRE(s.put(id(1), make_token("v2")));
    REQUIRE(s.put(id(2), make_token("w2")));  // seal counter 3

    // Another process puts the old copy back, as a backup restore or an attacker with write access would.
    REQUIRE(tvtest::run_in_child([&] {
                replace_file(sealed_path(o), old_copy);
                return 0;
            }) == 0);

    SUBCASE("a read meets it") {
        auto got = s.get(id(1));
        REQUIRE_FALSE(got);
        CHECK(got.code() == ec(errc::rolled_back));
        CHECK(got.error().message().find("replaced by an older copy") != std::string::npos);
        CHECK(got.error().context.find(sealed_path(o).string()) != std::string::npos);
        REQUIRE(reports.size() == 1);
        CHECK(reports[0].seen_counter == 3);
        CHECK(reports[0].file_counter == 1);
        auto again = s.get(id(1));  // told once: the older copy is what the store holds now
        REQUIRE(again);
        REQUIRE(again->has_value());
        CHECK((*again)->access_token.reveal() == "v1");
    }
    SUBCASE("a write meets it, and is not applied") {
        auto put = s.put(id(3), make_token("x"));
        REQUIRE_FALSE(put);
        CHECK(put.code() == ec(errc::rolled_back));
        CHECK(read_all(sealed_path(o)) == old_copy);
        REQUIRE(s.put(id(3), make_token("x")));  // the retry works on the older copy
        auto listed = s.list();
        REQUIRE(listed);
        CHECK(listed->size() == 2);  // id(1) as of the old copy, and id(3)
    }
    CHECK(reports.size() == 1);
}

TEST_CASE("integrity: a store that starts afresh after a deletion or a quarantine is not an older copy") {
    tvtest::temp_dir tmp;
    const auto o = options_in(tmp);
    std::size_t rollbacks = 0;
    observed s(o);
    s.diagnostics().set(
        [&](const events::any& e) { rollbacks += std::holds_alternative<events::rolled_back>(e); });
    for (int i = 0; i < 5; ++i) REQUIRE(s.put(id(i), make_token("old")));  // seal counter 5

    bool quarantine = false;
    SUBCASE("deleted") { fs::remove(sealed_path(o)); }
    SUBCASE("quarantined by another process") {
        quarantine = true;
        flip_a_byte(sealed_path(o));
    }
    // Another process starts the store afresh: its file has seal counter 1 or 2, under the same key.
    REQUIRE(tvtest::run_in_child([&] {
                embedded other(o);
                if (quarantine && other.get(id(0)).code() != ec(errc::corrupt_file)) return 1;
                return other.put(id(9), make_token("fresh")) ? 0 : 2;
            }) == 0);
    auto got = s.get(id(9));
    REQUIRE(got);
    REQUIRE(got->has_value());
    CHECK((*got)->access_token.reveal() == "fresh");
    CHECK(rollbacks == 0);
}

TEST_CASE("integrity: writers SIGKILLed mid-write leave temp files, and the next writer removes them") {
    tvtest::temp_dir tmp;  // a disk, not tmpfs: fsync keeps a temp file alive long enough to be killed with
    constexpr int max_rounds = 200;
    int rounds = 0;
    bool left = false;

    SUBCASE("the store folder: a sealed file write") {
        const auto o = options_in(tmp);
        fs::create_directories(o.directory);
        fs::permissions(o.directory, fs::perms::owner_all, fs::perm_options::replace);
        const auto prefix = ".tokens.sealed.tmp-";
        for (rounds = 1; rounds <= max_rounds && !left; ++rounds)
            left = killed_mid_write(
                o.directory, [&](std::string_view n) { return starts_with(n, prefix); },
                [&] {
                    embedded writer(o);
                    for (int i = 0;; ++i)
                        if (!writer.put(id(i % 8), make_token(std::string(4096, 'x') + std::to_string(i))))
                            return 1;
                });
        REQUIRE_MESSAGE(left, "no writer died mid-write in " << max_rounds << " rounds");
        REQUIRE(tvtest::run_in_child([&] {
                    embedded next(o);
                    return next.put(id(100), make_token("next")) ? 0 : 1;
                }) == 0);
        CHECK(files_containing(o.directory, ".tmp-").empty());
    }

    SUBCASE("the keyring folder: the passphrase and the data-key item") {
        for (const bool watching_passphrase : {true, false}) {
            left = false;
            for (rounds = 1; rounds <= max_rounds && !left; ++rounds) {
                const auto o = options_in(
                    tmp, "round-" + std::to_string(watching_passphrase) + "-" + std::to_string(rounds));
                const auto keyring_dir = o.keyring().directory;
                fs::create_directories(keyring_dir);
                fs::permissions(o.directory, fs::perms::owner_all, fs::perm_options::replace);
                fs::permissions(keyring_dir, fs::perms::owner_all, fs::perm_options::replace);
                const auto watched = [&](std::string_view n) {
                    return watching_passphrase
                               ? starts_with(n, ".passphrase.tmp-")
                               : (starts_with(n, ".") && n.find(".item.tmp-") != std::string::npos);
                };
                left = killed_mid_write(keyring_dir, watched, [&] {
                    embedded writer(o);  // the first put creates the passphrase, then the data-key item
                    return writer.put(id(1), make_token("first")) ? 0 : 1;
                });
                if (!left) continue;
                if (watching_passphrase) CHECK_FALSE(fs::exists(keyring_dir / "passphrase"));
                REQUIRE(tvtest::run_in_child([&] {
                            embedded next(o);
                            return next.put(id(2), make_token("next")) ? 0 : 1;
                        }) == 0);
                CHECK(files_containing(keyring_dir, ".tmp-").empty());
                CHECK(fs::file_size(keyring_dir / "passphrase") == 32);
                embedded reader(o);
                auto got = reader.get(id(2));
                REQUIRE(got);
                CHECK(got->has_value());
            }
            REQUIRE_MESSAGE(left, "no writer died mid-write in " << max_rounds << " rounds");
        }
    }
    MESSAGE("a writer died mid-write after " << rounds - 1 << " round(s)");
}

}  // namespace test_store_integrity
