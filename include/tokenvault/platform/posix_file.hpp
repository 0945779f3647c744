// tokenvault/platform/posix_file.hpp: the file system calls of tokenvault on POSIX, one small function each.
//
// Private directories (0700) and files (0600), ssh-style refusal of symlinks, foreign owners and
// group/world access, bounded reads into secure memory, durable atomic replace (temp + fsync + rename +
// directory fsync; replace_file leaves the last step to its caller), quarantine of corrupt files, and
// `file_identity`, the one-syscall change check of the hot read path. Where Darwin differs the code picks
// by feature test, not by OS, so both paths compile everywhere: `durable_flush` uses fcntl(F_FULLFSYNC)
// where the macro exists, and `stat_mtime` / `stat_times` read st_mtimespec or st_mtim, whichever struct
// stat has. Linux is built and tested; the Darwin paths run on Linux only through fakes (docs/MACOS.md).
// Included through platform.hpp only.
// Error contexts name paths (plus the failing call for io_error), never file contents.
#pragma once

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "../detail/secure_buffer.hpp"
#include "../detail/temp_files.hpp"
#include "../error.hpp"
#include "../result.hpp"
#include "common.hpp"

namespace tokenvault::platform {

/// Owns a file descriptor and closes it on destruction. Move-only.
class unique_fd {
public:
    unique_fd() noexcept = default;
    /// Takes ownership of `fd` (-1 for none).
    explicit unique_fd(int fd) noexcept : fd_(fd) {}
    unique_fd(unique_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    unique_fd& operator=(unique_fd&& other) noexcept {
        if (this != &other) {
            reset();
            fd_ = std::exchange(other.fd_, -1);
        }
        return *this;
    }
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    ~unique_fd() { reset(); }

    /// The descriptor, or -1.
    [[nodiscard]] int get() const noexcept { return fd_; }
    /// Whether a descriptor is held.
    [[nodiscard]] bool valid() const noexcept { return fd_ >= 0; }
    /// Closes now and reports close's errno (0 on success; EINTR counts as closed, as on Linux).
    [[nodiscard]] int close() noexcept {
        if (fd_ < 0) return 0;
        const int rc = ::close(std::exchange(fd_, -1));
        return (rc == 0 || errno == EINTR) ? 0 : errno;
    }
    /// Closes, ignoring errors (for paths that already fail).
    void reset() noexcept { (void)close(); }

private:
    int fd_ = -1;
};

/// The open file the portable layer holds (lock files): a descriptor here.
using native_file = unique_fd;

/// Calls `fn` until it does not fail with EINTR.
template <class Fn>
auto retry_eintr(Fn fn) noexcept -> decltype(fn()) {
    decltype(fn()) rc;
    do {
        rc = fn();
    } while (rc == -1 && errno == EINTR);
    return rc;
}

/// Whether `Stat` names its file times the Darwin/BSD way (st_mtimespec, st_ctimespec) rather than the
/// POSIX.1-2008 way (st_mtim, st_ctim). A feature test on the struct, so one code path compiles on both.
template <class Stat>
inline constexpr bool has_darwin_stat_times = requires(const Stat& st) {
    st.st_mtimespec.tv_nsec;
    st.st_ctimespec.tv_nsec;
};

/// Whether `Stat` names its file times st_mtim and st_ctim (Linux, the BSDs' POSIX names, Solaris).
template <class Stat>
inline constexpr bool has_posix_stat_times = requires(const Stat& st) {
    st.st_mtim.tv_nsec;
    st.st_ctim.tv_nsec;
};

/// The modification and status change times of `st`, whichever way this platform names them.
template <class Stat = struct stat>
[[nodiscard]] inline std::pair<struct timespec, struct timespec> stat_timespecs(const Stat& st) noexcept {
    static_assert(
        has_darwin_stat_times<Stat> || has_posix_stat_times<Stat>,
        "tokenvault: struct stat has neither st_mtimespec/st_ctimespec nor st_mtim/st_ctim; on Darwin "
        "do not define _POSIX_C_SOURCE without _DARWIN_C_SOURCE before including tokenvault");
    const auto copy = [](const auto& from) {
        struct timespec t {};
        t.tv_sec = from.tv_sec;
        t.tv_nsec = from.tv_nsec;
        return t;
    };
    if constexpr (has_darwin_stat_times<Stat>)
        return {copy(st.st_mtimespec), copy(st.st_ctimespec)};
    else if constexpr (has_posix_stat_times<Stat>)
        return {copy(st.st_mtim), copy(st.st_ctim)};
    else
        return {};
}

/// The modification time of `st` as a timespec (for futimens).
template <class Stat = struct stat>
[[nodiscard]] inline struct timespec stat_mtime(const Stat& st) noexcept {
    return stat_timespecs(st).first;
}

/// Modification and status change times of `st` in ns since the epoch, saturated.
template <class Stat = struct stat>
[[nodiscard]] inline std::pair<std::int64_t, std::int64_t> stat_times(const Stat& st) noexcept {
    const auto [m, c] = stat_timespecs(st);
    return {saturating_epoch_ns(static_cast<std::int64_t>(m.tv_sec), static_cast<std::int64_t>(m.tv_nsec)),
            saturating_epoch_ns(static_cast<std::int64_t>(c.tv_sec), static_cast<std::int64_t>(c.tv_nsec))};
}

/// The calls `durable_flush` makes: this OS's by default; a test substitutes recorders (with
/// `full_fsync = true`) to run the F_FULLFSYNC path on a system that has none.
struct system_flush_calls {
#if defined(F_FULLFSYNC)
    /// Whether fcntl(F_FULLFSYNC) exists here (Darwin): fsync there only reaches the drive's cache.
    static constexpr bool full_fsync = true;
    static int full_fsync_call(int fd) noexcept { return ::fcntl(fd, F_FULLFSYNC); }
#else
    /// Whether fcntl(F_FULLFSYNC) exists here (Darwin): fsync there only reaches the drive's cache.
    static constexpr bool full_fsync = false;
    static int full_fsync_call(int) noexcept { return -1; }
#endif
    static int fsync_call(int fd) noexcept { return ::fsync(fd); }
};

/// Flushes `fd` (a file or a directory) with its metadata to stable storage: fcntl(F_FULLFSYNC) where it
/// exists, else fsync; fsync also where a file system refuses F_FULLFSYNC, as Apple advises. 0 or errno.
template <class Calls = system_flush_calls>
[[nodiscard]] inline int durable_flush(int fd) noexcept {
    if constexpr (Calls::full_fsync) {
        if (retry_eintr([&] { return Calls::full_fsync_call(fd); }) == 0) return 0;
    }
    return retry_eintr([&] { return Calls::fsync_call(fd); }) == 0 ? 0 : errno;
}

/// An io_error whose context names the path, the failing call and the OS reason (never data).
template <class = void>
[[nodiscard]] inline error io_failure(const std::filesystem::path& p, const char* call, int err) {
    return io_failure_text(p, call, std::generic_category().message(err));
}

/// The identity recorded in a `struct stat` (any layout `stat_times` reads).
template <class Stat = struct stat>
[[nodiscard]] inline file_identity identity_of(const Stat& st) noexcept {
    const auto [mtime_ns, ctime_ns] = stat_times(st);
    return file_identity{
        static_cast<std::uint64_t>(st.st_dev),
        static_cast<std::uint64_t>(st.st_ino),
        static_cast<std::uint64_t>(st.st_size),
        mtime_ns,
        ctime_ns,
    };
}

/// The identity of whatever is at `p` (lstat: a symlink is not followed); nullopt when nothing is there.
template <class = void>
[[nodiscard]] inline result<std::optional<file_identity>> stat_identity(const std::filesystem::path& p) {
    struct stat st {};
    if (retry_eintr([&] { return ::lstat(p.c_str(), &st); }) != 0) {
        const int err = errno;
        if (err == ENOENT) return std::optional<file_identity>{};
        if (err == EACCES) return error{errc::unreadable_store, p.string()};
        return io_failure(p, "lstat", err);
    }
    return std::optional<file_identity>{identity_of(st)};
}

/// Flushes directory `dir` (`durable_flush`) so a rename or unlink in it is durable.
template <class Calls = system_flush_calls>
[[nodiscard]] inline result<void> sync_directory(const std::filesystem::path& dir) {
    unique_fd fd(retry_eintr([&] { return ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); }));
    if (fd.get() < 0) return io_failure(dir, "open directory", errno);
    if (const int err = durable_flush<Calls>(fd.get()); err != 0) {
        // Some file systems cannot fsync a directory; their renames are as durable as they get.
        if (err != EINVAL && err != ENOTSUP) return io_failure(dir, "fsync directory", err);
    }
    if (const int err = fd.close(); err != 0) return io_failure(dir, "close directory", err);
    return {};
}

/// Refuses an existing directory that is a symlink, not a directory, foreign-owned or group/world writable.
template <class = void>
[[nodiscard]] inline result<void> check_private_directory(const std::filesystem::path& dir) {
    struct stat st {};
    if (retry_eintr([&] { return ::lstat(dir.c_str(), &st); }) != 0) {
        const int err = errno;
        if (err == EACCES) return error{errc::unreadable_store, dir.string()};
        return io_failure(dir, "lstat", err);
    }
    if (S_ISLNK(st.st_mode)) return error{errc::symlink_refused, dir.string()};
    if (!S_ISDIR(st.st_mode)) return error{errc::not_a_regular_file, dir.string()};
    if (st.st_uid != ::geteuid()) return error{errc::wrong_owner, dir.string()};
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) return error{errc::insecure_permissions, dir.string()};
    return {};
}

