// tests/unit/test_store_directory_posix.cpp: where a store lives and which directories it refuses (POSIX).
//
// The default directory: $XDG_CONFIG_HOME, else $HOME/.config, else the home directory of the user
// database; with none of them an error, never a path relative to the working directory (checked in a
// child running as a uid without a passwd entry, when run as root). The store directory is checked when
// a store reads it, not only when it writes; its parent must not let other users replace it (writable
// by others and not sticky, or owned by another user: the ssh rule). File times far outside the range of
// a nanosecond clock saturate instead of overflowing.
#include <doctest/doctest.h>

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tokenvault/detail/migration_support.hpp>
#include <tokenvault/platform/platform.hpp>
#include <tokenvault/presets.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>

#include "support/forked.hpp"
#include "support/temp_dir.hpp"
#include "support/tokens.hpp"

namespace test_store_directory_posix {  // unity builds put several test files in one translation unit

namespace fs = std::filesystem;
namespace tv = tokenvault;

namespace {

std::error_code ec(tv::errc c) { return tv::make_error_code(c); }

/// Sets (or, with nullopt, unsets) an environment variable for a scope.
class env_guard {
public:
    env_guard(const char* name, std::optional<std::string> value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        if (value)
            ::setenv(name, value->c_str(), 1);
        else
            ::unsetenv(name);
    }
    ~env_guard() {
        if (old_)
            ::setenv(name_, old_->c_str(), 1);
        else
            ::unsetenv(name_);
    }
    env_guard(const env_guard&) = delete;
    env_guard& operator=(const env_guard&) = delete;

private:
    const char* name_;
    std::optional<std::string> old_;
};

tv::store_options options_in(const fs::path& dir) {
    tv::store_options o;
    o.app_name = tvtest::unique_name("tv-dir");
    o.directory = dir;
    return o;
}

}  // namespace

TEST_SUITE("unit") {
    TEST_CASE("the default directory: XDG_CONFIG_HOME, else HOME/.config, else the user database's home") {
        SUBCASE("XDG_CONFIG_HOME when it is absolute") {
            env_guard xdg("XDG_CONFIG_HOME", "/somewhere/config");
            env_guard home("HOME", "/home/someone");
            CHECK(tv::store_options::default_directory("app") == fs::path("/somewhere/config/app"));
        }
        SUBCASE("HOME/.config when XDG_CONFIG_HOME is unset or relative") {
            env_guard xdg("XDG_CONFIG_HOME", "relative/config");
            env_guard home("HOME", "/home/someone");
            CHECK(tv::store_options::default_directory("app") == fs::path("/home/someone/.config/app"));
        }
        SUBCASE("the passwd entry of the effective uid when neither is set, or HOME is relative") {
            const passwd* entry = ::getpwuid(::geteuid());
            if (entry == nullptr || entry->pw_dir == nullptr || entry->pw_dir[0] != '/') {
                MESSAGE("skipped: this uid has no passwd home directory");
                return;
            }
            const fs::path expected = fs::path(entry->pw_dir) / ".config" / "app";
            env_guard xdg("XDG_CONFIG_HOME", std::nullopt);
            {
                env_guard home("HOME", std::nullopt);
                CHECK(tv::store_options::default_directory("app") == expected);
            }
            env_guard home("HOME", "not/absolute");
            CHECK(tv::store_options::default_directory("app") == expected);
            tv::store_options o;
            o.app_name = "app";
            CHECK(o.store_directory().value() == expected);
            CHECK_FALSE(o.directory_error());
        }
    }

    TEST_CASE("without HOME and without a passwd entry a store says so and writes nothing anywhere") {
        if (::geteuid() != 0) {
            MESSAGE("skipped: running as a uid without a passwd entry needs root");
            return;
        }
        tvtest::temp_dir tmp;
        REQUIRE(::chmod(tmp.path().c_str(), 0777) == 0);  // the child may look into it
        const int code = tvtest::run_in_child([&] {
            ::unsetenv("HOME");
            ::unsetenv("XDG_CONFIG_HOME");
            if (::setgid(54321) != 0 || ::setuid(54321) != 0) return 10;
            if (::getpwuid(54321) != nullptr) return 11;  // the uid must have no entry for this test
            if (::chdir(tmp.path().c_str()) != 0) return 12;
            tv::store_options o;
            o.app_name = "tv-nohome";
            if (!o.resolved_directory().empty()) return 13;
            const auto missing = o.directory_error();
            if (!missing || missing->code != ec(tv::errc::invalid_argument)) return 14;
            if (missing->context.find("HOME") == std::string::npos) return 15;
            tv::presets::embedded store(o);
            const auto put = store.put(tvtest::id_for(1), tvtest::sample_token("x"));
            if (put.code() != ec(tv::errc::invalid_argument)) return 16;
            if (put.error().context != missing->context) return 17;
            if (store.get(tvtest::id_for(1)).code() != ec(tv::errc::invalid_argument)) return 18;
            if (!fs::is_empty(tmp.path())) return 19;  // nothing relative to the working directory
            return 0;
        });
        CHECK(code == 0);
    }

    TEST_CASE("a store directory that became group writable is refused when the store reads it") {
        tvtest::temp_dir tmp;
        const auto o = options_in(tmp / "store");
        {
            tv::presets::embedded store(o);
            REQUIRE(store.put(tvtest::id_for(1), tvtest::sample_token("x")));
        }
        REQUIRE(::chmod(o.directory.c_str(), 0770) == 0);
        tv::presets::embedded reader(o);
        const auto got = reader.get(tvtest::id_for(1));
        CHECK(got.code() == ec(tv::errc::insecure_permissions));
        CHECK(got.error().context.find(o.directory.string()) != std::string::npos);
        REQUIRE(::chmod(o.directory.c_str(), 0700) == 0);
        CHECK(reader.get(tvtest::id_for(1)).value().has_value());
    }

    TEST_CASE("a store directory owned by another user is refused when the store reads it") {
        if (::geteuid() != 0) {
            MESSAGE("skipped: chown to another user needs root");
            return;
        }
        tvtest::temp_dir tmp;
        const auto o = options_in(tmp / "store");
        {
            tv::presets::embedded store(o);
            REQUIRE(store.put(tvtest::id_for(1), tvtest::sample_token("x")));
        }
        REQUIRE(::chown(o.directory.c_str(), 65534, 65534) == 0);
        tv::presets::embedded reader(o);
        CHECK(reader.get(tvtest::id_for(1)).code() == ec(tv::errc::wrong_owner));
    }

    TEST_CASE("a store directory inside a directory other users may write is refused unless it is sticky") {
        tvtest::temp_dir tmp;
        const auto shared = tmp / "shared";
        REQUIRE(::mkdir(shared.c_str(), 0700) == 0);
        const auto o = options_in(shared / "store");
        SUBCASE("world writable, not sticky: refused on write and on read") {
            REQUIRE(::chmod(shared.c_str(), 0777) == 0);
            tv::presets::embedded store(o);
            const auto put = store.put(tvtest::id_for(1), tvtest::sample_token("x"));
            CHECK(put.code() == ec(tv::errc::insecure_permissions));
            CHECK(put.error().context.find(shared.string()) != std::string::npos);
            CHECK(put.error().context.find("sticky") != std::string::npos);
            REQUIRE(::chmod(shared.c_str(), 0700) == 0);
            REQUIRE(store.put(tvtest::id_for(1), tvtest::sample_token("x")));
            REQUIRE(::chmod(shared.c_str(), 0777) == 0);
            tv::presets::embedded reader(o);
            CHECK(reader.get(tvtest::id_for(1)).code() == ec(tv::errc::insecure_permissions));
        }
        SUBCASE("group writable, not sticky: refused") {
            REQUIRE(::chmod(shared.c_str(), 0770) == 0);
            tv::presets::embedded store(o);
            CHECK(store.put(tvtest::id_for(1), tvtest::sample_token("x")).code() ==
                  ec(tv::errc::insecure_permissions));
        }
        SUBCASE("world writable and sticky, as /tmp: accepted") {
            REQUIRE(::chmod(shared.c_str(), 01777) == 0);
            tv::presets::embedded store(o);
            CHECK(store.put(tvtest::id_for(1), tvtest::sample_token("x")));
            tv::presets::embedded reader(o);
            CHECK(reader.get(tvtest::id_for(1)).value().has_value());
        }
        SUBCASE("owned by another user: refused") {
            if (::geteuid() != 0) {
                MESSAGE("skipped: chown to another user needs root");
                return;
            }
            REQUIRE(::chmod(shared.c_str(), 0755) == 0);
            REQUIRE(::chown(shared.c_str(), 65534, 65534) == 0);
            tv::presets::embedded store(o);
            const auto put = store.put(tvtest::id_for(1), tvtest::sample_token("x"));
            CHECK(put.code() == ec(tv::errc::wrong_owner));
            CHECK(put.error().context.find("uid 65534") != std::string::npos);
        }
    }

    TEST_CASE("file times beyond the range of a nanosecond clock saturate") {
        tvtest::temp_dir tmp;
        const auto file = tmp / "far";
        REQUIRE(tv::platform::write_file_atomically(file, std::span<const std::byte>{}));
        const std::int64_t max = std::numeric_limits<std::int64_t>::max();
        const std::int64_t min = std::numeric_limits<std::int64_t>::min();

        // Year 2600 (file systems may clamp it to their own limit, 2446 for ext4: still beyond 2262, the
        // last year a signed 64-bit count of nanoseconds reaches).
        const timespec future[2] = {{0, UTIME_OMIT}, {20'000'000'000LL, 5}};
        REQUIRE(::utimensat(AT_FDCWD, file.c_str(), future, 0) == 0);
        auto identity = tv::platform::stat_identity(file).value();
        REQUIRE(identity);
        CHECK(identity->mtime_ns == max);
        CHECK(tv::detail::modification_time(*identity) ==
              tv::platform::epoch_ns_to_time_point<tv::clock>(max));

        CHECK(tv::platform::saturating_epoch_ns(1, 5) == 1'000'000'005);
        CHECK(tv::platform::saturating_epoch_ns(-1, 0) == -1'000'000'000);
        CHECK(tv::platform::saturating_epoch_ns(max / 1'000'000'000, 999'999'999) == max);
        CHECK(tv::platform::saturating_epoch_ns(min / 1'000'000'000, -999'999'999) == min);
    }

}  // TEST_SUITE

}  // namespace test_store_directory_posix
