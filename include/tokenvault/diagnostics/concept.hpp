// tokenvault/diagnostics/concept.hpp: the diagnostics contract (where events go).
//
// A diagnostics policy D provides `using policy_family = tokenvault::family::diagnostics;`, `D::enabled`
// and `on(const E&)` for every event type E of tokenvault/diagnostics/events.hpp (every alternative of
// events::any). It may assume events carry no secret; it must not block for long or throw (it runs inside
// store operations, sometimes under locks). `diagnostics::none` compiles to nothing. It has no optional
// members. `diagnostics::check<D>()` names the first missing piece; `diagnostics_policy<D>` is the same
// test, silently.
#pragma once

#include <concepts>
#include <variant>

#include "../policy_family.hpp"
#include "events.hpp"

namespace tokenvault::detail {

/// Whether `d.on(e)` compiles for an event E.
template <class D, class E>
concept handles_event = requires(D& d, const E& e) {
    d.on(e);
};

/// Whether `d.on(e)` compiles for every alternative E of the variant `Events`.
template <class D, class Events>
inline constexpr bool handles_every_event = false;
template <class D, class... E>
inline constexpr bool handles_every_event<D, std::variant<E...>> = (handles_event<D, E> && ...);

/// The diagnostics contract, one requirement at a time: with `Report`, the first one D misses fails to
/// compile with a message naming it. diagnostics_policy<D> and diagnostics::check<D>() both read this.
template <class D, bool Report>
consteval bool diagnostics_requirements() {
    if constexpr (!in_family<D, family::diagnostics>) {
        static_assert(!Report,
                      "tokenvault: Diagnostics needs `using policy_family = "
                      "tokenvault::family::diagnostics;` (see tokenvault/diagnostics/concept.hpp)");
        return false;
    } else if constexpr (!requires {
                             { D::enabled } -> std::convertible_to<bool>;
                         }) {
        static_assert(!Report,
                      "tokenvault: Diagnostics needs `static constexpr bool enabled` "
                      "(see tokenvault/diagnostics/concept.hpp)");
        return false;
    } else if constexpr (!handles_every_event<D, events::any>) {
        static_assert(!Report,
                      "tokenvault: Diagnostics needs `on(const Event&)` for every event of "
                      "tokenvault/diagnostics/events.hpp (a template `on` takes them all; see "
                      "tokenvault/diagnostics/concept.hpp)");
        return false;
    } else {
        return true;
    }
}

}  // namespace tokenvault::detail

namespace tokenvault::diagnostics {

/// What every diagnostics policy provides; see the top of tokenvault/diagnostics/concept.hpp.
template <class D>
concept diagnostics_policy = tokenvault::detail::diagnostics_requirements<D, false>();

/// Fails to compile, naming the first piece D misses, unless D models diagnostics_policy. Returns true,
/// so that `static_assert(diagnostics::check<D>())` gives that one message and no second error.
template <class D>
consteval bool check() {
    (void)tokenvault::detail::diagnostics_requirements<D, true>();
    return true;
}

}  // namespace tokenvault::diagnostics
