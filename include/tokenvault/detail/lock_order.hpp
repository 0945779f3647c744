// tokenvault/detail/lock_order.hpp: the debug-build checker of the lock order "credential, then store".
//
// A thread-local count of the credential locks this thread holds, the store calls (or store locks) it is
// inside, and the provider calls in flight. Rules: a credential lock is never taken while this thread holds
// one already or is inside a store call (the store lock may be held there); a provider is called with
// exactly one credential lock held and no store lock. A violation prints the rule to stderr and aborts.
// Checked when TOKENVAULT_CHECK_LOCK_ORDER is 1 (default: unless NDEBUG); otherwise only counted.
#pragma once

#include <cstdio>
#include <cstdlib>

#ifndef TOKENVAULT_CHECK_LOCK_ORDER
#ifdef NDEBUG
#define TOKENVAULT_CHECK_LOCK_ORDER 0
#else
#define TOKENVAULT_CHECK_LOCK_ORDER 1
#endif
#endif

namespace tokenvault::detail::lock_order {

/// Whether violations abort in this build.
inline constexpr bool checked = TOKENVAULT_CHECK_LOCK_ORDER != 0;

/// What the current thread holds.
struct held_counts {
    int credential = 0;  ///< credential locks held
    int store = 0;       ///< store calls (or store locks) in progress
    int provider = 0;    ///< provider calls in flight
};

/// The counts of the calling thread.
[[nodiscard]] inline held_counts& held() noexcept {
    static thread_local held_counts counts;
    return counts;
}

/// Reports a broken lock rule and aborts (only called when `checked`).
[[noreturn]] inline void violation(const char* rule) noexcept {
    std::fprintf(stderr, "tokenvault: lock order violation: %s\n", rule);
    std::fflush(stderr);
    std::abort();
}

/// Checks that the calling thread may start waiting for a credential lock.
inline void before_credential_lock() noexcept {
    if constexpr (checked) {
        if (held().credential > 0)
            violation(
                "a credential lock was requested while this thread holds one (credential locks never nest; "
                "do not call the credential manager from a provider)");
        if (held().store > 0)
            violation(
                "a credential lock was requested inside a store call (order is credential lock, then store "
                "lock; do not call the credential manager from a diagnostics callback)");
    }
}

/// Marks a held credential lock for its lifetime.
class credential_scope {
public:
    credential_scope() noexcept { ++held().credential; }
    credential_scope(const credential_scope&) = delete;
    credential_scope& operator=(const credential_scope&) = delete;
    ~credential_scope() { --held().credential; }
};

/// Marks a store call (or a held store lock) for its lifetime; movable, so a lock guard can carry it.
class store_scope {
public:
    store_scope() noexcept { ++held().store; }
    store_scope(store_scope&& other) noexcept : active_(other.active_) { other.active_ = false; }
    store_scope& operator=(store_scope&&) = delete;
    store_scope(const store_scope&) = delete;
    store_scope& operator=(const store_scope&) = delete;
    ~store_scope() {
        if (active_) --held().store;
    }

private:
    bool active_ = true;
};

/// Marks a provider call for its lifetime; checks that only one credential lock and no store lock is held.
class provider_scope {
public:
    provider_scope() noexcept {
        if constexpr (checked) {
            if (held().store > 0)
                violation(
                    "a provider was called inside a store call (the store lock is never held across a "
                    "provider call)");
            if (held().credential != 1)
                violation("a provider was called without holding exactly one credential lock");
        }
        ++held().provider;
    }
    provider_scope(const provider_scope&) = delete;
    provider_scope& operator=(const provider_scope&) = delete;
    ~provider_scope() { --held().provider; }
};

}  // namespace tokenvault::detail::lock_order
