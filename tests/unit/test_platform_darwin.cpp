// tests/unit/test_platform_darwin.cpp: the Darwin paths of the POSIX platform layer, run on Linux.
//
// No Mac is available, so each place where Darwin differs is reached through the compile-time switch that
// picks it: the flush calls of `durable_flush` (a recorder standing in for fcntl(F_FULLFSYNC), which flushes
// for real with fsync), the member names of struct stat (fake structs of either layout), and the directory
// convention of `user_config_root` (named explicitly). The Linux answers are checked beside them.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tokenvault/platform/platform.hpp"

#include "support/forked.hpp"
#include "support/temp_dir.hpp"

namespace test_platform_darwin {  // unity builds put several test files in one translation unit

namespace fs = std::filesystem;
namespace tp = tokenvault::platform;
using tokenvault::errc;

namespace {

/// One flush call as the recorder saw it: which call, and whether the descriptor was a directory.
struct flush_call {
    std::string call;
    bool directory = false;
    bool operator==(const flush_call&) const = default;
};

/// What the recorder saw and which failures it injects (errno values; 0: the call succeeds).
struct flush_script {
    std::vector<flush_call> calls;
    std::vector<int> full_fsync_failures;  // consumed one per F_FULLFSYNC call, front first
    int fsync_failure = 0;
};

flush_script script;  // the tests run one at a time

bool is_directory(int fd) {
    struct stat st {};
    return ::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
}

/// The flush calls of a platform with (`FullFsync`) or without F_FULLFSYNC. The stand-in for
/// fcntl(F_FULLFSYNC) records the call, then fails as scripted or flushes for real with fsync.
template <bool FullFsync>
struct recording_flush_calls {
    static constexpr bool full_fsync = FullFsync;
    static int full_fsync_call(int fd) noexcept {
        script.calls.push_back({"F_FULLFSYNC", is_directory(fd)});
        if (!script.full_fsync_failures.empty()) {
            errno = script.full_fsync_failures.front();
            script.full_fsync_failures.erase(script.full_fsync_failures.begin());
            return -1;
        }
        return ::fsync(fd);
    }
    static int fsync_call(int fd) noexcept {
        script.calls.push_back({"fsync", is_directory(fd)});
        if (script.fsync_failure != 0) {
            errno = script.fsync_failure;
            return -1;
        }
        return ::fsync(fd);
    }
};

using darwin_flush = recording_flush_calls<true>;
using linux_flush = recording_flush_calls<false>;

const flush_call file_full{"F_FULLFSYNC", false};
const flush_call file_fsync{"fsync", false};
const flush_call dir_full{"F_FULLFSYNC", true};
const flush_call dir_fsync{"fsync", true};

std::string read_all(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::span<const std::byte> bytes_of(std::string_view s) {
    return std::as_bytes(std::span(s.data(), s.size()));
}

/// struct stat as Darwin (and the BSDs) name its times.
struct darwin_stat {
    dev_t st_dev = 0;
    ino_t st_ino = 0;
    off_t st_size = 0;
    struct timespec st_mtimespec {};
    struct timespec st_ctimespec {};
};

/// struct stat as Linux (POSIX.1-2008) names its times.
struct linux_stat {
    dev_t st_dev = 0;
    ino_t st_ino = 0;
    off_t st_size = 0;
    struct timespec st_mtim {};
    struct timespec st_ctim {};
};

/// A struct of the given layout with distinct modification and change times (so a swap would show).
template <class Stat>
Stat stat_with_times(struct timespec mtime, struct timespec ctime) {
    Stat st{};
    st.st_dev = 7;
    st.st_ino = 42;
    st.st_size = 1234;
    if constexpr (tp::has_darwin_stat_times<Stat>) {
        st.st_mtimespec = mtime;
        st.st_ctimespec = ctime;
    } else {
        st.st_mtim = mtime;
        st.st_ctim = ctime;
    }
    return st;
}

/// The home directory of the effective uid in the user database, or empty.
fs::path passwd_home() {
    const passwd* entry = ::getpwuid(::geteuid());
    if (entry == nullptr || entry->pw_dir == nullptr || entry->pw_dir[0] != '/') return {};
    return entry->pw_dir;
}

}  // namespace

TEST_SUITE("unit") {
    TEST_CASE("durable_flush uses F_FULLFSYNC where the platform has it, and fsync where it has not") {
        tvtest::temp_dir tmp;
        const auto file = tmp / "f";
        { std::ofstream(file) << "x"; }
        tp::unique_fd fd(::open(file.c_str(), O_RDWR | O_CLOEXEC));
        REQUIRE(fd.valid());

#if defined(F_FULLFSYNC)
        CHECK(tp::system_flush_calls::full_fsync);
#else
        CHECK_FALSE(tp::system_flush_calls::full_fsync);  // Linux: this build takes the fsync path
#endif

        SUBCASE("with F_FULLFSYNC: F_FULLFSYNC alone") {
            script = {};
            CHECK(tp::durable_flush<darwin_flush>(fd.get()) == 0);
            CHECK(script.calls == std::vector{file_full});
        }
        SUBCASE("with F_FULLFSYNC refused by the file system: fsync after it") {
            script = {};
            script.full_fsync_failures = {ENOTSUP};
            CHECK(tp::durable_flush<darwin_flush>(fd.get()) == 0);
            CHECK(script.calls == std::vector{file_full, file_fsync});
        }
        SUBCASE("with F_FULLFSYNC interrupted: F_FULLFSYNC again, not fsync") {
            script = {};
            script.full_fsync_failures = {EINTR};
            CHECK(tp::durable_flush<darwin_flush>(fd.get()) == 0);
            CHECK(script.calls == std::vector{file_full, file_full});
        }
        SUBCASE("with both failing: fsync's error") {
            script = {};
            script.full_fsync_failures = {ENOTSUP};
            script.fsync_failure = EIO;
            CHECK(tp::durable_flush<darwin_flush>(fd.get()) == EIO);
            CHECK(script.calls == std::vector{file_full, file_fsync});
        }
        SUBCASE("without F_FULLFSYNC: fsync alone") {
            script = {};
            CHECK(tp::durable_flush<linux_flush>(fd.get()) == 0);
            CHECK(script.calls == std::vector{file_fsync});
            script = {};
            script.fsync_failure = EIO;
            CHECK(tp::durable_flush<linux_flush>(fd.get()) == EIO);
        }
    }

    TEST_CASE("a durable replace flushes the file and then its directory the platform's way") {
        tvtest::temp_dir tmp;
        const auto target = tmp / "tokens.sealed";

        SUBCASE("with F_FULLFSYNC") {
            script = {};
            REQUIRE(tp::write_file_atomically<darwin_flush>(target, bytes_of("first")));
            CHECK(script.calls == std::vector{file_full, dir_full});
            CHECK(read_all(target) == "first");
        }
        SUBCASE("with F_FULLFSYNC refused for the file and the directory") {
            script = {};
            script.full_fsync_failures = {ENOTSUP, ENOTSUP};
            REQUIRE(tp::write_file_atomically<darwin_flush>(target, bytes_of("second")));
            CHECK(script.calls == std::vector{file_full, file_fsync, dir_full, dir_fsync});
            CHECK(read_all(target) == "second");
        }
        SUBCASE("without F_FULLFSYNC") {
            script = {};
            REQUIRE(tp::write_file_atomically<linux_flush>(target, bytes_of("third")));
            CHECK(script.calls == std::vector{file_fsync, dir_fsync});
            CHECK(read_all(target) == "third");
        }
        SUBCASE("a file that cannot be flushed is not renamed into place") {
            REQUIRE(tp::write_file_atomically(target, bytes_of("kept")));
            script = {};
            script.full_fsync_failures = {EIO};
            script.fsync_failure = EIO;
            const auto written = tp::write_file_atomically<darwin_flush>(target, bytes_of("lost"));
            REQUIRE_FALSE(written);
            CHECK(written.error().code == tokenvault::make_error_code(errc::io_error));
            CHECK(script.calls == std::vector{file_full, file_fsync});
            CHECK(read_all(target) == "kept");
            CHECK(std::distance(fs::directory_iterator(tmp.path()), fs::directory_iterator{}) ==
                  1);  // no temp file
        }
    }

    TEST_CASE(
        "replace_file flushes the file before the rename and leaves the directory flush to its caller") {
        tvtest::temp_dir tmp;
        const auto target = tmp / "tokens.sealed";

        SUBCASE("complete() runs the directory flush once") {
            script = {};
            auto replaced = tp::replace_file<linux_flush>(target, bytes_of("first"));
            REQUIRE(replaced);
            CHECK(script.calls == std::vector{file_fsync});  // renamed into place, directory not yet flushed
            CHECK(read_all(target) == "first");
            CHECK(tp::stat_identity(target).value() == replaced->identity);
            CHECK(replaced->sync.pending());
            REQUIRE(replaced->sync.complete());
            CHECK(script.calls == std::vector{file_fsync, dir_fsync});
            CHECK_FALSE(replaced->sync.pending());
            REQUIRE(replaced->sync.complete());  // nothing left to do
            CHECK(script.calls == std::vector{file_fsync, dir_fsync});
        }
        SUBCASE("a flush never completed runs when its owner goes away, and a moved one runs once") {
            script = {};
            {
                auto replaced = tp::replace_file<linux_flush>(target, bytes_of("second"));
                REQUIRE(replaced);
                tp::pending_sync moved = std::move(replaced->sync);
                CHECK_FALSE(replaced->sync.pending());
                CHECK(moved.pending());
                CHECK(script.calls == std::vector{file_fsync});
            }
            CHECK(script.calls == std::vector{file_fsync, dir_fsync});
        }
        SUBCASE("a failed directory flush is reported by complete()") {
            script = {};
            auto replaced = tp::replace_file<linux_flush>(target, bytes_of("third"));
            REQUIRE(replaced);
            script.fsync_failure = EIO;
            const auto synced = replaced->sync.complete();
            REQUIRE_FALSE(synced);
            CHECK(synced.error().code == tokenvault::make_error_code(errc::io_error));
            CHECK(read_all(target) == "third");  // the rename itself happened
        }
    }

    TEST_CASE(
        "a directory that cannot be flushed is tolerated only where the file system cannot flush "
        "directories") {
        tvtest::temp_dir tmp;
        SUBCASE("EINVAL from both calls: the rename is as durable as it gets there") {
            script = {};
            script.full_fsync_failures = {EINVAL};
            script.fsync_failure = EINVAL;
            CHECK(tp::sync_directory<darwin_flush>(tmp.path()));
            CHECK(script.calls == std::vector{dir_full, dir_fsync});
        }
        SUBCASE("EIO: an error naming the directory") {
            script = {};
            script.full_fsync_failures = {EIO};
            script.fsync_failure = EIO;
            const auto synced = tp::sync_directory<darwin_flush>(tmp.path());
            REQUIRE_FALSE(synced);
            CHECK(synced.error().code == tokenvault::make_error_code(errc::io_error));
            CHECK(synced.error().context.find(tmp.path().string()) != std::string::npos);
        }
    }

    TEST_CASE(
        "file times are read from st_mtimespec/st_ctimespec or st_mtim/st_ctim, whichever struct stat has") {
        static_assert(tp::has_darwin_stat_times<darwin_stat> && !tp::has_posix_stat_times<darwin_stat>);
        static_assert(tp::has_posix_stat_times<linux_stat> && !tp::has_darwin_stat_times<linux_stat>);
#if defined(__linux__)
        static_assert(tp::has_posix_stat_times<struct stat> && !tp::has_darwin_stat_times<struct stat>);
#endif
        const struct timespec mtime { 1'700'000'000, 123'456'789 };
        const struct timespec ctime { 1'700'000'001, 987'654'321 };

        const auto check_layout = [&](const auto& st) {
            const auto [m_ns, c_ns] = tp::stat_times(st);
            CHECK(m_ns == 1'700'000'000'123'456'789LL);
            CHECK(c_ns == 1'700'000'001'987'654'321LL);
            const struct timespec m = tp::stat_mtime(st);
            CHECK(m.tv_sec == mtime.tv_sec);
            CHECK(m.tv_nsec == mtime.tv_nsec);
            const auto identity = tp::identity_of(st);
            CHECK(identity.dev == 7);
            CHECK(identity.ino == 42);
            CHECK(identity.size == 1234);
            CHECK(identity.mtime_ns == m_ns);
            CHECK(identity.ctime_ns == c_ns);
        };
        SUBCASE("Darwin layout") { check_layout(stat_with_times<darwin_stat>(mtime, ctime)); }
        SUBCASE("Linux layout") { check_layout(stat_with_times<linux_stat>(mtime, ctime)); }

        SUBCASE("the change check sees a change of either time, in either layout") {
            const struct timespec later { ctime.tv_sec, ctime.tv_nsec + 1 };
            CHECK(tp::identity_of(stat_with_times<darwin_stat>(mtime, ctime)) !=
                  tp::identity_of(stat_with_times<darwin_stat>(mtime, later)));
            CHECK(tp::identity_of(stat_with_times<darwin_stat>(mtime, ctime)) !=
                  tp::identity_of(stat_with_times<darwin_stat>(later, ctime)));
            CHECK(tp::identity_of(stat_with_times<linux_stat>(mtime, ctime)) !=
                  tp::identity_of(stat_with_times<linux_stat>(mtime, later)));
            CHECK(tp::identity_of(stat_with_times<darwin_stat>(mtime, ctime)) ==
                  tp::identity_of(stat_with_times<linux_stat>(mtime, ctime)));
        }
        SUBCASE("this system's struct stat gives the identity stat_identity reports") {
            tvtest::temp_dir tmp;
            const auto file = tmp / "f";
            REQUIRE(tp::write_file_atomically(file, bytes_of("abc")));
            struct stat st {};
            REQUIRE(::lstat(file.c_str(), &st) == 0);
            const auto identity = tp::stat_identity(file).value();
            REQUIRE(identity);
            CHECK(tp::identity_of(st) == *identity);
        }
    }

    TEST_CASE("the default directory: Application Support on Apple platforms, XDG elsewhere") {
#if defined(__APPLE__)
        CHECK(tp::native_directory_convention == tp::directory_convention::apple);
#else
        CHECK(tp::native_directory_convention == tp::directory_convention::xdg);
#endif
        // Each case runs in a child, which may change its environment freely.
        SUBCASE("HOME set: ~/Library/Application Support, whatever XDG_CONFIG_HOME says; ~/.config or XDG") {
            CHECK(tvtest::run_in_child([] {
                      ::setenv("HOME", "/Users/someone", 1);
                      ::setenv("XDG_CONFIG_HOME", "/somewhere/config", 1);
                      const auto apple = tp::user_config_root<tp::directory_convention::apple>();
                      if (!apple || *apple != fs::path("/Users/someone/Library/Application Support"))
                          return 1;
                      const auto xdg = tp::user_config_root<tp::directory_convention::xdg>();
                      if (!xdg || *xdg != fs::path("/somewhere/config")) return 2;
                      ::unsetenv("XDG_CONFIG_HOME");
                      const auto xdg_home = tp::user_config_root<tp::directory_convention::xdg>();
                      if (!xdg_home || *xdg_home != fs::path("/Users/someone/.config")) return 3;
                      return 0;
                  }) == 0);
        }
        SUBCASE("HOME unset or relative: the user database's home, under either convention") {
            const auto home = passwd_home();
            if (home.empty()) {
                MESSAGE("skipped: this uid has no passwd home directory");
                return;
            }
            CHECK(tvtest::run_in_child([&] {
                      ::unsetenv("XDG_CONFIG_HOME");
                      for (const char* value : {static_cast<const char*>(nullptr), "relative/home"}) {
                          if (value == nullptr)
                              ::unsetenv("HOME");
                          else
                              ::setenv("HOME", value, 1);
                          const auto apple = tp::user_config_root<tp::directory_convention::apple>();
                          if (!apple || *apple != home / "Library" / "Application Support") return 1;
                          const auto xdg = tp::user_config_root<tp::directory_convention::xdg>();
                          if (!xdg || *xdg != home / ".config") return 2;
                      }
                      return 0;
                  }) == 0);
        }
        SUBCASE("no home at all: an error that says to set HOME, under either convention") {
            if (::geteuid() != 0) {
                MESSAGE("skipped: running as a uid without a passwd entry needs root");
                return;
            }
            CHECK(tvtest::run_in_child([] {
                      ::unsetenv("HOME");
                      ::setenv("XDG_CONFIG_HOME", "relative/config", 1);
                      if (::setgid(54322) != 0 || ::setuid(54322) != 0) return 10;
                      if (::getpwuid(54322) != nullptr)
                          return 11;  // the uid must have no entry for this test
                      const auto apple = tp::user_config_root<tp::directory_convention::apple>();
                      if (apple || apple.error().code != tokenvault::make_error_code(errc::invalid_argument))
                          return 1;
                      if (apple.error().context.find("set HOME") == std::string::npos) return 2;
                      if (apple.error().context.find("XDG_CONFIG_HOME") != std::string::npos) return 3;
                      const auto xdg = tp::user_config_root<tp::directory_convention::xdg>();
                      if (xdg || xdg.error().context.find("XDG_CONFIG_HOME") == std::string::npos) return 4;
                      return 0;
                  }) == 0);
        }
    }

}  // TEST_SUITE

}  // namespace test_platform_darwin
