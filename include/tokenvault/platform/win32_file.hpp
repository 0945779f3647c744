// tokenvault/platform/win32_file.hpp: the file system calls of tokenvault on Windows, one small function
// each.
//
// The same operations and errors as posix_file.hpp. Private files and directories are created with an
// owner-only protected DACL (win32_security.hpp) and checked on every open: owner the current user, no
// one else able to write, never a reparse point (symlink, junction: errc::symlink_refused). Files are
// opened sharing read and delete only; readers of a store hold its shared store lock, so no writer
// replaces a file tokenvault is reading (Windows and wine refuse to replace an open file). Durable
// atomic replace: a temp file in the same directory, written, FlushFileBuffers, then MoveFileExW with
// REPLACE_EXISTING | WRITE_THROUGH, retried for up to a second while another handle (an antivirus, an
// indexer) holds the target. The change check compares size, creation and last write times, read
// without opening the file (see identity_of). Included through platform.hpp only.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "../detail/secure_buffer.hpp"
#include "../error.hpp"
#include "../result.hpp"
#include "common.hpp"
#include "win32_api.hpp"
#include "win32_security.hpp"

namespace tokenvault::platform {

/// What one open handle says about its file.
struct win32_file_info {
    DWORD attributes = 0;    ///< FILE_ATTRIBUTE_* bits
    file_identity identity;  ///< see identity_of
};

/// A file's identity on Windows: size, creation and last write times. No file index: reading one needs a
/// handle on the file, and any open handle, even one for attributes only, makes MoveFileExW fail to
/// replace the file (wine always; Windows without POSIX rename semantics), so a change check that opened
/// the file would make writers fail. Every replace is a new file with its own creation time, and
/// write_file_atomically makes the last write time strictly later than that of the file it replaces.
[[nodiscard]] constexpr file_identity identity_of(const FILETIME& created, const FILETIME& written,
                                                  DWORD size_high, DWORD size_low) noexcept {
    return file_identity{0, ticks_of(created), (static_cast<std::uint64_t>(size_high) << 32) | size_low,
                         filetime_to_epoch_ns(ticks_of(written)), 0};
}

/// Reads attributes and identity from an open handle.
template <class = void>
[[nodiscard]] inline result<win32_file_info> info_of(HANDLE h, const std::filesystem::path& p) {
    BY_HANDLE_FILE_INFORMATION by_handle{};
    if (!::GetFileInformationByHandle(h, &by_handle))
        return io_failure(p, "GetFileInformationByHandle", ::GetLastError());
    win32_file_info info;
    info.attributes = by_handle.dwFileAttributes;
    info.identity = identity_of(by_handle.ftCreationTime, by_handle.ftLastWriteTime, by_handle.nFileSizeHigh,
                                by_handle.nFileSizeLow);
    return info;
}

/// Whether `attributes` marks a reparse point (a symlink, junction or other redirection).
[[nodiscard]] constexpr bool is_reparse(DWORD attributes) noexcept {
    return (attributes & FILE_ATTRIBUTE_REPARSE_POINT) != 0;
}
/// Whether `attributes` marks a directory.
[[nodiscard]] constexpr bool is_directory(DWORD attributes) noexcept {
    return (attributes & FILE_ATTRIBUTE_DIRECTORY) != 0;
}

/// Opens whatever is at `p` for its metadata only, without following a reparse point and sharing
/// everything (so no writer is disturbed); an invalid handle with GetLastError() set on failure.
template <class = void>
[[nodiscard]] inline unique_handle open_metadata(const std::filesystem::path& p,
                                                 DWORD access = FILE_READ_ATTRIBUTES) {
    return unique_handle(
        ::CreateFileW(p.c_str(), access, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                      OPEN_EXISTING, FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS, nullptr));
}

/// The identity of whatever is at `p` (a reparse point is not followed); nullopt when nothing is there.
template <class = void>
[[nodiscard]] inline result<std::optional<file_identity>> stat_identity(const std::filesystem::path& p) {
    WIN32_FILE_ATTRIBUTE_DATA data{};
    if (!::GetFileAttributesExW(p.c_str(), GetFileExInfoStandard, &data)) {  // opens no handle of ours
        const DWORD err = ::GetLastError();
        if (win32_absent(err)) return std::optional<file_identity>{};
        if (err == ERROR_ACCESS_DENIED) return error{errc::unreadable_store, p.string()};
        return io_failure(p, "GetFileAttributesExW", err);
    }
    return std::optional<file_identity>{
        identity_of(data.ftCreationTime, data.ftLastWriteTime, data.nFileSizeHigh, data.nFileSizeLow)};
}

/// Windows makes a rename durable with MOVEFILE_WRITE_THROUGH; there is no directory to flush.
template <class = void>
[[nodiscard]] inline result<void> sync_directory(const std::filesystem::path&) {
    return {};
}

/// Refuses an existing directory that is a reparse point, not a directory, foreign-owned or writable by
/// others.
template <class = void>
[[nodiscard]] inline result<void> check_private_directory(const std::filesystem::path& dir) {
    const auto h = open_metadata(dir, FILE_READ_ATTRIBUTES | READ_CONTROL);
    if (!h.valid()) {
        const DWORD err = ::GetLastError();
        if (err == ERROR_ACCESS_DENIED) return error{errc::unreadable_store, dir.string()};
        return io_failure(dir, "CreateFileW", err);
    }
    auto info = info_of(h.get(), dir);
    if (!info) return info.error();
    if (is_reparse(info->attributes)) return error{errc::symlink_refused, dir.string()};
    if (!is_directory(info->attributes)) return error{errc::not_a_regular_file, dir.string()};
    return check_security(h.get(), dir, write_rights);
}

/// Creates one directory with an owner-only DACL; false if it already existed.
template <class = void>
[[nodiscard]] inline result<bool> make_private_directory(const std::filesystem::path& dir) {
    auto* security = private_security::shared();
    if (security == nullptr)
        return error{errc::io_error, dir.string() + " (the process token could not be read)"};
    if (!::CreateDirectoryW(dir.c_str(), security)) {
        const DWORD err = ::GetLastError();
        if (err == ERROR_ALREADY_EXISTS) return false;
        return write_failure(dir, "CreateDirectoryW", err);
    }
    return true;
}

/// Creates `dir` and its missing parents (each new one owner-only) and refuses an unsafe existing `dir`.
template <class = void>
[[nodiscard]] inline result<void> ensure_private_directory(const std::filesystem::path& dir) {
    if (dir.empty()) return error{errc::invalid_argument, "empty directory path"};
    std::vector<std::filesystem::path> parts;
    for (const auto& part : dir) {
        if (!part.empty()) parts.push_back(part);
    }
    std::filesystem::path current;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        current /= parts[i];
        const bool last = i + 1 == parts.size();
        if (current == current.root_path() || current == current.root_name() || parts[i] == "." ||
            parts[i] == "..") {
            if (!last) continue;
        }
        const DWORD attributes = ::GetFileAttributesW(current.c_str());  // parents may be junctions: followed
        if (attributes == INVALID_FILE_ATTRIBUTES) {
            const DWORD err = ::GetLastError();
            if (err == ERROR_ACCESS_DENIED) return error{errc::unreadable_store, current.string()};
            if (!win32_absent(err)) return io_failure(current, "GetFileAttributesW", err);
            auto created = make_private_directory(current);
            if (!created) return created.error();
        } else if (!is_directory(attributes)) {
            return error{errc::not_a_regular_file, current.string()};
        }
        if (last) return check_private_directory(current);
    }
    return {};
}

