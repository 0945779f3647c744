// tokenvault/migration/mcp_remote.hpp: migration::from_mcp_remote<Config>, imports the logins that the
// mcp-remote proxy (npm package "mcp-remote") keeps in plain JSON files. It never changes or deletes them.
//
// mcp-remote writes `<base>/mcp-remote-<version>/<hash>_tokens.json` (0.0.x-0.7.x: the package version;
// 0.8 and later: "v1") with `<hash>_client_info.json` beside it; <base> is $MCP_REMOTE_CONFIG_DIR, else
// ~/.mcp-auth; <hash> is md5 hex of the server URL, "|"-joined with further options when mcp-remote was
// given some. The hash cannot be reversed, so Config names the servers; the newest file (mtime) per
// server wins across version directories. See docs/MIGRATION.md for the formats checked.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "../detail/md5.hpp"
#include "../detail/migration_support.hpp"
#include "concept.hpp"

namespace tokenvault::migration {

/// One server whose mcp-remote login should be imported.
struct mcp_remote_server {
    std::string url;                      ///< the server URL exactly as it was passed to mcp-remote
    std::vector<std::string> hash_parts;  ///< what mcp-remote hashed after the URL, if it was given options
    std::string account;                  ///< the account (profile) in the new store; empty by default
};

/// Configuration of from_mcp_remote: derive from it and define `servers` (the base directory is optional).
struct mcp_remote_config {
    /// $MCP_REMOTE_CONFIG_DIR, else $HOME/.mcp-auth (empty when neither is set: nothing is imported).
    [[nodiscard]] static std::filesystem::path base_directory(const store_options&) {
        if (const char* dir = std::getenv("MCP_REMOTE_CONFIG_DIR"); dir != nullptr && *dir != '\0')
            return dir;
        if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0')
            return std::filesystem::path(home) / ".mcp-auth";
        return {};
    }
    /// The servers to look for (the caller's configuration); none by default.
    [[nodiscard]] static std::vector<mcp_remote_server> servers(const store_options&) { return {}; }
};

/// Imports mcp-remote logins of the servers named by Config; never modifies mcp-remote's files.
template <class Config = mcp_remote_config>
class from_mcp_remote {
public:
    using policy_family = family::migration;
    static constexpr bool enabled = true;
    // deletes_source stays false (the default traits): the user may still run mcp-remote.
    /// The name in events and in the import ledger.
    static constexpr std::string_view source = "mcp_remote";
    /// Largest token or client file read.
    static constexpr std::size_t max_file_size = std::size_t{1} << 20;

    /// Default-constructed; nothing is read until the store's first load.
    from_mcp_remote() = default;
    /// Nothing is read until the store's first load.
    explicit from_mcp_remote(const store_options&) noexcept {}

    /// Offers the newest mcp-remote token of each configured server to `b`; true when `b` must be saved.
    template <class Context>
    [[nodiscard]] result<bool> import_into(Context& ctx, bundle& b) {
        const auto servers = Config::servers(ctx.options);
        const std::filesystem::path base = Config::base_directory(ctx.options);
        if (servers.empty() || base.empty()) return false;
        auto directories = version_directories(base);
        if (!directories) {
            tokenvault::detail::report_failure(ctx, source, directories.code());
            return directories.error();
        }
        if (directories->empty()) return false;

        bool changed = false;
        std::size_t migrated = 0, skipped = 0;
        for (const auto& server : servers) {
            auto id = credential_id::parse(server.url, server.account);
            if (!id) {
                ++skipped;
                tokenvault::detail::report_skipped(ctx, source, id.code());
                continue;
            }
            std::optional<candidate> best;
            for (const auto& hash : file_hashes(server, *id)) {
                for (const auto& directory : *directories) {
                    auto found = read_candidate(ctx, directory, hash, skipped);
                    if (found && (!best || found->written > best->written)) best = std::move(found);
                }
            }
            if (!best) continue;
            const auto outcome =
                tokenvault::detail::offer(b, source, tokenvault::detail::ledger_rule::once_per_credential,
                                          *id, std::move(best->value), best->print, changed);
            if (outcome == tokenvault::detail::offer_outcome::imported) ++migrated;
        }
        if (migrated + skipped > 0) ctx.diagnostics.on(events::migration{source, migrated, skipped, {}});
        return changed;
    }

    /// Nothing to delete: mcp-remote's files are left as they are.
    template <class Context>
    [[nodiscard]] result<void> after_persist(Context&) noexcept {
        return {};
    }

