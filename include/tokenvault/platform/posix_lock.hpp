// tokenvault/platform/posix_lock.hpp: the lock file primitives of tokenvault on POSIX (flock).
//
// `open_lock_file` opens (creating 0600, never following a symlink) a lock file that is never deleted;
// `try_lock` makes one non-blocking flock attempt, `wait_lock` a blocking one, and `unlock` releases it
// explicitly. The kernel drops the
// lock when the holder closes the descriptor or dies. flock locks belong to the open file description: two
// descriptors in one process exclude each other, and a forked child shares (does not get) its parent's
// lock. The waiting queue of platform::file_lock (lock.hpp) is a second lock on the same file that Linux
// keeps apart from flock: an open-file-description (OFD) record lock on its first byte, taken with
// `try_queue` or, blocking in the kernel's queue, `wait_in_queue`. Where the two kinds are not independent
// (network file systems emulate flock with record locks; Darwin has no OFD locks), `open_lock_queue`
// answers nullopt and waiters poll the flock. Included through platform.hpp only.
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/vfs.h>
#endif

#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <optional>

#include "../error.hpp"
#include "../result.hpp"
#include "common.hpp"
#include "posix_file.hpp"

namespace tokenvault::platform {

/// Opens (creating with mode 0600) the lock file at `p`, refusing symlinks, non-files and foreign owners.
template <class = void>
[[nodiscard]] inline result<native_file> open_lock_file(const std::filesystem::path& p) {
    unique_fd fd(retry_eintr([&] {
        return ::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, S_IRUSR | S_IWUSR);
    }));
    if (fd.get() < 0) {
        const int err = errno;
        switch (err) {
        case ELOOP: return error{errc::symlink_refused, p.string()};
        case EISDIR:
        case ENXIO: return error{errc::not_a_regular_file, p.string()};
        case EACCES:
        case EPERM:
        case EROFS: return error{errc::read_only_store, p.string()};
        default: return io_failure(p, "open lock file", err);
        }
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return io_failure(p, "fstat lock file", errno);
    if (!S_ISREG(st.st_mode)) return error{errc::not_a_regular_file, p.string()};
    if (st.st_uid != ::geteuid()) return error{errc::wrong_owner, p.string()};
    if ((st.st_mode & 07777) != (S_IRUSR | S_IWUSR)) {  // umask may have narrowed it; nobody else needs it
        if (retry_eintr([&] { return ::fchmod(fd.get(), S_IRUSR | S_IWUSR); }) != 0)
            return io_failure(p, "fchmod lock file", errno);
    }
    return fd;
}

/// One non-blocking attempt at a lock on `file`: true when taken, false when another holder prevents it.
template <class = void>
[[nodiscard]] inline result<bool> try_lock(const native_file& file, const std::filesystem::path& p,
                                           lock_mode mode) {
    const int operation = (mode == lock_mode::shared ? LOCK_SH : LOCK_EX) | LOCK_NB;
    if (retry_eintr([&] { return ::flock(file.get(), operation); }) == 0) return true;
    const int err = errno;
    if (err == EWOULDBLOCK) return false;
    return io_failure(p, "flock", err);
}

/// Waits until the lock on `file` is taken (no timeout: platform::file_lock runs this on a helper thread
/// and keeps the deadline itself, and only the head of the queue waits here).
template <class = void>
[[nodiscard]] inline result<void> wait_lock(const native_file& file, const std::filesystem::path& p,
                                            lock_mode mode) {
    const int operation = mode == lock_mode::shared ? LOCK_SH : LOCK_EX;
    if (retry_eintr([&] { return ::flock(file.get(), operation); }) == 0) return {};
    return io_failure(p, "flock", errno);
}

/// Releases the lock held through `file` now, for every descriptor that shares its open file description
/// (a forked child's copy included).
template <class = void>
inline void unlock(const native_file& file) noexcept {
    (void)retry_eintr([&] { return ::flock(file.get(), LOCK_UN); });
}

/// Whether the file system of `fd` keeps flock locks and record locks apart (local Linux file systems do;
/// NFS, SMB and FUSE may emulate one with the other).
template <class = void>
[[nodiscard]] inline bool separate_lock_kinds(int fd) noexcept {
#if defined(__linux__) && defined(F_OFD_SETLK)
    struct statfs fs {};
    if (::fstatfs(fd, &fs) != 0) return false;
    switch (static_cast<std::uint32_t>(fs.f_type)) {
    case 0xEF53U:      // ext2, ext3, ext4
    case 0x58465342U:  // xfs
    case 0x9123683EU:  // btrfs
    case 0x01021994U:  // tmpfs
    case 0x794C7630U:  // overlayfs (containers), over one of these
    case 0xF2F52010U:  // f2fs
    case 0x2FC12FC1U:  // zfs
    case 0xCA451A4EU:  // bcachefs
        return true;
    default: return false;
    }
#else
    (void)fd;
    return false;
#endif
}

/// A second open file description of the lock file `p`, for its waiting queue; nullopt where the queue
/// lock would not be independent of the flock (see the top of this file).
template <class = void>
[[nodiscard]] inline result<std::optional<native_file>> open_lock_queue(const std::filesystem::path& p) {
    unique_fd fd(
        retry_eintr([&] { return ::open(p.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK); }));
    if (fd.get() < 0) return std::optional<native_file>{};  // the flock alone still works
    if (!separate_lock_kinds(fd.get())) return std::optional<native_file>{};
    return std::optional<native_file>{std::move(fd)};
}

#if defined(F_OFD_SETLK)
/// The record lock of the queue: the first byte, exclusive (or `F_UNLCK`).
[[nodiscard]] inline struct flock queue_record(short type) noexcept {
    struct flock record {};
    record.l_type = type;
    record.l_whence = SEEK_SET;
    record.l_start = 0;
    record.l_len = 1;
    return record;
}
#endif

/// One non-blocking attempt at the head of the queue: true when taken, false when another waiter has it.
template <class = void>
[[nodiscard]] inline result<bool> try_queue(const native_file& queue, const std::filesystem::path& p) {
#if defined(F_OFD_SETLK)
    auto record = queue_record(F_WRLCK);
    if (retry_eintr([&] { return ::fcntl(queue.get(), F_OFD_SETLK, &record); }) == 0) return true;
    const int err = errno;
    if (err == EAGAIN || err == EACCES) return false;
    return io_failure(p, "fcntl F_OFD_SETLK", err);
#else
    (void)queue;
    return io_failure(p, "fcntl F_OFD_SETLK", ENOTSUP);
#endif
}

/// Waits in the kernel's queue until `queue` is at the head (no timeout: platform::file_lock runs this
/// on a helper thread and keeps the deadline itself).
template <class = void>
[[nodiscard]] inline result<void> wait_in_queue(const native_file& queue, const std::filesystem::path& p) {
#if defined(F_OFD_SETLK)
    auto record = queue_record(F_WRLCK);
    if (retry_eintr([&] { return ::fcntl(queue.get(), F_OFD_SETLKW, &record); }) == 0) return {};
    return io_failure(p, "fcntl F_OFD_SETLKW", errno);
#else
    (void)queue;
    return io_failure(p, "fcntl F_OFD_SETLKW", ENOTSUP);
#endif
}

/// Leaves the queue (lets the next waiter to the head).
template <class = void>
inline void leave_queue(const native_file& queue) noexcept {
#if defined(F_OFD_SETLK)
    auto record = queue_record(F_UNLCK);
    (void)retry_eintr([&] { return ::fcntl(queue.get(), F_OFD_SETLK, &record); });
#else
    (void)queue;
#endif
}

}  // namespace tokenvault::platform