/// Refuses a store directory that another user could swap for their own through its parent: a parent
/// owned by someone else, or whose DACL lets someone else delete or rename its entries or change the DACL
/// (the Windows counterpart of a non-sticky, world-writable directory). Nothing to check when `dir` does
/// not exist.
template <class = void>
[[nodiscard]] inline result<void> check_store_parent(const std::filesystem::path& dir) {
    const auto clean = dir.has_filename() ? dir : dir.parent_path();
    const auto parent = parent_directory_of(clean);
    if (clean == clean.root_path()) return {};
    const auto h = unique_handle(::CreateFileW(parent.c_str(), READ_CONTROL | FILE_READ_ATTRIBUTES,
                                               FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                                               nullptr, OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, nullptr));
    if (!h.valid()) {
        const DWORD err = ::GetLastError();
        if (win32_absent(err)) return {};
        if (err == ERROR_ACCESS_DENIED) return error{errc::unreadable_store, parent.string()};
        return io_failure(parent, "CreateFileW", err);
    }
    PSID owner = nullptr;
    PACL dacl = nullptr;
    PSECURITY_DESCRIPTOR descriptor = nullptr;
    const DWORD rc =
        ::GetSecurityInfo(h.get(), SE_FILE_OBJECT, OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
                          &owner, nullptr, &dacl, nullptr, &descriptor);
    if (rc != ERROR_SUCCESS) return io_failure(parent, "GetSecurityInfo", rc);
    std::string offender;
    auto verdict = judge_security(owner, dacl, replace_child_rights, &offender);
    if (verdict == security_verdict::foreign_owner && trusted_writer(owner)) {  // SYSTEM or Administrators
        verdict = judge_security(current_user::get().user_sid(), dacl, replace_child_rights, &offender);
    }
    ::LocalFree(descriptor);
    if (verdict == security_verdict::foreign_owner)
        return error{errc::wrong_owner, parent.string() + ": owned by " + offender +
                                            ", who could replace the store directory " + dir.string() +
                                            " inside it: keep the store in a directory of your own"};
    if (verdict == security_verdict::others_may_write)
        return error{errc::insecure_permissions,
                     parent.string() + ": its DACL lets " + offender +
                         " delete or rename the store directory " + dir.string() +
                         " inside it: remove that access, or keep the store elsewhere"};
    return {};
}

