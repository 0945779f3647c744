// tests/unit/test_file_lock.cpp: behaviour of platform::file_lock (platform/lock.hpp) with real processes.
//
// Contention inside one process (two acquisitions), against a forked child that holds the lock and is
// then killed (the kernel must release it), and mutual exclusion of 4 processes incrementing a shared
// counter file. Waiting must sleep, not spin: CPU time during a timed-out wait is measured.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tokenvault/platform/platform.hpp"

#include "support/eventually.hpp"
#include "support/forked.hpp"
#include "support/temp_dir.hpp"

namespace test_file_lock {  // unity builds put several test files in one translation unit

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace tokenvault;
using namespace tokenvault::platform;

namespace {

std::error_code ec(errc c) { return make_error_code(c); }

mode_t mode_of(const fs::path& p) {
    struct stat st {};
    REQUIRE(::lstat(p.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

std::chrono::nanoseconds cpu_time() {
    timespec ts{};
    REQUIRE(::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) == 0);
    return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

/// A forked child that is SIGKILLed and reaped at scope exit unless already reaped.
class child_process {
public:
    /// Forks; the child runs `fn` and exits with its return value, never returning into the test.
    template <class Fn>
    explicit child_process(Fn fn) : pid_(tvtest::spawn(std::move(fn))) {}
    ~child_process() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            int status = 0;
            while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
            }
        }
    }
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;
    [[nodiscard]] pid_t pid() const { return pid_; }
    /// Waits for the child to exit and returns its exit code.
    int wait() { return tvtest::wait_for(std::exchange(pid_, -1)); }
    /// Kills the child with SIGKILL and reaps it.
    int kill() {
        REQUIRE(::kill(pid_, SIGKILL) == 0);
        return wait();
    }

private:
    pid_t pid_ = -1;
};

}  // namespace

TEST_SUITE("unit") {
    TEST_CASE("acquire creates a 0600 lock file that outlives the lock") {
        for (const mode_t mask : {mode_t{022}, mode_t{077}, mode_t{0277}}) {
            CAPTURE(mask);
            tvtest::temp_dir tmp;
            const mode_t old = ::umask(mask);
            lock_wait wait;
            auto lock = file_lock::acquire(tmp / "store.lock", 1s, &wait);
            ::umask(old);
            REQUIRE(lock);
            CHECK(lock->held());
            CHECK_FALSE(wait.contended);
            CHECK(wait.waited < 1s);
            CHECK(mode_of(tmp / "store.lock") == 0600);
            lock->release();
            CHECK_FALSE(lock->held());
            CHECK(fs::exists(tmp / "store.lock"));
            CHECK(file_lock::acquire(tmp / "store.lock", 0ms));  // a zero timeout still makes one attempt
        }
    }

    TEST_CASE("a second acquisition in the same process times out while the first holds the lock") {
        tvtest::temp_dir tmp;
        const auto path = tmp / "store.lock";
        auto first = file_lock::acquire(path, 1s);
        REQUIRE(first);

        lock_wait wait;
        const auto second = file_lock::acquire(path, 100ms, &wait);
        REQUIRE_FALSE(second);
        CHECK(second.code() == ec(errc::lock_timeout));
        CHECK(second.error().context == path.string());
        CHECK(wait.contended);
        CHECK(wait.waited >= 100ms);
        CHECK(wait.waited < 1s);

        // The timed-out wait left its helper blocked on the lock; it takes the lock when the holder lets
        // go and gives it back at once, leaving the lock free and nothing queued.
        first->release();
        CHECK(tvtest::lock_waits_given_back());
        lock_wait after;
        const auto third = file_lock::acquire(path, 100ms, &after);
        REQUIRE(third);
        CHECK_FALSE(after.contended);
    }

    TEST_CASE("waiting for a lock sleeps instead of spinning") {
        tvtest::temp_dir tmp;
        const auto path = tmp / "store.lock";
        auto holder = file_lock::acquire(path, 1s);
        REQUIRE(holder);
        const auto cpu_before = cpu_time();
        const auto wall_before = std::chrono::steady_clock::now();
        lock_wait wait;
        CHECK(file_lock::acquire(path, 300ms, &wait).code() == ec(errc::lock_timeout));
        const auto wall = std::chrono::steady_clock::now() - wall_before;
        const auto cpu = cpu_time() - cpu_before;
        CHECK(wall >= 300ms);
        CHECK(wall < 600ms);  // the last sleep is capped by the deadline
        CHECK(cpu < 60ms);    // a busy loop would burn ~300 ms
    }

    TEST_CASE("file_lock is move-only and a move releases what the target held") {
        tvtest::temp_dir tmp;
        auto a = file_lock::acquire(tmp / "a.lock", 1s);
        auto b = file_lock::acquire(tmp / "b.lock", 1s);
        REQUIRE(a);
        REQUIRE(b);
        file_lock moved = std::move(*a);
        CHECK(moved.held());
        CHECK_FALSE(a->held());
        moved = std::move(*b);  // drops a.lock
        CHECK(moved.held());
        CHECK(file_lock::acquire(tmp / "a.lock", 0ms));
        CHECK(file_lock::acquire(tmp / "b.lock", 0ms).code() == ec(errc::lock_timeout));
        CHECK_FALSE(file_lock{}.held());
    }

    TEST_CASE("acquire refuses a lock path that is not our regular file") {
        tvtest::temp_dir tmp;
        const auto path = tmp / "store.lock";
        SUBCASE("a symlink to a file") {
            REQUIRE(::close(::open((tmp / "real").c_str(), O_CREAT | O_WRONLY, 0600)) == 0);
            fs::create_symlink(tmp / "real", path);
            CHECK(file_lock::acquire(path, 0ms).code() == ec(errc::symlink_refused));
        }
        SUBCASE("a dangling symlink, without creating its target") {
            fs::create_symlink(tmp / "nowhere", path);
            CHECK(file_lock::acquire(path, 0ms).code() == ec(errc::symlink_refused));
            CHECK_FALSE(fs::exists(tmp / "nowhere"));
        }
        SUBCASE("a directory") {
            REQUIRE(::mkdir(path.c_str(), 0700) == 0);
            CHECK(file_lock::acquire(path, 0ms).code() == ec(errc::not_a_regular_file));
        }
        SUBCASE("a lock file owned by another user") {
            if (::geteuid() != 0) {
                MESSAGE("skipped: chown to another user needs root");
                return;
            }
            REQUIRE(::close(::open(path.c_str(), O_CREAT | O_WRONLY, 0600)) == 0);
            REQUIRE(::chown(path.c_str(), 65534, 65534) == 0);
            CHECK(file_lock::acquire(path, 0ms).code() == ec(errc::wrong_owner));
        }
    }

    TEST_CASE("a lock held by another process blocks us until that process is killed") {
        tvtest::temp_dir tmp;
        const auto path = tmp / "store.lock";
        tvtest::ready_pipe ready;
        child_process child([&] {
            auto lock = file_lock::acquire(path, 5s);
            ready.signal(lock ? 'L' : 'E');
            for (;;) ::pause();
            return 0;
        });
        REQUIRE(ready.wait() == 'L');

        lock_wait wait;
        const auto blocked = file_lock::acquire(path, 150ms, &wait);
        CHECK(blocked.code() == ec(errc::lock_timeout));
        CHECK(wait.contended);
        CHECK(wait.waited >= 150ms);

        CHECK(child.kill() == 128 + SIGKILL);
        lock_wait after;
        const auto taken = file_lock::acquire(path, 2s, &after);
        REQUIRE(taken);
        CHECK(taken->held());
        CHECK(after.waited < 2s);
    }

    TEST_CASE("a waiter gets the lock as soon as the other process releases it") {
        tvtest::temp_dir tmp;
        const auto path = tmp / "store.lock";
        tvtest::ready_pipe ready;
        child_process child([&] {
            auto lock = file_lock::acquire(path, 5s);
            ready.signal(lock ? 'L' : 'E');
            ::usleep(200'000);
            return 0;  // exits holding it: the kernel releases it
        });
        REQUIRE(ready.wait() == 'L');
        lock_wait wait;
        const auto taken = file_lock::acquire(path, 5s, &wait);
        REQUIRE(taken);
        CHECK(wait.contended);
        CHECK(wait.waited > 50ms);
        CHECK(wait.waited < 2s);
        CHECK(child.wait() == 0);
    }

    TEST_CASE("the lock serialises read-modify-write of a counter across 4 processes") {
        constexpr int processes = 4;
        constexpr int increments = 200;
        tvtest::temp_dir tmp;
        const auto lock_path = tmp / "counter.lock";
        const auto counter_path = tmp / "counter";
        {
            const int fd = ::open(counter_path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
            REQUIRE(fd >= 0);
            REQUIRE(::write(fd, "0", 1) == 1);
            REQUIRE(::close(fd) == 0);
        }
        auto worker = [&] {
            const int fd = ::open(counter_path.c_str(), O_RDWR | O_CLOEXEC);
            if (fd < 0) return 10;
            for (int i = 0; i < increments; ++i) {
                auto lock = file_lock::acquire(lock_path, 30s);
                if (!lock) return 11;
                char text[32] = {};
                const ssize_t n = ::pread(fd, text, sizeof text - 1, 0);
                if (n <= 0) return 12;
                const long value = std::strtol(text, nullptr, 10);
                ::sched_yield();  // widen the race window an unlocked version would lose
                const std::string next = std::to_string(value + 1);
                if (::ftruncate(fd, 0) != 0) return 13;
                if (::pwrite(fd, next.data(), next.size(), 0) != static_cast<ssize_t>(next.size())) return 14;
            }
            return ::close(fd) == 0 ? 0 : 15;
        };
        std::vector<std::unique_ptr<child_process>> children;
        for (int i = 0; i < processes; ++i) children.push_back(std::make_unique<child_process>(worker));
        for (auto& child : children) CHECK(child->wait() == 0);

        const int fd = ::open(counter_path.c_str(), O_RDONLY | O_CLOEXEC);
        REQUIRE(fd >= 0);
        char text[32] = {};
        REQUIRE(::read(fd, text, sizeof text - 1) > 0);
        REQUIRE(::close(fd) == 0);
        CHECK(std::strtol(text, nullptr, 10) == processes * increments);
    }

}  // TEST_SUITE

}  // namespace test_file_lock