/// Creates one directory with mode exactly 0700 (whatever the umask); false if it already existed.
template <class = void>
[[nodiscard]] inline result<bool> make_private_directory(const std::filesystem::path& dir) {
    if (retry_eintr([&] { return ::mkdir(dir.c_str(), S_IRWXU); }) != 0) {
        const int err = errno;
        if (err == EEXIST) return false;
        if (err == EACCES || err == EPERM || err == EROFS) return error{errc::read_only_store, dir.string()};
        return io_failure(dir, "mkdir", err);
    }
    // Set the mode through a descriptor of the directory itself, so a swapped-in symlink is not followed.
    unique_fd fd(
        retry_eintr([&] { return ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC); }));
    if (fd.get() < 0) {
        const int err = errno;
        if (err == ELOOP) return error{errc::symlink_refused, dir.string()};
        return io_failure(dir, "open directory", err);
    }
    if (retry_eintr([&] { return ::fchmod(fd.get(), S_IRWXU); }) != 0)
        return io_failure(dir, "fchmod", errno);
    if (const int err = fd.close(); err != 0) return io_failure(dir, "close directory", err);
    return true;
}

/// Creates `dir` and its missing parents (each new one 0700) and refuses an unsafe existing `dir`.
template <class = void>
[[nodiscard]] inline result<void> ensure_private_directory(const std::filesystem::path& dir) {
    if (dir.empty()) return error{errc::invalid_argument, "empty directory path"};
    std::vector<std::filesystem::path> parts;
    for (const auto& part : dir) {  // not lexically normalised: ".." must resolve as the kernel does
        if (!part.empty()) parts.push_back(part);  // a trailing separator yields an empty part
    }
    std::filesystem::path current;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        current /= parts[i];
        const bool last = i + 1 == parts.size();
        if (!last) {
            if (parts[i] == "." || parts[i] == ".." || current == current.root_path()) continue;
            struct stat st {};  // parents may be symlinks (dotfile setups); follow them
            if (retry_eintr([&] { return ::stat(current.c_str(), &st); }) == 0) {
                if (!S_ISDIR(st.st_mode)) return error{errc::not_a_regular_file, current.string()};
                continue;
            }
            if (const int err = errno; err != ENOENT) {
                if (err == EACCES) return error{errc::unreadable_store, current.string()};
                if (err == ENOTDIR) return error{errc::not_a_regular_file, current.string()};
                return io_failure(current, "stat", err);
            }
            auto created = make_private_directory(current);
            if (!created) return created.error();
            if (!*created) {  // raced with another creator: it must be a directory now
                if (retry_eintr([&] { return ::stat(current.c_str(), &st); }) != 0)
                    return io_failure(current, "stat", errno);
                if (!S_ISDIR(st.st_mode)) return error{errc::not_a_regular_file, current.string()};
            }
            continue;
        }
        struct stat st {};
        if (retry_eintr([&] { return ::lstat(current.c_str(), &st); }) != 0) {
            const int err = errno;
            if (err == EACCES) return error{errc::unreadable_store, current.string()};
            if (err == ENOTDIR) return error{errc::not_a_regular_file, current.string()};
            if (err != ENOENT) return io_failure(current, "lstat", err);
            auto created = make_private_directory(current);
            if (!created) return created.error();
        }
        return check_private_directory(current);
    }
    return {};
}

