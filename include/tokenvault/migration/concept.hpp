// tokenvault/migration/concept.hpp: the migration contract (older layouts drained on first load).
//
// A migration policy M provides `using policy_family = tokenvault::family::migration;`, a constructor from
// `store_options`, `M::enabled`, `import_into(ctx, bundle&)` (adds legacy entries the bundle does not hold
// yet; the current store wins; true when the bundle must be saved: it changed, or legacy data awaits
// deletion) and `after_persist(ctx)` (deletes the legacy data it imported, called only after the bundle that
// holds them is durable). Both run under the store lock; failures never lose data.
// Optional, declared as `static constexpr tokenvault::migration::traits traits{.name = value};`:
//   deletes_source       (false)  after_persist deletes legacy data: the backend must then be persistent
//   precedence           (0)      rank among keyring layouts in a chain (1 bundle, 2 per-item; 0: none)
//   persist_failed_hook  (false)  M has `void persist_failed(ctx, const error&)`: the store calls it when
//                                 the save after an import failed (else it reports events::migration)
// `migration::check<M>()` names the first missing piece; `migration_policy<M>` is the same test, silently.
#pragma once

#include <concepts>

#include "../detail/archetype_context.hpp"
#include "../entry.hpp"
#include "../options.hpp"
#include "../policy_family.hpp"
#include "../result.hpp"

namespace tokenvault::migration {

/// The optional members of a migration policy, with their defaults (see the top of this header).
struct traits {
    bool deletes_source = false;       ///< after_persist deletes what was migrated
    int precedence = 0;                ///< rank among keyring layouts in a chain (0: no constraint)
    bool persist_failed_hook = false;  ///< has persist_failed(ctx, const error&)
};

/// The traits of migration policy M: what it declares, else the defaults.
template <class M>
inline constexpr traits traits_of = tokenvault::detail::declared_traits<M, traits>;

}  // namespace tokenvault::migration

namespace tokenvault::detail {

/// Whether M has `persist_failed(ctx, const error&)`.
template <class M>
concept has_persist_failed = requires(M& m, archetype_context& c, const error& why) {
    m.persist_failed(c, why);
};

/// The migration contract, one requirement at a time: with `Report`, the first one M misses fails to
/// compile with a message naming it. migration_policy<M> and migration::check<M>() both read this.
template <class M, bool Report>
consteval bool migration_requirements() {
    constexpr migration::traits t = migration::traits_of<M>;
    if constexpr (!in_family<M, family::migration>) {
        static_assert(!Report,
                      "tokenvault: Migration needs `using policy_family = "
                      "tokenvault::family::migration;` (see tokenvault/migration/concept.hpp)");
        return false;
    } else if constexpr (!requires {
                             { M::enabled } -> std::convertible_to<bool>;
                         }) {
        static_assert(!Report,
                      "tokenvault: Migration needs `static constexpr bool enabled` "
                      "(see tokenvault/migration/concept.hpp)");
        return false;
    } else if constexpr (!std::constructible_from<M, const store_options&>) {
        static_assert(!Report,
                      "tokenvault: Migration needs a constructor taking `const store_options&` "
                      "(see tokenvault/migration/concept.hpp)");
        return false;
    } else if constexpr (!requires(M & m, archetype_context & c, bundle & b) {
                             { m.import_into(c, b) } -> std::same_as<result<bool>>;
                         }) {
        static_assert(!Report,
                      "tokenvault: Migration needs `result<bool> import_into(Context&, bundle&)` "
                      "(see tokenvault/migration/concept.hpp)");
        return false;
    } else if constexpr (!requires(M & m, archetype_context & c) {
                             { m.after_persist(c) } -> std::same_as<result<void>>;
                         }) {
        static_assert(!Report,
                      "tokenvault: Migration needs `result<void> after_persist(Context&)`, which "
                      "deletes legacy data once the new copy is durable (see "
                      "tokenvault/migration/concept.hpp)");
        return false;
    } else if constexpr (declares_traits<M> && !declares_traits_of<M, migration::traits>) {
        static_assert(!Report,
                      "tokenvault: a migration's optional members go in "
                      "`static constexpr tokenvault::migration::traits traits{...};` "
                      "(see tokenvault/migration/concept.hpp)");
        return false;
    } else if constexpr (
        requires { M::deletes_source; } || requires { M::precedence; }) {
        static_assert(!Report,
                      "tokenvault: declare deletes_source and precedence in the migration's traits: "
                      "`static constexpr tokenvault::migration::traits traits{.deletes_source = true};` "
                      "(a member outside traits is read by nobody)");
        return false;
    } else if constexpr (t.persist_failed_hook != has_persist_failed<M>) {
        static_assert(!Report,
                      "tokenvault: a migration has `void persist_failed(Context&, const error&)` "
                      "exactly when its traits say persist_failed_hook = true (the store calls it only "
                      "then; see tokenvault/migration/concept.hpp)");
        return false;
    } else {
        return true;
    }
}

}  // namespace tokenvault::detail

namespace tokenvault::migration {

/// What every migration policy provides; see the top of tokenvault/migration/concept.hpp.
template <class M>
concept migration_policy = tokenvault::detail::migration_requirements<M, false>();

/// Fails to compile, naming the first piece M misses, unless M models migration_policy. Returns true, so
/// that `static_assert(migration::check<M>())` gives that one message and no second error.
template <class M>
consteval bool check() {
    (void)tokenvault::detail::migration_requirements<M, true>();
    return true;
}

}  // namespace tokenvault::migration
