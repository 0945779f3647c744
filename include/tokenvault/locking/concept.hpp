// tokenvault/locking/concept.hpp: the locking contract (how concurrent readers and writers are serialised).
//
// A locking policy L provides `using policy_family = tokenvault::family::locking;`, `L::thread_safe`,
// `L::cross_process`, the guard types `shared_guard`, `exclusive_guard` and `store_guard`,
// `lock_shared()` and `lock_exclusive()` (in-process guards, infallible), and `lock_store(path, timeout,
// report)`, which takes the cross-process store lock on `path` (a no-op for in-process policies) and
// reports how long it waited. A store takes lock_exclusive() before lock_store(), and holds the store lock
// only for local work.
// Optional, declared as `static constexpr tokenvault::locking::traits traits{.name = value};`:
//   shared_store_lock  (false)  L also has `lock_store_shared(path, timeout, report)`, a cross-process
//                               lock that readers share; the store takes it for loads
//   stoppable_wait     (false)  L also has `lock_store_unless(path, timeout, report, stop)`: lock_store
//                               that gives up early (errc::lock_timeout, `report.stopped`) once `stop()`
//                               returns true, asked now and then while it waits; a store's write whose
//                               change another process has saved (group commit) stops waiting with it
// `locking::check<L>()` names the first missing piece; `locking_policy<L>` is the same test, silently.
#pragma once

#include <chrono>
#include <concepts>
#include <filesystem>
#include <functional>

#include "../policy_family.hpp"
#include "../result.hpp"

namespace tokenvault::locking {

/// How long a lock acquisition waited, and whether another holder made it wait.
struct wait_report {
    bool contended = false;
    std::chrono::nanoseconds waited{0};
    bool stopped = false;  ///< lock_store_unless gave up because its stop() said so
};

/// The optional members of a locking policy, with their defaults (see the top of this header).
struct traits {
    bool shared_store_lock = false;  ///< lock_store_shared() exists: loads share the cross-process lock
    bool stoppable_wait = false;     ///< lock_store_unless() exists: a write can stop waiting early
};

/// The traits of locking policy L: what it declares, else the defaults.
template <class L>
inline constexpr traits traits_of = tokenvault::detail::declared_traits<L, traits>;

/// The guard of a policy that has nothing to lock.
struct no_guard {
    no_guard() = default;
    no_guard(no_guard&&) noexcept = default;
    no_guard& operator=(no_guard&&) noexcept = default;
};

}  // namespace tokenvault::locking

namespace tokenvault::detail {

/// Whether L has `lock_store_shared(path, timeout, report)` returning its store guard.
template <class L>
concept has_shared_store_lock = requires(L& l, const std::filesystem::path& p, std::chrono::milliseconds t,
                                         locking::wait_report& r) {
    { l.lock_store_shared(p, t, r) } -> std::same_as<result<typename L::store_guard>>;
};

/// Whether L has `lock_store_unless(path, timeout, report, stop)` returning its store guard.
template <class L>
concept has_stoppable_wait = requires(L& l, const std::filesystem::path& p, std::chrono::milliseconds t,
                                      locking::wait_report& r, const std::function<bool()>& stop) {
    { l.lock_store_unless(p, t, r, stop) } -> std::same_as<result<typename L::store_guard>>;
};

/// The locking contract, one requirement at a time: with `Report`, the first one L misses fails to
/// compile with a message naming it. locking_policy<L> and locking::check<L>() both read this.
template <class L, bool Report>
consteval bool locking_requirements() {
    if constexpr (!in_family<L, family::locking>) {
        static_assert(!Report,
                      "tokenvault: Locking needs `using policy_family = tokenvault::family::locking;` "
                      "(see tokenvault/locking/concept.hpp)");
        return false;
    } else if constexpr (!requires {
                             { L::thread_safe } -> std::convertible_to<bool>;
                             { L::cross_process } -> std::convertible_to<bool>;
                         }) {
        static_assert(!Report,
                      "tokenvault: Locking needs `static constexpr bool` thread_safe and cross_process "
                      "(see tokenvault/locking/concept.hpp)");
        return false;
    } else if constexpr (!requires {
                             typename L::shared_guard;
                             typename L::exclusive_guard;
                             typename L::store_guard;
                         }) {
        static_assert(!Report,
                      "tokenvault: Locking needs the guard types shared_guard, exclusive_guard and "
                      "store_guard (locking::no_guard where there is nothing to hold; see "
                      "tokenvault/locking/concept.hpp)");
        return false;
    } else if constexpr (!requires(L & l) {
                             { l.lock_shared() } -> std::same_as<typename L::shared_guard>;
                             { l.lock_exclusive() } -> std::same_as<typename L::exclusive_guard>;
                         }) {
        static_assert(!Report,
                      "tokenvault: Locking needs `shared_guard lock_shared()` and "
                      "`exclusive_guard lock_exclusive()` (see tokenvault/locking/concept.hpp)");
        return false;
    } else if constexpr (!requires(L & l, const std::filesystem::path& p, std::chrono::milliseconds t,
                                   locking::wait_report& r) {
                             { l.lock_store(p, t, r) } -> std::same_as<result<typename L::store_guard>>;
                         }) {
        static_assert(!Report,
                      "tokenvault: Locking needs lock_store(path, timeout, wait_report&) returning "
                      "result<store_guard> (see tokenvault/locking/concept.hpp)");
        return false;
    } else if constexpr (declares_traits<L> && !declares_traits_of<L, locking::traits>) {
        static_assert(!Report,
                      "tokenvault: a locking policy's optional members go in "
                      "`static constexpr tokenvault::locking::traits traits{...};` "
                      "(see tokenvault/locking/concept.hpp)");
        return false;
    } else if constexpr (locking::traits_of<L>.shared_store_lock && !has_shared_store_lock<L>) {
        static_assert(!Report,
                      "tokenvault: this locking policy's traits say shared_store_lock, so it needs "
                      "lock_store_shared(path, timeout, wait_report&) returning result<store_guard>");
        return false;
    } else if constexpr (!locking::traits_of<L>.shared_store_lock && has_shared_store_lock<L>) {
        static_assert(!Report,
                      "tokenvault: this locking policy has lock_store_shared(): declare it, "
                      "`static constexpr tokenvault::locking::traits traits{.shared_store_lock = true};`, "
                      "or the store never calls it");
        return false;
    } else if constexpr (locking::traits_of<L>.stoppable_wait != has_stoppable_wait<L>) {
        static_assert(!Report,
                      "tokenvault: a locking policy with lock_store_unless(path, timeout, wait_report&, "
                      "stop) returning result<store_guard> declares it, and only then: "
                      "`static constexpr tokenvault::locking::traits traits{.stoppable_wait = true};`");
        return false;
    } else {
        return true;
    }
}

}  // namespace tokenvault::detail

namespace tokenvault::locking {

/// What every locking policy provides; see the top of tokenvault/locking/concept.hpp.
template <class L>
concept locking_policy = tokenvault::detail::locking_requirements<L, false>();

/// Fails to compile, naming the first piece L misses, unless L models locking_policy. Returns true, so
/// that `static_assert(locking::check<L>())` gives that one message and no second error.
template <class L>
consteval bool check() {
    (void)tokenvault::detail::locking_requirements<L, true>();
    return true;
}

}  // namespace tokenvault::locking
