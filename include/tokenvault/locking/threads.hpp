// tokenvault/locking/threads.hpp: locking::threads, for a store shared by the threads of one process.
//
// Readers share a std::shared_mutex; writers take it exclusively. No cross-process lock: refused on
// backends that other processes write (pick locking::process there).
#pragma once

#include <mutex>
#include <shared_mutex>

#include "concept.hpp"

namespace tokenvault::locking {

/// In-process reader/writer locking.
class threads {
public:
    using policy_family = family::locking;
    static constexpr bool thread_safe = true;
    static constexpr bool cross_process = false;
    using shared_guard = std::shared_lock<std::shared_mutex>;
    using exclusive_guard = std::unique_lock<std::shared_mutex>;
    using store_guard = no_guard;

    [[nodiscard]] shared_guard lock_shared() { return shared_guard{mutex_}; }
    [[nodiscard]] exclusive_guard lock_exclusive() { return exclusive_guard{mutex_}; }
    [[nodiscard]] result<store_guard> lock_store(const std::filesystem::path&, std::chrono::milliseconds,
                                                 wait_report&) const noexcept {
        return store_guard{};
    }

private:
    std::shared_mutex mutex_;
};

static_assert(check<threads>());

}  // namespace tokenvault::locking
