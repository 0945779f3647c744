// tokenvault/migration/none.hpp: migration::none, for stores with no older layout to drain.
#pragma once

#include "concept.hpp"

namespace tokenvault::migration {

/// Migrates nothing.
struct none {
    using policy_family = family::migration;
    static constexpr bool enabled = false;
    none() = default;
    explicit none(const store_options&) noexcept {}
    template <class Context>
    [[nodiscard]] result<bool> import_into(Context&, bundle&) noexcept {
        return false;
    }
    template <class Context>
    [[nodiscard]] result<void> after_persist(Context&) noexcept {
        return {};
    }
};

static_assert(check<none>());

}  // namespace tokenvault::migration
