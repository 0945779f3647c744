// tokenvault/migration/keyring_bundle.hpp: migration::from_keyring_bundle<K, Layout>, the legacy single
// bundle item: one keyring item holding every token as {"<resource URL>": token, ...}.
//
// import_into offers each entry to the bundle (the current store wins; garbage entries are skipped with
// an event). after_persist deletes the item only when every entry in it was taken in or superseded, and
// only if it still holds the bytes that were imported; otherwise it stays for the next start.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "../detail/migration_support.hpp"
#include "../keyring/concept.hpp"
#include "concept.hpp"
#include "legacy_layout.hpp"

namespace tokenvault::migration {

/// Drains the legacy single-item bundle layout from keyring K.
template <keyring::keyring_policy K, class Layout = legacy_keyring_layout>
class from_keyring_bundle {
public:
    using policy_family = family::migration;
    static constexpr bool enabled = true;
    /// Deletes what it migrated (after the save: the store's backend must be persistent); in a chain this
    /// layout (precedence 1) comes before the per-item one (2); a failed save is reported by persist_failed.
    static constexpr migration::traits traits{
        .deletes_source = true, .precedence = 1, .persist_failed_hook = true};
    /// The name in events and in the import ledger.
    static constexpr std::string_view source = "keyring_bundle";

    /// Default-constructed; nothing is read until the store's first load.
    from_keyring_bundle() = default;
    /// Nothing is opened until the store's first load.
    explicit from_keyring_bundle(const store_options&) noexcept {}

    /// Offers every entry of the legacy bundle to `b` (never overwriting an entry); true when `b` must be
    /// saved.
    template <class Context>
    [[nodiscard]] result<bool> import_into(Context& ctx, bundle& b) {
        pending_print_.reset();
        auto opened = tokenvault::detail::open_legacy_keyring<K, Layout>(ctx, source, keyring_);
        if (!opened) return opened.error();
        if (!*opened) return false;

        auto item = tokenvault::detail::read_legacy_item(ctx, *keyring_, Layout::bundle_account);
        if (!item) {
            tokenvault::detail::report_failure(ctx, source, item.code());
            return item.error();
        }
        if (!*item) return tokenvault::detail::ledger_forget(b, source);  // migrated before: drop its ledger
        const std::string_view text = (*item)->view();
        auto entries = entries_of(text);
        if (!entries) {
            tokenvault::detail::report_skipped(ctx, source, entries.code());
            return false;
        }

        bool changed = false;
        std::size_t migrated = 0, skipped = 0;
        const auto account_name = Layout::credential_account(ctx.options);
        using tokenvault::detail::json_cursor;
        json_cursor in(*entries);
        std::string_view key;
        if (!in.begin_object()) return false;  // entries_of checked it
        while (in.next_member(key)) {
            auto id = credential_id::parse(key, account_name);
            // The entry in the form its fingerprint has always been taken of, then read as a token.
            auto normalized = tokenvault::detail::normalized_json_text(in, "legacy bundle entry");
            if (!normalized) {  // too deep: entries_of checked the syntax
                ++skipped;
                tokenvault::detail::report_skipped(ctx, source, normalized.code());
                std::string_view ignored;
                (void)in.skip(ignored);
                continue;
            }
            if (!id) {
                ++skipped;
                tokenvault::detail::report_skipped(ctx, source, id.code());
                continue;
            }
            auto value = tokenvault::detail::parse_legacy_token(*normalized);
            if (!value) {
                ++skipped;
                tokenvault::detail::report_skipped(ctx, source, value.code());
                continue;
            }
            const auto print =
                tokenvault::detail::fingerprint(std::string_view(normalized->data(), normalized->size()));
            const auto outcome =
                tokenvault::detail::offer(b, source, tokenvault::detail::ledger_rule::once_per_version, *id,
                                          std::move(*value), print, changed);
            if (outcome == tokenvault::detail::offer_outcome::imported) ++migrated;
        }
        if (skipped == 0) pending_print_ = tokenvault::detail::fingerprint((*item)->bytes());
        ctx.diagnostics.on(events::migration{source, migrated, skipped, {}});
        return changed || pending_print_.has_value();
    }

    /// Deletes the bundle item if every entry was taken in and the item has not changed since.
    template <class Context>
    [[nodiscard]] result<void> after_persist(Context& ctx) {
        if (!pending_print_ || !keyring_) return {};
        const auto print = std::move(*pending_print_);
        pending_print_.reset();
        auto gone =
            tokenvault::detail::erase_legacy_if_unchanged(ctx, *keyring_, Layout::bundle_account, print);
        if (!gone) {
            tokenvault::detail::report_failure(ctx, source, gone.code());
            return gone.error();
        }
        return {};
    }

    /// The store could not save the bundle: nothing is deleted; the item stays for the next start.
    template <class Context>
    void persist_failed(Context& ctx, const error& why) {
        tokenvault::detail::report_failure(ctx, source, why.code);
        pending_print_.reset();
    }

private:
    // The object of entries in a legacy bundle item: its "tokens" member when that is an object (the last
    // one, if repeated), else the whole item. Errors: not JSON (or nested deeper than 64 levels), not an
    // object.
    [[nodiscard]] static result<std::string_view> entries_of(std::string_view text) {
        using tokenvault::detail::json_cursor;
        json_cursor in(text);
        std::string_view key, raw, wrapped;
        TOKENVAULT_TRY(tokenvault::detail::begin_document(in, json_cursor::kind::object, "legacy bundle"));
        while (in.next_member(key)) {
            const bool tokens = key == "tokens" && in.peek() == json_cursor::kind::object;
            if (!in.skip(raw, tokenvault::detail::max_member_depth)) break;
            if (tokens) wrapped = raw;
        }
        TOKENVAULT_TRY(tokenvault::detail::end_document(in, "legacy bundle"));
        return wrapped.empty() ? text : wrapped;
    }

    std::optional<K> keyring_;
    std::optional<std::string> pending_print_;
};

}  // namespace tokenvault::migration
