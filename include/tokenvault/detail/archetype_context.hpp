// tokenvault/detail/archetype_context.hpp: the store context the policy contracts check signatures with.
//
// Backends and migrations take the store's context as a template parameter; their contracts check the
// calls with this one (a stand-in cipher, no diagnostics), so a policy is checked before any store exists.
#pragma once

#include "../diagnostics/none.hpp"
#include "../options.hpp"

namespace tokenvault::detail {

/// Stands for the store's cipher in archetype_context: a policy's signatures must not depend on which.
struct archetype_cipher {};

/// A context with a stand-in cipher and no diagnostics, used to check the backend and migration contracts.
using archetype_context = store_context<archetype_cipher, diagnostics::none>;

}  // namespace tokenvault::detail
