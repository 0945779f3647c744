// tokenvault/migration/codex.hpp: migration::from_codex<Config>, imports the MCP logins that Codex keeps in
// its file store, `$CODEX_HOME/.credentials.json` (default ~/.codex). It never changes or deletes the file.
//
// The file is a JSON object; each value holds server_name, server_url, client_id, access_token, expires_at
// (unix milliseconds, optional), refresh_token (optional), scopes (array; older builds: a "scope" string)
// and, in newer builds, issuer and executor_owned. Identity is the server URL (the name is only a label);
// when several entries share a URL, the one that expires last wins. Executor-owned entries are left out.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "../detail/migration_support.hpp"
#include "concept.hpp"

namespace tokenvault::migration {

/// Configuration of from_codex: derive from it to point at another Codex home or file accounts differently.
struct codex_config {
    /// $CODEX_HOME, else $HOME/.codex (empty when neither is set: nothing is imported).
    [[nodiscard]] static std::filesystem::path home(const store_options&) {
        if (const char* dir = std::getenv("CODEX_HOME"); dir != nullptr && *dir != '\0') return dir;
        if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0')
            return std::filesystem::path(home) / ".codex";
        return {};
    }
    /// The account (profile) in the new store of the Codex server named `server_name`; empty by default.
    [[nodiscard]] static std::string account(std::string_view /*server_name*/, const store_options&) {
        return {};
    }
};

/// Imports Codex's file-store MCP logins; never modifies Codex's file.
template <class Config = codex_config>
class from_codex {
public:
    using policy_family = family::migration;
    static constexpr bool enabled = true;
    // deletes_source stays false (the default traits): the user may still run Codex.
    /// The name in events and in the import ledger.
    static constexpr std::string_view source = "codex";
    /// The file name inside the Codex home.
    static constexpr std::string_view file_name = ".credentials.json";
    /// Largest file read.
    static constexpr std::size_t max_file_size = std::size_t{16} << 20;

    /// Default-constructed; nothing is read until the store's first load.
    from_codex() = default;
    /// Nothing is read until the store's first load.
    explicit from_codex(const store_options&) noexcept {}

    /// Offers each server's Codex token to `b`; true when `b` must be saved.
    template <class Context>
    [[nodiscard]] result<bool> import_into(Context& ctx, bundle& b) {
        const std::filesystem::path home = Config::home(ctx.options);
        if (home.empty()) return false;
        std::size_t migrated = 0, skipped = 0;
        const auto skip = [&](std::error_code why) {
            ++skipped;
            tokenvault::detail::report_skipped(ctx, source, why);
        };
        auto file = tokenvault::detail::read_foreign_file(home / file_name, max_file_size);
        if (!file) {
            skip(file.code());
            return false;
        }
        if (!*file) return false;
        nlohmann::json doc = nlohmann::json::parse((*file)->bytes.view(), nullptr, false);
        const tokenvault::detail::scrub_on_exit scrub_doc{doc};
        if (doc.is_discarded() || !doc.is_object()) {
            skip(make_error_code(doc.is_discarded() ? errc::malformed_json : errc::wrong_type));
            return false;
        }

        struct candidate {
            credential_id id;
            token value;
            std::string print;
        };
        std::map<std::string, candidate> newest;  // by credential hash
        for (auto it = doc.begin(); it != doc.end(); ++it) {
            auto parsed = parse_entry(it.value(), ctx.options);
            if (!parsed) {
                skip(parsed.code());
                continue;
            }
            if (!*parsed) continue;  // executor-owned: not a login of the user's own client
            auto& [id, value] = **parsed;
            const auto found = newest.find(id.hash());
            if (found != newest.end() && !expires_later(value, found->second.value)) continue;
            std::string text = it.value().dump();
            auto print = tokenvault::detail::fingerprint(text);
            tokenvault::detail::wipe(text);
            const auto key = id.hash();
            newest.insert_or_assign(key, candidate{std::move(id), std::move(value), std::move(print)});
        }

        bool changed = false;
        for (auto& [hash, c] : newest) {
            const auto outcome =
                tokenvault::detail::offer(b, source, tokenvault::detail::ledger_rule::once_per_credential,
                                          c.id, std::move(c.value), c.print, changed);
            if (outcome == tokenvault::detail::offer_outcome::imported) ++migrated;
        }
        if (migrated + skipped > 0) ctx.diagnostics.on(events::migration{source, migrated, skipped, {}});
        return changed;
    }

    /// Nothing to delete: Codex's file is left as it is.
    template <class Context>
    [[nodiscard]] result<void> after_persist(Context&) noexcept {
        return {};
    }

private:
    // One value of the Codex file as (id, token); nullopt for entries owned by a Codex executor.
    [[nodiscard]] static result<std::optional<std::pair<credential_id, token>>> parse_entry(
        const nlohmann::json& entry, const store_options& options) {
        using out_type = std::optional<std::pair<credential_id, token>>;
        if (!entry.is_object()) return error{errc::wrong_type, "codex entry: must be an object"};
        if (const auto owned = entry.find("executor_owned");
            owned != entry.end() && owned->is_boolean() && owned->get<bool>())
            return out_type{};
        const auto url = entry.find("server_url");
        if (url == entry.end() || !url->is_string())
            return error{errc::missing_field, "codex entry: field 'server_url'"};
        std::string name;
        if (const auto n = entry.find("server_name"); n != entry.end() && n->is_string())
            name = n->get<std::string>();
        auto id = credential_id::parse(url->get_ref<const std::string&>(), Config::account(name, options));
        if (!id) return id.error();

        nlohmann::json copy = entry;
        const tokenvault::detail::scrub_on_exit scrub_copy{copy};
        for (const char* label : {"server_name", "server_url", "executor_owned", "expires_at"})
            copy.erase(label);
        auto value = token_from_json(copy);
        if (!value) return value.error();
        if (const auto expiry = entry.find("expires_at"); expiry != entry.end() && !expiry->is_null()) {
            if (!expiry->is_number_unsigned())
                return error{errc::wrong_type, "codex entry: field 'expires_at'"};
            const auto ms = expiry->get<std::uint64_t>();
            // Codex saturates an overflowing expiry at u64::MAX: past the year 2200 means "no known expiry".
            if (ms <= tokenvault::detail::max_expiry_ms)
                value->expires_at = clock::time_point{std::chrono::duration_cast<clock::duration>(
                    std::chrono::milliseconds{static_cast<std::int64_t>(ms)})};
        }
        return out_type{std::pair<credential_id, token>{std::move(*id), std::move(*value)}};
    }

    // Whether `a` expires after `b` (an unknown expiry counts as the earliest).
    [[nodiscard]] static bool expires_later(const token& a, const token& b) {
        if (!a.expires_at) return false;
        if (!b.expires_at) return true;
        return *a.expires_at > *b.expires_at;
    }
};

static_assert(check<from_codex<>>());

}  // namespace tokenvault::migration