/// Checks an existing store directory before it is read: `check_private_directory` plus
/// `check_store_parent`. An absent directory passes (there is nothing to read).
template <class = void>
[[nodiscard]] inline result<void> check_store_directory(const std::filesystem::path& dir) {
    if (::GetFileAttributesW(dir.c_str()) == INVALID_FILE_ATTRIBUTES) {
        const DWORD err = ::GetLastError();
        if (win32_absent(err)) return {};
        if (err == ERROR_ACCESS_DENIED) return error{errc::unreadable_store, dir.string()};
        return io_failure(dir, "GetFileAttributesW", err);
    }
    TOKENVAULT_TRY(check_private_directory(dir));
    return check_store_parent(dir);
}

/// Creates or checks a store directory before it is written: `ensure_private_directory` plus
/// `check_store_parent`.
template <class = void>
[[nodiscard]] inline result<void> ensure_store_directory(const std::filesystem::path& dir) {
    TOKENVAULT_TRY(ensure_private_directory(dir));
    return check_store_parent(dir);
}

/// The error for a CreateFileW of `p` for reading that failed with `err` (absence is the caller's).
template <class = void>
[[nodiscard]] inline error open_for_reading_failure(const std::filesystem::path& p, DWORD err) {
    if (err == ERROR_ACCESS_DENIED) {
        const DWORD attributes = ::GetFileAttributesW(p.c_str());
        if (attributes != INVALID_FILE_ATTRIBUTES && is_directory(attributes))
            return error{errc::not_a_regular_file, p.string()};
        return error{errc::unreadable_store, p.string()};
    }
    if (err == ERROR_SHARING_VIOLATION || err == ERROR_LOCK_VIOLATION)
        return error{errc::io_error, p.string() + " (another program holds it open without sharing: retry)"};
    if (err == ERROR_CANT_ACCESS_FILE || err == ERROR_CANT_RESOLVE_FILENAME)
        return error{errc::symlink_refused, p.string()};
    return io_failure(p, "CreateFileW", err);
}

