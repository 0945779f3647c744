// tokenvault/diagnostics/none.hpp: diagnostics::none, which compiles to nothing.
#pragma once

#include "concept.hpp"

namespace tokenvault::diagnostics {

/// Discards every event; calls compile away.
struct none {
    using policy_family = family::diagnostics;
    static constexpr bool enabled = false;
    template <class Event>
    constexpr void on(const Event&) const noexcept {}
};

static_assert(diagnostics_policy<none>);

}  // namespace tokenvault::diagnostics
