// tokenvault/migration/opencode.hpp: migration::from_opencode<Config>, imports the MCP logins that opencode
// keeps in `$XDG_DATA_HOME/opencode/mcp-auth.json` (default ~/.local/share/opencode). It never changes the
// file.
//
// The file (opencode 1.18.33, written by its own `opencode mcp auth`) is a JSON object keyed by the
// server's name in opencode's configuration; each value holds tokens {accessToken, refreshToken,
// expiresAt (unix seconds, with a fraction), scope}, clientInfo {clientId, clientSecret, clientIdIssuedAt,
// clientSecretExpiresAt}, serverUrl, and, during a login, codeVerifier and oauthState (never imported).
// An entry without tokens (a login under way) or without serverUrl (written before opencode recorded it)
// is skipped with an event. Identity is serverUrl; of several entries for one URL, the one that expires
// last wins. See docs/MIGRATION.md.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "../detail/import_support.hpp"
#include "../detail/migration_support.hpp"
#include "concept.hpp"

namespace tokenvault::migration {

/// Configuration of from_opencode: derive from it to point at another file or file accounts differently.
struct opencode_config {
    /// $XDG_DATA_HOME/opencode/mcp-auth.json, else $HOME/.local/share/opencode/mcp-auth.json (empty when
    /// neither is set: nothing is read).
    [[nodiscard]] static std::filesystem::path auth_file(const store_options&) {
        if (const char* dir = std::getenv("XDG_DATA_HOME"); dir != nullptr && *dir != '\0')
            return std::filesystem::path(dir) / "opencode" / "mcp-auth.json";
        if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0')
            return std::filesystem::path(home) / ".local" / "share" / "opencode" / "mcp-auth.json";
        return {};
    }
    /// The account (profile) in the new store of the server named `server_name`; empty by default.
    [[nodiscard]] static std::string account(std::string_view /*server_name*/, const store_options&) {
        return {};
    }
};

/// Imports opencode's MCP logins; never modifies opencode's file.
template <class Config = opencode_config>
class from_opencode {
public:
    using policy_family = family::migration;
    static constexpr bool enabled = true;
    // deletes_source stays false (the default traits): the user may still run opencode.
    /// The name in events and in the import ledger.
    static constexpr std::string_view source = "opencode";
    /// Largest file read.
    static constexpr std::size_t max_file_size = std::size_t{4} << 20;

    /// Default-constructed; nothing is read until the store's first load.
    from_opencode() = default;
    /// Nothing is read until the store's first load.
    explicit from_opencode(const store_options&) noexcept {}

    /// Offers each server's opencode login to `b`; true when `b` must be saved.
    template <class Context>
    [[nodiscard]] result<bool> import_into(Context& ctx, bundle& b) {
        const auto path = Config::auth_file(ctx.options);
        if (path.empty()) return false;
        std::size_t skipped = 0;
        tokenvault::detail::newest_per_credential newest;
        if (auto doc =
                tokenvault::detail::read_foreign_json_file(ctx, source, path, max_file_size, skipped)) {
            for_each_login(*doc, ctx.options,
                           tokenvault::detail::login_collector(ctx, source, newest, skipped));
        }
        return tokenvault::detail::finish_import(ctx, source, b, newest, skipped);
    }

    /// Nothing to delete: opencode's file is left as it is.
    template <class Context>
    [[nodiscard]] result<void> after_persist(Context&) noexcept {
        return {};
    }

    /// Calls `fn(login, fingerprint)` for each entry of the file: (id, token), or the reason it is not a
    /// login. Exposed for the fuzz harness and tvctl.
    template <class Fn>
    static void for_each_login(const tokenvault::detail::foreign_json& doc, const store_options& options,
                               Fn&& fn) {
        using login = result<std::pair<credential_id, token>>;
        if (!doc.is_object()) {
            fn(login{error{errc::wrong_type, "opencode mcp-auth.json: not a JSON object"}}, std::string{});
            return;
        }
        for (auto it = doc.begin(); it != doc.end(); ++it) {
            const auto text = it.value().dump();  // wiped memory
            auto print = tokenvault::detail::fingerprint(std::string_view(text.data(), text.size()));
            fn(parse_entry(std::string_view(it.key().data(), it.key().size()), it.value(), options),
               std::move(print));
        }
    }

private:
    // One entry as (id, token).
    [[nodiscard]] static result<std::pair<credential_id, token>> parse_entry(
        std::string_view name, const tokenvault::detail::foreign_json& entry, const store_options& options) {
        if (!entry.is_object()) return error{errc::wrong_type, "opencode entry: not a JSON object"};
        const auto tokens = entry.find("tokens");
        if (tokens == entry.end() || !tokens->is_object())
            return error{errc::missing_field, "opencode entry: field 'tokens' (no login finished)"};
        const auto url = entry.find("serverUrl");
        if (url == entry.end() || !url->is_string())
            return error{errc::missing_field, "opencode entry: field 'serverUrl'"};
        auto id = credential_id::parse(tokenvault::detail::text_of(*url), Config::account(name, options));
        if (!id) return id.error();
        tokenvault::detail::foreign_json fields = tokenvault::detail::foreign_json::object();
        for (const auto& [from, to] :
             {std::pair{"accessToken", "access_token"}, std::pair{"refreshToken", "refresh_token"},
              std::pair{"scope", "scope"}})
            if (const auto f = tokens->find(from); f != tokens->end()) fields[to] = *f;
        if (const auto client = entry.find("clientInfo"); client != entry.end() && client->is_object()) {
            for (const auto& [from, to] :
                 {std::pair{"clientId", "client_id"}, std::pair{"clientSecret", "client_secret"}})
                if (const auto f = client->find(from); f != client->end()) fields[to] = *f;
        }
        auto value = tokenvault::detail::token_from_fields(fields);
        if (!value) return value.error();
        auto expiry = tokenvault::detail::foreign_expiry(*tokens, "expiresAt", false);
        if (!expiry) return expiry.error();
        value->expires_at = *expiry;
        return std::pair<credential_id, token>{std::move(*id), std::move(*value)};
    }
};

static_assert(
    migration_policy<from_opencode<>>,
    "migration::from_opencode must model migration::migration_policy (tokenvault/migration/concept.hpp)");

}  // namespace tokenvault::migration