/// Reads the whole of an open file of `size` bytes into `buffer`; false when it ended early.
template <class Bytes>
[[nodiscard]] inline result<bool> read_all(HANDLE h, const std::filesystem::path& p, Bytes& buffer) {
    std::size_t filled = 0;
    while (filled < buffer.size()) {
        const DWORD chunk = static_cast<DWORD>(std::min<std::size_t>(buffer.size() - filled, 1U << 30));
        OVERLAPPED at{};
        at.Offset = static_cast<DWORD>(filled & 0xffffffffU);
        at.OffsetHigh = static_cast<DWORD>(static_cast<std::uint64_t>(filled) >> 32);
        DWORD got = 0;
        if (!::ReadFile(h, buffer.data() + filled, chunk, &got, &at)) {
            const DWORD err = ::GetLastError();
            if (err == ERROR_HANDLE_EOF) return false;
            return io_failure(p, "ReadFile", err);
        }
        if (got == 0) return false;
        filled += got;
    }
    return true;
}

/// Reads a whole private file (ours, regular, not a reparse point, no one else may write it, at most
/// `max_size` bytes); nullopt if absent. The bytes go to secure memory; `Bytes = plain_bytes` only for
/// content that is ciphertext.
template <class Bytes = detail::secure_buffer>
[[nodiscard]] inline result<std::optional<basic_private_file<Bytes>>> read_private_file(
    const std::filesystem::path& p, std::size_t max_size) {
    using private_file = basic_private_file<Bytes>;
    const unique_handle h(::CreateFileW(p.c_str(), GENERIC_READ | READ_CONTROL,
                                        FILE_SHARE_READ | FILE_SHARE_DELETE, nullptr, OPEN_EXISTING,
                                        FILE_FLAG_OPEN_REPARSE_POINT, nullptr));
    if (!h.valid()) {
        const DWORD err = ::GetLastError();
        if (win32_absent(err)) return std::optional<private_file>{};
        return open_for_reading_failure(p, err);
    }
    auto before = info_of(h.get(), p);
    if (!before) return before.error();
    if (is_reparse(before->attributes)) return error{errc::symlink_refused, p.string()};
    if (is_directory(before->attributes)) return error{errc::not_a_regular_file, p.string()};
    TOKENVAULT_TRY(check_security(h.get(), p, write_rights));
    if (before->identity.size > max_size) return error{errc::too_large, p.string()};
    Bytes buffer(static_cast<std::size_t>(before->identity.size));
    auto complete = read_all(h.get(), p, buffer);
    if (!complete) return complete.error();
    auto after = info_of(h.get(), p);
    if (!after) return after.error();
    // Writers replace the file by renaming a new one in, and nobody may write it while we share no write
    // access: a change here means someone rewrote it in place before we opened it.
    if (!*complete || before->identity != after->identity)
        return error{errc::io_error, p.string() + " (kept changing while being read)"};
    return std::optional<private_file>{private_file{std::move(buffer), before->identity}};
}

/// Reads a regular file of another tool: not through a reparse point, owned by us, at most `max_size`
/// bytes. Other users' read access is accepted (other tools create files so); opened read-only, sharing
/// everything, so nothing about the file changes. nullopt when absent.
template <class = void>
[[nodiscard]] inline result<std::optional<foreign_file>> read_foreign_file(const std::filesystem::path& p,
                                                                           std::size_t max_size) {
    const unique_handle h(::CreateFileW(p.c_str(), GENERIC_READ | READ_CONTROL,
                                        FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                                        OPEN_EXISTING, FILE_FLAG_OPEN_REPARSE_POINT, nullptr));
    if (!h.valid()) {
        const DWORD err = ::GetLastError();
        if (win32_absent(err)) return std::optional<foreign_file>{};
        return open_for_reading_failure(p, err);
    }
    auto before = info_of(h.get(), p);
    if (!before) return before.error();
    if (is_reparse(before->attributes)) return error{errc::symlink_refused, p.string()};
    if (is_directory(before->attributes)) return error{errc::not_a_regular_file, p.string()};
    if (auto owned = check_security(h.get(), p, 0); !owned) return owned.error();  // owner only
    if (before->identity.size > max_size) return error{errc::too_large, p.string()};
    detail::secure_buffer buffer(static_cast<std::size_t>(before->identity.size));
    auto complete = read_all(h.get(), p, buffer);
    if (!complete) return complete.error();
    auto after = info_of(h.get(), p);
    if (!after) return after.error();
    if (!*complete || before->identity != after->identity)
        return error{errc::io_error, p.string() + " (changed while being read; retried on the next start)"};
    return std::optional<foreign_file>{foreign_file{std::move(buffer), before->identity}};
}