/// Refuses a store directory that another user could swap for their own through its parent (the way ssh
/// checks ~/.ssh): a parent that others may write to (group or world) and that is not sticky, or a parent
/// owned by a user other than us and root. Nothing to check when `dir` does not exist.
template <class = void>
[[nodiscard]] inline result<void> check_store_parent(const std::filesystem::path& dir) {
    const auto parent = parent_directory_of(dir.has_filename() ? dir : dir.parent_path());
    struct stat st {};  // "dir/..": the parent the kernel resolves, whatever the spelling of `dir`
    if (retry_eintr([&] { return ::stat((dir / "..").c_str(), &st); }) != 0) {
        const int err = errno;
        if (err == ENOENT || err == ENOTDIR) return {};
        if (err == EACCES) return error{errc::unreadable_store, parent.string()};
        return io_failure(parent, "stat", err);
    }
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (st.st_mode & S_ISVTX) == 0)
        return error{errc::insecure_permissions,
                     parent.string() +
                         ": other users may write to this directory and it is not sticky, so they "
                         "could replace the store directory " +
                         dir.string() + " inside it: run chmod go-w on it, or keep the store elsewhere"};
    if (st.st_uid != ::geteuid() && st.st_uid != 0)
        return error{errc::wrong_owner, parent.string() + ": owned by uid " + std::to_string(st.st_uid) +
                                            ", who could replace the store directory " + dir.string() +
                                            " inside it: keep the store in a directory of your own"};
    return {};
}

