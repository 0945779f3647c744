// tokenvault/migration/chain.hpp: migration::chain<M...>, several migration sources drained in order.
//
// Each source offers its entries in the order listed and never overwrites an entry already in the bundle,
// so the current store wins over every source and an earlier source wins over a later one. The keyring
// layouts must come in seed 000's precedence (bundle before per-item: checked at compile time);
// `from_legacy_keyring<K>` names that pair. A failing source is reported and never stops the others.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include "concept.hpp"
#include "keyring_bundle.hpp"
#include "keyring_items.hpp"
#include "legacy_layout.hpp"

namespace tokenvault::migration {

namespace detail {

/// M::deletes_source, or false for policies that do not say (they delete nothing).
template <class M>
inline constexpr bool deletes_source_v = [] {
    if constexpr (requires {
                      { M::deletes_source } -> std::convertible_to<bool>;
                  })
        return static_cast<bool>(M::deletes_source);
    else
        return false;
}();

/// M::precedence (keyring layouts: 1 bundle, 2 per-item), or 0: no ordering constraint.
template <class M>
inline constexpr int precedence_v = [] {
    if constexpr (requires {
                      { M::precedence } -> std::convertible_to<int>;
                  })
        return static_cast<int>(M::precedence);
    else
        return 0;
}();

/// Whether the ranked sources among M... appear in non-decreasing precedence.
template <class... M>
consteval bool in_precedence_order() {
    constexpr std::array<int, sizeof...(M)> ranks{precedence_v<M>...};
    int highest = 0;
    for (const int rank : ranks) {
        if (rank == 0) continue;
        if (rank < highest) return false;
        highest = rank;
    }
    return true;
}

/// Calls m.persist_failed(ctx, why) where M provides it.
template <class M, class Context>
void notify_persist_failed(M& m, Context& ctx, const error& why) {
    if constexpr (requires { m.persist_failed(ctx, why); }) m.persist_failed(ctx, why);
}

}  // namespace detail

/// Drains the sources M... in order into one bundle; see the top of tokenvault/migration/chain.hpp.
template <class... M>
class chain {
    static_assert(sizeof...(M) > 0, "tokenvault: migration::chain<...> needs at least one migration source");
    static_assert((migration_policy<M> && ...),
                  "tokenvault: every source of migration::chain<...> must model migration::migration_policy "
                  "(see tokenvault/migration/concept.hpp)");
    static_assert(
        detail::in_precedence_order<M...>(),
        "tokenvault: migration::chain<...> lists from_keyring_items before from_keyring_bundle; the legacy "
        "bundle must win over per-item entries (seed 000): list from_keyring_bundle first, or use "
        "migration::from_legacy_keyring<K>");

public:
    using policy_family = family::migration;
    static constexpr bool enabled = (M::enabled || ...);
    /// True when any source deletes what it migrated: the store's backend must then be persistent.
    static constexpr bool deletes_source = (detail::deletes_source_v<M> || ...);

    /// Default-constructs every source.
    chain() = default;
    /// Constructs every source from the store's options.
    explicit chain(const store_options& options) : sources_(same_options<M>(options)...) {}

    /// Lets each source offer its entries in order; true when any of them needs the bundle saved.
    template <class Context>
    [[nodiscard]] result<bool> import_into(Context& ctx, bundle& b) {
        bool any = false;
        std::apply(
            [&](auto&... source) {
                (
                    (void)[&] {
                        auto imported = source.import_into(ctx, b);  // a failing source reported itself
                        any = (imported && *imported) || any;
                    }(),
                    ...);
            },
            sources_);
        return any;
    }

    /// Lets each source delete what it migrated; returns the first failure after trying them all.
    template <class Context>
    [[nodiscard]] result<void> after_persist(Context& ctx) {
        result<void> outcome;
        std::apply(
            [&](auto&... source) {
                (
                    (void)[&] {
                        auto done = source.after_persist(ctx);
                        if (!done && outcome) outcome = done.error();
                    }(),
                    ...);
            },
            sources_);
        return outcome;
    }

    /// Tells each source that the save failed (nothing may be deleted).
    template <class Context>
    void persist_failed(Context& ctx, const error& why) {
        std::apply([&](auto&... source) { (detail::notify_persist_failed(source, ctx, why), ...); },
                   sources_);
    }

    /// The I-th source (for tests and tools).
    template <std::size_t I>
    [[nodiscard]] auto& source() noexcept {
        return std::get<I>(sources_);
    }

private:
    template <class>
    static const store_options& same_options(const store_options& options) noexcept {
        return options;
    }
    std::tuple<M...> sources_;
};

/// Both of seed 000's keyring layouts in K, in precedence order: the bundle item, then per-item entries.
template <keyring::keyring_policy K, class Layout = legacy_keyring_layout>
using from_legacy_keyring = chain<from_keyring_bundle<K, Layout>, from_keyring_items<K, Layout>>;

}  // namespace tokenvault::migration
