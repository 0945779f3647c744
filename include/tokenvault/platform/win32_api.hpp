// tokenvault/platform/win32_api.hpp: the Windows headers and the small tools every Win32 file shares.
//
// Includes <windows.h> (with NOMINMAX for the duration, so std::min and std::max keep working) and the
// security and shell headers; `unique_handle` owns a HANDLE; `win32_failure` turns GetLastError() into
// an io_error naming the path and the call. Link: advapi32 (security, Credential Manager), crypt32
// (DPAPI), shell32 and ole32 (the known folders). Included through platform.hpp only.
#pragma once

#if !defined(_WIN32)
#error "tokenvault/platform/win32_api.hpp is for Windows; include tokenvault/platform/platform.hpp instead"
#endif

#if !defined(NOMINMAX)
#define NOMINMAX
#define TOKENVAULT_UNDEF_NOMINMAX
#endif
#include <windows.h>
// windows.h first: the headers below rely on its declarations.
#include <aclapi.h>
#include <sddl.h>
#include <shlobj.h>
#include <wincred.h>
#include <wincrypt.h>
#if defined(TOKENVAULT_UNDEF_NOMINMAX)
#undef NOMINMAX
#undef TOKENVAULT_UNDEF_NOMINMAX
#endif

#if defined(_MSC_VER)
#pragma comment(lib, "advapi32.lib")
#pragma comment(lib, "crypt32.lib")
#pragma comment(lib, "shell32.lib")
#pragma comment(lib, "ole32.lib")
#endif

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>

#include "../error.hpp"
#include "../result.hpp"
#include "common.hpp"

namespace tokenvault::platform {

/// Owns a Windows HANDLE and closes it on destruction. Move-only.
class unique_handle {
public:
    unique_handle() noexcept = default;
    /// Takes ownership of `h` (INVALID_HANDLE_VALUE or null for none).
    explicit unique_handle(HANDLE h) noexcept : handle_(h == nullptr ? INVALID_HANDLE_VALUE : h) {}
    unique_handle(unique_handle&& other) noexcept
        : handle_(std::exchange(other.handle_, INVALID_HANDLE_VALUE)) {}
    unique_handle& operator=(unique_handle&& other) noexcept {
        if (this != &other) {
            reset();
            handle_ = std::exchange(other.handle_, INVALID_HANDLE_VALUE);
        }
        return *this;
    }
    unique_handle(const unique_handle&) = delete;
    unique_handle& operator=(const unique_handle&) = delete;
    ~unique_handle() { reset(); }

    /// The handle, or INVALID_HANDLE_VALUE.
    [[nodiscard]] HANDLE get() const noexcept { return handle_; }
    /// Whether a handle is held.
    [[nodiscard]] bool valid() const noexcept { return handle_ != INVALID_HANDLE_VALUE; }
    /// Closes now; the Windows error of CloseHandle (0 on success).
    [[nodiscard]] DWORD close() noexcept {
        if (!valid()) return 0;
        return ::CloseHandle(std::exchange(handle_, INVALID_HANDLE_VALUE)) ? 0 : ::GetLastError();
    }
    /// Closes, ignoring errors (for paths that already fail).
    void reset() noexcept { (void)close(); }

private:
    HANDLE handle_ = INVALID_HANDLE_VALUE;
};

/// The open file the portable layer holds (lock files): a HANDLE here.
using native_file = unique_handle;

/// An io_error whose context names the path, the failing call and the Windows error (never data).
template <class = void>
[[nodiscard]] inline error io_failure(const std::filesystem::path& p, const char* call, DWORD err) {
    return io_failure_text(p, call, "Windows error " + std::to_string(err));
}

/// The error of a failed write `call` at `p`: errc::read_only_store when Windows refused the access (or the
/// medium is write-protected), an I/O error naming the call otherwise.
[[nodiscard]] inline error write_failure(const std::filesystem::path& p, const char* call, DWORD err) {
    if (err == ERROR_ACCESS_DENIED || err == ERROR_WRITE_PROTECT)
        return error{errc::read_only_store, p.string()};
    return io_failure(p, call, err);
}

/// Whether `err` says nothing is at the path (or a directory on the way is missing).
[[nodiscard]] inline bool win32_absent(DWORD err) noexcept {
    return err == ERROR_FILE_NOT_FOUND || err == ERROR_PATH_NOT_FOUND || err == ERROR_INVALID_NAME ||
           err == ERROR_BAD_NETPATH || err == ERROR_DIRECTORY;
}

/// A FILETIME (100 ns ticks since 1601) as ns since the Unix epoch, saturated.
[[nodiscard]] constexpr std::int64_t filetime_to_epoch_ns(std::uint64_t ticks) noexcept {
    constexpr std::uint64_t ticks_1601_to_1970 = 116'444'736'000'000'000ULL;
    constexpr std::int64_t ticks_per_s = 10'000'000;
    const std::int64_t since_epoch =
        ticks >= ticks_1601_to_1970
            ? static_cast<std::int64_t>(std::min<std::uint64_t>(ticks - ticks_1601_to_1970, INT64_MAX))
            : -static_cast<std::int64_t>(ticks_1601_to_1970 - ticks);
    return saturating_epoch_ns(since_epoch / ticks_per_s, (since_epoch % ticks_per_s) * 100);
}

/// The 64-bit value of a FILETIME.
[[nodiscard]] constexpr std::uint64_t ticks_of(const FILETIME& t) noexcept {
    return (static_cast<std::uint64_t>(t.dwHighDateTime) << 32) | t.dwLowDateTime;
}

/// The 64-bit value of a LARGE_INTEGER time.
[[nodiscard]] constexpr std::uint64_t ticks_of(const LARGE_INTEGER& t) noexcept {
    return static_cast<std::uint64_t>(t.QuadPart);
}

}  // namespace tokenvault::platform