/// Checks an existing store directory before it is read: `check_private_directory` plus `check_store_parent`.
/// An absent directory passes (there is nothing to read).
template <class = void>
[[nodiscard]] inline result<void> check_store_directory(const std::filesystem::path& dir) {
    struct stat st {};
    if (retry_eintr([&] { return ::lstat(dir.c_str(), &st); }) != 0) {
        const int err = errno;
        if (err == ENOENT || err == ENOTDIR) return {};
        if (err == EACCES) return error{errc::unreadable_store, dir.string()};
        return io_failure(dir, "lstat", err);
    }
    TOKENVAULT_TRY(check_private_directory(dir));
    return check_store_parent(dir);
}

/// Creates (0700) or checks a store directory before it is written: `ensure_private_directory` plus
/// `check_store_parent`.
template <class = void>
[[nodiscard]] inline result<void> ensure_store_directory(const std::filesystem::path& dir) {
    TOKENVAULT_TRY(ensure_private_directory(dir));
    return check_store_parent(dir);
}

/// The error for an open(2) of `p` for reading that failed with `err` (ENOENT, "absent", is the caller's).
template <class = void>
[[nodiscard]] inline error open_for_reading_failure(const std::filesystem::path& p, int err) {
    switch (err) {
    case ELOOP: return error{errc::symlink_refused, p.string()};
    case EACCES:
    case EPERM: return error{errc::unreadable_store, p.string()};
    case EISDIR:
    case ENXIO: return error{errc::not_a_regular_file, p.string()};
    default: return io_failure(p, "open", err);
    }
}

