// tokenvault/migration/claude_code.hpp: migration::from_claude_code<Config>, imports the MCP logins that
// Claude Code keeps in its credentials: `~/.claude/.credentials.json` on Linux and Windows, the keychain
// item "Claude Code-credentials" on macOS (through Config::read_keychain). It never changes either.
//
// The document (Claude Code 2.1.332, written by its own `claude mcp login`) is a JSON object whose
// "mcpOAuth" member maps "<server name>|<16 hex digits>" to {serverName, serverUrl, accessToken,
// refreshToken, expiresAt (unix ms), scope (space separated), clientId, clientSecret, issuer, redirectUri,
// discoveryState: {authorizationServerUrl, ...}}; "mcpOAuthClientConfig" may hold a client secret per key.
// An entry with an empty access token (Claude Code keeps the client registration after a logout) is no
// login. Identity is serverUrl; of several entries for one URL, the one that expires last wins. The
// Claude.ai login ("claudeAiOauth") is not an MCP login and is never read. See docs/MIGRATION.md.
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

/// Configuration of from_claude_code: derive from it to point at another file or read the macOS keychain.
struct claude_code_config {
    /// The credentials file: $CLAUDE_SECURESTORAGE_CONFIG_DIR, else $CLAUDE_CONFIG_DIR, else $HOME/.claude,
    /// then ".credentials.json" (empty when none is set: the file is not read).
    [[nodiscard]] static std::filesystem::path credentials_file(const store_options&) {
        for (const char* variable : {"CLAUDE_SECURESTORAGE_CONFIG_DIR", "CLAUDE_CONFIG_DIR"})
            if (const char* dir = std::getenv(variable); dir != nullptr && *dir != '\0')
                return std::filesystem::path(dir) / ".credentials.json";
        if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0')
            return std::filesystem::path(home) / ".claude" / ".credentials.json";
        return {};
    }
    /// The macOS keychain item's bytes (service "Claude Code-credentials", account the user name), through
    /// a keyring that models keyring::foreign_item_reader; nullopt by default (no keychain here).
    [[nodiscard]] static result<std::optional<tokenvault::detail::secure_buffer>> read_keychain(
        const store_options&) {
        return std::optional<tokenvault::detail::secure_buffer>{};
    }
    /// The account (profile) in the new store of the server named `server_name`; empty by default.
    [[nodiscard]] static std::string account(std::string_view /*server_name*/, const store_options&) {
        return {};
    }
};

/// Imports Claude Code's MCP logins; never modifies Claude Code's file or keychain item.
template <class Config = claude_code_config>
class from_claude_code {
public:
    using policy_family = family::migration;
    static constexpr bool enabled = true;
    // deletes_source stays false (the default traits): the user may still run Claude Code.
    /// The name in events and in the import ledger.
    static constexpr std::string_view source = "claude_code";
    /// Largest document read.
    static constexpr std::size_t max_file_size = std::size_t{4} << 20;

    /// Default-constructed; nothing is read until the store's first load.
    from_claude_code() = default;
    /// Nothing is read until the store's first load.
    explicit from_claude_code(const store_options&) noexcept {}

    /// Offers each server's Claude Code login to `b`; true when `b` must be saved.
    template <class Context>
    [[nodiscard]] result<bool> import_into(Context& ctx, bundle& b) {
        std::size_t skipped = 0;
        tokenvault::detail::newest_per_credential newest;
        const auto take = [&](tokenvault::detail::foreign_json& doc) {
            for_each_login(doc, ctx.options,
                           tokenvault::detail::login_collector(ctx, source, newest, skipped));
        };
        if (const auto path = Config::credentials_file(ctx.options); !path.empty())
            if (auto doc =
                    tokenvault::detail::read_foreign_json_file(ctx, source, path, max_file_size, skipped))
                take(*doc);
        auto keychain = Config::read_keychain(ctx.options);
        if (!keychain) {
            tokenvault::detail::report_failure(ctx, source, keychain.code());
        } else if (*keychain) {
            auto doc =
                tokenvault::detail::parse_foreign_json((*keychain)->view(), "claude code keychain item");
            if (!doc) {
                ++skipped;
                tokenvault::detail::report_skipped(ctx, source, doc.code());
            } else {
                take(*doc);
            }
        }
        return tokenvault::detail::finish_import(ctx, source, b, newest, skipped);
    }

