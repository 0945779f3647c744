// tools/tvctl/import_command.hpp: `tvctl import <source>` and `tvctl import --all`, included by tvctl.cpp
// (it uses tvctl's config, output helpers and tool_store).
//
// Every source is surveyed first (where it keeps logins, whether anything is there, why not), then run as
// the migration policy of the store's first load (persisted before anything else, each login once: the
// import ledger). Without --yes the logins that would be imported are shown (ids, expiry, source; never a
// secret) by a dry run over a copy of the bundle, then confirmed on a terminal; no terminal, no import.
// Exit codes: 0 imported something, 8 nothing to import (each source says why), 1 a source failed and
// nothing was imported, 2 usage (also: not confirmed).
#pragma once

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

#include <tokenvault/migration/claude_code.hpp>
#include <tokenvault/migration/codex_keyring.hpp>
#include <tokenvault/migration/mcp_remote_discovery.hpp>
#include <tokenvault/migration/opencode.hpp>

namespace {  // tvctl's own translation unit: its helpers live in an anonymous namespace too
namespace import_command {

/// One login found by a source: what the preview and the report show (no secret).
struct login_row {
    std::string source;
    tv::credential_id id;
    std::optional<tv::clock::time_point> expires_at;
};

/// What tvctl learns about one source.
struct source_report {
    std::string source;        ///< name in events and the ledger
    std::string where;         ///< the path or keyring looked at
    std::string absent;        ///< non-empty when nothing is there: why ("no file at PATH", ...)
    std::string failure;       ///< non-empty when something is there but could not be read
    std::size_t found = 0;     ///< valid logins found
    std::size_t imported = 0;  ///< logins imported (or, in a dry run, that would be)
    std::size_t skipped = 0;   ///< entries skipped as unreadable or invalid
};

std::vector<login_row> g_rows;               // NOLINT: filled by `recording` during the store's first load
std::map<std::string, std::size_t> g_found;  // NOLINT: valid logins per source, imported already or not

/// A migration policy that runs sources M... in order as chain<M...> does, and records which logins each
/// added (g_rows) and how many valid logins each holds at all (a pass over an empty bundle, without events).
/// With Dry, it works on a copy of the bundle and asks for no save: nothing changes anywhere.
template <bool Dry, class... M>
class recording {
public:
    using policy_family = tv::family::migration;
    static constexpr bool enabled = true;

    explicit recording(const tv::store_options& options) : sources_(M(options)...) {}