/// Reads a whole private file (0600-style, ours, regular, not a symlink, at most `max_size` bytes); nullopt
/// if absent. The bytes go to secure memory; `Bytes = plain_bytes` only for content that is ciphertext.
template <class Bytes = detail::secure_buffer>
[[nodiscard]] inline result<std::optional<basic_private_file<Bytes>>> read_private_file(
    const std::filesystem::path& p, std::size_t max_size) {
    using private_file = basic_private_file<Bytes>;
    unique_fd fd(
        retry_eintr([&] { return ::open(p.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK); }));
    if (fd.get() < 0) {
        const int err = errno;
        if (err == ENOENT) return std::optional<private_file>{};
        return open_for_reading_failure(p, err);
    }
    // A writer that replaces the file renames a new inode in, so the open descriptor stays consistent; the
    // retry only guards against tools that rewrite the file in place while it is being read.
    constexpr int attempts = 4;
    for (int attempt = 0; attempt < attempts; ++attempt) {
        struct stat before {};
        if (::fstat(fd.get(), &before) != 0) return io_failure(p, "fstat", errno);
        if (!S_ISREG(before.st_mode)) return error{errc::not_a_regular_file, p.string()};
        if (before.st_uid != ::geteuid()) return error{errc::wrong_owner, p.string()};
        if ((before.st_mode & (S_IRWXG | S_IRWXO)) != 0) return error{errc::insecure_permissions, p.string()};
        if (before.st_size < 0 || static_cast<std::uint64_t>(before.st_size) > max_size)
            return error{errc::too_large, p.string()};

        Bytes buffer(static_cast<std::size_t>(before.st_size));
        std::size_t filled = 0;
        while (filled < buffer.size()) {
            const auto n = retry_eintr([&] {
                return ::pread(fd.get(), buffer.data() + filled, buffer.size() - filled,
                               static_cast<off_t>(filled));
            });
            if (n < 0) {
                const int err = errno;
                if (err == EISDIR) return error{errc::not_a_regular_file, p.string()};
                return io_failure(p, "read", err);
            }
            if (n == 0) break;  // shrank while reading: the identity check below retries
            filled += static_cast<std::size_t>(n);
        }
        struct stat after {};
        if (::fstat(fd.get(), &after) != 0) return io_failure(p, "fstat", errno);
        const auto identity = identity_of(before);
        if (identity == identity_of(after) && filled == buffer.size()) {
            if (const int err = fd.close(); err != 0) return io_failure(p, "close", err);
            return std::optional<private_file>{private_file{std::move(buffer), identity}};
        }
    }
    return error{errc::io_error, p.string() + " (kept changing while being read)"};
}

