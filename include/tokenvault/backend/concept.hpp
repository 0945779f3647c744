// tokenvault/backend/concept.hpp: the backend concept (where the bundle of entries lives).
//
// A backend B is constructible from `store_options` and provides `B::persistent` (survives the process),
// `B::shared` (other processes may write it: the store then reloads when `changed()` says so and needs
// cross-process locking), `B::uses_cipher`, `lock_path()`, `load(ctx)` (read the source of truth),
// `changed(ctx)` (a cheap check, e.g. one stat) and `save(ctx, bundle)` (durable when it returns).
// It may assume the store serialises calls: load/save under the store lock, changed under a shared lock.
// Optional: `B::reload_before_write` (true: the store reloads before every write, whatever changed() says;
// for backends whose change check cannot see every writer).
#pragma once

#include <concepts>
#include <filesystem>
#include <optional>

#include "../cipher/xchacha20poly1305.hpp"
#include "../diagnostics/none.hpp"
#include "../entry.hpp"
#include "../options.hpp"
#include "../policy_family.hpp"
#include "../result.hpp"

namespace tokenvault::backend {

namespace detail {
/// A context with the default cipher and no diagnostics, used to check the concept.
using archetype_context = store_context<cipher::xchacha20poly1305, diagnostics::none>;
}  // namespace detail

/// What every backend provides; see the top of tokenvault/backend/concept.hpp.
template <class B>
concept backend_policy = std::same_as<typename B::policy_family, family::backend> &&
    std::constructible_from<B, const store_options&> &&
    requires(B& b, const B& cb, detail::archetype_context& ctx, const bundle& content) {
        { B::persistent } -> std::convertible_to<bool>;
        { B::shared } -> std::convertible_to<bool>;
        { B::uses_cipher } -> std::convertible_to<bool>;
        { cb.lock_path() } -> std::same_as<std::optional<std::filesystem::path>>;
        { b.load(ctx) } -> std::same_as<result<bundle>>;
        { b.changed(ctx) } -> std::same_as<result<bool>>;
        { b.save(ctx, content) } -> std::same_as<result<void>>;
    };

}  // namespace tokenvault::backend
