// tokenvault/locking/process.hpp: locking::process, for a store shared by threads and by processes.
//
// In-process: a std::shared_mutex (readers share, writers exclude), as locking::threads. Across
// processes: lock_store() takes an exclusive OS file lock (lock_store_shared(), for loads, a shared one)
// on the backend's lock file (`<file>.lock`, created private, never deleted; a missing parent directory is
// created private), bounded by the timeout, with waiters served in turn, and reports whether it had to
// wait. The OS releases the lock when its holder dies (flock on POSIX, LockFileEx on Windows: platform/).
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <shared_mutex>

#include "../platform/platform.hpp"
#include "concept.hpp"

namespace tokenvault::locking {

/// Threads of one process and processes of one user: a shared_mutex plus a file lock on the store lock file.
class process {
public:
    using policy_family = family::locking;
    static constexpr bool thread_safe = true;
    static constexpr bool cross_process = true;
    /// Loads share the cross-process lock (lock_store_shared); writers exclude everyone.
    static constexpr locking::traits traits{.shared_store_lock = true, .stoppable_wait = true};
    using shared_guard = std::shared_lock<std::shared_mutex>;
    using exclusive_guard = std::unique_lock<std::shared_mutex>;
    /// The held file lock; released on destruction (or when the process dies). Move-only.
    using store_guard = platform::file_lock;

    /// Shares the in-process lock with other readers.
    [[nodiscard]] shared_guard lock_shared() { return shared_guard{mutex_}; }
    /// Takes the in-process lock exclusively.
    [[nodiscard]] exclusive_guard lock_exclusive() { return exclusive_guard{mutex_}; }

    /// Takes the cross-process lock on `path` within `timeout` (errc::lock_timeout); an empty path takes
    /// none.
    [[nodiscard]] result<store_guard> lock_store(const std::filesystem::path& path,
                                                 std::chrono::milliseconds timeout,
                                                 wait_report& report) const {
        return take(path, timeout, report, platform::lock_mode::exclusive);
    }

    /// The cross-process lock shared with other readers (loads): excludes writers only.
    [[nodiscard]] result<store_guard> lock_store_shared(const std::filesystem::path& path,
                                                        std::chrono::milliseconds timeout,
                                                        wait_report& report) const {
        return take(path, timeout, report, platform::lock_mode::shared);
    }

    /// lock_store, giving up early (errc::lock_timeout, `report.stopped`) once `stop()` returns true; asked
    /// while this process waits behind others, first after 0.5 ms, then at doubling intervals up to 2 ms.
    [[nodiscard]] result<store_guard> lock_store_unless(const std::filesystem::path& path,
                                                        std::chrono::milliseconds timeout,
                                                        wait_report& report,
                                                        const std::function<bool()>& stop) const {
        const platform::stop_waiting stop_waiting{stop};
        auto guard = take(path, timeout, report, platform::lock_mode::exclusive, &stop_waiting);
        report.stopped = stop_waiting.stopped;
        return guard;
    }

private:
    [[nodiscard]] static result<store_guard> take(const std::filesystem::path& path,
                                                  std::chrono::milliseconds timeout, wait_report& report,
                                                  platform::lock_mode mode,
                                                  const platform::stop_waiting* stop = nullptr) {
        report = wait_report{};
        if (path.empty()) return store_guard{};
        const auto parent = platform::parent_directory_of(path);
        auto present = platform::stat_identity(parent);
        if (!present) return present.error();
        if (!*present) TOKENVAULT_TRY(platform::ensure_private_directory(parent));
        platform::lock_wait wait;
        auto lock = platform::file_lock::acquire(path, timeout, &wait, mode, stop);
        report.contended = wait.contended;
        report.waited = wait.waited;
        return lock;
    }

    std::shared_mutex mutex_;
};

static_assert(check<process>());

}  // namespace tokenvault::locking