/// Reads a regular file of another tool: not through a symlink, owned by us, at most `max_size` bytes.
/// Group/world-readable files are accepted (other tools write them so); nothing about the file changes
/// (opened read-only, without updating its access time where the kernel allows). nullopt when absent.
template <class = void>
[[nodiscard]] inline result<std::optional<foreign_file>> read_foreign_file(const std::filesystem::path& p,
                                                                           std::size_t max_size) {
    int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
#ifdef O_NOATIME
    flags |= O_NOATIME;
#endif
    unique_fd fd(retry_eintr([&] { return ::open(p.c_str(), flags); }));
#ifdef O_NOATIME
    if (fd.get() < 0 && errno == EPERM)  // O_NOATIME needs ownership; the owner check below refuses anyway
        fd = unique_fd(retry_eintr([&] { return ::open(p.c_str(), flags & ~O_NOATIME); }));
#endif
    if (fd.get() < 0) {
        const int err = errno;
        if (err == ENOENT || err == ENOTDIR) return std::optional<foreign_file>{};
        return open_for_reading_failure(p, err);
    }
    struct stat before {};
    if (::fstat(fd.get(), &before) != 0) return io_failure(p, "fstat", errno);
    if (!S_ISREG(before.st_mode)) return error{errc::not_a_regular_file, p.string()};
    if (before.st_uid != ::geteuid()) return error{errc::wrong_owner, p.string()};
    if (before.st_size < 0 || static_cast<std::uint64_t>(before.st_size) > max_size)
        return error{errc::too_large, p.string()};
    detail::secure_buffer buffer(static_cast<std::size_t>(before.st_size));
    std::size_t filled = 0;
    while (filled < buffer.size()) {
        const auto n = retry_eintr([&] {
            return ::pread(fd.get(), buffer.data() + filled, buffer.size() - filled,
                           static_cast<off_t>(filled));
        });
        if (n < 0) return io_failure(p, "read", errno);
        if (n == 0) break;
        filled += static_cast<std::size_t>(n);
    }
    struct stat after {};
    if (::fstat(fd.get(), &after) != 0) return io_failure(p, "fstat", errno);
    if (filled != buffer.size() || identity_of(before) != identity_of(after))
        return error{errc::io_error, p.string() + " (changed while being read; retried on the next start)"};
    return std::optional<foreign_file>{foreign_file{std::move(buffer), identity_of(before)}};
}

/// Writes all of `bytes` to `fd`.
template <class = void>
[[nodiscard]] inline int write_all(int fd, std::span<const std::byte> bytes) noexcept {
    while (!bytes.empty()) {
        const auto n = retry_eintr([&] { return ::write(fd, bytes.data(), bytes.size()); });
        if (n < 0) return errno;
        if (n == 0) return EIO;
        bytes = bytes.subspan(static_cast<std::size_t>(n));
    }
    return 0;
}

