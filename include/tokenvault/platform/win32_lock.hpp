// tokenvault/platform/win32_lock.hpp: the lock file primitives of tokenvault on Windows (LockFileEx).
//
// `open_lock_file` opens (creating it with an owner-only DACL, never through a reparse point) a lock file
// that is never deleted, shared for reading, writing and deletion so every process can open it. The lock
// is a LockFileEx lock on byte 0 (exclusive, or shared among readers): `try_lock` makes one attempt,
// `wait_lock` waits for it, `unlock` releases it; Windows releases it when the handle is closed or the
// process ends. The waiting queue of platform::file_lock (lock.hpp) is an exclusive lock on byte 1 of the
// same file, taken through a second handle (`open_lock_queue`) with `try_queue` or, blocking in Windows's
// queue, `wait_in_queue`. Byte-range locks are mandatory on Windows: nobody reads or writes lock files, so
// that costs nothing. Included through platform.hpp only.
#pragma once

#include <filesystem>
#include <optional>

#include "../error.hpp"
#include "../result.hpp"
#include "common.hpp"
#include "win32_api.hpp"
#include "win32_file.hpp"
#include "win32_security.hpp"

namespace tokenvault::platform {

/// Opens (creating with an owner-only DACL) the lock file at `p`, refusing reparse points, directories
/// and files another user owns or may write.
template <class = void>
[[nodiscard]] inline result<native_file> open_lock_file(const std::filesystem::path& p) {
    auto* security = private_security::shared();
    if (security == nullptr)
        return error{errc::io_error, p.string() + " (the process token could not be read)"};
    unique_handle h(::CreateFileW(p.c_str(), GENERIC_READ | GENERIC_WRITE | READ_CONTROL,
                                  FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, security,
                                  OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT,
                                  nullptr));
    if (!h.valid()) {
        const DWORD err = ::GetLastError();
        if (err == ERROR_ACCESS_DENIED || err == ERROR_WRITE_PROTECT) {
            const DWORD attributes = ::GetFileAttributesW(p.c_str());
            if (attributes != INVALID_FILE_ATTRIBUTES && is_directory(attributes) && !is_reparse(attributes))
                return error{errc::not_a_regular_file, p.string()};
            return error{errc::read_only_store, p.string()};
        }
        if (err == ERROR_CANT_ACCESS_FILE || err == ERROR_CANT_RESOLVE_FILENAME)
            return error{errc::symlink_refused, p.string()};
        return io_failure(p, "open lock file", err);
    }
    auto info = info_of(h.get(), p);
    if (!info) return info.error();
    if (is_reparse(info->attributes)) return error{errc::symlink_refused, p.string()};
    if (is_directory(info->attributes)) return error{errc::not_a_regular_file, p.string()};
    TOKENVAULT_TRY(check_security(h.get(), p, write_rights));
    return h;
}

/// LockFileEx on the one byte at `offset` of `file`: `flags` | LOCKFILE_FAIL_IMMEDIATELY for an attempt.
[[nodiscard]] inline BOOL lock_byte(const native_file& file, DWORD offset, DWORD flags) noexcept {
    OVERLAPPED at{};
    at.Offset = offset;
    return ::LockFileEx(file.get(), flags, 0, 1, 0, &at);
}

/// UnlockFileEx of the one byte at `offset` of `file`.
inline void unlock_byte(const native_file& file, DWORD offset) noexcept {
    OVERLAPPED at{};
    at.Offset = offset;
    (void)::UnlockFileEx(file.get(), 0, 1, 0, &at);
}

/// One attempt at the lock on byte `offset`: true when taken, false when another holder prevents it.
template <class = void>
[[nodiscard]] inline result<bool> try_lock_byte(const native_file& file, const std::filesystem::path& p,
                                                DWORD offset, DWORD flags) {
    if (lock_byte(file, offset, flags | LOCKFILE_FAIL_IMMEDIATELY)) return true;
    const DWORD err = ::GetLastError();
    if (err == ERROR_LOCK_VIOLATION || err == ERROR_IO_PENDING) return false;
    return io_failure(p, "LockFileEx", err);
}

/// One attempt at the lock on `file`: true when taken, false when another holder prevents it.
template <class = void>
[[nodiscard]] inline result<bool> try_lock(const native_file& file, const std::filesystem::path& p,
                                           lock_mode mode) {
    return try_lock_byte(file, p, 0, mode == lock_mode::exclusive ? LOCKFILE_EXCLUSIVE_LOCK : 0);
}

/// Waits until the lock on `file` is taken (no timeout: platform::file_lock runs this on a helper thread
/// and keeps the deadline itself, and only the head of the queue waits here).
template <class = void>
[[nodiscard]] inline result<void> wait_lock(const native_file& file, const std::filesystem::path& p,
                                            lock_mode mode) {
    if (lock_byte(file, 0, mode == lock_mode::exclusive ? LOCKFILE_EXCLUSIVE_LOCK : 0)) return {};
    return io_failure(p, "LockFileEx", ::GetLastError());
}

/// Releases the lock held through `file` now.
template <class = void>
inline void unlock(const native_file& file) noexcept {
    unlock_byte(file, 0);
}

/// A second handle on the lock file `p`, for its waiting queue (byte 1).
template <class = void>
[[nodiscard]] inline result<std::optional<native_file>> open_lock_queue(const std::filesystem::path& p) {
    unique_handle h(::CreateFileW(
        p.c_str(), GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
        nullptr, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT, nullptr));
    if (!h.valid()) return std::optional<native_file>{};  // the lock alone still works
    return std::optional<native_file>{std::move(h)};
}

/// One attempt at the head of the queue: true when taken, false when another waiter has it.
template <class = void>
[[nodiscard]] inline result<bool> try_queue(const native_file& queue, const std::filesystem::path& p) {
    return try_lock_byte(queue, p, 1, LOCKFILE_EXCLUSIVE_LOCK);
}

/// Waits in Windows's queue until `queue` is at the head (no timeout: platform::file_lock runs this on a
/// helper thread and keeps the deadline itself).
template <class = void>
[[nodiscard]] inline result<void> wait_in_queue(const native_file& queue, const std::filesystem::path& p) {
    if (lock_byte(queue, 1, LOCKFILE_EXCLUSIVE_LOCK)) return {};
    return io_failure(p, "LockFileEx", ::GetLastError());
}

/// Leaves the queue (lets the next waiter to the head).
template <class = void>
inline void leave_queue(const native_file& queue) noexcept {
    unlock_byte(queue, 1);
}

}  // namespace tokenvault::platform