    template <class Context>
    [[nodiscard]] tv::result<bool> import_into(Context& ctx, tv::bundle& b) {
        tv::bundle scratch;
        if constexpr (Dry) scratch = b;
        tv::bundle& target = Dry ? scratch : b;
        bool changed = false;
        std::apply([&](auto&... source) { (run(ctx, source, target, changed), ...); }, sources_);
        return Dry ? false : changed;
    }
    template <class Context>
    [[nodiscard]] tv::result<void> after_persist(Context&) noexcept {
        return {};
    }

private:
    struct quiet_context {
        tv::diagnostics::none diagnostics;
        const tv::store_options& options;
    };
    template <class Context, class Source>
    static void run(Context& ctx, Source& source, tv::bundle& target, bool& changed) {
        tv::bundle empty;
        quiet_context quiet{{}, ctx.options};
        (void)source.import_into(quiet, empty);
        g_found[std::string(Source::source)] = empty.entries.size();
        std::vector<std::string> before;
        for (const auto& [hash, e] : target.entries) before.push_back(hash);
        auto imported = source.import_into(ctx, target);  // a failing source reported itself
        changed = (imported && *imported) || changed;
        for (const auto& [hash, e] : target.entries)
            if (std::find(before.begin(), before.end(), hash) == before.end())
                g_rows.push_back(login_row{std::string(Source::source), e.id, e.token.expires_at});
    }
    std::tuple<M...> sources_;
};

std::vector<tv::migration::mcp_remote_server> g_discovered;  // NOLINT: set once before the import runs

/// from_mcp_remote's configuration for tvctl: discovered launches and --server URLs, --mcp-remote-dir.
struct mcp_remote_cli_config : cli_mcp_remote_config {
    [[nodiscard]] static std::vector<tv::migration::mcp_remote_server> servers(const tv::store_options& o) {
        auto out = cli_mcp_remote_config::servers(o);
        out.insert(out.end(), g_discovered.begin(), g_discovered.end());
        return out;
    }
};

using claude_source = tv::migration::from_claude_code<>;
using codex_file_source = tv::migration::from_codex<cli_codex_config>;
using opencode_source = tv::migration::from_opencode<>;
using mcp_remote_source = tv::migration::from_mcp_remote<mcp_remote_cli_config>;
#if TVCTL_CODEX_KEYRING
using codex_keyring_source = tv::migration::from_codex_keyring<tv::keyring::secret_service>;
#endif

/// Whether `p` exists (not following a final symlink: importers refuse those, and say so).
bool path_exists(const fs::path& p) {
    std::error_code ec;
    return fs::exists(fs::symlink_status(p, ec));
}

source_report survey_file(std::string_view source, const fs::path& file) {
    source_report r{std::string(source), file.string(), {}, {}, 0, 0, 0};
    if (file.empty())
        r.absent = "no home directory (set HOME)";
    else if (!path_exists(file))
        r.absent = "no file at " + file.string();
    return r;
}

source_report survey_codex_file(const tv::store_options& o) {
    const auto home = cli_codex_config::home(o);
    auto r = survey_file("codex", home.empty() ? fs::path() : home / ".credentials.json");
    if (!r.absent.empty())
        r.absent += TVCTL_CODEX_KEYRING
                        ? " (Codex keeps its tokens in the OS keyring when one works: see codex_keyring)"
                        : " (Codex keeps its tokens in the OS keyring when one works, and this tvctl reads "
                          "it only through the Secret Service, which it was built without)";
    return r;
}

#if TVCTL_CODEX_KEYRING
source_report survey_codex_keyring(const tv::store_options& o) {
    source_report r{
        std::string(codex_keyring_source::source),
        "Secret Service, service '" + std::string(tv::migration::codex_keyring_config::service) + "'",
        {},
        {},
        0,
        0,
        0};
    auto opened = tv::keyring::secret_service::open(tv::migration::codex_keyring_config::keyring(o));
    if (!opened) {
        r.failure =
            opened.error() == tv::errc::keyring_locked
                ? "Codex keeps its tokens in the keyring and the keyring is locked: unlock it (log in to "
                  "the desktop session) and run again"
                : opened.error().message();
        return r;
    }
    if (!*opened) {
        r.absent =
            "no Secret Service in this session (Codex then keeps its tokens in "
            "$CODEX_HOME/.credentials.json)";
        return r;
    }
    auto accounts = (*opened)->list_foreign(tv::migration::codex_keyring_config::service);
    if (!accounts)
        r.failure =
            accounts.error() == tv::errc::keyring_locked
                ? "Codex keeps its tokens in the keyring and the keyring is locked: unlock it and run again"
                : accounts.error().message();
    else if (accounts->empty())
        r.absent = "no Codex items in the keyring";
    return r;
}
#endif

/// mcp-remote: its directory, the store versions in it, and the servers known (discovered or --server).
source_report survey_mcp_remote(const tv::store_options& o, std::size_t known_servers) {
    const auto base = cli_mcp_remote_config::base_directory(o);
    source_report r{std::string(mcp_remote_source::source), base.string(), {}, {}, 0, 0, 0};
    if (base.empty()) {
        r.absent = "no home directory (set HOME or pass --mcp-remote-dir)";
        return r;
    }
    if (!path_exists(base)) {
        r.absent = "no directory at " + base.string();
        return r;
    }
    std::vector<std::string> unknown;
    std::size_t known_dirs = 0, token_files = 0;
    std::error_code ec;
    for (fs::directory_iterator it(base, ec), end; !ec && it != end; it.increment(ec)) {
        const auto name = it->path().filename().string();
        if (name.rfind("mcp-remote-", 0) != 0) continue;
        const auto version = name.substr(11);
        // 0.0.x-0.7.x named the directory after the package version; 0.8 and later write "v1".
        const bool known = version == "v1" || (version.size() > 2 && version[0] == '0' && version[1] == '.');
        if (!known) {
            unknown.push_back(version);
            continue;
        }
        ++known_dirs;
        std::error_code inner;
        for (fs::directory_iterator f(it->path(), inner), fend; !inner && f != fend; f.increment(inner))
            token_files += f->path().filename().string().ends_with("_tokens.json");
    }
    if (known_dirs == 0 && !unknown.empty())
        r.absent = "unknown format version " + join(unknown, ", ") + " in " + base.string() +
                   " (this tokenvault reads mcp-remote-v1 and the 0.x directories)";
    else if (token_files == 0)
        r.absent = "no mcp-remote logins in " + base.string();
    else if (known_servers == 0)
        r.absent = std::to_string(token_files) +
                   " mcp-remote login file(s), but no MCP client configuration names their server: pass "
                   "--server URL for each";
    return r;
}

/// The text of an expiry for the preview.
std::string expiry_text(const std::optional<tv::clock::time_point>& t) {
    return t ? time_text(*t) + " (" + relative_text(*t, tv::clock::now()) + ")" : "unknown";
}

/// Runs the sources M... as the store's first load; Dry: on a copy, saving nothing.
template <class Sel, bool Dry, class... M>
tv::result<std::map<std::string, tool_diagnostics::tally>> run_sources(const config& c) {
    g_rows.clear();
    g_found.clear();
    tool_store<typename Sel::preset, recording<Dry, M...>> store(options_of(c));
    auto loaded = store.list();  // the first load runs the sources (and, unless Dry, saves)
    if (!loaded) return loaded.error();
    return store.diagnostics().by_source();
}

/// Fills the reports from a run's tallies and rows.
void settle(std::vector<source_report>& reports,
            const std::map<std::string, tool_diagnostics::tally>& tallies) {
    for (auto& r : reports) {
        const auto t = tallies.find(r.source);
        if (t != tallies.end()) {
            r.skipped = t->second.skipped;
            if (t->second.failure && r.failure.empty())
                r.failure = t->second.failure == tv::errc::keyring_locked
                                ? "the keyring is locked: unlock it and run again"
                                : tv::error{t->second.failure, r.where}.message();
        }
        r.found = g_found[r.source];
        r.imported = 0;
        for (const auto& row : g_rows) r.imported += row.source == r.source;
    }
}

/// Prints the reports (and rows) as text or JSON; returns the exit code.
int report(const config& c, const std::vector<source_report>& reports, bool dry,
           const std::string& store_path, int code_override = -1) {
    std::size_t imported = 0;
    bool failed = false;
    for (const auto& r : reports) {
        imported += r.imported;
        failed = failed || !r.failure.empty();
    }
    const int code = code_override >= 0 ? code_override
                     : imported > 0     ? exit_ok
                     : failed           ? exit_failure
                                        : exit_nothing;
    if (code == exit_nothing)
        std::cerr << "tvctl: warning: nothing to import: every source says why ("
                  << (c.json ? "sources" : "above") << ")\n";
    else if (code == exit_failure)
        std::cerr << "tvctl: error: nothing imported: a source failed (" << (c.json ? "sources" : "above")
                  << ")\n";
    for (const auto& r : reports)
        if (!r.failure.empty()) std::cerr << "tvctl: error: " << r.source << ": " << r.failure << '\n';
    if (c.json) {
        json sources = json::array();
        for (const auto& r : reports) {
            json s{{"source", r.source},
                   {"where", r.where},
                   {"found", r.found},
                   {dry ? "would_import" : "imported", r.imported},
                   {"skipped", r.skipped}};
            if (!r.absent.empty()) s["nothing_because"] = r.absent;
            if (!r.failure.empty()) s["failure"] = r.failure;
            sources.push_back(s);
        }
        json rows = json::array();
        for (const auto& row : g_rows) {
            json j{{"source", row.source}, {"id", row.id.hash()}, {"resource", echo_safe(row.id.resource())}};
            if (!row.id.account().empty()) j["account"] = echo_safe(row.id.account());
            j["expires_at"] = row.expires_at ? json(time_text(*row.expires_at)) : json(nullptr);
            rows.push_back(j);
        }
        print_json(json{{"ok", code == exit_ok},
                        {"dry_run", dry},
                        {"store", store_path},
                        {dry ? "would_import" : "imported", rows},
                        {"sources", sources},
                        {"exit_code", code}});
        return code;
    }
    for (const auto& r : reports) {
        std::cout << r.source << ": ";
        if (!r.failure.empty())
            std::cout << "FAILED: " << r.failure;
        else if (r.found == 0 && !r.absent.empty())
            std::cout << "nothing: " << r.absent;
        else if (r.found == 0)
            std::cout << "nothing: no MCP logins in " << r.where;
        else if (r.imported == 0)
            std::cout << "nothing new: " << r.found << " login(s) in " << r.where
                      << " are in the store already (or were logged out there)";
        else
            std::cout << (dry ? "would import " : "imported ") << r.imported << " of " << r.found
                      << " login(s) from " << r.where;
        if (r.skipped > 0) std::cout << "; skipped " << r.skipped << " unreadable or invalid";
        std::cout << '\n';
    }
    if (!g_rows.empty()) {
        std::vector<std::vector<std::string>> table{{"SOURCE", "ID", "RESOURCE", "EXPIRES"}};
        for (const auto& row : g_rows)
            table.push_back({row.source, row.id.hash().substr(0, 12),
                             echo_safe(row.id.resource()) +
                                 (row.id.account().empty() ? "" : " (" + echo_safe(row.id.account()) + ")"),
                             expiry_text(row.expires_at)});
        print_table(table);
    }
    if (imported == 0)
        std::cout << (failed ? "nothing imported: a source failed\n" : "nothing to import\n");
    else
        std::cout << (dry ? "would import " : "imported ") << imported << " login(s) into " << store_path
                  << '\n';
    return code;
}

/// Imports sources M... (`reports`: their surveys). With `confirm` and without --yes, first shows what would
/// be imported and asks on a terminal; without a terminal it imports nothing.
template <class Sel, class... M>
int import_sources(const config& c, std::vector<source_report> reports, bool confirm) {
    const auto o = options_of(c);
    const auto store_path = (o.resolved_directory() / o.file_name).string();
    if (presence_of(c).file_exists)
        if (auto stop = check_key_holder<Sel>(c)) return *stop;
    if (confirm && !c.yes) {
        auto tallies = run_sources<Sel, true, M...>(c);
        if (!tallies) return fail(c, tallies.error());
        settle(reports, *tallies);
        if (g_rows.empty()) return report(c, reports, true, store_path);
        if (!tv::platform::stdin_is_terminal()) {
            (void)report(c, reports, true, store_path, exit_usage);
            std::cerr << "tvctl: error: not imported: stdin is not a terminal to confirm on\n"
                         "tvctl: hint: run again with --yes to import the logins listed\n";
            return exit_usage;
        }
        (void)report(c, reports, true, store_path);
        int code = exit_ok;
        if (!confirmed(c, "import " + std::to_string(g_rows.size()) + " login(s) into " + store_path, code))
            return code;
    }
    auto tallies = run_sources<Sel, false, M...>(c);
    if (!tallies) return fail(c, tallies.error());
    settle(reports, *tallies);
    return report(c, reports, false, store_path);
}

}  // namespace import_command
}  // namespace