/// Atomically replaces `target` with `bytes` (mode 0600): the new file is flushed before the rename; the
/// returned `sync` still owes the directory flush that makes the rename itself durable.
/// `Calls`: the flush calls (`system_flush_calls`; tests substitute recorders).
template <class Calls = system_flush_calls>
[[nodiscard]] inline result<replaced_file> replace_file(const std::filesystem::path& target,
                                                        std::span<const std::byte> bytes) {
    if (target.filename().empty()) return error{errc::invalid_argument, target.string()};
    struct stat existing {};
    bool replaces_existing = false;
    if (retry_eintr([&] { return ::lstat(target.c_str(), &existing); }) == 0) {
        replaces_existing = true;
        if (S_ISLNK(existing.st_mode)) return error{errc::symlink_refused, target.string()};
        if (!S_ISREG(existing.st_mode)) return error{errc::not_a_regular_file, target.string()};
    } else if (const int err = errno; err != ENOENT) {
        if (err == EACCES) return error{errc::read_only_store, target.string()};
        return io_failure(target, "lstat", err);
    }

    const auto dir = parent_directory_of(target);
    auto suffix = random_hex(8);
    if (!suffix) return suffix.error();
    const auto temp = dir / (detail::temp_file_prefix(target.filename().string()) + *suffix);
    unique_fd fd(retry_eintr([&] {
        return ::open(temp.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, S_IRUSR | S_IWUSR);
    }));
    if (fd.get() < 0) {
        const int err = errno;
        if (err == EACCES || err == EPERM || err == EROFS)
            return error{errc::read_only_store, target.string()};
        return io_failure(target, "create temp file", err);
    }
    // From here on the temp file exists and must not outlive a failure.
    auto fail = [&](error e) {
        fd.reset();
        (void)::unlink(temp.c_str());
        return e;
    };
    if (retry_eintr([&] { return ::fchmod(fd.get(), S_IRUSR | S_IWUSR); }) != 0)
        return fail(io_failure(target, "fchmod temp file", errno));
    if (const int err = write_all(fd.get(), bytes); err != 0)
        return fail(io_failure(target, "write temp file", err));
    if (replaces_existing) {
        // Readers detect changes by identity (inode, size, mtime, ctime). An inode number can be reused
        // and timestamps are coarse, so make the new mtime strictly later than the file it replaces.
        struct timespec now {};
        if (::clock_gettime(CLOCK_REALTIME, &now) != 0)
            return fail(io_failure(target, "clock_gettime", errno));
        struct timespec floor = stat_mtime(existing);
        floor.tv_nsec += 1000;
        if (floor.tv_nsec >= 1000000000L) {
            floor.tv_sec += 1;
            floor.tv_nsec -= 1000000000L;
        }
        const bool now_is_later =
            now.tv_sec > floor.tv_sec || (now.tv_sec == floor.tv_sec && now.tv_nsec > floor.tv_nsec);
        const struct timespec times[2] = {{0, UTIME_OMIT}, now_is_later ? now : floor};
        if (::futimens(fd.get(), times) != 0) return fail(io_failure(target, "futimens temp file", errno));
    }
    if (const int err = durable_flush<Calls>(fd.get()); err != 0)
        return fail(io_failure(target, "fsync temp file", err));
    if (retry_eintr([&] { return ::rename(temp.c_str(), target.c_str()); }) != 0) {
        const int err = errno;
        if (err == EISDIR || err == ENOTEMPTY || err == EEXIST)
            return fail(error{errc::not_a_regular_file, target.string()});
        if (err == EACCES || err == EPERM || err == EROFS)
            return fail(error{errc::read_only_store, target.string()});
        return fail(io_failure(target, "rename", err));
    }
    // rename updates the inode's ctime, so the identity is taken from the descriptor after it.
    struct stat written {};
    const int stat_rc = ::fstat(fd.get(), &written);
    const int stat_err = errno;
    if (const int err = fd.close(); err != 0) return io_failure(target, "close", err);
    if (stat_rc != 0) return io_failure(target, "fstat", stat_err);
    return replaced_file{identity_of(written), pending_sync(dir, &sync_directory<Calls>)};
}

/// Durably replaces `target` with `bytes` (mode 0600: replace_file, then its directory flush) and returns
/// the identity of the new file.
template <class Calls = system_flush_calls>
[[nodiscard]] inline result<file_identity> write_file_atomically(const std::filesystem::path& target,
                                                                 std::span<const std::byte> bytes) {
    auto replaced = replace_file<Calls>(target, bytes);
    if (!replaced) return replaced.error();
    TOKENVAULT_TRY(replaced->sync.complete());
    return replaced->identity;
}

/// Moves `p` aside to `<name>.corrupt-<UTC yyyymmddThhmmssZ>-<8 hex>` in the same directory; returns the new
/// path.
template <class = void>
[[nodiscard]] inline result<std::filesystem::path> quarantine_file(const std::filesystem::path& p) {
    if (p.filename().empty()) return error{errc::invalid_argument, p.string()};
    auto suffix = random_hex(4);
    if (!suffix) return suffix.error();
    auto moved = p;
    moved.replace_filename(p.filename().string() + ".corrupt-" + utc_timestamp() + "-" + *suffix);
    if (retry_eintr([&] { return ::rename(p.c_str(), moved.c_str()); }) != 0) {
        const int err = errno;
        if (err == EACCES || err == EPERM || err == EROFS) return error{errc::read_only_store, p.string()};
        return io_failure(p, "rename", err);
    }
    TOKENVAULT_TRY(sync_directory(parent_directory_of(p)));
    return moved;
}

