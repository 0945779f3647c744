// tokenvault/migration/legacy_layout.hpp: where an older version of an application kept tokens in a
// keyring (its two layouts: one item per token, or one bundle item), named by a traits type that the
// keyring migrations read.
//
// The defaults follow docker-agent's layouts: per-item "oauth:<resource URL>" items plus an "oauth:index"
// item (a JSON array of the URLs), and the single "oauth:tokens" bundle item ({"<URL>": token, ...}).
// To read another application's names, derive from `legacy_keyring_layout` and redeclare the members.
#pragma once

#include <string>
#include <string_view>

#include "../keyring/concept.hpp"
#include "../options.hpp"

namespace tokenvault::migration {

/// The default legacy keyring layout; derive from it and redeclare members to rename items.
struct legacy_keyring_layout {
    /// The keyring the legacy items live in: by default the store's own (service = app name).
    [[nodiscard]] static keyring_options keyring(const store_options& options) { return options.keyring(); }
    /// Per-item layout: the account of a resource's item is `item_prefix` + its resource URL.
    static constexpr std::string_view item_prefix = "oauth:";
    /// Per-item layout: the index item, a JSON array of the resource URLs that have an item.
    static constexpr std::string_view index_account = "oauth:index";
    /// Bundle layout: one item, a JSON object {"<resource URL>": token} (or {"tokens": {...}}).
    static constexpr std::string_view bundle_account = "oauth:tokens";
    /// The account (profile) that legacy credentials get in the new store; empty by default.
    [[nodiscard]] static std::string credential_account(const store_options&) { return {}; }
};

}  // namespace tokenvault::migration
