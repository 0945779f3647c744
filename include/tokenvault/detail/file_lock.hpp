// tokenvault/detail/file_lock.hpp: the cross-process exclusive lock on a lock file (flock on POSIX).
//
// `file_lock::acquire` opens (creating 0600, never following a symlink) a lock file that is never
// deleted and polls a non-blocking flock with exponential backoff (50us doubling to 5ms, real sleeps)
// until a timeout, reporting whether it had to wait. The kernel drops the lock when the holder closes
// the descriptor or dies. flock locks belong to the open file description: two acquisitions in one
// process exclude each other, and a forked child shares (does not get) its parent's lock.
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <thread>
#include <utility>

#include "../error.hpp"
#include "../result.hpp"
#include "posix_file.hpp"

namespace tokenvault::detail {

/// How an acquisition went: whether another holder made it wait, and for how long.
struct lock_wait {
    bool contended = false;              ///< another holder had the lock at the first attempt
    std::chrono::nanoseconds waited{0};  ///< time from the call to acquisition (or to the timeout)
};

/// Opens (creating with mode 0600) the lock file at `p`, refusing symlinks, non-files and foreign owners.
template <class = void>
[[nodiscard]] inline result<unique_fd> open_lock_file(const std::filesystem::path& p) {
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

/// Whether a file lock excludes every other holder or only exclusive ones.
enum class lock_mode { exclusive, shared };

/// One non-blocking attempt at a lock on `fd`: true when taken, false when another holder prevents it.
template <class = void>
[[nodiscard]] inline result<bool> try_lock(int fd, const std::filesystem::path& p, lock_mode mode) {
    const int operation = (mode == lock_mode::shared ? LOCK_SH : LOCK_EX) | LOCK_NB;
    if (retry_eintr([&] { return ::flock(fd, operation); }) == 0) return true;
    const int err = errno;
    if (err == EWOULDBLOCK) return false;
    return io_failure(p, "flock", err);
}

/// A cross-process lock (exclusive, or shared among readers) on a lock file, released on destruction.
class file_lock {
public:
    /// An empty (not held) lock.
    file_lock() noexcept = default;

    /// Takes the lock at `lock_path`, waiting up to `timeout` (errc::lock_timeout); reports the wait in
    /// `*wait`.
    [[nodiscard]] static result<file_lock> acquire(const std::filesystem::path& lock_path,
                                                   std::chrono::milliseconds timeout,
                                                   lock_wait* wait = nullptr,
                                                   lock_mode mode = lock_mode::exclusive) {
        using clock = std::chrono::steady_clock;
        constexpr std::chrono::nanoseconds first_backoff = std::chrono::microseconds(50);
        constexpr std::chrono::nanoseconds max_backoff = std::chrono::milliseconds(1);

        const auto start = clock::now();
        const auto deadline = start + timeout;
        lock_wait local;
        lock_wait& report = wait != nullptr ? *wait : local;
        report = lock_wait{};

        auto fd = open_lock_file(lock_path);
        if (!fd) return fd.error();
        auto backoff = first_backoff;
        for (;;) {
            auto taken = try_lock(fd->get(), lock_path, mode);
            if (!taken) return taken.error();
            const auto now = clock::now();
            report.waited = now - start;
            if (*taken) return file_lock(std::move(*fd));
            report.contended = true;
            if (now >= deadline) return error{errc::lock_timeout, lock_path.string()};
            std::this_thread::sleep_for(std::min<std::chrono::nanoseconds>(backoff, deadline - now));
            backoff = std::min(backoff * 2, max_backoff);
        }
    }

    file_lock(file_lock&&) noexcept = default;
    file_lock& operator=(file_lock&& other) noexcept {
        if (this != &other) fd_ = std::move(other.fd_);  // moving the descriptor releases ours first
        return *this;
    }
    file_lock(const file_lock&) = delete;
    file_lock& operator=(const file_lock&) = delete;
    ~file_lock() = default;

    /// Releases the lock by closing the descriptor (a forked child still holding a copy keeps it until it
    /// exits).
    void release() noexcept { fd_.reset(); }
    /// Whether this object holds the lock.
    [[nodiscard]] bool held() const noexcept { return fd_.get() >= 0; }

private:
    explicit file_lock(unique_fd fd) noexcept : fd_(std::move(fd)) {}
    unique_fd fd_;
};

}  // namespace tokenvault::detail
