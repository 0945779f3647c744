// tokenvault/diagnostics/callback.hpp: diagnostics::callback, typed events to a user function.
//
// The function receives `const events::any&` (a std::variant of the typed events) and runs inside store
// operations, sometimes under a lock: keep it short and never throw. An exception it throws is swallowed.
// Events are views (events.hpp): copy the fields you keep beyond the call.
#pragma once

#include <functional>
#include <utility>

#include "concept.hpp"

namespace tokenvault::diagnostics {

/// Forwards every event to a user callback.
class callback {
public:
    using policy_family = family::diagnostics;
    using function_type = std::function<void(const events::any&)>;
    static constexpr bool enabled = true;

    callback() = default;
    explicit callback(function_type fn) : fn_(std::move(fn)) {}

    /// Replaces the callback (not thread-safe against concurrent events: set it before use).
    void set(function_type fn) { fn_ = std::move(fn); }

    template <class Event>
    void on(const Event& event) const noexcept {
        if (!fn_) return;
        try {
            fn_(events::any{event});
        } catch (
            ...) {  // NOLINT(bugprone-empty-catch): a diagnostics sink must never break a token operation
        }
    }

private:
    function_type fn_;
};

static_assert(diagnostics_policy<callback>);

}  // namespace tokenvault::diagnostics