/// The current time as a FILETIME tick count.
[[nodiscard]] inline std::uint64_t now_ticks() noexcept {
    FILETIME now{};
    ::GetSystemTimePreciseAsFileTime(&now);
    return ticks_of(now);
}

/// MoveFileExW with `flags`, retried for up to about a second while another program holds a handle on
/// either file without sharing delete (antivirus scanners and search indexers do that briefly).
template <class = void>
[[nodiscard]] inline DWORD move_file(const std::filesystem::path& from, const std::filesystem::path& to,
                                     DWORD flags) {
    DWORD err = 0;
    for (int attempt = 0; attempt < 12; ++attempt) {
        if (::MoveFileExW(from.c_str(), to.c_str(), flags)) return 0;
        err = ::GetLastError();
        if (err != ERROR_SHARING_VIOLATION && err != ERROR_LOCK_VIOLATION && err != ERROR_ACCESS_DENIED)
            return err;
        std::this_thread::sleep_for(std::chrono::milliseconds(1 << std::min(attempt, 8)));
    }
    return err;
}

/// Writes all of `bytes` to `h`; 0, or the Win32 error.
template <class = void>
[[nodiscard]] inline DWORD write_all(HANDLE h, std::span<const std::byte> bytes) noexcept {
    while (!bytes.empty()) {
        const DWORD chunk = static_cast<DWORD>(std::min<std::size_t>(bytes.size(), 1U << 30));
        DWORD written = 0;
        if (!::WriteFile(h, bytes.data(), chunk, &written, nullptr)) return ::GetLastError();
        if (written == 0) return ERROR_WRITE_FAULT;
        bytes = bytes.subspan(written);
    }
    return 0;
}

