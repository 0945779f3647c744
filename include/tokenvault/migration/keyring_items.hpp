// tokenvault/migration/keyring_items.hpp: migration::from_keyring_items<K, Layout>, the oldest
// layout: one keyring item per resource URL under a prefix, plus an index item listing the URLs.
//
// import_into reads the index, also lists the prefix where K can enumerate (keyring/concept.hpp) to find
// items the index misses, and offers each parsable item to the bundle (the current store wins). Only
// after the store has saved the bundle durably does after_persist delete the items it handed over, then
// the index, once everything it lists is gone and only if no one rewrote it meanwhile.
// Garbage items, missing items and failures are reported as events::migration and never deleted.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "../detail/migration_support.hpp"
#include "../keyring/concept.hpp"
#include "concept.hpp"
#include "legacy_layout.hpp"

namespace tokenvault::migration {

/// Drains the legacy per-item layout (one item per resource URL plus an index) from keyring K.
template <keyring::keyring_policy K, class Layout = legacy_keyring_layout>
class from_keyring_items {
public:
    using policy_family = family::migration;
    static constexpr bool enabled = true;
    /// Deletes what it migrated (after the save: the store's backend must be persistent); in a chain the
    /// bundle layout (precedence 1) comes before this one (2); a failed save is reported by persist_failed.
    static constexpr migration::traits traits{
        .deletes_source = true, .precedence = 2, .persist_failed_hook = true};
    /// The name in events and in the import ledger.
    static constexpr std::string_view source = "keyring_items";

    /// Default-constructed; nothing is read until the store's first load.
    from_keyring_items() = default;
    /// Nothing is opened until the store's first load.
    explicit from_keyring_items(const store_options&) noexcept {}

    /// Offers every legacy item to `b` (never overwriting an entry); true when `b` must be saved.
    template <class Context>
    [[nodiscard]] result<bool> import_into(Context& ctx, bundle& b) {
        reset();
        auto opened = tokenvault::detail::open_legacy_keyring<K, Layout>(ctx, source, keyring_);
        if (!opened) return opened.error();
        if (!*opened) return false;
        K& keyring = *keyring_;

        std::vector<std::string> accounts;
        std::set<std::string, std::less<>> seen;
        const auto add = [&](std::string account) {
            if (account == Layout::index_account || account == Layout::bundle_account) return;
            if (seen.insert(account).second) accounts.push_back(std::move(account));
        };
        std::size_t skipped = 0;

        auto index = tokenvault::detail::read_legacy_item(ctx, keyring, Layout::index_account);
        if (!index) {
            tokenvault::detail::report_failure(ctx, source, index.code());
            if (tokenvault::detail::keyring_wide(index.code())) return index.error();
        } else if (*index) {
            auto listed = read_index((*index)->view());
            if (!listed) {
                ++skipped;
                tokenvault::detail::report_skipped(ctx, source, listed.code());
            } else {
                for (auto& url : listed->urls) {
                    std::string account = std::string(Layout::item_prefix) + url;
                    index_listed_.push_back(account);
                    add(std::move(account));
                }
                for (std::size_t i = 0; i < listed->not_strings; ++i) {
                    ++skipped;
                    tokenvault::detail::report_skipped(ctx, source, make_error_code(errc::wrong_type));
                }
                if (listed->not_strings == 0)
                    index_print_ = tokenvault::detail::fingerprint((*index)->bytes());
            }
        }
        bool listing_complete = true;
        if constexpr (keyring::enumerable_keyring<K>) {
            if (!Layout::item_prefix.empty()) {  // an empty prefix would sweep unrelated items (the data key)
                auto found = keyring.list_accounts(Layout::item_prefix);
                if (!found) {
                    listing_complete = false;
                    tokenvault::detail::report_failure(ctx, source, found.code());
                } else {
                    for (auto& account : *found) add(std::move(account));
                }
            }
        }

        bool changed = false;
        std::size_t migrated = 0;
        // Nothing legacy is left (and every probe succeeded): the ledger has nothing more to protect.
        if (accounts.empty() && index && !*index && listing_complete)
            changed = tokenvault::detail::ledger_forget(b, source);
        const auto account_name = Layout::credential_account(ctx.options);
        for (const auto& account : accounts) {
            auto item = tokenvault::detail::read_legacy_item(ctx, keyring, account);
            if (!item) {
                ++skipped;
                tokenvault::detail::report_skipped(ctx, source, item.code());
                if (tokenvault::detail::keyring_wide(item.code()))
                    break;  // the rest would fail (and prompt) the same way
                continue;
            }
            if (!*item) {  // the index lists an item that does not exist
                gone_.insert(account);
                ++skipped;
                tokenvault::detail::report_skipped(
                    ctx, source, std::make_error_code(std::errc::no_such_file_or_directory));
                continue;
            }
            auto value = tokenvault::detail::parse_legacy_token((*item)->view());
            if (!value && value.error() == errc::malformed_json) {
                ++skipped;
                tokenvault::detail::report_skipped(ctx, source, value.code());
                continue;
            }
            auto id = credential_id::parse(std::string_view(account).substr(Layout::item_prefix.size()),
                                           account_name);
            if (!id) {
                ++skipped;
                tokenvault::detail::report_skipped(ctx, source, id.code());
                continue;
            }
            if (!value) {
                ++skipped;
                tokenvault::detail::report_skipped(ctx, source, value.code());
                continue;
            }
            const auto outcome = tokenvault::detail::offer(
                b, source, tokenvault::detail::ledger_rule::once_per_version, *id, std::move(*value),
                tokenvault::detail::fingerprint((*item)->bytes()), changed);
            if (outcome == tokenvault::detail::offer_outcome::imported) ++migrated;
            pending_.push_back(account);
        }
        if (migrated + skipped + pending_.size() > 0)
            ctx.diagnostics.on(events::migration{source, migrated, skipped, {}});
        return changed || !pending_.empty() || index_deletable(true);
    }

