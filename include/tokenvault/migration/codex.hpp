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
        struct candidate {
            credential_id id;
            token value;
            std::string print;
        };
        std::map<std::string, candidate> newest;  // by credential hash
        using tokenvault::detail::json_cursor;
        const std::string_view text = (*file)->bytes.view();
        {  // The whole file must be JSON before any entry counts (entries are isolated, the file is not).
            json_cursor whole(text);
            std::string_view ignored;
            const bool object = whole.peek() == json_cursor::kind::object;
            if (!whole.skip(ignored) || !whole.finish() || !object) {
                skip(make_error_code(whole.failed() ? errc::malformed_json : errc::wrong_type));
                return false;
            }
        }
        json_cursor in(text);
        std::string_view key;
        if (!in.begin_object()) return false;
        while (in.next_member(key)) {
            (void)in.peek();
            const std::size_t start = in.offset();
            auto parsed = parse_entry(in, ctx.options);
            if (!parsed) {
                in.restart_at(
                    start);  // a bad entry: skip it whole, and count it unless Codex's executor owns it
                const bool owned = executor_owned(in);
                in.restart_at(start);
                std::string_view ignored;
                if (!in.skip(ignored)) return false;
                if (!owned) skip(parsed.code());
                continue;
            }
            if (!*parsed) continue;  // executor-owned: not a login of the user's own client
            auto& [id, value] = **parsed;
            const auto found = newest.find(id.hash());
            if (found != newest.end() && !expires_later(value, found->second.value)) continue;
            // The fingerprint of the entry as dump() of a JSON document writes it (as the ledger always had).
            in.restart_at(start);
            auto normalized = tokenvault::detail::normalized_json_text(in, "codex entry");
            if (!normalized) return false;  // read once already: cannot happen
            auto print =
                tokenvault::detail::fingerprint(std::string_view(normalized->data(), normalized->size()));
            const auto hash = id.hash();
            newest.insert_or_assign(hash, candidate{std::move(id), std::move(value), std::move(print)});
        }
        if (in.failed()) return false;

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
    // One value of the Codex file as (id, token), read at `in`; nullopt for entries owned by a Codex
    // executor. The Codex fields (server_name, server_url, executor_owned, expires_at in milliseconds)
    // are read here; the rest is the token schema.
    [[nodiscard]] static result<std::optional<std::pair<credential_id, token>>> parse_entry(
        tokenvault::detail::json_cursor& in, const store_options& options) {
        using out_type = std::optional<std::pair<credential_id, token>>;
        using tokenvault::detail::json_cursor;
        using kind = json_cursor::kind;
        if (in.peek() != kind::object) return error{errc::wrong_type, "codex entry: must be an object"};
        std::optional<std::string> url;
        std::string name;
        bool owned = false;
        const auto codex_fields = [&](std::string_view key, json_cursor& c, token& t) -> result<bool> {
            std::string_view ignored;
            if (key == "server_url" || key == "server_name") {
                const bool is_url = key == "server_url";
                if (c.peek() == kind::string) {
                    std::string_view text;
                    if (!c.string(text)) return tokenvault::detail::json_read_error(c, "codex entry");
                    if (is_url)
                        url.emplace(text);
                    else
                        name.assign(text);
                    return true;
                }
                if (is_url) url.reset();
            } else if (key == "executor_owned") {
                owned = false;
                if (c.peek() == kind::boolean) {
                    if (!c.boolean(owned)) return tokenvault::detail::json_read_error(c, "codex entry");
                    return true;
                }
            } else if (key == "expires_at") {
                // Unix milliseconds; Codex saturates an overflowing expiry at u64::MAX: past the year 2200
                // means "no known expiry".
                t.expires_at.reset();
                if (c.peek() == kind::null)
                    return c.null() ? result<bool>{true}
                                    : tokenvault::detail::json_read_error(c, "codex entry");
                tokenvault::detail::json_number n;
                const auto found = c.peek();
                if (found == kind::invalid || (found == kind::number && !c.number(n)))
                    return tokenvault::detail::json_read_error(c, "codex entry");
                if (found != kind::number || !n.is_unsigned())
                    return error{errc::wrong_type, "codex entry: field 'expires_at'"};
                if (n.unsigned_value <= tokenvault::detail::max_expiry_ms)
                    t.expires_at = clock::time_point{std::chrono::duration_cast<clock::duration>(
                        std::chrono::milliseconds{static_cast<std::int64_t>(n.unsigned_value)})};
                return true;
            } else {
                return false;
            }
            return c.skip(ignored, tokenvault::detail::max_member_depth)
                       ? result<bool>{true}
                       : tokenvault::detail::json_read_error(c, "codex entry");
        };
        auto value = tokenvault::detail::read_token(in, token_json_options{}, codex_fields);
        if (!value) return value.error();
        if (owned) return out_type{};
        if (!url) return error{errc::missing_field, "codex entry: field 'server_url'"};
        auto id = credential_id::parse(*url, Config::account(name, options));
        if (!id) return id.error();
        return out_type{std::pair<credential_id, token>{std::move(*id), std::move(*value)}};
    }

    // Whether the entry at `in` says `"executor_owned": true` (read even when the rest is unusable).
    [[nodiscard]] static bool executor_owned(tokenvault::detail::json_cursor& in) {
        using tokenvault::detail::json_cursor;
        std::string_view key, ignored;
        bool owned = false;
        if (in.peek() != json_cursor::kind::object || !in.begin_object()) return false;
        while (in.next_member(key)) {
            if (key == "executor_owned" && in.peek() == json_cursor::kind::boolean) {
                if (!in.boolean(owned)) return false;
            } else if (!in.skip(ignored)) {
                return false;
            }
        }
        return owned;
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
