// tests/unit/test_posix_file.cpp: behaviour of platform/posix_file.hpp on a real file system.
//
// Modes are checked with stat on disk under different umasks; refusals (symlinks, foreign owners, group
// access, oversized files, directories and FIFOs in place of files, read-only directories) are provoked
// for real. Checks that need an unprivileged user drop to uid 65534 in a forked child when run as root.
#include <doctest/doctest.h>

#include <grp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "tokenvault/platform/platform.hpp"

#include "support/forked.hpp"
#include "support/temp_dir.hpp"

namespace test_posix_file {  // unity builds put several test files in one translation unit

namespace fs = std::filesystem;
using namespace tokenvault;
using namespace tokenvault::platform;

namespace {

constexpr std::string_view secret = "s3cr3t-refresh-token-value";
constexpr uid_t nobody = 65534;

/// Sets the umask for a scope.
class umask_guard {
public:
    explicit umask_guard(mode_t mask) : old_(::umask(mask)) {}
    ~umask_guard() { ::umask(old_); }
    umask_guard(const umask_guard&) = delete;
    umask_guard& operator=(const umask_guard&) = delete;

private:
    mode_t old_;
};

mode_t mode_of(const fs::path& p) {
    struct stat st {};
    REQUIRE(::lstat(p.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

void write_raw(const fs::path& p, std::string_view content, mode_t mode = 0600) {
    {
        std::ofstream out(p, std::ios::binary | std::ios::trunc);
        REQUIRE(out.good());
        out.write(content.data(), static_cast<std::streamsize>(content.size()));
    }
    REQUIRE(::chmod(p.c_str(), mode) == 0);
}

std::string read_raw(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::set<std::string> names_in(const fs::path& dir) {
    std::set<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir)) names.insert(entry.path().filename().string());
    return names;
}

std::span<const std::byte> bytes_of(std::string_view text) {
    return std::as_bytes(std::span<const char>(text.data(), text.size()));
}

std::error_code ec(errc c) { return make_error_code(c); }

/// In a child: becomes uid/gid 65534 when running as root, so permission bits apply. False on failure.
bool drop_root_if_any() {
    if (::geteuid() != 0) return true;
    return ::setgroups(0, nullptr) == 0 && ::setresgid(nobody, nobody, nobody) == 0 &&
           ::setresuid(nobody, nobody, nobody) == 0;
}

/// Exit code for a child that reports a result: 0 on success, else the errc value.
template <class R>
int exit_code_of(const R& r) {
    return r ? 0 : r.code().value();
}

}  // namespace

TEST_SUITE("unit") {
    TEST_CASE("ensure_private_directory creates missing components with mode 0700 whatever the umask") {
        for (const mode_t mask : {mode_t{022}, mode_t{077}, mode_t{0}, mode_t{0277}}) {
            CAPTURE(mask);
            tvtest::temp_dir tmp;
            umask_guard guard(mask);
            const auto dir = tmp / "a" / "b" / "c";
            REQUIRE(ensure_private_directory(dir));
            CHECK(mode_of(tmp / "a") == 0700);
            CHECK(mode_of(tmp / "a" / "b") == 0700);
            CHECK(mode_of(dir) == 0700);
            CHECK(ensure_private_directory(dir));                     // idempotent
            CHECK(ensure_private_directory(tmp / "a" / "b" / "d/"));  // trailing separator
            CHECK(mode_of(tmp / "a" / "b" / "d") == 0700);
        }
    }

    TEST_CASE("ensure_private_directory keeps an acceptable existing directory as it is") {
        tvtest::temp_dir tmp;
        const auto dir = tmp / "existing";
        REQUIRE(::mkdir(dir.c_str(), 0700) == 0);
        REQUIRE(::chmod(dir.c_str(), 0750) == 0);  // group may read, not write
        CHECK(ensure_private_directory(dir));
        CHECK(mode_of(dir) == 0750);
    }

    TEST_CASE("ensure_private_directory refuses unsafe existing directories") {
        tvtest::temp_dir tmp;
        SUBCASE("a symlink to a directory") {
            REQUIRE(::mkdir((tmp / "real").c_str(), 0700) == 0);
            fs::create_directory_symlink(tmp / "real", tmp / "link");
            const auto r = ensure_private_directory(tmp / "link");
            CHECK(r.code() == ec(errc::symlink_refused));
            CHECK(r.error().context == (tmp / "link").string());
        }
        SUBCASE("a file in place of the directory") {
            write_raw(tmp / "file", "x");
            CHECK(ensure_private_directory(tmp / "file").code() == ec(errc::not_a_regular_file));
        }
        SUBCASE("a file in place of a parent") {
            write_raw(tmp / "file", "x");
            const auto r = ensure_private_directory(tmp / "file" / "sub");
            CHECK(r.code() == ec(errc::not_a_regular_file));
            CHECK(r.error().context == (tmp / "file").string());
        }
        SUBCASE("group writable") {
            REQUIRE(::mkdir((tmp / "d").c_str(), 0700) == 0);
            REQUIRE(::chmod((tmp / "d").c_str(), 0770) == 0);
            CHECK(ensure_private_directory(tmp / "d").code() == ec(errc::insecure_permissions));
        }
        SUBCASE("world writable") {
            REQUIRE(::mkdir((tmp / "d").c_str(), 0700) == 0);
            REQUIRE(::chmod((tmp / "d").c_str(), 0703) == 0);
            CHECK(ensure_private_directory(tmp / "d").code() == ec(errc::insecure_permissions));
        }
        SUBCASE("owned by another user") {
            if (::geteuid() != 0) {
                MESSAGE("skipped: chown to another user needs root");
                return;
            }
            REQUIRE(::mkdir((tmp / "d").c_str(), 0700) == 0);
            REQUIRE(::chown((tmp / "d").c_str(), nobody, nobody) == 0);
            CHECK(ensure_private_directory(tmp / "d").code() == ec(errc::wrong_owner));
        }
    }

    TEST_CASE("ensure_private_directory reports a parent it may not write as read_only_store") {
        tvtest::temp_dir tmp;
        REQUIRE(::chmod(tmp.path().c_str(), 0711) == 0);
        const auto parent = tmp / "ro";
        REQUIRE(::mkdir(parent.c_str(), 0500) == 0);
        if (::geteuid() == 0) REQUIRE(::chown(parent.c_str(), nobody, nobody) == 0);
        const int code = tvtest::run_in_child([&] {
            if (!drop_root_if_any()) return 90;
            return exit_code_of(ensure_private_directory(parent / "app"));
        });
        CHECK(code == static_cast<int>(errc::read_only_store));
        CHECK_FALSE(fs::exists(parent / "app"));
    }

    TEST_CASE("read_private_file reads the content and the identity of a private file") {
        tvtest::temp_dir tmp;
        const auto file = tmp / "tokens";
        write_raw(file, secret);
        const auto r = read_private_file(file, 1024);
        REQUIRE(r);
        REQUIRE(r->has_value());
        CHECK((*r)->bytes.view() == secret);
        const auto id = stat_identity(file);
        REQUIRE(id);
        REQUIRE(id->has_value());
        CHECK((*r)->identity == **id);
        CHECK((*r)->identity.size == secret.size());

        SUBCASE("an empty file is an empty buffer") {
            write_raw(tmp / "empty", "");
            const auto e = read_private_file(tmp / "empty", 1024);
            REQUIRE(e);
            REQUIRE(e->has_value());
            CHECK((*e)->bytes.empty());
        }
        SUBCASE("a file of exactly max_size is accepted, one byte more is not") {
            CHECK(read_private_file(file, secret.size()));
            CHECK(read_private_file(file, secret.size() - 1).code() == ec(errc::too_large));
        }
    }

    TEST_CASE("read_private_file returns nullopt when nothing is there") {
        tvtest::temp_dir tmp;
        const auto r = read_private_file(tmp / "absent", 1024);
        REQUIRE(r);
        CHECK_FALSE(r->has_value());
        const auto deeper = read_private_file(tmp / "missing-dir" / "absent", 1024);
        REQUIRE(deeper);
        CHECK_FALSE(deeper->has_value());
    }

    TEST_CASE("read_private_file refuses what is not a private regular file of ours") {
        tvtest::temp_dir tmp;
        const auto file = tmp / "tokens";
        write_raw(tmp / "real", secret);
        error err;
        SUBCASE("a symlink to a valid private file") {
            fs::create_symlink(tmp / "real", file);
            const auto r = read_private_file(file, 1024);
            REQUIRE_FALSE(r);
            CHECK(r.code() == ec(errc::symlink_refused));
            err = r.error();
        }
        SUBCASE("a dangling symlink") {
            fs::create_symlink(tmp / "nowhere", file);
            const auto r = read_private_file(file, 1024);
            REQUIRE_FALSE(r);
            CHECK(r.code() == ec(errc::symlink_refused));
            err = r.error();
        }
        SUBCASE("group readable") {
            write_raw(file, secret, 0640);
            const auto r = read_private_file(file, 1024);
            REQUIRE_FALSE(r);
            CHECK(r.code() == ec(errc::insecure_permissions));
            err = r.error();
        }
        SUBCASE("world readable") {
            write_raw(file, secret, 0604);
            const auto r = read_private_file(file, 1024);
            REQUIRE_FALSE(r);
            CHECK(r.code() == ec(errc::insecure_permissions));
            err = r.error();
        }
        SUBCASE("a directory") {
            REQUIRE(::mkdir(file.c_str(), 0700) == 0);
            const auto r = read_private_file(file, 1024);
            REQUIRE_FALSE(r);
            CHECK(r.code() == ec(errc::not_a_regular_file));
            err = r.error();
        }
        SUBCASE("a FIFO, refused without blocking") {
            REQUIRE(::mkfifo(file.c_str(), 0600) == 0);
            const auto r = read_private_file(file, 1024);
            REQUIRE_FALSE(r);
            CHECK(r.code() == ec(errc::not_a_regular_file));
            err = r.error();
        }
        SUBCASE("owned by another user") {
            if (::geteuid() != 0) {
                MESSAGE("skipped: chown to another user needs root");
                err = error{errc::wrong_owner, file.string()};
            } else {
                write_raw(file, secret);
                REQUIRE(::chown(file.c_str(), nobody, nobody) == 0);
                const auto r = read_private_file(file, 1024);
                REQUIRE_FALSE(r);
                CHECK(r.code() == ec(errc::wrong_owner));
                err = r.error();
            }
        }
        CHECK(err.context == file.string());
        CHECK(err.message().find(secret) == std::string::npos);
    }

    TEST_CASE("read_private_file refuses a 1 GB file as too_large without reading it") {
        tvtest::temp_dir tmp;
        const auto file = tmp / "huge";
        {
            const int fd = ::open(file.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
            REQUIRE(fd >= 0);
            REQUIRE(::ftruncate(fd, off_t{1} << 30) == 0);  // sparse: no blocks written
            REQUIRE(::close(fd) == 0);
        }
        const auto start = std::chrono::steady_clock::now();
        const auto r = read_private_file(file, 1 << 20);
        const auto took = std::chrono::steady_clock::now() - start;
        CHECK(r.code() == ec(errc::too_large));
        CHECK(r.error().context == file.string());
        CHECK(took < std::chrono::milliseconds(50));  // reading 1 GB, even sparse, takes far longer
    }

    TEST_CASE("read_private_file reports a file it may not open as unreadable_store") {
        tvtest::temp_dir tmp;
        REQUIRE(::chmod(tmp.path().c_str(), 0711) == 0);
        const auto file = tmp / "tokens";
        write_raw(file, secret, ::geteuid() == 0 ? 0600 : 0000);  // as root: root's 0600 file, read as 65534
        const int code = tvtest::run_in_child([&] {
            if (!drop_root_if_any()) return 90;
            return exit_code_of(read_private_file(file, 1024));
        });
        CHECK(code == static_cast<int>(errc::unreadable_store));
    }

    TEST_CASE("write_file_atomically creates 0600 files whatever the umask and leaves no temp file") {
        for (const mode_t mask : {mode_t{022}, mode_t{077}, mode_t{0}, mode_t{0277}}) {
            CAPTURE(mask);
            tvtest::temp_dir tmp;
            umask_guard guard(mask);
            const auto file = tmp / "tokens.json";
            const auto id = write_file_atomically(file, bytes_of(secret));
            REQUIRE(id);
            CHECK(mode_of(file) == 0600);
            CHECK(read_raw(file) == secret);
            CHECK(names_in(tmp.path()) == std::set<std::string>{"tokens.json"});
            const auto on_disk = stat_identity(file);
            REQUIRE(on_disk);
            REQUIRE(on_disk->has_value());
            CHECK(*id == **on_disk);
        }
    }

    TEST_CASE("write_file_atomically replaces an existing file with a new private inode") {
        tvtest::temp_dir tmp;
        const auto file = tmp / "tokens.json";
        write_raw(file, "old content", 0644);
        const auto before = stat_identity(file);
        REQUIRE(before);
        const auto id = write_file_atomically(file, bytes_of("new content"));  // same size as before
        REQUIRE(id);
        CHECK(read_raw(file) == "new content");
        CHECK(mode_of(file) == 0600);
        CHECK(id->ino != (*before)->ino);
        CHECK(*id != **before);
        CHECK(names_in(tmp.path()) == std::set<std::string>{"tokens.json"});
    }

    TEST_CASE("write_file_atomically returns the identity that stat_identity sees afterwards, every time") {
        // rename updates the inode's ctime: an identity taken before the rename would not match
        tvtest::temp_dir tmp;
        const auto file = tmp / "tokens.json";
        std::optional<file_identity> previous;
        for (int i = 0; i < 40; ++i) {
            const auto content = std::string(secret) + std::to_string(i % 10);  // same size each time
            const auto id = write_file_atomically(file, bytes_of(content));
            REQUIRE(id);
            const auto seen = stat_identity(file);
            REQUIRE(seen);
            REQUIRE(seen->has_value());
            CHECK(*id == **seen);
            const auto read = read_private_file(file, 1024);
            REQUIRE(read);
            REQUIRE(read->has_value());
            CHECK((*read)->identity == *id);
            if (previous) CHECK(*previous != *id);
            previous = *id;
        }
    }

    TEST_CASE("write_file_atomically refuses symlinks and directories at the target") {
        tvtest::temp_dir tmp;
        const auto file = tmp / "tokens.json";
        SUBCASE("a symlink to a file is refused and neither is touched") {
            write_raw(tmp / "elsewhere", "original");
            fs::create_symlink(tmp / "elsewhere", file);
            const auto r = write_file_atomically(file, bytes_of(secret));
            CHECK(r.code() == ec(errc::symlink_refused));
            CHECK(r.error().context == file.string());
            CHECK(fs::is_symlink(file));
            CHECK(read_raw(tmp / "elsewhere") == "original");
            CHECK(names_in(tmp.path()) == std::set<std::string>{"elsewhere", "tokens.json"});
        }
        SUBCASE("a dangling symlink is refused and nothing is created") {
            fs::create_symlink(tmp / "nowhere", file);
            CHECK(write_file_atomically(file, bytes_of(secret)).code() == ec(errc::symlink_refused));
            CHECK_FALSE(fs::exists(tmp / "nowhere"));
            CHECK(names_in(tmp.path()) == std::set<std::string>{"tokens.json"});
        }
        SUBCASE("a directory") {
            REQUIRE(::mkdir(file.c_str(), 0700) == 0);
            CHECK(write_file_atomically(file, bytes_of(secret)).code() == ec(errc::not_a_regular_file));
            CHECK(names_in(tmp.path()) == std::set<std::string>{"tokens.json"});
        }
    }

    TEST_CASE("write_file_atomically removes its temp file when writing fails") {
        tvtest::temp_dir tmp;
        const auto file = tmp / "tokens.json";
        write_raw(file, "old");
        const std::string big(4096, 'x');
        const int code = tvtest::run_in_child([&] {
            // a file size limit makes write() fail with EFBIG after the temp file was created
            ::signal(SIGXFSZ, SIG_IGN);
            const rlimit limit{16, 16};
            if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) return 90;
            const auto r = write_file_atomically(file, bytes_of(big));
            if (r) return 91;
            if (r.error().context.find(file.string()) != 0) return 92;
            return exit_code_of(r);
        });
        CHECK(code == static_cast<int>(errc::io_error));
        CHECK(read_raw(file) == "old");
        CHECK(names_in(tmp.path()) == std::set<std::string>{"tokens.json"});
    }

    TEST_CASE("write_file_atomically reports a read-only directory as read_only_store") {
        tvtest::temp_dir tmp;
        REQUIRE(::chmod(tmp.path().c_str(), 0711) == 0);
        const auto dir = tmp / "ro";
        REQUIRE(::mkdir(dir.c_str(), 0700) == 0);
        if (::geteuid() == 0) REQUIRE(::chown(dir.c_str(), nobody, nobody) == 0);
        REQUIRE(::chmod(dir.c_str(), 0500) == 0);
        const auto file = dir / "tokens.json";
        const int code = tvtest::run_in_child([&] {
            if (!drop_root_if_any()) return 90;
            return exit_code_of(write_file_atomically(file, bytes_of(secret)));
        });
        CHECK(code == static_cast<int>(errc::read_only_store));
        REQUIRE(::chmod(dir.c_str(), 0700) == 0);
        CHECK(fs::is_empty(dir));
    }

    TEST_CASE("stat_identity is cheap metadata that changes when the file is rewritten") {
        tvtest::temp_dir tmp;
        const auto file = tmp / "tokens.json";
        const auto absent = stat_identity(file);
        REQUIRE(absent);
        CHECK_FALSE(absent->has_value());

        REQUIRE(write_file_atomically(file, bytes_of("first")));
        const auto first = stat_identity(file);
        REQUIRE(first);
        REQUIRE(first->has_value());
        const auto again = stat_identity(file);
        REQUIRE(again);
        CHECK(**again == **first);

        REQUIRE(write_file_atomically(file, bytes_of("other")));
        const auto second = stat_identity(file);
        REQUIRE(second);
        REQUIRE(second->has_value());
        CHECK(**second != **first);

        SUBCASE("a symlink is described, not followed") {
            fs::create_symlink(file, tmp / "link");
            const auto link = stat_identity(tmp / "link");
            REQUIRE(link);
            REQUIRE(link->has_value());
            CHECK((*link)->ino != (*second)->ino);
        }
    }

    TEST_CASE("quarantine_file moves the file aside under a timestamped name") {
        tvtest::temp_dir tmp;
        const auto file = tmp / "tokens.json";
        write_raw(file, "garbage");
        const std::time_t before = std::time(nullptr);
        const auto moved = quarantine_file(file);
        const std::time_t after = std::time(nullptr);
        REQUIRE(moved);
        CHECK(moved->parent_path() == tmp.path());
        const auto name = moved->filename().string();
        std::smatch m;
        REQUIRE(std::regex_match(name, m, std::regex(R"(tokens\.json\.corrupt-(\d{8}T\d{6}Z)-[0-9a-f]{8})")));
        std::set<std::string> stamps;
        for (std::time_t t = before; t <= after; ++t) {
            std::tm utc{};
            REQUIRE(::gmtime_r(&t, &utc) != nullptr);
            char text[32] = {};
            REQUIRE(std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &utc) > 0);
            stamps.insert(text);
        }
        CHECK(stamps.count(m[1].str()) == 1);
        CHECK_FALSE(fs::exists(file));
        CHECK(read_raw(*moved) == "garbage");
        CHECK(mode_of(*moved) == 0600);

        SUBCASE("two quarantines of the same name in the same second do not collide") {
            write_raw(file, "garbage 2");
            const auto second = quarantine_file(file);
            REQUIRE(second);
            CHECK(*second != *moved);
            CHECK(read_raw(*moved) == "garbage");
        }
        SUBCASE("a missing file is an io_error naming it") {
            const auto r = quarantine_file(tmp / "absent");
            CHECK(r.code() == ec(errc::io_error));
            CHECK(r.error().context.find((tmp / "absent").string()) == 0);
        }
    }

    TEST_CASE("remove_file unlinks, says whether something was there, and never follows a symlink") {
        tvtest::temp_dir tmp;
        const auto file = tmp / "tokens.json";
        write_raw(file, "x");
        const auto removed = remove_file(file);
        REQUIRE(removed);
        CHECK(*removed);
        CHECK_FALSE(fs::exists(file));
        const auto again = remove_file(file);
        REQUIRE(again);
        CHECK_FALSE(*again);

        write_raw(tmp / "target", "kept");
        fs::create_symlink(tmp / "target", tmp / "link");
        REQUIRE(remove_file(tmp / "link"));
        CHECK(read_raw(tmp / "target") == "kept");

        REQUIRE(::mkdir((tmp / "dir").c_str(), 0700) == 0);
        CHECK(remove_file(tmp / "dir").code() == ec(errc::not_a_regular_file));
    }

}  // TEST_SUITE

}  // namespace test_posix_file
