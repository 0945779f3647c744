// tokenvault/policy_family.hpp: the five policy families of a token_store.
//
// Every policy names its family with `using policy_family = tokenvault::family::<name>;`. `store_with<...>`
// (store.hpp) uses the tag to accept policies in any order and to fill in defaults for the rest.
#pragma once

namespace tokenvault::family {

struct backend {};      ///< where the bundle lives (tokenvault/backend/concept.hpp)
struct cipher {};       ///< how a persisted bundle is sealed (tokenvault/cipher/concept.hpp)
struct locking {};      ///< how concurrent writers are serialised (tokenvault/locking/concept.hpp)
struct migration {};    ///< what older layouts are drained on first load (tokenvault/migration/concept.hpp)
struct diagnostics {};  ///< where events and counters go (tokenvault/diagnostics/concept.hpp)

}  // namespace tokenvault::family
