// tokenvault/backend/concept.hpp: the backend contract (where the bundle of entries lives).
//
// A backend B provides `using policy_family = tokenvault::family::backend;`, a constructor from
// `store_options`, `B::persistent` (survives the process), `B::shared` (other processes may write it: the
// store then reloads when `changed()` says so and needs cross-process locking), `B::uses_cipher`,
// `lock_path()`, `load(ctx)` (read the source of truth), `changed(ctx)` (a cheap check, e.g. one stat) and
// `save(ctx, bundle)` (durable when it returns). It may assume the store serialises calls: load/save
// under the store lock, changed under a shared lock.
// Optional: `load(ctx, held)`, the same read given the bundle the store holds from the last load or save,
// whose unchanged entries the backend may take over instead of parsing them again (backend::sealed_file).
// Optional: group commit (docs/FORMAT.md), used with a cross-process locking policy when a backend has
// `post_intent(ctx, intent)`, `withdraw_intent(name)`, `settle_intent(name)`, `claim_intents(ctx, now_ms)`,
// `intent_outstanding(name)`, `peek_intent_outcome(ctx, name)` and `intent_flush()` (backend::sealed_file).
// Optional, declared as `static constexpr tokenvault::backend::traits traits{.name = value};`:
//   reload_before_write  (false)  the store reloads before every write, whatever changed() says (for
//                                 backends whose change check cannot see every writer)
// `backend::check<B>()` names the first missing piece; `backend_policy<B>` is the same test, silently.
#pragma once

#include <concepts>
#include <filesystem>
#include <optional>

#include "../detail/archetype_context.hpp"
#include "../entry.hpp"
#include "../options.hpp"
#include "../policy_family.hpp"
#include "../result.hpp"

namespace tokenvault::backend {

/// The optional members of a backend, with their defaults (see the top of this header).
struct traits {
    bool reload_before_write = false;  ///< reload before every write, whatever changed() says
};

/// The traits of backend B: what it declares, else the defaults.
template <class B>
inline constexpr traits traits_of = tokenvault::detail::declared_traits<B, traits>;

}  // namespace tokenvault::backend

namespace tokenvault::detail {

/// The backend contract, one requirement at a time: with `Report`, the first one B misses fails to
/// compile with a message naming it. backend_policy<B> and backend::check<B>() both read this.
template <class B, bool Report>
consteval bool backend_requirements() {
    if constexpr (!in_family<B, family::backend>) {
        static_assert(!Report,
                      "tokenvault: Backend needs `using policy_family = tokenvault::family::backend;` "
                      "(see tokenvault/backend/concept.hpp)");
        return false;
    } else if constexpr (!requires {
                             { B::persistent } -> std::convertible_to<bool>;
                             { B::shared } -> std::convertible_to<bool>;
                             { B::uses_cipher } -> std::convertible_to<bool>;
                         }) {
        static_assert(!Report,
                      "tokenvault: Backend needs `static constexpr bool` persistent, shared and "
                      "uses_cipher (see tokenvault/backend/concept.hpp)");
        return false;
    } else if constexpr (!std::constructible_from<B, const store_options&>) {
        static_assert(!Report,
                      "tokenvault: Backend needs a constructor taking `const store_options&` "
                      "(see tokenvault/backend/concept.hpp)");
        return false;
    } else if constexpr (!requires(const B& b) {
                             { b.lock_path() } -> std::same_as<std::optional<std::filesystem::path>>;
                         }) {
        static_assert(!Report,
                      "tokenvault: Backend needs `std::optional<std::filesystem::path> lock_path() "
                      "const` (see tokenvault/backend/concept.hpp)");
        return false;
    } else if constexpr (!requires(B & b, archetype_context & c) {
                             { b.load(c) } -> std::same_as<result<bundle>>;
                         }) {
        static_assert(!Report,
                      "tokenvault: Backend needs `result<bundle> load(Context&)` "
                      "(see tokenvault/backend/concept.hpp)");
        return false;
    } else if constexpr (!requires(B & b, archetype_context & c) {
                             { b.changed(c) } -> std::same_as<result<bool>>;
                         }) {
        static_assert(!Report,
                      "tokenvault: Backend needs `result<bool> changed(Context&)` "
                      "(see tokenvault/backend/concept.hpp)");
        return false;
    } else if constexpr (!requires(B & b, archetype_context & c, const bundle& x) {
                             { b.save(c, x) } -> std::same_as<result<void>>;
                         }) {
        static_assert(!Report,
                      "tokenvault: Backend needs `result<void> save(Context&, const bundle&)` "
                      "(see tokenvault/backend/concept.hpp)");
        return false;
    } else if constexpr (declares_traits<B> && !declares_traits_of<B, backend::traits>) {
        static_assert(!Report,
                      "tokenvault: a backend's optional members go in "
                      "`static constexpr tokenvault::backend::traits traits{...};` "
                      "(see tokenvault/backend/concept.hpp)");
        return false;
    } else if constexpr (requires { B::reload_before_write; }) {
        static_assert(!Report,
                      "tokenvault: declare reload_before_write in the backend's traits: "
                      "`static constexpr tokenvault::backend::traits traits{.reload_before_write = true};` "
                      "(a member outside traits is read by nobody)");
        return false;
    } else {
        return true;
    }
}

}  // namespace tokenvault::detail

namespace tokenvault::backend {

/// What every backend provides; see the top of tokenvault/backend/concept.hpp.
template <class B>
concept backend_policy = tokenvault::detail::backend_requirements<B, false>();

/// Fails to compile, naming the first piece B misses, unless B models backend_policy. Returns true, so
/// that `static_assert(backend::check<B>())` gives that one message and no second error.
template <class B>
consteval bool check() {
    (void)tokenvault::detail::backend_requirements<B, true>();
    return true;
}

}  // namespace tokenvault::backend
