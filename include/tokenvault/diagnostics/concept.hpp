// tokenvault/diagnostics/concept.hpp: the diagnostics concept (where events go).
//
// A diagnostics policy D provides `D::enabled` and `on(const E&)` for every event type E of
// tokenvault/diagnostics/events.hpp. It may assume events carry no secret; it must not block for long or
// throw (it runs inside store operations, sometimes under locks). `diagnostics::none` compiles to nothing.
#pragma once

#include <concepts>

#include "../policy_family.hpp"
#include "events.hpp"

namespace tokenvault::diagnostics {

/// What every diagnostics policy provides; see the top of tokenvault/diagnostics/concept.hpp.
template <class D>
concept diagnostics_policy = std::same_as<typename D::policy_family, family::diagnostics> &&
    requires(D& d) {
        { D::enabled } -> std::convertible_to<bool>;
        d.on(events::keyring_read{});
        d.on(events::file_write{});
        d.on(events::lock_acquired{});
        d.on(events::store_operation{});
        d.on(events::drift{});
        d.on(events::store_resolved{});
        d.on(events::login{});
    };

}  // namespace tokenvault::diagnostics