    /// The file name hashes mcp-remote may have used for `server`: its URL as given, and its canonical form.
    [[nodiscard]] static std::vector<std::string> file_hashes(const mcp_remote_server& server,
                                                              const credential_id& id) {
        const auto hash_of = [&](const std::string& url) {
            std::string joined = url;
            for (const auto& part : server.hash_parts) joined += "|" + part;
            return tokenvault::detail::md5_hex(joined);
        };
        std::vector<std::string> out{hash_of(server.url)};
        if (id.resource() != server.url) out.push_back(hash_of(id.resource()));
        return out;
    }

private:
    struct candidate {
        token value;
        clock::time_point written;  ///< mtime of the tokens file
        std::string print;          ///< fingerprint of the tokens file
    };

    // Every `mcp-remote-*` directory under `base`, sorted; none when `base` does not exist.
    [[nodiscard]] static result<std::vector<std::filesystem::path>> version_directories(
        const std::filesystem::path& base) {
        std::vector<std::filesystem::path> out;
        std::error_code ec;
        std::filesystem::directory_iterator it(base, ec);
        if (ec) {
            if (ec == std::errc::no_such_file_or_directory || ec == std::errc::not_a_directory) return out;
            return error{errc::io_error, base.string() + " (list: " + ec.message() + ")"};
        }
        for (; it != std::filesystem::directory_iterator{}; it.increment(ec)) {
            if (ec) return error{errc::io_error, base.string() + " (list: " + ec.message() + ")"};
            const auto name = it->path().filename().string();
            std::error_code type_error;
            if (name.rfind("mcp-remote-", 0) == 0 && it->is_directory(type_error)) out.push_back(it->path());
        }
        std::sort(out.begin(), out.end());
        return out;
    }

    // Reads `<directory>/<hash>_tokens.json` (and its client info); nullopt when absent or skipped.
    template <class Context>
    [[nodiscard]] static std::optional<candidate> read_candidate(Context& ctx,
                                                                 const std::filesystem::path& directory,
                                                                 const std::string& hash,
                                                                 std::size_t& skipped) {
        const auto skip = [&](std::error_code why) {
            ++skipped;
            tokenvault::detail::report_skipped(ctx, source, why);
            return std::optional<candidate>{};
        };
        auto file = tokenvault::detail::read_foreign_file(directory / (hash + "_tokens.json"), max_file_size);
        if (!file) return skip(file.code());
        if (!*file) return std::nullopt;
        // mcp-remote < 0.3 stored only the relative expires_in: it counts from the file's last write, but
        // never from a time later than now (a file dated in the future must not extend a token's life).
        const auto written = tokenvault::detail::modification_time((*file)->identity);
        token_json_options options;
        options.issued_at = std::min(written, clock::now());
        auto value = parse_token((*file)->bytes.view(), options);
        if (!value) return skip(value.code());

        auto info =
            tokenvault::detail::read_foreign_file(directory / (hash + "_client_info.json"), max_file_size);
        if (!info) {
            (void)skip(info.code());
        } else if (*info) {
            if (auto merged = merge_client_info((*info)->bytes.view(), *value); !merged)
                (void)skip(merged.code());
        }
        return candidate{std::move(*value), written, tokenvault::detail::fingerprint((*file)->bytes.bytes())};
    }

    // Takes client_id, client_secret and issuer from a client_info.json document into `value`.
    [[nodiscard]] static result<void> merge_client_info(std::string_view text, token& value) {
        using tokenvault::detail::json_cursor;
        json_cursor in(text);
        std::optional<std::string> client_id, issuer;
        std::optional<secret_string> client_secret;
        std::string_view key, ignored;
        TOKENVAULT_TRY(
            tokenvault::detail::begin_document(in, json_cursor::kind::object, "mcp-remote client_info.json"));
        while (in.next_member(key)) {
            const bool wanted = key == "client_id" || key == "client_secret" || key == "issuer";
            if (!wanted || in.peek() != json_cursor::kind::string) {
                if (wanted) (key == "client_id" ? client_id : issuer).reset();
                if (wanted && key == "client_secret") client_secret.reset();
                if (!in.skip(ignored, tokenvault::detail::max_member_depth)) break;
                continue;
            }
            const std::string name(key);  // the key's view does not survive reading the value
            std::string_view text_value;
            if (!in.string(text_value)) break;
            if (name == "client_secret")
                client_secret.emplace(text_value);
            else
                (name == "client_id" ? client_id : issuer).emplace(text_value);
        }
        TOKENVAULT_TRY(tokenvault::detail::end_document(in, "mcp-remote client_info.json"));
        if (!client_id) return error{errc::missing_field, "mcp-remote client_info.json: field 'client_id'"};
        token merged = value;
        if (merged.client_id.empty()) merged.client_id = std::move(*client_id);
        if (client_secret && !merged.client_secret && !client_secret->empty())
            merged.client_secret = std::move(client_secret);
        if (issuer && merged.issuer.empty()) merged.issuer = std::move(*issuer);
        TOKENVAULT_TRY(validate(merged));
        value = std::move(merged);
        return {};
    }
};

static_assert(check<from_mcp_remote<>>());

}  // namespace tokenvault::migration