/// Durably replaces `target` with `bytes` (owner-only DACL) and returns the identity of the new file.
template <class = void>
[[nodiscard]] inline result<file_identity> write_file_atomically(const std::filesystem::path& target,
                                                                 std::span<const std::byte> bytes) {
    if (target.filename().empty()) return error{errc::invalid_argument, target.string()};
    std::optional<std::uint64_t> replaced_mtime;  // in FILETIME ticks
    if (const auto existing = open_metadata(target); existing.valid()) {
        auto info = info_of(existing.get(), target);
        if (!info) return info.error();
        if (is_reparse(info->attributes)) return error{errc::symlink_refused, target.string()};
        if (is_directory(info->attributes)) return error{errc::not_a_regular_file, target.string()};
        FILETIME written{};
        if (::GetFileTime(existing.get(), nullptr, nullptr, &written)) replaced_mtime = ticks_of(written);
    } else if (const DWORD err = ::GetLastError(); !win32_absent(err)) {
        if (err == ERROR_ACCESS_DENIED) return error{errc::read_only_store, target.string()};
        return io_failure(target, "CreateFileW", err);
    }

    auto* security = private_security::shared();
    if (security == nullptr)
        return error{errc::io_error, target.string() + " (the process token could not be read)"};
    const auto dir = parent_directory_of(target);
    auto suffix = random_hex(8);
    if (!suffix) return suffix.error();
    const auto temp =
        dir / (L"." + target.filename().native() + L".tmp-" + std::wstring(suffix->begin(), suffix->end()));
    unique_handle h(::CreateFileW(temp.c_str(), GENERIC_WRITE, 0, security, CREATE_NEW,
                                  FILE_ATTRIBUTE_NORMAL | FILE_FLAG_WRITE_THROUGH, nullptr));
    if (!h.valid()) {
        const DWORD err = ::GetLastError();
        if (win32_absent(err)) return io_failure(target, "create temp file (directory missing)", err);
        return write_failure(target, "create temp file", err);
    }
    // From here on the temp file exists and must not outlive a failure.
    auto fail = [&](error e) {
        h.reset();
        (void)::DeleteFileW(temp.c_str());
        return e;
    };
    if (const DWORD err = write_all(h.get(), bytes); err != 0)
        return fail(io_failure(target, "write temp file", err));
    if (replaced_mtime) {
        // Readers detect changes by identity. File indexes can be reused and clocks are coarse, so make the
        // new last-write time strictly later than that of the file it replaces.
        const std::uint64_t floor = *replaced_mtime + 10;  // + 1 us
        const std::uint64_t chosen = std::max(now_ticks(), floor);
        FILETIME when{static_cast<DWORD>(chosen & 0xffffffffU), static_cast<DWORD>(chosen >> 32)};
        if (!::SetFileTime(h.get(), nullptr, nullptr, &when))
            return fail(io_failure(target, "SetFileTime temp file", ::GetLastError()));
    }
    if (!::FlushFileBuffers(h.get()))
        return fail(io_failure(target, "FlushFileBuffers temp file", ::GetLastError()));
    if (const DWORD err = h.close(); err != 0) return fail(io_failure(target, "close temp file", err));
    if (const DWORD err = move_file(temp, target, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH);
        err != 0) {
        if (err == ERROR_ACCESS_DENIED || err == ERROR_SHARING_VIOLATION || err == ERROR_LOCK_VIOLATION) {
            const DWORD attributes = ::GetFileAttributesW(target.c_str());
            if (attributes != INVALID_FILE_ATTRIBUTES && is_directory(attributes))
                return fail(error{errc::not_a_regular_file, target.string()});
            if (err == ERROR_ACCESS_DENIED) return fail(error{errc::read_only_store, target.string()});
            return fail(
                error{errc::io_error,
                      target.string() + " (another program kept the file open past the retries: retry)"});
        }
        return fail(io_failure(target, "MoveFileExW", err));
    }
    auto identity = stat_identity(target);
    if (!identity) return identity.error();
    if (!*identity) return error{errc::io_error, target.string() + " (vanished right after being written)"};
    return **identity;
}

/// write_file_atomically, for callers written for POSIX's deferred directory flush: a write-through move
/// leaves no flush owed, so `sync` is empty.
template <class = void>
[[nodiscard]] inline result<replaced_file> replace_file(const std::filesystem::path& target,
                                                        std::span<const std::byte> bytes) {
    auto identity = write_file_atomically(target, bytes);
    if (!identity) return identity.error();
    return replaced_file{*identity, pending_sync{}};
}

/// Moves `p` aside to `<name>.corrupt-<UTC yyyymmddThhmmssZ>-<8 hex>` in the same directory; returns the new
/// path.
template <class = void>
[[nodiscard]] inline result<std::filesystem::path> quarantine_file(const std::filesystem::path& p) {
    if (p.filename().empty()) return error{errc::invalid_argument, p.string()};
    auto suffix = random_hex(4);
    if (!suffix) return suffix.error();
    auto moved = p;
    const std::string tail = ".corrupt-" + utc_timestamp() + "-" + *suffix;
    moved.replace_filename(p.filename().native() + std::wstring(tail.begin(), tail.end()));
    if (const DWORD err = move_file(p, moved, MOVEFILE_WRITE_THROUGH); err != 0)
        return write_failure(p, "MoveFileExW", err);
    return moved;
}

