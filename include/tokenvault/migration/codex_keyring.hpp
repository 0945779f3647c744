// tokenvault/migration/codex_keyring.hpp: migration::from_codex_keyring<K, Config>, imports the MCP logins
// that Codex keeps in the OS keyring (its default store whenever a keyring works). Read only: it never
// writes, unlocks or deletes an item.
//
// Codex (codex-rs/rmcp-client/src/oauth.rs, checked against the Codex CLI 0.171.0 release) stores one item
// per server through the Rust keyring crate (3.6.3): service "Codex MCP Credentials", account
// "<server name>|<16 hex digits>", the secret a UTF-8 JSON object {server_name, url, issuer (newer
// releases), client_id, token_response: {access_token, token_type, expires_in, refresh_token, scope
// (space separated), id_token, ...}, expires_at (unix ms, optional; u64::MAX means unknown)}. K is read
// through keyring/foreign.hpp (Secret Service today; macOS keychain and Windows Credential Manager where
// they model foreign_item_reader). Identity is the URL; of several items for one URL, the one that
// expires last wins. See docs/MIGRATION.md.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "../detail/import_support.hpp"
#include "../detail/migration_support.hpp"
#include "../keyring/concept.hpp"
#include "../keyring/foreign.hpp"
#include "concept.hpp"

namespace tokenvault::migration {

/// Configuration of from_codex_keyring: derive from it to name another service or file accounts differently.
struct codex_keyring_config {
    /// The keyring service Codex files its MCP logins under.
    static constexpr std::string_view service = "Codex MCP Credentials";
    /// How the keyring is opened: the store's timeout; any collection is fine (nothing is written).
    [[nodiscard]] static keyring_options keyring(const store_options& options) {
        auto k = options.keyring();
        k.allow_volatile_collection = true;
        return k;
    }
    /// The account (profile) in the new store of the Codex server named `server_name`; empty by default.
    [[nodiscard]] static std::string account(std::string_view /*server_name*/, const store_options&) {
        return {};
    }
};

/// Imports the MCP logins Codex keeps in keyring K; never changes K's items.
template <class K, class Config = codex_keyring_config>
class from_codex_keyring {
    static_assert(keyring::keyring_policy<K>,
                  "tokenvault: from_codex_keyring<K>: K must be a keyring (tokenvault/keyring/concept.hpp), "
                  "e.g. keyring::secret_service");
    static_assert(
        keyring::foreign_item_reader<K>,
        "tokenvault: from_codex_keyring<K>: K cannot read other programs' items; pick a keyring that "
        "models keyring::foreign_item_reader (tokenvault/keyring/foreign.hpp), e.g. "
        "keyring::secret_service");

public:
    using policy_family = family::migration;
    static constexpr bool enabled = true;
    // deletes_source stays false (the default traits): the items stay, the user may still run Codex.
    /// The name in events and in the import ledger.
    static constexpr std::string_view source = "codex_keyring";
    /// Largest item read (Codex's items are about 2 KiB).
    static constexpr std::size_t max_item_size = std::size_t{256} << 10;
    /// Most items read in one start.
    static constexpr std::size_t max_items = 4096;

    /// Default-constructed; nothing is read until the store's first load.
    from_codex_keyring() = default;
    /// Nothing is read until the store's first load.
    explicit from_codex_keyring(const store_options&) noexcept {}

    /// Offers each server's Codex login to `b`; true when `b` must be saved. A keyring that is absent
    /// imports nothing; one that is locked, denies or times out is reported once (no prompt, no retry).
    template <class Context>
    [[nodiscard]] result<bool> import_into(Context& ctx, bundle& b) {
        auto opened = K::open(Config::keyring(ctx.options));
        if (!opened) {
            tokenvault::detail::report_failure(ctx, source, opened.code());
            return opened.error();
        }
        if (!*opened) return false;
        K& keyring = **opened;
        auto accounts = keyring.list_foreign(Config::service);
        ctx.diagnostics.on(events::keyring_read{keyring.tier_name(), accounts.has_value(), accounts.code()});
        if (!accounts) {
            tokenvault::detail::report_failure(ctx, source, accounts.code());
            return accounts.error();
        }

        std::size_t skipped = 0;
        const auto skip = [&](std::error_code why) {
            ++skipped;
            tokenvault::detail::report_skipped(ctx, source, why);
        };
        tokenvault::detail::newest_per_credential newest;
        std::size_t read = 0;
        for (const auto& account : *accounts) {
            if (++read > max_items) {
                skip(make_error_code(errc::too_large));
                break;
            }
            auto item = keyring.read_foreign(Config::service, account);
            ctx.diagnostics.on(
                events::keyring_read{keyring.tier_name(), item && item->has_value(), item.code()});
            if (!item) {
                if (tokenvault::detail::keyring_wide(item.code())) {  // stop at the first: no prompt storm
                    tokenvault::detail::report_failure(ctx, source, item.code());
                    break;
                }
                skip(item.code());
                continue;
            }
            if (!*item) continue;  // deleted meanwhile
            if ((*item)->size() > max_item_size) {
                skip(make_error_code(errc::too_large));
                continue;
            }
            auto parsed = parse_item((*item)->view(), ctx.options);
            if (!parsed) {
                skip(parsed.code());
                continue;
            }
            newest.add(std::move(parsed->first), std::move(parsed->second),
                       tokenvault::detail::fingerprint((*item)->view()));
        }

        return tokenvault::detail::finish_import(ctx, source, b, newest, skipped);
    }

    /// Nothing to delete: Codex's items are left as they are.
    template <class Context>
    [[nodiscard]] result<void> after_persist(Context&) noexcept {
        return {};
    }

    /// One item's text as (id, token): Codex's StoredOAuthTokens JSON. Exposed for the fuzz harness.
    [[nodiscard]] static result<std::pair<credential_id, token>> parse_item(std::string_view text,
                                                                            const store_options& options) {
        auto parsed = tokenvault::detail::parse_foreign_json(text, "codex keyring item");
        if (!parsed) return parsed.error();
        tokenvault::detail::foreign_json& doc = *parsed;
        if (!doc.is_object()) return error{errc::wrong_type, "codex keyring item: not a JSON object"};
        const auto url = doc.find("url");
        if (url == doc.end() || !url->is_string())
            return error{errc::missing_field, "codex keyring item: field 'url'"};
        auto id = credential_id::parse(
            tokenvault::detail::text_of(*url),
            Config::account(tokenvault::detail::string_member(doc, "server_name"), options));
        if (!id) return id.error();
        const auto response = doc.find("token_response");
        if (response == doc.end() || !response->is_object())
            return error{errc::missing_field, "codex keyring item: field 'token_response'"};

        tokenvault::detail::foreign_json fields = tokenvault::detail::foreign_json::object();
        for (const char* name : {"access_token", "refresh_token", "scope", "id_token"})
            if (const auto f = response->find(name); f != response->end()) fields[name] = *f;
        fields["token_type"] = tokenvault::detail::normalized_token_type(
            tokenvault::detail::string_member(*response, "token_type"));
        for (const char* name : {"client_id", "issuer"})
            if (const auto f = doc.find(name); f != doc.end()) fields[name] = *f;
        auto value = tokenvault::detail::token_from_fields(fields);
        if (!value) return value.error();
        auto expiry = tokenvault::detail::foreign_expiry(doc, "expires_at", true);
        if (!expiry) return expiry.error();
        value->expires_at = *expiry;
        return std::pair<credential_id, token>{std::move(*id), std::move(*value)};
    }
};

}  // namespace tokenvault::migration
