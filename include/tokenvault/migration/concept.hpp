// tokenvault/migration/concept.hpp: the migration concept (older layouts drained on first load).
//
// A migration policy M is constructible from `store_options` and provides `M::enabled`,
// `import_into(ctx, bundle&)` (adds legacy entries the bundle does not hold yet; the current store wins;
// true when the bundle must be saved: it changed, or legacy data awaits deletion) and `after_persist(ctx)`
// (deletes the legacy data it imported, called only after the bundle that holds them is durable). Both
// run under the store lock; failures never lose data. Optional: `deletes_source` (true when after_persist
// deletes anything: the backend must then be persistent) and `persist_failed(ctx, const error&)`.
#pragma once

#include <concepts>

#include "../cipher/xchacha20poly1305.hpp"
#include "../diagnostics/none.hpp"
#include "../entry.hpp"
#include "../options.hpp"
#include "../policy_family.hpp"
#include "../result.hpp"

namespace tokenvault::migration {

/// What every migration policy provides; see the top of tokenvault/migration/concept.hpp.
template <class M>
concept migration_policy = std::same_as<typename M::policy_family, family::migration> &&
    std::constructible_from<M, const store_options&> &&
    requires(M& m, store_context<cipher::xchacha20poly1305, diagnostics::none>& ctx, bundle& b) {
        { M::enabled } -> std::convertible_to<bool>;
        { m.import_into(ctx, b) } -> std::same_as<result<bool>>;
        { m.after_persist(ctx) } -> std::same_as<result<void>>;
    };

}  // namespace tokenvault::migration
