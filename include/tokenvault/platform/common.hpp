// tokenvault/platform/common.hpp: the parts of the platform layer that are the same on every OS.
//
// The types both implementations return (file identity, a file's bytes, a pending directory flush, lock
// modes and wait reports),
// saturating conversions of file times, and small portable helpers (random names, UTC timestamps, the
// parent of a path, error contexts). platform.hpp includes it before the OS implementation; nothing here
// touches an OS header.
#pragma once

#include <sodium.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <ratio>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "../detail/secure_buffer.hpp"
#include "../error.hpp"
#include "../result.hpp"

namespace tokenvault::platform {

/// What identifies one version of a file: the change check compares these instead of re-reading.
struct file_identity {
    std::uint64_t dev = 0;  ///< device (POSIX); 0 on Windows
    std::uint64_t ino =
        0;  ///< inode number (POSIX), creation time (Windows): a rename-based rewrite changes it
    std::uint64_t size = 0;     ///< size in bytes
    std::int64_t mtime_ns = 0;  ///< modification time, ns since the epoch (saturated)
    std::int64_t ctime_ns = 0;  ///< status change time, ns since the epoch (saturated)
    /// Field-wise equality.
    friend bool operator==(const file_identity&, const file_identity&) = default;
};

/// The directory flush that makes a replacement's rename durable, left for later by replace_file: the
/// store runs it after letting go of its lock, so the next writer need not wait for it. `complete()` runs
/// it (once); one never completed runs on destruction, errors unreported. An empty one (nothing to flush:
/// Windows' write-through move, or already done) does nothing.
class pending_sync {
public:
    using flush_function = result<void> (*)(const std::filesystem::path&);
    pending_sync() noexcept = default;
    pending_sync(std::filesystem::path directory, flush_function flush) noexcept
        : directory_(std::move(directory)), flush_(flush) {}
    pending_sync(pending_sync&& other) noexcept
        : directory_(std::move(other.directory_)), flush_(std::exchange(other.flush_, nullptr)) {}
    pending_sync& operator=(pending_sync&& other) noexcept {
        if (this != &other) {
            (void)complete();
            directory_ = std::move(other.directory_);
            flush_ = std::exchange(other.flush_, nullptr);
        }
        return *this;
    }
    pending_sync(const pending_sync&) = delete;
    pending_sync& operator=(const pending_sync&) = delete;
    ~pending_sync() { (void)complete(); }

    /// Runs the flush now, if one is pending.
    [[nodiscard]] result<void> complete() {
        if (flush_ == nullptr) return {};
        const auto flush = std::exchange(flush_, nullptr);
        return flush(directory_);
    }
    /// Whether a flush is still to run.
    [[nodiscard]] bool pending() const noexcept { return flush_ != nullptr; }

private:
    std::filesystem::path directory_;
    flush_function flush_ = nullptr;
};

/// What replace_file did: the new file's identity, and the flush still owed to make its rename durable.
struct replaced_file {
    file_identity identity;
    pending_sync sync;
};

/// Ordinary heap bytes, for files whose content is useless without a key (ciphertext): locked memory
/// costs a mapping, mlock and page faults per read, tens of microseconds for a 50 KB file.
class plain_bytes {
public:
    explicit plain_bytes(std::size_t size)
        : data_(std::make_unique_for_overwrite<std::byte[]>(size)), size_(size) {}
    [[nodiscard]] std::byte* data() noexcept { return data_.get(); }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return {data_.get(), size_}; }

private:
    std::unique_ptr<std::byte[]> data_;
    std::size_t size_;
};

/// A file read by `read_private_file`: its bytes (in secure memory unless asked otherwise) and the
/// identity they belong to.
template <class Bytes = detail::secure_buffer>
struct basic_private_file {
    Bytes bytes;             ///< the whole content
    file_identity identity;  ///< identity of the version that was read
};
/// A private file read into secure memory.
using private_file = basic_private_file<>;

/// A file of another tool, read without changing it: its bytes and the identity (mtime) they belong to.
struct foreign_file {
    detail::secure_buffer bytes;  ///< the whole content
    file_identity identity;       ///< identity of the version read (mtime_ns is the time it was last written)
};

/// Whether a file lock excludes every other holder or only exclusive ones.
enum class lock_mode { exclusive, shared };

/// How an acquisition went: whether another holder made it wait, and for how long.
struct lock_wait {
    bool contended = false;              ///< another holder had the lock at the first attempt
    std::chrono::nanoseconds waited{0};  ///< time from the call to acquisition (or to the timeout)
};

/// A reason for a lock waiter to give up before its deadline, checked while it waits (platform::file_lock):
/// first after `first_check`, then at twice the previous interval, up to `check_at_most`.
struct stop_waiting {
    std::function<bool()> should_stop;  ///< true: stop waiting (the waiter no longer needs the lock)
    std::chrono::microseconds first_check{500};
    std::chrono::microseconds check_at_most{2000};
    mutable bool stopped = false;  ///< set when the wait ended because should_stop() said so
};

