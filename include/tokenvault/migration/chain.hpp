// tokenvault/migration/chain.hpp: migration::chain<M...>, several migration sources drained in order.
//
// Each source offers its entries in the order listed and never overwrites an entry already in the bundle,
// so the current store wins over every source and an earlier source wins over a later one. The keyring
// layouts must come in precedence order (the bundle before per-item entries: checked at compile time);
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

/// Whether the ranked sources among M... (traits precedence, 0: unranked) appear in non-decreasing order.
template <class... M>
consteval bool in_precedence_order() {
    constexpr std::array<int, sizeof...(M)> ranks{traits_of<M>.precedence...};
    int highest = 0;
    for (const int rank : ranks) {
        if (rank == 0) continue;
        if (rank < highest) return false;
        highest = rank;
    }
    return true;
}

}  // namespace detail

/// Drains the sources M... in order into one bundle; see the top of tokenvault/migration/chain.hpp.
template <class... M>
class chain {
    static_assert(sizeof...(M) > 0, "tokenvault: migration::chain<...> needs at least one migration source");
    static_assert((check<M>() && ...));  // names what a source misses (tokenvault/migration/concept.hpp)
    static_assert(
        detail::in_precedence_order<M...>(),
        "tokenvault: migration::chain<...> lists from_keyring_items before from_keyring_bundle; the legacy "
        "bundle must win over per-item entries: list from_keyring_bundle first, or use "
        "migration::from_legacy_keyring<K>");

public:
    using policy_family = family::migration;
    static constexpr bool enabled = (M::enabled || ...);
    /// Deletes what it migrated when any source does (the store's backend must then be persistent); tells
    /// the sources that declare persist_failed when a save fails.
    static constexpr migration::traits traits{.deletes_source = (traits_of<M>.deletes_source || ...),
                                              .persist_failed_hook = true};

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

    /// Tells each source that declares persist_failed that the save failed (nothing may be deleted).
    template <class Context>
    void persist_failed(Context& ctx, const error& why) {
        std::apply(
            [&](auto&... source) {
                (
                    [&] {
                        if constexpr (
                            traits_of<std::remove_reference_t<decltype(source)>>.persist_failed_hook)
                            source.persist_failed(ctx, why);
                    }(),
                    ...);
            },
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

/// Both legacy keyring layouts in K, in precedence order: the bundle item, then per-item entries.
template <keyring::keyring_policy K, class Layout = legacy_keyring_layout>
using from_legacy_keyring = chain<from_keyring_bundle<K, Layout>, from_keyring_items<K, Layout>>;

}  // namespace tokenvault::migration