    /// Deletes the items handed over, then the index (if unchanged) once everything it lists is gone.
    template <class Context>
    [[nodiscard]] result<void> after_persist(Context& ctx) {
        result<void> outcome;
        if (keyring_) {
            K& keyring = *keyring_;
            for (const auto& account : pending_) {
                auto erased = tokenvault::detail::erase_legacy_item(ctx, keyring, account);
                if (!erased) {
                    tokenvault::detail::report_failure(ctx, source, erased.code());
                    if (outcome) outcome = erased.error();
                    if (tokenvault::detail::keyring_wide(erased.code())) break;
                    continue;
                }
                gone_.insert(account);
            }
            if (index_deletable(false)) {
                auto gone = tokenvault::detail::erase_legacy_if_unchanged(ctx, keyring, Layout::index_account,
                                                                          *index_print_);
                if (!gone) {
                    tokenvault::detail::report_failure(ctx, source, gone.code());
                    outcome = gone.error();
                }
            }
        }
        reset();
        return outcome;
    }

    /// The store could not save the bundle: nothing is deleted; the legacy items stay for the next start.
    template <class Context>
    void persist_failed(Context& ctx, const error& why) {
        tokenvault::detail::report_failure(ctx, source, why.code);
        reset();
    }

private:
    /// The URLs an index item lists, and how many of its elements were not strings.
    struct index_content {
        std::vector<std::string> urls;
        std::size_t not_strings = 0;
    };

    // Reads an index item: a JSON array of URL strings (anything else in it is counted, not read).
    [[nodiscard]] static result<index_content> read_index(std::string_view text) {
        using tokenvault::detail::json_cursor;
        json_cursor in(text);
        index_content out;
        std::string_view ignored;
        TOKENVAULT_TRY(tokenvault::detail::begin_document(in, json_cursor::kind::array, "legacy index"));
        while (in.next_element()) {
            if (in.peek() == json_cursor::kind::string) {
                std::string_view url;
                if (!in.string(url)) break;
                out.urls.emplace_back(url);
            } else {
                ++out.not_strings;
                if (!in.skip(ignored, tokenvault::detail::max_member_depth)) break;
            }
        }
        TOKENVAULT_TRY(tokenvault::detail::end_document(in, "legacy index"));
        return out;
    }

    void reset() {
        pending_.clear();
        index_listed_.clear();
        gone_.clear();
        index_print_.reset();
    }

    // The index may go once every item it lists is gone: absent at import or deleted by after_persist
    // (`counting_pending`: also those still to be deleted, to decide whether after_persist has work).
    [[nodiscard]] bool index_deletable(bool counting_pending) const {
        if (!index_print_) return false;
        std::set<std::string_view> going;
        if (counting_pending)
            for (const auto& account : pending_) going.insert(account);
        for (const auto& account : index_listed_)
            if (gone_.count(account) == 0 && going.count(account) == 0) return false;
        return true;
    }

    std::optional<K> keyring_;
    std::vector<std::string> pending_;  // accounts of the items handed over, deleted after the save
    std::vector<std::string> index_listed_;
    std::set<std::string, std::less<>> gone_;
    std::optional<std::string> index_print_;
};

}  // namespace tokenvault::migration