/// Removes the file `p` (a symlink itself, never its target); false when nothing was there.
template <class = void>
[[nodiscard]] inline result<bool> remove_file(const std::filesystem::path& p) {
    if (!::DeleteFileW(p.c_str())) {
        const DWORD err = ::GetLastError();
        if (win32_absent(err)) return false;
        if (err == ERROR_ACCESS_DENIED) {
            const DWORD attributes = ::GetFileAttributesW(p.c_str());
            if (attributes != INVALID_FILE_ATTRIBUTES && is_directory(attributes) && !is_reparse(attributes))
                return error{errc::not_a_regular_file, p.string()};
            return error{errc::read_only_store, p.string()};
        }
        return io_failure(p, "DeleteFileW", err);
    }
    return true;
}

/// Creates `p` (owner-only DACL, never over an existing file) holding `bytes`, without flushing it: for
/// short-lived hand-over files whose loss in a crash loses nothing acknowledged.
template <class = void>
[[nodiscard]] inline result<void> create_private_file(const std::filesystem::path& p,
                                                      std::span<const std::byte> bytes) {
    auto* security = private_security::shared();
    if (security == nullptr)
        return error{errc::io_error, p.string() + " (the process token could not be read)"};
    unique_handle h(
        ::CreateFileW(p.c_str(), GENERIC_WRITE, 0, security, CREATE_NEW, FILE_ATTRIBUTE_NORMAL, nullptr));
    if (!h.valid()) {
        const DWORD err = ::GetLastError();
        return write_failure(p, "CreateFileW", err);
    }
    auto fail = [&](error e) {
        h.reset();
        (void)::DeleteFileW(p.c_str());
        return e;
    };
    if (const DWORD err = write_all(h.get(), bytes); err != 0) return fail(io_failure(p, "WriteFile", err));
    if (const DWORD err = h.close(); err != 0) return fail(io_failure(p, "close", err));
    return {};
}

/// Renames `from` to `to` in the same directory; false when `from` is not there (another process renamed
/// or removed it first: of two processes renaming one file, exactly one succeeds).
template <class = void>
[[nodiscard]] inline result<bool> rename_file(const std::filesystem::path& from,
                                              const std::filesystem::path& to) {
    if (const DWORD err = move_file(from, to, 0); err != 0) {
        if (win32_absent(err)) return false;
        return write_failure(from, "MoveFileExW", err);
    }
    return true;
}

/// remove_file (Windows has no directory flush to skip).
template <class = void>
[[nodiscard]] inline result<bool> remove_file_unflushed(const std::filesystem::path& p) {
    return remove_file(p);
}

/// What is at `p` (not following a reparse point), judged as a private directory (`directory`) or file.
template <class = void>
[[nodiscard]] inline result<path_report> inspect_path(const std::filesystem::path& p, bool directory) {
    path_report report;
    const auto h = open_metadata(p, FILE_READ_ATTRIBUTES | READ_CONTROL);
    if (!h.valid()) {
        const DWORD err = ::GetLastError();
        if (win32_absent(err)) return report;
        if (err == ERROR_ACCESS_DENIED) return error{errc::unreadable_store, p.string()};
        return io_failure(p, "CreateFileW", err);
    }
    auto info = info_of(h.get(), p);
    if (!info) return info.error();
    report.exists = true;
    report.link = is_reparse(info->attributes);
    report.expected_kind = directory == is_directory(info->attributes);
    PSID owner = nullptr;
    PACL dacl = nullptr;
    PSECURITY_DESCRIPTOR descriptor = nullptr;
    const DWORD rc =
        ::GetSecurityInfo(h.get(), SE_FILE_OBJECT, OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
                          &owner, nullptr, &dacl, nullptr, &descriptor);
    if (rc != ERROR_SUCCESS) return io_failure(p, "GetSecurityInfo", rc);
    report.owner = current_user::sid_text(owner);
    report.owned_by_user = current_user::get().is_self(owner);
    std::string offender;
    const auto verdict = judge_security(current_user::get().user_sid(), dacl, write_rights, &offender);
    ::LocalFree(descriptor);
    report.private_access = verdict == security_verdict::ok;
    report.access = report.private_access ? "only trusted accounts may write" : offender + " may write";
    return report;
}

}  // namespace tokenvault::platform