/// remove_file without the directory flush, for files whose reappearance after a crash is harmless.
template <class = void>
[[nodiscard]] inline result<bool> remove_file_unflushed(const std::filesystem::path& p) {
    if (retry_eintr([&] { return ::unlink(p.c_str()); }) != 0) {
        const int err = errno;
        if (err == ENOENT) return false;
        if (err == EISDIR) return error{errc::not_a_regular_file, p.string()};
        if (err == EACCES || err == EPERM || err == EROFS) return error{errc::read_only_store, p.string()};
        return io_failure(p, "unlink", err);
    }
    return true;
}

/// Removes the file `p` (a symlink itself, never its target) durably; false when nothing was there.
template <class = void>
[[nodiscard]] inline result<bool> remove_file(const std::filesystem::path& p) {
    auto removed = remove_file_unflushed(p);
    if (removed && *removed) TOKENVAULT_TRY(sync_directory(parent_directory_of(p)));
    return removed;
}

/// Creates `p` (mode 0600, never over an existing file or through a symlink) holding `bytes`, without
/// flushing it: for short-lived hand-over files whose loss in a crash loses nothing acknowledged.
template <class = void>
[[nodiscard]] inline result<void> create_private_file(const std::filesystem::path& p,
                                                      std::span<const std::byte> bytes) {
    unique_fd fd(retry_eintr([&] {
        return ::open(p.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, S_IRUSR | S_IWUSR);
    }));
    if (fd.get() < 0) {
        const int err = errno;
        if (err == EACCES || err == EPERM || err == EROFS) return error{errc::read_only_store, p.string()};
        return io_failure(p, "create", err);
    }
    int err = retry_eintr([&] { return ::fchmod(fd.get(), S_IRUSR | S_IWUSR); }) != 0 ? errno : 0;
    if (err == 0) err = write_all(fd.get(), bytes);
    if (err == 0) err = fd.close();
    if (err != 0) {
        fd.reset();
        (void)::unlink(p.c_str());
        return io_failure(p, "write", err);
    }
    return {};
}

/// Renames `from` to `to` in the same directory without flushing; false when `from` is not there (another
/// process renamed or removed it first: of two processes renaming one file, exactly one succeeds).
template <class = void>
[[nodiscard]] inline result<bool> rename_file(const std::filesystem::path& from,
                                              const std::filesystem::path& to) {
    if (retry_eintr([&] { return ::rename(from.c_str(), to.c_str()); }) != 0) {
        const int err = errno;
        if (err == ENOENT) return false;
        if (err == EACCES || err == EPERM || err == EROFS) return error{errc::read_only_store, from.string()};
        return io_failure(from, "rename", err);
    }
    return true;
}

/// What is at `p` (not following a symlink), judged as a private directory (`directory`) or private file.
template <class = void>
[[nodiscard]] inline result<path_report> inspect_path(const std::filesystem::path& p, bool directory) {
    path_report report;
    struct stat st {};
    if (retry_eintr([&] { return ::lstat(p.c_str(), &st); }) != 0) {
        const int err = errno;
        if (err == ENOENT || err == ENOTDIR) return report;
        if (err == EACCES) return error{errc::unreadable_store, p.string()};
        return io_failure(p, "lstat", err);
    }
    report.exists = true;
    report.link = S_ISLNK(st.st_mode);
    report.expected_kind = directory ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode);
    report.owned_by_user = st.st_uid == ::geteuid();
    report.owner = "uid " + std::to_string(st.st_uid);
    const unsigned mode = static_cast<unsigned>(st.st_mode) & 07777U;
    report.private_access = (mode & (directory ? 077U : 0177U)) == 0;
    char text[8] = {};
    std::snprintf(text, sizeof text, "%04o", mode);
    report.access = text;
    return report;
}

}  // namespace tokenvault::platform
