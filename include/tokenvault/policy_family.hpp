// tokenvault/policy_family.hpp: the policy families, and what every family's contract is built from.
//
// Every policy names its family with `using policy_family = tokenvault::family::<name>;`. token_store
// checks that each slot got a policy of its family, and `store_with<...>` (store_with.hpp) uses the tag to
// accept policies in any order. Each family's contract lives in its `concept.hpp`: the concept, a `traits`
// struct of optional members with their defaults, and the check that names the first missing piece. The
// helpers below are what those contracts share; docs/DESIGN.md explains the pattern.
#pragma once

#include <concepts>

namespace tokenvault::family {

struct backend {};      ///< where the bundle lives (tokenvault/backend/concept.hpp)
struct cipher {};       ///< how a persisted bundle is sealed (tokenvault/cipher/concept.hpp)
struct locking {};      ///< how concurrent writers are serialised (tokenvault/locking/concept.hpp)
struct migration {};    ///< what older layouts are drained on first load (tokenvault/migration/concept.hpp)
struct diagnostics {};  ///< where events and counters go (tokenvault/diagnostics/concept.hpp)
struct keyring {};      ///< holders of small secrets, used inside backends (tokenvault/keyring/concept.hpp)

}  // namespace tokenvault::family

namespace tokenvault::detail {

/// Whether P names `Family` as its policy family.
template <class P, class Family>
concept in_family = requires {
    requires std::same_as<typename P::policy_family, Family>;
};

/// Whether P names any policy family (a type without one is no tokenvault policy).
template <class P>
concept names_a_family = requires {
    typename P::policy_family;
};

/// Whether P declares a member `traits`, of any type.
template <class P>
concept declares_traits = requires {
    P::traits;
};

/// Whether P declares `static constexpr Traits traits{...}` with its family's traits type.
template <class P, class Traits>
concept declares_traits_of = requires {
    { P::traits } -> std::same_as<const Traits&>;
};

/// P's traits: what it declares, else the family's defaults. The contracts read optional members only
/// through this, so a misspelt member name fails to compile (designated initializers) instead of being
/// silently ignored.
template <class P, class Traits>
inline constexpr Traits declared_traits = [] {
    if constexpr (declares_traits_of<P, Traits>)
        return P::traits;
    else
        return Traits{};
}();

}  // namespace tokenvault::detail