/// What `inspect_path` found at a path (for tools that explain a store; no content is read).
struct path_report {
    bool exists = false;          ///< something is there
    bool link = false;            ///< it is a symbolic link or another reparse point (not followed)
    bool expected_kind = false;   ///< it is a directory (when one was asked for) or a regular file
    bool owned_by_user = false;   ///< the current user owns it
    bool private_access = false;  ///< no other user may access it (files) or write to it (directories)
    std::string owner;            ///< the owner, as the OS names it ("uid 1000", a SID)
    std::string access;           ///< the access rules, as the OS shows them ("0700", "owner-only DACL")
};

/// `seconds` + `nanoseconds` since the epoch as one count of nanoseconds, clamped to the int64 range (file
/// times of years beyond 2262 or before 1677 saturate instead of overflowing).
[[nodiscard]] constexpr std::int64_t saturating_epoch_ns(std::int64_t seconds,
                                                         std::int64_t nanoseconds) noexcept {
    constexpr std::int64_t ns_per_s = 1'000'000'000;
    constexpr std::int64_t max = std::numeric_limits<std::int64_t>::max();
    constexpr std::int64_t min = std::numeric_limits<std::int64_t>::min();
    if (seconds > max / ns_per_s) return max;
    if (seconds < min / ns_per_s) return min;
    const std::int64_t whole = seconds * ns_per_s;
    if (nanoseconds > 0 && whole > max - nanoseconds) return max;
    if (nanoseconds < 0 && whole < min - nanoseconds) return min;
    return whole + nanoseconds;
}

/// A count of nanoseconds since the epoch as a time point of clock `C` (a clock that counts in
/// nanoseconds or coarser, as every standard clock does, so the conversion cannot overflow).
template <class C = std::chrono::system_clock>
[[nodiscard]] constexpr typename C::time_point epoch_ns_to_time_point(std::int64_t ns) noexcept {
    using duration = typename C::duration;
    static_assert(std::ratio_less_equal_v<std::nano, typename duration::period>,
                  "tokenvault: epoch_ns_to_time_point needs a clock that counts in nanoseconds or coarser");
    return typename C::time_point{std::chrono::duration_cast<duration>(std::chrono::nanoseconds{ns})};
}

/// The directory that holds `p` ("." for a bare file name).
template <class = void>
[[nodiscard]] inline std::filesystem::path parent_directory_of(const std::filesystem::path& p) {
    auto parent = p.parent_path();
    return parent.empty() ? std::filesystem::path(".") : parent;
}

/// Whether `name` names a file in a directory and nothing else: not empty, not "." or "..", no separator;
/// on Windows also no drive or stream colon and no device name (CON, NUL, COM1, ...).
template <class = void>
[[nodiscard]] inline bool is_plain_file_name(const std::string& name) {
    if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos) return false;
#if defined(_WIN32)
    if (name.find_first_of("\\:*?\"<>|") != std::string::npos) return false;
    std::string stem = name.substr(0, name.find('.'));
    for (auto& c : stem) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
    for (const char* device : {"CON", "PRN", "AUX", "NUL"})
        if (stem == device) return false;
    if (stem.size() == 4 && (stem.rfind("COM", 0) == 0 || stem.rfind("LPT", 0) == 0) && stem[3] >= '0' &&
        stem[3] <= '9')
        return false;
    if (name.back() == '.' || name.back() == ' ') return false;  // Windows drops them: another file's name
#endif
    return true;
}

/// Lowercase hex of `n` random bytes from libsodium.
template <class = void>
[[nodiscard]] inline result<std::string> random_hex(std::size_t n) {
    TOKENVAULT_TRY(detail::ensure_sodium());
    std::vector<unsigned char> raw(n);
    randombytes_buf(raw.data(), raw.size());
    std::string hex(n * 2 + 1, '\0');
    sodium_bin2hex(hex.data(), hex.size(), raw.data(), raw.size());
    hex.pop_back();
    return hex;
}

/// The UTC time now as yyyymmddThhmmssZ.
template <class = void>
[[nodiscard]] inline std::string utc_timestamp() {
    using namespace std::chrono;
    const auto now = floor<seconds>(system_clock::now());
    const auto day = floor<days>(now);
    const year_month_day date{day};
    const hh_mm_ss<seconds> time{now - day};
    char text[32] = {};
    const auto two = [&](char* at, unsigned value) {
        at[0] = static_cast<char>('0' + value / 10 % 10);
        at[1] = static_cast<char>('0' + value % 10);
    };
    const int y = static_cast<int>(date.year());
    if (y < 0 || y > 9999) return "00000000T000000Z";
    two(text, static_cast<unsigned>(y / 100));
    two(text + 2, static_cast<unsigned>(y % 100));
    two(text + 4, static_cast<unsigned>(date.month()));
    two(text + 6, static_cast<unsigned>(date.day()));
    text[8] = 'T';
    two(text + 9, static_cast<unsigned>(time.hours().count()));
    two(text + 11, static_cast<unsigned>(time.minutes().count()));
    two(text + 13, static_cast<unsigned>(time.seconds().count()));
    text[15] = 'Z';
    return std::string(text, 16);
}

/// An io_error whose context names the path, the failing call and the OS reason (never data).
template <class = void>
[[nodiscard]] inline error io_failure_text(const std::filesystem::path& p, const char* call,
                                           const std::string& reason) {
    return error{errc::io_error, p.string() + " (" + call + ": " + reason + ")"};
}

}  // namespace tokenvault::platform
