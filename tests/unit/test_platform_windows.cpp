// tests/unit/test_platform_windows.cpp: the Win32 platform layer on a real (wine or Windows) file system.
//
// Private files round-trip with their identity; a rewrite changes the identity; a replace succeeds while a
// reader holds the file and retries while another program holds it without sharing; reparse points,
// directories in place of files and unsafe names are refused; lock files exclude and share as documented.
// The ownership and DACL rule is checked on security descriptors built in memory (wine keeps no DACL on
// files, so a file's descriptor there says nothing about what was set), including the descriptor every
// file and directory is created with.
#include <doctest/doctest.h>

#include <tokenvault/options.hpp>
#include <tokenvault/platform/platform.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "support/temp_dir.hpp"

namespace test_platform_windows {  // unity builds put several test files in one translation unit

namespace fs = std::filesystem;
namespace tv = tokenvault;
namespace tp = tokenvault::platform;
using namespace std::chrono_literals;

namespace {

std::error_code ec(tv::errc c) { return tv::make_error_code(c); }

std::span<const std::byte> bytes_of(std::string_view text) {
    return std::as_bytes(std::span<const char>(text.data(), text.size()));
}

std::string read_raw(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// A well-known SID.
struct well_known {
    explicit well_known(WELL_KNOWN_SID_TYPE type) {
        DWORD size = static_cast<DWORD>(sid.size());
        REQUIRE(::CreateWellKnownSid(type, nullptr, sid.data(), &size));
    }
    PSID get() { return sid.data(); }
    std::array<BYTE, SECURITY_MAX_SID_SIZE> sid{};
};

/// An ACL built ACE by ACE.
struct acl_builder {
    acl_builder() { REQUIRE(::InitializeAcl(reinterpret_cast<PACL>(buffer.data()), 4096, ACL_REVISION)); }
    acl_builder& allow(PSID sid, ACCESS_MASK mask, DWORD flags = 0) {
        REQUIRE(::AddAccessAllowedAceEx(get(), ACL_REVISION, flags, mask, sid));
        return *this;
    }
    acl_builder& deny(PSID sid, ACCESS_MASK mask) {
        REQUIRE(::AddAccessDeniedAceEx(get(), ACL_REVISION, 0, mask, sid));
        return *this;
    }
    PACL get() { return reinterpret_cast<PACL>(buffer.data()); }
    alignas(DWORD) std::array<BYTE, 4096> buffer{};
};

}  // namespace

TEST_SUITE("unit") {
    TEST_CASE("windows: a private file round-trips, and a rewrite changes its identity") {
        tvtest::temp_dir tmp;
        const auto dir = tmp / "store";
        REQUIRE(tp::ensure_private_directory(dir));
        const auto file = dir / "tokens.sealed";
        const auto first = tp::write_file_atomically(file, bytes_of("first version"));
        REQUIRE(first);
        CHECK(tp::stat_identity(file).value() == *first);
        auto read = tp::read_private_file(file, 1024);
        REQUIRE(read);
        REQUIRE(*read);
        CHECK((*read)->bytes.view() == "first version");
        CHECK((*read)->identity == *first);

        const auto second = tp::write_file_atomically(file, bytes_of("second"));
        REQUIRE(second);
        CHECK(*second != *first);
        CHECK(second->mtime_ns > first->mtime_ns);  // made strictly later than the file it replaced
        CHECK(read_raw(file) == "second");
        std::vector<std::string> names;
        for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
        CHECK(names == std::vector<std::string>{"tokens.sealed"});  // no temp file left behind

        CHECK_FALSE(tp::read_private_file(dir / "absent", 1024).value());
        CHECK_FALSE(tp::stat_identity(dir / "absent").value());
        CHECK(tp::read_private_file(file, 3).code() == ec(tv::errc::too_large));
    }

    TEST_CASE("windows: names with non-ASCII characters work end to end") {
        tvtest::temp_dir tmp;
        const auto dir = tmp / fs::path(L"J\u00f6s\u00e9 \u4f60\u597d");
        REQUIRE(tp::ensure_store_directory(dir));
        const auto file = dir / fs::path(L"t\u00f6kens");
        REQUIRE(tp::write_file_atomically(file, bytes_of("x")));
        CHECK(tp::read_private_file(file, 16).value().has_value());
        auto moved = tp::quarantine_file(file);
        REQUIRE(moved);
        CHECK(fs::exists(*moved));
        CHECK(moved->filename().native().rfind(L"t\u00f6kens.corrupt-", 0) == 0);
        CHECK(tp::remove_file(*moved).value());
        CHECK_FALSE(tp::remove_file(*moved).value());
    }

    TEST_CASE(
        "windows: a replace succeeds under running change checks, and waits out a program that holds the "
        "file") {
        tvtest::temp_dir tmp;
        const auto file = tmp / "tokens.sealed";
        REQUIRE(tp::write_file_atomically(file, bytes_of("one")));
        SUBCASE("change checks running all the while (they open no handle on the file)") {
            std::atomic<bool> stop{false};
            std::atomic<int> checks{0};
            std::thread checker([&] {
                while (!stop) {
                    if (tp::stat_identity(file)) ++checks;
                }
            });
            bool all_written = true;
            for (int i = 0; i < 50; ++i)
                all_written = all_written && tp::write_file_atomically(file, bytes_of("two")).has_value();
            stop = true;
            checker.join();
            CHECK(all_written);
            CHECK(checks > 0);
            CHECK(read_raw(file) == "two");
        }
        SUBCASE("a program that holds it without sharing delete for 300 ms") {
            tp::unique_handle holder(::CreateFileW(file.c_str(), GENERIC_READ, FILE_SHARE_READ, nullptr,
                                                   OPEN_EXISTING, 0, nullptr));
            REQUIRE(holder.valid());
            std::thread release([&] {
                std::this_thread::sleep_for(300ms);
                holder.reset();
            });
            const auto written = tp::write_file_atomically(file, bytes_of("three"));
            release.join();
            CHECK(written);
            CHECK(read_raw(file) == "three");
        }
    }

    TEST_CASE("windows: reparse points, directories and unsafe names are refused") {
        tvtest::temp_dir tmp;
        const auto real = tmp / "real";
        REQUIRE(tp::write_file_atomically(real, bytes_of("secret")));
        SUBCASE("a directory in place of a file") {
            fs::create_directory(tmp / "dir");
            CHECK(tp::read_private_file(tmp / "dir", 16).code() == ec(tv::errc::not_a_regular_file));
            CHECK(tp::write_file_atomically(tmp / "dir", bytes_of("x")).code() ==
                  ec(tv::errc::not_a_regular_file));
            CHECK(tp::ensure_private_directory(real).code() == ec(tv::errc::not_a_regular_file));
        }
        SUBCASE("symbolic links to a file and to a directory") {
            fs::create_directory(tmp / "realdir");
            const bool file_link = ::CreateSymbolicLinkW((tmp / "link").c_str(), real.c_str(), 0) != 0;
            const bool dir_link = ::CreateSymbolicLinkW((tmp / "linkdir").c_str(), (tmp / "realdir").c_str(),
                                                        SYMBOLIC_LINK_FLAG_DIRECTORY) != 0;
            if (!file_link || !dir_link) {
                MESSAGE("skipped: this system does not let the test create symbolic links");
                return;
            }
            if (::GetFileAttributesW((tmp / "link").c_str()) == INVALID_FILE_ATTRIBUTES) {
                // wine 8's CreateSymbolicLinkW reports success and creates nothing
                MESSAGE("skipped: CreateSymbolicLinkW succeeded but made no link (wine)");
                return;
            }
            CHECK(tp::read_private_file(tmp / "link", 16).code() == ec(tv::errc::symlink_refused));
            CHECK(tp::write_file_atomically(tmp / "link", bytes_of("x")).code() ==
                  ec(tv::errc::symlink_refused));
            CHECK(read_raw(real) == "secret");
            CHECK(tp::ensure_private_directory(tmp / "linkdir").code() == ec(tv::errc::symlink_refused));
            CHECK(tp::file_lock::acquire(tmp / "link", 0ms).code() == ec(tv::errc::symlink_refused));
            CHECK(tp::remove_file(tmp / "link").value());  // the link, not its target
            CHECK(fs::exists(real));
        }
        SUBCASE("file names that are not plain names here") {
            for (const char* name :
                 {"CON", "nul.txt", "a:stream", "x\\y", "x/y", "trailing.", "COM1", "", ".."})
                CHECK_FALSE(tp::is_plain_file_name(name));
            for (const char* name : {"tokens.sealed", "CONSOLE", "com10", ".hidden"})
                CHECK(tp::is_plain_file_name(name));
        }
    }

    TEST_CASE("windows: the owner and DACL rule") {
        const auto& user = tp::current_user::get();
        REQUIRE(user.valid());
        well_known everyone(WinWorldSid), system(WinLocalSystemSid), admins(WinBuiltinAdministratorsSid),
            users(WinBuiltinUsersSid);
        SUBCASE("owner-only, with SYSTEM and Administrators: private") {
            acl_builder acl;
            acl.allow(user.user_sid(), FILE_ALL_ACCESS)
                .allow(system.get(), FILE_ALL_ACCESS)
                .allow(admins.get(), GENERIC_ALL);
            acl.allow(everyone.get(), FILE_GENERIC_READ);  // reading is not the question here
            CHECK(tp::judge_security(user.user_sid(), acl.get(), tp::write_rights) ==
                  tp::security_verdict::ok);
        }
        SUBCASE("another user may write, change the DACL or delete: refused, naming them") {
            for (const ACCESS_MASK right :
                 {ACCESS_MASK{FILE_WRITE_DATA}, ACCESS_MASK{FILE_APPEND_DATA}, ACCESS_MASK{WRITE_DAC},
                  ACCESS_MASK{WRITE_OWNER}, ACCESS_MASK{DELETE}, ACCESS_MASK{GENERIC_WRITE},
                  ACCESS_MASK{GENERIC_ALL}}) {
                CAPTURE(right);
                acl_builder acl;
                acl.allow(user.user_sid(), FILE_ALL_ACCESS).allow(users.get(), right);
                std::string who;
                CHECK(tp::judge_security(user.user_sid(), acl.get(), tp::write_rights, &who) ==
                      tp::security_verdict::others_may_write);
                CHECK(who == "S-1-5-32-545");
            }
        }
        SUBCASE("no DACL at all gives everyone everything: refused") {
            CHECK(tp::judge_security(user.user_sid(), nullptr, tp::write_rights) ==
                  tp::security_verdict::others_may_write);
        }
        SUBCASE("a foreign owner: refused") {
            acl_builder acl;
            acl.allow(user.user_sid(), FILE_ALL_ACCESS);
            CHECK(tp::judge_security(users.get(), acl.get(), tp::write_rights) ==
                  tp::security_verdict::foreign_owner);
        }
        SUBCASE("deny ACEs and inherit-only ACEs grant nothing") {
            acl_builder acl;
            acl.allow(user.user_sid(), FILE_ALL_ACCESS).deny(everyone.get(), FILE_WRITE_DATA);
            acl.allow(users.get(), GENERIC_ALL, INHERIT_ONLY_ACE | OBJECT_INHERIT_ACE);
            CHECK(tp::judge_security(user.user_sid(), acl.get(), tp::write_rights) ==
                  tp::security_verdict::ok);
        }
        SUBCASE(
            "a store directory's parent: others may add entries (as in a sticky directory), not delete "
            "them") {
            acl_builder acl;
            acl.allow(user.user_sid(), FILE_ALL_ACCESS)
                .allow(users.get(), FILE_ADD_SUBDIRECTORY | FILE_ADD_FILE);
            CHECK(tp::judge_security(user.user_sid(), acl.get(), tp::replace_child_rights) ==
                  tp::security_verdict::ok);
            acl.allow(users.get(), FILE_DELETE_CHILD);
            CHECK(tp::judge_security(user.user_sid(), acl.get(), tp::replace_child_rights) ==
                  tp::security_verdict::others_may_write);
        }
        SUBCASE("what tokenvault creates files and directories with passes the rule, and is protected") {
            SECURITY_ATTRIBUTES* attributes = tp::private_security::shared();
            REQUIRE(attributes != nullptr);
            auto* descriptor = static_cast<PSECURITY_DESCRIPTOR>(attributes->lpSecurityDescriptor);
            BOOL present = FALSE, defaulted = FALSE;
            PACL dacl = nullptr;
            REQUIRE(::GetSecurityDescriptorDacl(descriptor, &present, &dacl, &defaulted));
            REQUIRE(present);
            REQUIRE(dacl != nullptr);
            CHECK(dacl->AceCount == 1);
            CHECK(tp::judge_security(user.user_sid(), dacl, tp::write_rights) == tp::security_verdict::ok);
            SECURITY_DESCRIPTOR_CONTROL control = 0;
            DWORD revision = 0;
            REQUIRE(::GetSecurityDescriptorControl(descriptor, &control, &revision));
            CHECK((control & SE_DACL_PROTECTED) != 0);
            void* ace = nullptr;
            REQUIRE(::GetAce(dacl, 0, &ace));
            CHECK(static_cast<ACE_HEADER*>(ace)->AceFlags == 0);  // nothing inherited, nothing to inherit
            CHECK(::EqualSid(&static_cast<ACCESS_ALLOWED_ACE*>(ace)->SidStart, user.user_sid()));
        }
    }

    TEST_CASE("windows: files and directories tokenvault made pass its own checks") {
        tvtest::temp_dir tmp;
        const auto dir = tmp / "a" / "b";
        REQUIRE(tp::ensure_store_directory(dir));
        CHECK(tp::check_store_directory(dir));
        REQUIRE(tp::write_file_atomically(dir / "f", bytes_of("x")));
        const auto report = tp::inspect_path(dir / "f", false);
        REQUIRE(report);
        CHECK(report->exists);
        CHECK_FALSE(report->link);
        CHECK(report->expected_kind);
        CHECK(report->owned_by_user);
        CHECK(report->private_access);
        CHECK(report->owner == tp::current_user::get().user_text());
        CHECK_FALSE(tp::inspect_path(dir / "absent", false).value().exists);
    }

    TEST_CASE("windows: the default store directory is LocalAppData") {
        const auto root = tp::user_config_root();
        REQUIRE(root);
        CHECK(root->is_absolute());
        if (const wchar_t* local = ::_wgetenv(L"LOCALAPPDATA")) CHECK(*root == fs::path(local));
        tv::store_options o;
        o.app_name = "tv-default-dir";
        CHECK(o.resolved_directory() == *root / "tv-default-dir");
        CHECK_FALSE(o.directory_error());
    }

    TEST_CASE("windows: lock files exclude, share among readers, and time out") {
        tvtest::temp_dir tmp;
        const auto path = tmp / "store.lock";
        auto first = tp::file_lock::acquire(path, 1s);
        REQUIRE(first);
        tp::lock_wait wait;
        CHECK(tp::file_lock::acquire(path, 100ms, &wait).code() == ec(tv::errc::lock_timeout));
        CHECK(wait.contended);
        CHECK(wait.waited >= 100ms);
        CHECK(tp::file_lock::acquire(path, 0ms, nullptr, tp::lock_mode::shared).code() ==
              ec(tv::errc::lock_timeout));
        first->release();
        auto reader_a = tp::file_lock::acquire(path, 1s, nullptr, tp::lock_mode::shared);
        auto reader_b = tp::file_lock::acquire(path, 1s, nullptr, tp::lock_mode::shared);
        CHECK(reader_a);
        CHECK(reader_b);
        CHECK(tp::file_lock::acquire(path, 0ms).code() == ec(tv::errc::lock_timeout));
        reader_a->release();
        reader_b->release();
        tp::lock_wait after;
        CHECK(tp::file_lock::acquire(path, 1s, &after));
        CHECK_FALSE(after.contended);
        CHECK(fs::exists(path));  // never deleted
    }

    TEST_CASE("windows: a waiter gets the lock when the holder releases it") {
        tvtest::temp_dir tmp;
        const auto path = tmp / "store.lock";
        auto held = tp::file_lock::acquire(path, 1s);
        REQUIRE(held);
        std::thread release([&] {
            std::this_thread::sleep_for(200ms);
            held->release();
        });
        tp::lock_wait wait;
        auto taken = tp::file_lock::acquire(path, 10s, &wait);
        release.join();
        CHECK(taken);
        CHECK(wait.contended);
    }

    TEST_CASE("windows: file times saturate instead of overflowing") {
        constexpr std::uint64_t epoch_ticks = 116'444'736'000'000'000ULL;
        CHECK(tp::filetime_to_epoch_ns(epoch_ticks) == 0);
        CHECK(tp::filetime_to_epoch_ns(epoch_ticks + 15) == 1500);
        CHECK(tp::filetime_to_epoch_ns(0) == std::numeric_limits<std::int64_t>::min());  // 1601: before 1677
        CHECK(tp::filetime_to_epoch_ns(~std::uint64_t{0}) ==
              std::numeric_limits<std::int64_t>::max());  // year 30828
    }

}  // TEST_SUITE

}  // namespace test_platform_windows
