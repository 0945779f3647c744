// tokenvault/locking/concept.hpp: the locking concept (how concurrent readers and writers are serialised).
//
// A locking policy L provides `L::thread_safe`, `L::cross_process`, `lock_shared()` and `lock_exclusive()`
// (in-process guards, infallible), and `lock_store(path, timeout)`, which takes the cross-process store
// lock on `path` (a no-op for in-process policies) and reports how long it waited. A store takes
// lock_exclusive() before lock_store(), and holds the store lock only for local work. Optional:
// `lock_store_shared(path, timeout, report)`, a cross-process lock that readers share (used for loads).
#pragma once

#include <chrono>
#include <concepts>
#include <filesystem>

#include "../policy_family.hpp"
#include "../result.hpp"

namespace tokenvault::locking {

/// How long a lock acquisition waited, and whether another holder made it wait.
struct wait_report {
    bool contended = false;
    std::chrono::nanoseconds waited{0};
};

/// What every locking policy provides; see the top of tokenvault/locking/concept.hpp.
template <class L>
concept locking_policy = std::same_as<typename L::policy_family, family::locking> &&
    requires(L& l, const std::filesystem::path& path, std::chrono::milliseconds timeout, wait_report& report) {
        { L::thread_safe } -> std::convertible_to<bool>;
        { L::cross_process } -> std::convertible_to<bool>;
        typename L::shared_guard;
        typename L::exclusive_guard;
        typename L::store_guard;
        { l.lock_shared() } -> std::same_as<typename L::shared_guard>;
        { l.lock_exclusive() } -> std::same_as<typename L::exclusive_guard>;
        { l.lock_store(path, timeout, report) } -> std::same_as<result<typename L::store_guard>>;
    };

/// The guard of a policy that has nothing to lock.
struct no_guard {
    no_guard() = default;
    no_guard(no_guard&&) noexcept = default;
    no_guard& operator=(no_guard&&) noexcept = default;
};

}  // namespace tokenvault::locking
