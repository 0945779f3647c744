// tests/unit/test_locking_process.cpp: locking::process, in-process and across real processes.
//
// The reader/writer mutex, the store lock file (created 0600 in a 0700 directory made on demand, never
// deleted), timeouts with contention reports, release when the holder is SIGKILLed, mutual exclusion of
// 4 processes, and a token_store whose loads and writes wait for the store lock another process holds.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tokenvault/backend/sealed_file.hpp"
#include "tokenvault/diagnostics/counters.hpp"
#include "tokenvault/keyring/file.hpp"
#include "tokenvault/locking/process.hpp"
#include "tokenvault/migration/none.hpp"
#include "tokenvault/store.hpp"

#include "support/eventually.hpp"
#include "support/forked.hpp"
#include "support/temp_dir.hpp"

namespace test_locking_process {  // unity builds put several test files in one translation unit

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace tokenvault;

namespace {

static_assert(locking::locking_policy<locking::process>);
static_assert(locking::process::thread_safe && locking::process::cross_process);
static_assert(!std::is_copy_constructible_v<locking::process::store_guard>);
static_assert(std::is_nothrow_move_constructible_v<locking::process::store_guard>);

std::error_code ec(errc c) { return make_error_code(c); }

mode_t mode_of(const fs::path& p) {
    struct stat st {};
    REQUIRE(::lstat(p.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

}  // namespace

TEST_CASE("locking::process: readers share, a writer excludes") {
    locking::process lock;
    {
        auto a = lock.lock_shared();
        auto b = lock.lock_shared();  // would deadlock if shared locks excluded each other
        CHECK(a.owns_lock());
        CHECK(b.owns_lock());
    }
    std::atomic<bool> writer_in{false};
    auto reader = lock.lock_shared();
    std::thread writer([&] {
        auto w = lock.lock_exclusive();
        writer_in = true;
    });
    std::this_thread::sleep_for(50ms);
    CHECK_FALSE(writer_in.load());
    reader.unlock();
    writer.join();
    CHECK(writer_in.load());
}

TEST_CASE("locking::process: an empty path takes no file lock") {
    locking::process lock;
    locking::wait_report report{true, 5s};
    auto guard = lock.lock_store({}, 1s, report);
    REQUIRE(guard);
    CHECK_FALSE(guard->held());
    CHECK_FALSE(report.contended);
    CHECK(report.waited == 0ns);
}

TEST_CASE(
    "locking::process: the lock file is 0600 in a 0700 directory made on demand, and outlives the lock") {
    tvtest::temp_dir tmp;
    const auto path = tmp / "a" / "b" / "tokens.sealed.lock";
    locking::process lock;
    locking::wait_report report;
    {
        auto guard = lock.lock_store(path, 1s, report);
        REQUIRE(guard);
        CHECK(guard->held());
        CHECK_FALSE(report.contended);
    }
    CHECK(mode_of(tmp / "a") == 0700);
    CHECK(mode_of(tmp / "a" / "b") == 0700);
    CHECK(mode_of(path) == 0600);
    CHECK(fs::exists(path));
    CHECK(lock.lock_store(path, 0ms, report));  // released with the guard
}

TEST_CASE("locking::process: an unsafe lock directory or lock file is refused") {
    tvtest::temp_dir tmp;
    locking::process lock;
    locking::wait_report report;
    SUBCASE("a symlinked lock file") {
        REQUIRE(::close(::open((tmp / "real").c_str(), O_CREAT | O_WRONLY, 0600)) == 0);
        fs::create_symlink(tmp / "real", tmp / "x.lock");
        CHECK(lock.lock_store(tmp / "x.lock", 0ms, report).code() == ec(errc::symlink_refused));
    }
    SUBCASE("a missing lock directory is created under a symlinked parent") {
        fs::create_directory(tmp / "open");
        fs::permissions(tmp / "open", fs::perms::all);
        fs::create_directory_symlink(tmp / "open", tmp / "link");
        CHECK(lock.lock_store(tmp / "link" / "sub" / "x.lock", 0ms, report));  // parents may be symlinks
        CHECK(mode_of(tmp / "open" / "sub") == 0700);
    }
}

TEST_CASE("locking::process: a second holder in the same process times out and reports contention") {
    tvtest::temp_dir tmp;
    const auto path = tmp / "store.lock";
    locking::process a;
    locking::process b;
    locking::wait_report first;
    auto held = a.lock_store(path, 1s, first);
    REQUIRE(held);
    locking::wait_report second;
    auto blocked = b.lock_store(path, 100ms, second);
    CHECK(blocked.code() == ec(errc::lock_timeout));
    CHECK(second.contended);
    CHECK(second.waited >= 100ms);
    CHECK(second.waited < 1s);
    held->release();
    // The timed-out wait's helper takes the lock when it is let go and gives it back at once.
    CHECK(tvtest::lock_waits_given_back());
    locking::wait_report third;
    CHECK(b.lock_store(path, 100ms, third));
    CHECK_FALSE(third.contended);
}

TEST_CASE("locking::process: a lock held by a process is released when that process is SIGKILLed") {
    tvtest::temp_dir tmp;
    const auto path = tmp / "tokens.sealed.lock";
    tvtest::ready_pipe ready;
    const pid_t child = tvtest::spawn([&] {
        locking::process lock;
        locking::wait_report report;
        auto guard = lock.lock_store(path, 5s, report);
        ready.signal(guard ? 'L' : 'E');
        for (;;) ::pause();
        return 0;
    });
    REQUIRE(ready.wait() == 'L');
    locking::process lock;
    locking::wait_report report;
    auto blocked = lock.lock_store(path, 150ms, report);
    CHECK(blocked.code() == ec(errc::lock_timeout));
    CHECK(report.contended);
    CHECK(report.waited >= 150ms);

    REQUIRE(::kill(child, SIGKILL) == 0);
    CHECK(tvtest::wait_for(child) == 128 + SIGKILL);
    locking::wait_report after;
    auto taken = lock.lock_store(path, 2s, after);
    REQUIRE(taken);
    CHECK(taken->held());
    CHECK(after.waited < 1s);
}

TEST_CASE("locking::process: 4 processes increment a shared counter without losing one") {
    constexpr int processes = 4;
    constexpr int increments = 100;
    tvtest::temp_dir tmp;
    const auto lock_path = tmp / "counter.lock";
    const auto counter = tmp / "counter";
    {
        const int fd = ::open(counter.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        REQUIRE(fd >= 0);
        REQUIRE(::write(fd, "0", 1) == 1);
        REQUIRE(::close(fd) == 0);
    }
    std::vector<pid_t> children;
    children.reserve(processes);
    for (int p = 0; p < processes; ++p) {
        children.push_back(tvtest::spawn([&] {
            locking::process lock;
            for (int i = 0; i < increments; ++i) {
                locking::wait_report report;
                auto guard = lock.lock_store(lock_path, 30s, report);
                if (!guard) return 10;
                const int fd = ::open(counter.c_str(), O_RDWR | O_CLOEXEC);
                if (fd < 0) return 11;
                char text[32] = {};
                if (::pread(fd, text, sizeof text - 1, 0) <= 0) return 12;
                const std::string next = std::to_string(std::atoi(text) + 1);
                ::usleep(50);  // widen the race window a lock must close
                if (::ftruncate(fd, 0) != 0 ||
                    ::pwrite(fd, next.data(), next.size(), 0) != static_cast<ssize_t>(next.size()))
                    return 13;
                if (::close(fd) != 0) return 14;
            }
            return 0;
        }));
    }
    for (const pid_t c : children) CHECK(tvtest::wait_for(c) == 0);
    const int fd = ::open(counter.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    char text[32] = {};
    REQUIRE(::read(fd, text, sizeof text - 1) > 0);
    ::close(fd);
    CHECK(std::atoi(text) == processes * increments);
}

TEST_CASE("locking::process in a token_store: loads and writes wait for the store lock of another process") {
    using store_type = token_store<backend::sealed_file<keyring::file>, cipher::xchacha20poly1305,
                                   locking::process, migration::none, diagnostics::counters>;
    tvtest::temp_dir tmp;
    store_options o;
    o.app_name = "tv-lock-store";
    o.directory = tmp / "store";
    o.lock_timeout = 150ms;
    {
        store_type first(o);
        token t;
        t.access_token = secret_string("x");
        REQUIRE(first.put(credential_id::parse("https://a.example/").value(), t));
    }
    tvtest::ready_pipe ready;
    tvtest::ready_pipe release;
    const pid_t child = tvtest::spawn([&] {
        locking::process lock;
        locking::wait_report report;
        auto guard = lock.lock_store(o.directory / "tokens.sealed.lock", 5s, report);
        ready.signal(guard ? 'L' : 'E');
        (void)release.wait();
        return 0;
    });
    REQUIRE(ready.wait() == 'L');
    store_type s(o);
    const auto id = credential_id::parse("https://a.example/").value();
    CHECK(s.get(id).code() == ec(errc::lock_timeout));  // the first load reads under the store lock
    token t;
    t.access_token = secret_string("y");
    CHECK(s.put(id, t).code() == ec(errc::lock_timeout));
    CHECK(s.diagnostics().read().lock_timeouts == 2);
    release.signal('R');
    CHECK(tvtest::wait_for(child) == 0);
    // The two timed-out waits left helpers behind: they take the lock once the child lets go and give it
    // back at once. Once they have, the store's next load and write meet no contention.
    REQUIRE(tvtest::lock_waits_given_back());
    auto got = s.get(id);
    REQUIRE(got);
    CHECK(got->has_value());
    REQUIRE(s.put(id, t));
    const auto counts = s.diagnostics().read();
    CHECK(counts.lock_waits == 2);
    CHECK(counts.lock_contentions == 0);
}

}  // namespace test_locking_process