    /// Nothing to delete: Claude Code's credentials are left as they are.
    template <class Context>
    [[nodiscard]] result<void> after_persist(Context&) noexcept {
        return {};
    }

    /// Calls `fn(login, fingerprint)` for each entry of the document's "mcpOAuth" member: (id, token), or
    /// the reason it is not a login. Exposed for the fuzz harness and tvctl.
    template <class Fn>
    static void for_each_login(const tokenvault::detail::foreign_json& doc, const store_options& options,
                               Fn&& fn) {
        using login = result<std::pair<credential_id, token>>;
        if (!doc.is_object()) {
            fn(login{error{errc::wrong_type, "claude code credentials: not a JSON object"}}, std::string{});
            return;
        }
        const auto logins = doc.find("mcpOAuth");
        if (logins == doc.end()) return;
        if (!logins->is_object()) {
            fn(login{error{errc::wrong_type, "claude code credentials: 'mcpOAuth' is not an object"}},
               std::string{});
            return;
        }
        const auto client_config = doc.find("mcpOAuthClientConfig");
        for (auto it = logins->begin(); it != logins->end(); ++it) {
            const tokenvault::detail::foreign_json* client = nullptr;
            if (client_config != doc.end() && client_config->is_object())
                if (const auto c = client_config->find(it.key()); c != client_config->end()) client = &*c;
            const auto text = it.value().dump();  // wiped memory
            auto print = tokenvault::detail::fingerprint(std::string_view(text.data(), text.size()));
            fn(parse_entry(it.value(), client, options), std::move(print));
        }
    }

private:
    // One "mcpOAuth" entry (and its "mcpOAuthClientConfig" entry, if any) as (id, token).
    [[nodiscard]] static result<std::pair<credential_id, token>> parse_entry(
        const tokenvault::detail::foreign_json& entry, const tokenvault::detail::foreign_json* client,
        const store_options& options) {
        if (!entry.is_object()) return error{errc::wrong_type, "claude code entry: not a JSON object"};
        const auto url = entry.find("serverUrl");
        if (url == entry.end() || !url->is_string())
            return error{errc::missing_field, "claude code entry: field 'serverUrl'"};
        auto id = credential_id::parse(
            tokenvault::detail::text_of(*url),
            Config::account(tokenvault::detail::string_member(entry, "serverName"), options));
        if (!id) return id.error();
        tokenvault::detail::foreign_json fields = tokenvault::detail::foreign_json::object();
        for (const auto& [from, to] :
             {std::pair{"accessToken", "access_token"}, std::pair{"refreshToken", "refresh_token"},
              std::pair{"scope", "scope"}, std::pair{"clientId", "client_id"},
              std::pair{"clientSecret", "client_secret"}, std::pair{"issuer", "issuer"}})
            if (const auto f = entry.find(from); f != entry.end()) fields[to] = *f;
        if (!fields.contains("issuer"))
            if (const auto state = entry.find("discoveryState"); state != entry.end() && state->is_object())
                if (const auto server = state->find("authorizationServerUrl");
                    server != state->end() && server->is_string())
                    fields["issuer"] = *server;
        if (client != nullptr && client->is_object() && !fields.contains("client_secret"))
            if (const auto secret = client->find("clientSecret");
                secret != client->end() && secret->is_string())
                fields["client_secret"] = *secret;
        if (const auto access = fields.find("access_token");
            access == fields.end() || !access->is_string() || tokenvault::detail::text_of(*access).empty())
            return error{errc::missing_field, "claude code entry: no access token (logged out)"};
        auto value = tokenvault::detail::token_from_fields(fields);
        if (!value) return value.error();
        auto expiry = tokenvault::detail::foreign_expiry(entry, "expiresAt", true);
        if (!expiry) return expiry.error();
        value->expires_at = *expiry;
        return std::pair<credential_id, token>{std::move(*id), std::move(*value)};
    }
};

static_assert(
    migration_policy<from_claude_code<>>,
    "migration::from_claude_code must model migration::migration_policy (tokenvault/migration/concept.hpp)");

}  // namespace tokenvault::migration
