// tokenvault/locking/none.hpp: locking::none, for a store used by one thread only.
//
// Every guard is empty and compiles away. Not thread-safe; refused on backends other processes share.
#pragma once

#include "concept.hpp"

namespace tokenvault::locking {

/// No locking: one thread, one process.
struct none {
    using policy_family = family::locking;
    static constexpr bool thread_safe = false;
    static constexpr bool cross_process = false;
    using shared_guard = no_guard;
    using exclusive_guard = no_guard;
    using store_guard = no_guard;

    [[nodiscard]] shared_guard lock_shared() const noexcept { return {}; }
    [[nodiscard]] exclusive_guard lock_exclusive() const noexcept { return {}; }
    [[nodiscard]] result<store_guard> lock_store(const std::filesystem::path&, std::chrono::milliseconds,
                                                 wait_report&) const noexcept {
        return store_guard{};
    }
};

static_assert(check<none>());

}  // namespace tokenvault::locking
