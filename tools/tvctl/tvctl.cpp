// tools/tvctl/tvctl.cpp: tvctl, the command-line tool for a tokenvault store.
//
// Commands: list, show <url>, remove <url>, logout (<url> | --all), status, doctor, import (<source> |
// --all), login <url> (the OAuth login of an MCP server, when built with libcurl);
// --json on every command (stdout then always holds one JSON document, errors included), --help on
// every command. The store is a preset's: presets::embedded (key in a private key file) by default,
// presets::desktop with --keyring desktop: Secret Service, then key file, when built with libsecret on
// Linux; Credential Manager, then DPAPI key file, on Windows.
// Never prints a secret: tokens are shown as <redacted>, and no token value reaches any output path.
// Read-only commands never create a store. Exit codes: see `exit_code` below and `tvctl --help`.
#include <CLI/CLI.hpp>

#include <tokenvault/backend/sealed_file.hpp>
#include <tokenvault/cipher/xchacha20poly1305.hpp>
#include <tokenvault/credential_id.hpp>
#include <tokenvault/detail/temp_files.hpp>
#include <tokenvault/diagnostics/counters.hpp>
#include <tokenvault/diagnostics/resolution.hpp>
#include <tokenvault/diagnostics/resolution_log.hpp>
#include <tokenvault/json.hpp>
#include <tokenvault/keyring/file.hpp>
#include <tokenvault/lifecycle.hpp>
#include <tokenvault/locking/process.hpp>
#include <tokenvault/migration/codex.hpp>
#include <tokenvault/migration/mcp_remote.hpp>
#include <tokenvault/migration/none.hpp>
#include <tokenvault/platform/platform.hpp>
#include <tokenvault/presets.hpp>
#include <tokenvault/store.hpp>

#if defined(TOKENVAULT_HAVE_CURL) && TOKENVAULT_HAVE_CURL
#include <spawn.h>
#include <sys/wait.h>

#include <tokenvault/oauth/curl.hpp>
#include <tokenvault/oauth/provider.hpp>
#define TVCTL_LOGIN 1
#else
#define TVCTL_LOGIN 0
#endif

#if defined(_WIN32)
#include <tokenvault/keyring/dpapi.hpp>
#include <tokenvault/keyring/first_available.hpp>
#include <tokenvault/keyring/wincred.hpp>
#include <tokenvault/presets_desktop.hpp>
#define TVCTL_DESKTOP 1
#define TVCTL_CODEX_KEYRING 0  // Codex keeps its Windows tokens elsewhere: no importer reads them yet
#elif defined(TOKENVAULT_HAVE_SECRET_SERVICE) && TOKENVAULT_HAVE_SECRET_SERVICE
#include <tokenvault/keyring/first_available.hpp>
#include <tokenvault/keyring/secret_service.hpp>
#include <tokenvault/presets_desktop.hpp>
#define TVCTL_DESKTOP 1
#define TVCTL_CODEX_KEYRING 1  // Codex's tokens in the Secret Service
#else
#define TVCTL_DESKTOP 0
#define TVCTL_CODEX_KEYRING 0
#endif

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace tv = tokenvault;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

#if defined(_WIN32)
constexpr const char* default_directory_text = "%LOCALAPPDATA%\\<app>";
/// The command that makes `p` the current user's.
std::string take_ownership_fix(const fs::path& p) { return "takeown /f \"" + p.string() + "\""; }
/// The command that gives `p` an owner-only DACL.
std::string private_access_fix(const fs::path& p, bool) {
    return "icacls \"" + p.string() + "\" /inheritance:r /grant:r \"%USERNAME%\":F";
}
#else
constexpr const char* default_directory_text = "$XDG_CONFIG_HOME/<app>";
/// The command that makes `p` the current user's.
std::string take_ownership_fix(const fs::path& p) { return "chown $(id -u) " + p.string(); }
/// The command that makes `p` private (700 for a directory, 600 for a file).
std::string private_access_fix(const fs::path& p, bool directory) {
    return std::string(directory ? "chmod 700 " : "chmod 600 ") + p.string();
}
#endif

/// Whether anything (a symlink included, not followed) is at `p`.
bool exists_here(const fs::path& p) {
    std::error_code ec;
    return fs::exists(fs::symlink_status(p, ec));
}

/// The exit codes of tvctl (documented in `tvctl --help`).
enum exit_code : int {
    exit_ok = 0,         ///< done
    exit_failure = 1,    ///< the operation failed (I/O, unsafe or corrupt files, ...): see stderr
    exit_usage = 2,      ///< unknown command or option, bad argument, missing confirmation
    exit_not_found = 3,  ///< no credential for that id
    exit_no_store = 4,   ///< no store at the directory (check --dir, --app, --file)
    exit_key = 5,        ///< the key or keyring is unavailable (locked, absent, damaged, another tier)
    exit_attention = 6,  ///< status/doctor found problems
    exit_busy = 7,       ///< another process holds the store lock past the timeout
    exit_nothing = 8,    ///< import: nothing to import (each source says why)
};

constexpr const char* exit_code_help =
    "Exit codes:\n"
    "  0  success\n"
    "  1  the operation failed (I/O error, unsafe permissions, corrupt file): see the message\n"
    "  2  usage error: unknown command or option, an id that is not a URL, missing --yes without a terminal\n"
    "  3  no credential for that id\n"
    "  4  no token store there (check --dir, --app, --file)\n"
    "  5  the key or keyring is unavailable (locked, missing, damaged, or held by a keyring tier not "
    "selected)\n"
    "  6  status or doctor found a problem\n"
    "  7  the store is busy: another process held its lock past --timeout\n"
    "  8  import: nothing to import (each source says why)\n";

/// Everything the command line says.
struct config {
    std::string app = "tokenvault";
    std::string dir;
    std::string file = "tokens.sealed";
    std::string keyring = "embedded";
    int timeout_ms = 5000;
    bool json = false;
    bool stats = false;
    bool yes = false;
    bool all = false;
    std::string id;
    std::string account;
    std::string source;
    std::string codex_home;
    std::string mcp_remote_dir;
    std::vector<std::string> servers;
    std::vector<std::string> scopes;
    std::string client_id;
    std::string client_secret_env;
    std::string client_auth = "basic";
    int port = 0;
    int login_timeout_s = 300;
    bool no_browser = false;
    std::string browser_command;
};

/// The store options the command line selects.
tv::store_options options_of(const config& c) {
    tv::store_options o;
    o.app_name = c.app;
    o.directory = c.dir;
    o.file_name = c.file;
    o.lock_timeout = std::chrono::milliseconds(c.timeout_ms);
    o.keyring_settings.timeout = std::chrono::milliseconds(c.timeout_ms);
    return o;
}

// ------------------------------------------------------------------------------------------------------
// Output: text on stdout, messages on stderr; with --json one JSON document on stdout.

/// Prints `doc` on stdout (invalid UTF-8 replaced, never an exception).
void print_json(const json& doc) {
    std::cout << doc.dump(2, ' ', false, json::error_handler_t::replace) << '\n';
    std::cout.flush();
}

/// Reports a failure: a message (and a hint) on stderr; with --json also {"ok": false, "error": ...} on
/// stdout.
int fail(const config& c, int code, const std::string& message, const std::string& hint = {}) {
    std::cerr << "tvctl: error: " << message << '\n';
    if (!hint.empty()) std::cerr << "tvctl: hint: " << hint << '\n';
    if (c.json) {
        json e{{"exit_code", code}, {"message", message}};
        if (!hint.empty()) e["hint"] = hint;
        print_json(json{{"ok", false}, {"error", e}});
    }
    return code;
}

/// The exit code for a tokenvault error.
int code_of(const tv::error& e) {
    if (e.code.category() != tv::error_category()) return exit_failure;
    switch (static_cast<tv::errc>(e.code.value())) {
    case tv::errc::lock_timeout: return exit_busy;
    case tv::errc::foreign_key:
    case tv::errc::damaged_key:
    case tv::errc::key_unavailable:
    case tv::errc::keyring_unavailable:
    case tv::errc::keyring_locked:
    case tv::errc::keyring_denied:
    case tv::errc::keyring_timeout:
    case tv::errc::volatile_collection_refused: return exit_key;
    case tv::errc::invalid_url:
    case tv::errc::invalid_argument: return exit_usage;
    case tv::errc::not_logged_in: return exit_not_found;
    default: return exit_failure;
    }
}

/// Whether keyring tier `tier` belongs to presets::desktop (not to presets::embedded).
bool desktop_tier(const std::string& tier) {
    return tier == "secret_service" || tier == "wincred" || tier == "dpapi";
}

/// Reports a tokenvault error (its message already says what to do).
int fail(const config& c, const tv::error& e) {
    std::string hint;
    if (e == tv::errc::foreign_key && c.keyring != "desktop" &&
        (e.context.find("'wincred'") != std::string::npos || e.context.find("'dpapi'") != std::string::npos))
        hint = "the key is in the Windows Credential Manager or a DPAPI key file: run with --keyring desktop";
    else if (e == tv::errc::foreign_key && c.keyring != "desktop" &&
             e.context.find("'secret_service'") != std::string::npos)
        hint = TVCTL_DESKTOP
                   ? "the key is in the Secret Service: run with --keyring desktop (in a desktop session)"
                   : "the key is in the Secret Service, and this tvctl was built without libsecret";
    if (e == tv::errc::lock_timeout) hint = "another process is using the store; retry, or raise --timeout";
    return fail(c, code_of(e), e.message(), hint);
}

/// yyyy-mm-ddThh:mm:ssZ.
std::string time_text(tv::clock::time_point t) {
    return tv::detail::format_rfc3339(std::chrono::time_point_cast<std::chrono::seconds>(t));
}

/// "in 59m", "expired 2h ago".
std::string relative_text(tv::clock::time_point t, tv::clock::time_point now) {
    using namespace std::chrono;
    const auto delta = duration_cast<seconds>(t - now).count();
    const long long a = delta < 0 ? -delta : delta;
    std::string amount;
    if (a < 120)
        amount = std::to_string(a) + "s";
    else if (a < 7200)
        amount = std::to_string(a / 60) + "m";
    else if (a < 172800)
        amount = std::to_string(a / 3600) + "h";
    else
        amount = std::to_string(a / 86400) + "d";
    return delta < 0 ? "expired " + amount + " ago" : "in " + amount;
}

/// `text` fit to quote back to the user: user info in URLs (https://user:password@host) masked, control
/// characters replaced, at most 200 bytes. Command lines are where people paste credentials by mistake.
std::string echo_safe(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size() && out.size() < 200; ++i) {
        const auto u = static_cast<unsigned char>(text[i]);
        out.push_back(u < 0x20 || u == 0x7f ? '?' : text[i]);
    }
    for (std::size_t scheme = out.find("://"); scheme != std::string::npos;
         scheme = out.find("://", scheme + 3)) {
        const auto start = scheme + 3;
        const auto end = out.find_first_of("/?# \t'\"", start);
        const auto at = out.rfind('@', end == std::string::npos ? std::string::npos : end);
        if (at != std::string::npos && at >= start) out.replace(start, at - start, "<redacted>");
    }
    return out;
}

std::string join(const std::vector<std::string>& parts, const char* sep) {
    std::string out;
    for (const auto& p : parts) out += (out.empty() ? "" : sep) + p;
    return out;
}

std::string hex_of(std::span<const std::uint8_t> bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (const auto b : bytes) {
        out.push_back(digits[b >> 4]);
        out.push_back(digits[b & 15]);
    }
    return out;
}

/// Prints rows as left-aligned columns.
void print_table(const std::vector<std::vector<std::string>>& rows) {
    std::vector<std::size_t> width;
    for (const auto& row : rows)
        for (std::size_t i = 0; i < row.size(); ++i) {
            if (width.size() <= i) width.push_back(0);
            width[i] = std::max(width[i], row[i].size());
        }
    for (const auto& row : rows) {
        std::string line;
        for (std::size_t i = 0; i < row.size(); ++i) {
            line += row[i];
            if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
        }
        std::cout << line << '\n';
    }
}

// ------------------------------------------------------------------------------------------------------
// The store: a preset's policies, with a diagnostics policy that counts (for --stats) and sums imports.

/// Counts events (as diagnostics::counters) and adds up what migrations imported.
class tool_diagnostics {
public:
    using policy_family = tv::family::diagnostics;
    static constexpr bool enabled = true;

    /// An entry of the store that could not be read (from events::entry_unreadable).
    struct unreadable {
        std::string key;     ///< its key (the credential hash)
        std::string reason;  ///< what is wrong, secret-free
    };

    template <class Event>
    void on(const Event& e) noexcept {
        counts_.on(e);
        if constexpr (std::is_same_v<Event, tv::events::migration>) {
            migrated_ += e.migrated;
            skipped_ += e.skipped;
            if (e.failure) failure_ = e.failure;
            try {
                auto& t = by_source_[std::string(e.source)];
                t.migrated += e.migrated;
                t.skipped += e.skipped;
                if (e.failure && e.skipped == 0) t.failure = e.failure;
            } catch (...) {  // NOLINT(bugprone-empty-catch): a diagnostics sink never throws
            }
        } else if constexpr (std::is_same_v<Event, tv::events::entry_unreadable>) {
            try {
                for (const auto& u : unreadable_)
                    if (u.key == e.credential) return;
                unreadable_.push_back(
                    {std::string(e.credential), std::string(e.detail) + " (" + e.reason.message() + ")"});
            } catch (...) {  // NOLINT(bugprone-empty-catch): a diagnostics sink never throws
            }
        }
    }
    /// What the migration events of one source added up to.
    struct tally {
        std::size_t migrated = 0;
        std::size_t skipped = 0;
        std::error_code failure;  ///< a failed step (opening the source), not a skipped entry
    };
    /// The tallies by source name.
    [[nodiscard]] const std::map<std::string, tally>& by_source() const noexcept { return by_source_; }
    /// The unreadable entries the store's loads reported.
    [[nodiscard]] const std::vector<unreadable>& unreadable_entries() const noexcept { return unreadable_; }
    /// The event counts.
    [[nodiscard]] tv::diagnostics::counters::snapshot counts() const noexcept { return counts_.read(); }
    /// Entries migrations imported.
    [[nodiscard]] std::size_t migrated() const noexcept { return migrated_; }
    /// Entries migrations skipped (unreadable or invalid).
    [[nodiscard]] std::size_t skipped() const noexcept { return skipped_; }
    /// The last migration failure, if any.
    [[nodiscard]] std::error_code failure() const noexcept { return failure_; }

private:
    tv::diagnostics::counters counts_;
    std::size_t migrated_ = 0;
    std::size_t skipped_ = 0;
    std::error_code failure_;
    std::map<std::string, tally> by_source_;
    std::vector<unreadable> unreadable_;
};
static_assert(tv::diagnostics::diagnostics_policy<tool_diagnostics>);

/// The preset's store with tvctl's diagnostics (and a migration policy for `import`).
template <class Preset, class Migration = tv::migration::none>
using tool_store = tv::token_store<typename Preset::backend_type, typename Preset::cipher_type,
                                   typename Preset::locking_type, Migration, tool_diagnostics>;

/// A keyring selection: its preset and how the resolution log names its chain.
template <class Preset>
struct selection {
    using preset = Preset;
    using keyring = typename Preset::backend_type::keyring_type;
};

/// Prints the counters on stderr when --stats was given.
template <class Store>
void print_stats(const config& c, Store& store) {
    if (!c.stats) return;
    const auto s = store.diagnostics().counts();
    std::cerr << "tvctl: stats: keyring_reads=" << s.keyring_reads << " keyring_writes=" << s.keyring_writes
              << " keyring_failures=" << s.keyring_failures << " file_reads=" << s.file_reads
              << " file_writes=" << s.file_writes << " lock_waits=" << s.lock_waits
              << " lock_contentions=" << s.lock_contentions << '\n';
}

/// What is on disk where the store should be (no store is created to find out).
struct store_presence {
    fs::path directory;
    fs::path file;
    bool directory_exists = false;
    bool file_exists = false;
};

store_presence presence_of(const config& c) {
    const auto o = options_of(c);
    store_presence p;
    p.directory = o.resolved_directory();
    if (p.directory.empty()) return p;  // no default directory: require_store says why
    p.file = p.directory / o.file_name;
    p.directory_exists = exists_here(p.directory);
    p.file_exists = exists_here(p.file);
    return p;
}

/// Fails with exit_no_store unless a store file exists (read-only commands must not create one).
std::optional<int> require_store(const config& c) {
    const auto p = presence_of(c);
    if (auto missing = options_of(c).directory_error())
        return fail(c, exit_no_store, missing->context, "pass --dir");
    if (!p.directory_exists)
        return fail(c, exit_no_store,
                    "no token store: the directory " + p.directory.string() + " does not exist",
                    "check --dir or --app (default directory: " + std::string(default_directory_text) + ")");
    if (!p.file_exists)
        return fail(c, exit_no_store, "no token store file at " + p.file.string() + " (nothing stored yet?)",
                    "check --file, --dir or --app");
    return std::nullopt;
}

/// The header of the sealed file, if it has a readable one.
std::optional<tv::backend::sealed_file_header> header_of(const fs::path& file,
                                                         std::string* problem = nullptr) {
    auto read = tv::platform::read_private_file(file, tv::backend::sealed_file_format::max_file_size);
    if (!read) {
        if (problem != nullptr) *problem = read.error().message();
        return std::nullopt;
    }
    if (!*read) return std::nullopt;
    auto header = tv::backend::parse_sealed_header((*read)->bytes.bytes());
    if (!header) {
        if (problem != nullptr) *problem = file.string() + ": " + header.error().message();
        return std::nullopt;
    }
    return std::move(*header);
}

/// The tiers of a keyring selection, in resolution order.
template <class K>
std::vector<std::string> tiers_of() {
    const auto name = tv::keyring::chain_name<K>();
    const auto open = name.find('(');
    if (open == std::string::npos) return {name};
    std::vector<std::string> out;
    std::string current;
    for (const char ch : name.substr(open + 1, name.size() - open - 2)) {
        if (ch == ',') {
            out.push_back(current);
            current.clear();
        } else {
            current.push_back(ch);
        }
    }
    out.push_back(current);
    return out;
}

/// One keyring tier probed without creating anything: opens the Secret Service (bounded by the
/// timeout); for the key file, looks for its passphrase instead of opening (which would create one).
struct tier_probe {
    std::string tier;
    bool available = false;
    std::string detail;
};

tier_probe probe_tier(const std::string& tier, const tv::store_options& o) {
    tier_probe p{tier, false, {}};
    const auto k = o.keyring();
    if (tier == "file") {
        const auto passphrase = k.directory / "passphrase";
        std::error_code ec;
        const auto status = fs::symlink_status(passphrase, ec);
        if (!fs::exists(status)) {
            p.detail = "no key file yet at " + passphrase.string() + " (made on the first login)";
            p.available = true;  // it opens (and creates it) whenever it is needed
        } else if (!fs::is_regular_file(status)) {
            p.detail = passphrase.string() + " is not a regular file";
        } else {
            p.available = true;
            p.detail = "key file " + passphrase.string();
        }
        return p;
    }
#if TVCTL_DESKTOP && !defined(_WIN32)
    if (tier == "secret_service") {
        auto opened = tv::keyring::secret_service::open(k);
        if (!opened) {
            p.detail = opened.error().message();
        } else if (!*opened) {
            p.detail =
                "no Secret Service on the session bus (no desktop session, or no DBUS_SESSION_BUS_ADDRESS)";
        } else {
            p.available = true;
            p.detail = "default collection open";
        }
        return p;
    }
#endif
#if defined(_WIN32)
    if (tier == "wincred") {
        auto opened = tv::keyring::wincred::open(k);
        if (!opened) {
            p.detail = opened.error().message();
        } else if (!*opened) {
            p.detail = "no Credential Manager in this logon session (a service or network logon)";
        } else {
            p.available = true;
            p.detail = "Credential Manager of this logon session";
        }
        return p;
    }
    if (tier == "dpapi") {
        p.available = true;  // it opens (creating its directory) whenever it is needed
        p.detail = "DPAPI key files in " + k.directory.string();
        return p;
    }
#endif
    p.detail = "not built into this tvctl";
    return p;
}

/// How to reach a store whose key is held by keyring tier `tier`.
std::string fix_for_tier(const std::string& tier) {
    if (tier == "secret_service")
        return TVCTL_DESKTOP
                   ? "run tvctl with --keyring desktop, in a session whose Secret Service holds the key"
                   : "use a tvctl built with Secret Service support (libsecret), with --keyring desktop";
    if (tier == "file") return "run tvctl with --keyring embedded";
    if (tier == "wincred" || tier == "dpapi")
        return TVCTL_DESKTOP ? "run tvctl with --keyring desktop, as the Windows user who wrote the store"
                             : "use a tvctl built for Windows, with --keyring desktop";
    return "the key is in keyring tier '" + tier +
           "', which tvctl cannot open: use the program that wrote the store";
}

/// Whether `e` says the key or keyring is missing (the store itself may be fine).
bool key_problem(const tv::error& e) { return code_of(e) == exit_key; }

/// Opens the store's key file checks before a command that reads the store: a missing key file means
/// the keyring would make a new key (useless for this file), so say so instead.
template <class Sel>
std::optional<int> check_key_holder(const config& c) {
    const auto p = presence_of(c);
    const auto header = header_of(p.file);
    if (!header || header->tier != "file") return std::nullopt;
    const auto tiers = tiers_of<typename Sel::keyring>();
    if (std::find(tiers.begin(), tiers.end(), "file") == tiers.end()) return std::nullopt;
    const auto passphrase = options_of(c).keyring().directory / "passphrase";
    if (exists_here(passphrase)) return std::nullopt;
    return fail(c, exit_key,
                p.file.string() + " is sealed by a key held in the key file keyring, but its key file " +
                    passphrase.string() + " is missing: the store cannot be opened",
                "restore the keyring directory from a backup, or start over: tvctl logout --all --yes");
}

// ------------------------------------------------------------------------------------------------------
// Commands that read or change the store.

json entry_json(const tv::entry_info& e, std::string_view tier, tv::clock::time_point now) {
    json j{{"id", e.id.hash()},
           {"resource", e.id.resource()},
           {"account", e.id.account()},
           {"generation", e.generation},
           {"updated_at", time_text(e.updated_at)},
           {"has_refresh_token", e.has_refresh_token},
           {"scopes", e.scopes},
           {"issuer", e.issuer},
           {"tier", tier}};
    if (e.expires_at) {
        j["expires_at"] = time_text(*e.expires_at);
        j["expired"] = *e.expires_at <= now;
    } else {
        j["expires_at"] = nullptr;
        j["expired"] = false;
    }
    return j;
}

template <class Store>
int cmd_list(const config& c, Store& store) {
    auto entries = store.list();
    if (!entries) return fail(c, entries.error());
    std::sort(entries->begin(), entries->end(), [](const auto& a, const auto& b) {
        return a.id.resource() != b.id.resource() ? a.id.resource() < b.id.resource()
                                                  : a.id.account() < b.id.account();
    });
    const std::string tier(store.backend().tier());
    const auto now = tv::clock::now();
    if (c.json) {
        json list = json::array();
        for (const auto& e : *entries) list.push_back(entry_json(e, tier, now));
        print_json(json{{"ok", true},
                        {"store", store.backend().file_path().string()},
                        {"tier", tier},
                        {"count", entries->size()},
                        {"credentials", list}});
    } else if (entries->empty()) {
        std::cout << "no credentials in " << store.backend().file_path().string() << '\n';
    } else {
        std::vector<std::vector<std::string>> rows{
            {"ID", "RESOURCE", "ACCOUNT", "EXPIRES", "TIER", "GEN", "REFRESH"}};
        for (const auto& e : *entries) {
            const std::string expires =
                e.expires_at ? time_text(*e.expires_at) + " (" + relative_text(*e.expires_at, now) + ")"
                             : "unknown";
            rows.push_back({e.id.hash().substr(0, 12), e.id.resource(),
                            e.id.account().empty() ? "-" : e.id.account(), expires, tier.empty() ? "-" : tier,
                            std::to_string(e.generation), e.has_refresh_token ? "yes" : "no"});
        }
        print_table(rows);
    }
    if (const auto& bad = store.diagnostics().unreadable_entries(); !bad.empty() && !c.json)
        std::cerr << "tvctl: warning: " << bad.size() << " stored entr"
                  << (bad.size() == 1 ? "y is" : "ies are")
                  << " unreadable and not listed: run tvctl doctor\n";
    print_stats(c, store);
    return exit_ok;
}

/// Parses the id argument; the usage error says what a valid id looks like.
std::optional<tv::credential_id> parse_id(const config& c, int& code) {
    auto id = tv::credential_id::parse(c.id, c.account);
    if (!id) {
        code =
            fail(c, exit_usage, "'" + echo_safe(c.id) + "' is not a credential id: " + id.error().message(),
                 "give the server's resource URL, e.g. https://mcp.example.com/mcp (see tvctl list)");
        return std::nullopt;
    }
    return std::move(*id);
}

template <class Store>
int cmd_show(const config& c, Store& store) {
    int code = exit_ok;
    const auto id = parse_id(c, code);
    if (!id) return code;
    auto got = store.get_entry(*id);
    if (!got) return fail(c, got.error());
    if (!*got) return fail(c, exit_not_found, "no credential for " + id->resource(), "see tvctl list");
    const auto& e = **got;
    const auto& t = e.token;
    const std::string tier(store.backend().tier());
    const auto now = tv::clock::now();
    const auto secret = [](bool present) -> json { return present ? json("<redacted>") : json(nullptr); };
    if (c.json) {
        json j = entry_json(tv::summarize(e), tier, now);
        j["token_type"] = t.token_type;
        j["client_id"] = t.client_id;
        j["access_token"] = secret(true);
        j["refresh_token"] = secret(t.refresh_token.has_value());
        j["client_secret"] = secret(t.client_secret.has_value());
        j["id_token"] = secret(t.id_token.has_value());
        j["extra_fields"] = t.extra.is_object() ? t.extra.size() : 0;
        print_json(json{{"ok", true}, {"credential", j}});
    } else {
        const auto redacted = [](bool present) { return std::string(present ? "<redacted>" : "none"); };
        std::vector<std::vector<std::string>> rows{
            {"resource:", e.id.resource()},
            {"account:", e.id.account().empty() ? "(none)" : e.id.account()},
            {"id:", e.id.hash()},
            {"token type:", t.token_type},
            {"access token:", redacted(true)},
            {"refresh token:", redacted(t.refresh_token.has_value())},
            {"expires:", t.expires_at
                             ? time_text(*t.expires_at) + " (" + relative_text(*t.expires_at, now) + ")"
                             : "unknown (valid until the server says otherwise)"},
            {"scopes:", t.scopes.empty() ? "(none)" : join(t.scopes, " ")},
            {"issuer:", t.issuer.empty() ? "(unknown)" : t.issuer},
            {"client id:", t.client_id.empty() ? "(none)" : t.client_id},
            {"client secret:", redacted(t.client_secret.has_value())},
            {"id token:", redacted(t.id_token.has_value())},
            {"extra fields:", std::to_string(t.extra.is_object() ? t.extra.size() : 0)},
            {"generation:", std::to_string(e.generation)},
            {"updated:", time_text(e.updated_at)},
            {"key tier:", tier.empty() ? "-" : tier}};
        print_table(rows);
    }
    if (const auto& bad = store.diagnostics().unreadable_entries(); !bad.empty() && !c.json)
        std::cerr << "tvctl: warning: " << bad.size() << " stored entr"
                  << (bad.size() == 1 ? "y is" : "ies are")
                  << " unreadable and not listed: run tvctl doctor\n";
    print_stats(c, store);
    return exit_ok;
}

template <class Store>
tv::credential_manager<Store> manager_of(const config& c, Store& store) {
    tv::lifecycle_options lo;
    lo.lock_timeout = std::chrono::milliseconds(c.timeout_ms);
    return tv::credential_manager<Store>(store, lo);
}

template <class Store>
int cmd_remove(const config& c, Store& store) {
    int code = exit_ok;
    const auto id = parse_id(c, code);
    if (!id) return code;
    auto manager = manager_of(c, store);
    auto removed =
        manager.logout(*id);  // under the credential lock: a refresh in flight cannot bring it back
    if (!removed) return fail(c, removed.error());
    if (!*removed) return fail(c, exit_not_found, "no credential for " + id->resource(), "see tvctl list");
    if (c.json)
        print_json(json{{"ok", true},
                        {"removed", json::array({json{{"id", id->hash()}, {"resource", id->resource()}}})}});
    else
        std::cout << "removed " << id->resource() << (id->account().empty() ? "" : " (" + id->account() + ")")
                  << '\n';
    print_stats(c, store);
    return exit_ok;
}

/// Asks on the terminal; false (with the reason on stderr) when there is no terminal to ask on.
bool confirmed(const config& c, const std::string& question, int& code) {
    if (c.yes) return true;
    if (!tv::platform::stdin_is_terminal()) {
        code =
            fail(c, exit_usage, "refusing to " + question + " without confirmation: stdin is not a terminal",
                 "pass --yes to confirm non-interactively");
        return false;
    }
    std::cerr << "tvctl: " << question << "? Type 'yes' to confirm: " << std::flush;
    std::string answer;
    if (!std::getline(std::cin, answer) || answer != "yes") {
        code = fail(c, exit_usage, "not confirmed: nothing was removed");
        return false;
    }
    return true;
}

template <class Store>
int cmd_logout(const config& c, Store& store) {
    if (!c.all) return cmd_remove(c, store);
    auto entries = store.list();
    if (!entries) return fail(c, entries.error());
    int code = exit_ok;
    if (!entries->empty() && !confirmed(c,
                                        "log out of all " + std::to_string(entries->size()) +
                                            " credentials in " + store.backend().file_path().string(),
                                        code))
        return code;
    auto manager = manager_of(c, store);
    json removed = json::array();
    for (const auto& e : *entries) {
        auto done = manager.logout(e.id);
        if (!done) {
            if (!c.json) std::cout << "removed " << removed.size() << " of " << entries->size() << '\n';
            return fail(c, done.error());
        }
        if (*done) removed.push_back(json{{"id", e.id.hash()}, {"resource", e.id.resource()}});
    }
    if (c.json)
        print_json(json{{"ok", true}, {"removed", removed}});
    else
        std::cout << "logged out of " << removed.size() << " credential" << (removed.size() == 1 ? "" : "s")
                  << '\n';
    print_stats(c, store);
    return exit_ok;
}

// ------------------------------------------------------------------------------------------------------
// import: a store whose migration policy is the chosen importer; its first load imports and persists.

std::string g_codex_home;                                 // NOLINT: set once from the command line
std::string g_mcp_remote_dir;                             // NOLINT
std::vector<tv::migration::mcp_remote_server> g_servers;  // NOLINT

struct cli_codex_config : tv::migration::codex_config {
    [[nodiscard]] static fs::path home(const tv::store_options& o) {
        return g_codex_home.empty() ? tv::migration::codex_config::home(o) : fs::path(g_codex_home);
    }
};
struct cli_mcp_remote_config : tv::migration::mcp_remote_config {
    [[nodiscard]] static fs::path base_directory(const tv::store_options& o) {
        return g_mcp_remote_dir.empty() ? tv::migration::mcp_remote_config::base_directory(o)
                                        : fs::path(g_mcp_remote_dir);
    }
    [[nodiscard]] static std::vector<tv::migration::mcp_remote_server> servers(const tv::store_options&) {
        return g_servers;
    }
};

}  // namespace

#include "import_command.hpp"

namespace {

template <class Sel>
int cmd_import(const config& c) {
    namespace ic = import_command;
    const auto o = options_of(c);
    g_codex_home = c.codex_home;
    g_mcp_remote_dir = c.mcp_remote_dir;
    if (!c.codex_home.empty() && !fs::is_directory(c.codex_home))
        return fail(c, exit_usage, "no Codex home at " + echo_safe(c.codex_home), "check --codex-home");
    if (!c.mcp_remote_dir.empty() && !fs::is_directory(c.mcp_remote_dir))
        return fail(c, exit_usage, "no mcp-remote directory at " + echo_safe(c.mcp_remote_dir),
                    "check --mcp-remote-dir");
    g_servers.clear();
    for (const auto& url : c.servers) {
        auto id = tv::credential_id::parse(url);
        if (!id)
            return fail(c, exit_usage,
                        "--server '" + echo_safe(url) + "' is not a server URL: " + id.error().message());
        g_servers.push_back(tv::migration::mcp_remote_server{url, {}, c.account});
    }
    const bool all = c.all;
    const auto wants = [&](std::string_view source) { return all || c.source == source; };
    ic::g_discovered.clear();
    if (wants("mcp-remote"))
        for (const auto& config : tv::migration::default_mcp_client_configs())
            for (auto& launch : tv::migration::read_mcp_client_config(config).launches) {
                launch.server.account = c.account;
                ic::g_discovered.push_back(std::move(launch.server));
            }
    const std::size_t known_servers = g_servers.size() + ic::g_discovered.size();
    if (!all && c.source == "mcp-remote" && known_servers == 0)
        return fail(
            c, exit_usage,
            "import mcp-remote needs the servers to look for (mcp-remote hashes their URLs), and no MCP "
            "client configuration names one",
            "pass --server URL once per server, e.g. --server https://mcp.example.com/mcp");

    std::vector<ic::source_report> reports;
    if (wants("claude-code"))
        reports.push_back(ic::survey_file(ic::claude_source::source,
                                          tv::migration::claude_code_config::credentials_file(o)));
    if (wants("codex")) {
        reports.push_back(ic::survey_codex_file(o));
#if TVCTL_CODEX_KEYRING
        reports.push_back(ic::survey_codex_keyring(o));
#endif
    }
    if (wants("opencode"))
        reports.push_back(
            ic::survey_file(ic::opencode_source::source, tv::migration::opencode_config::auth_file(o)));
    if (wants("mcp-remote")) reports.push_back(ic::survey_mcp_remote(o, known_servers));

    const bool confirm = all;  // a named source is the user's explicit request; --all shows first
    if (all)
        return ic::import_sources<Sel, ic::claude_source, ic::codex_file_source,
#if TVCTL_CODEX_KEYRING
                                  ic::codex_keyring_source,
#endif
                                  ic::opencode_source, ic::mcp_remote_source>(c, std::move(reports), confirm);
    if (c.source == "claude-code")
        return ic::import_sources<Sel, ic::claude_source>(c, std::move(reports), confirm);
    if (c.source == "opencode")
        return ic::import_sources<Sel, ic::opencode_source>(c, std::move(reports), confirm);
    if (c.source == "mcp-remote")
        return ic::import_sources<Sel, ic::mcp_remote_source>(c, std::move(reports), confirm);
#if TVCTL_CODEX_KEYRING
    return ic::import_sources<Sel, ic::codex_file_source, ic::codex_keyring_source>(c, std::move(reports),
                                                                                    confirm);
#else
    return ic::import_sources<Sel, ic::codex_file_source>(c, std::move(reports), confirm);
#endif
}

// ------------------------------------------------------------------------------------------------------
// status and doctor: what is where, and what is wrong with it.

/// One finding of doctor.
struct finding {
    std::string check;
    std::string status;  ///< "ok", "warning", "problem"
    std::string detail;
    std::string fix;
};

/// Checks one path: kind, symlink, owner, access (POSIX: directories 0700, files 0600; Windows: an
/// owner-only DACL).
finding check_path(const std::string& name, const fs::path& p, bool directory, bool required) {
    auto inspected = tv::platform::inspect_path(p, directory);
    if (!inspected) return {name, "problem", inspected.error().message(), ""};
    const auto& r = *inspected;
    if (!r.exists)
        return required ? finding{name, "problem", p.string() + " does not exist", ""}
                        : finding{name, "ok", p.string() + " does not exist (yet)", ""};
    if (r.link)
        return {name, "problem", p.string() + " is a symbolic link: tokenvault refuses to follow it",
                "replace the link with the " + std::string(directory ? "directory" : "file") + " itself"};
    if (!r.expected_kind)
        return {name, "problem",
                p.string() + " is not a " + std::string(directory ? "directory" : "regular file"),
                "move it out of the way"};
    if (!r.owned_by_user)
        return {name, "problem", p.string() + " is owned by " + r.owner + ", not by you",
                take_ownership_fix(p)};
    if (!r.private_access)
        return {name, "problem", p.string() + " has access " + r.access + " (others may access it)",
                private_access_fix(p, directory)};
    return {name, "ok", p.string() + " (" + r.access + ")", ""};
}

/// "free", "held" (another process has it now) or "absent".
std::string lock_state(const fs::path& lock_file) {
    std::error_code ec;
    const auto status = fs::symlink_status(lock_file, ec);
    if (!fs::exists(status)) return "absent";
    if (!fs::is_regular_file(status)) return "not a regular file";
    auto taken = tv::platform::file_lock::acquire(lock_file, std::chrono::milliseconds(0));
    if (taken) return "free";
    return taken.error() == tv::errc::lock_timeout ? "held" : "unknown (" + taken.error().message() + ")";
}

/// Files of `directory` whose names start with `prefix`.
std::vector<fs::path> files_with_prefix(const fs::path& directory, const std::string& prefix) {
    std::vector<fs::path> out;
    std::error_code ec;
    for (fs::directory_iterator it(directory, ec), end; !ec && it != end; it.increment(ec)) {
        const auto name = it->path().filename().string();
        if (name.compare(0, prefix.size(), prefix) == 0) out.push_back(it->path());
    }
    std::sort(out.begin(), out.end());
    return out;
}

json header_json(const tv::backend::sealed_file_header& h) {
    return json{{"format_version", h.version},
                {"cipher", tv::cipher::describe_id(h.cipher_id)},
                {"key_id", hex_of(h.key_id)},
                {"tier", h.tier},
                {"seal_counter", h.seal_counter}};
}

json history_json(const tv::diagnostics::resolution_history& h) {
    json records = json::array();
    for (const auto& [hash, r] : h.credentials)
        records.push_back(json{{"id", hash},
                               {"store", r.store},
                               {"mode", tv::events::to_string(r.mode)},
                               {"backend", r.backend},
                               {"tier", r.tier},
                               {"reason", r.reason},
                               {"present", r.present},
                               {"drifts", r.drifts},
                               {"updated_at", time_text(r.updated_at)}});
    json drifts = json::array();
    for (const auto& d : h.drifts)
        drifts.push_back(json{{"at", time_text(d.at)},
                              {"id", d.credential},
                              {"previous", d.previous},
                              {"current", d.current},
                              {"reason", d.reason}});
    return json{{"records", records}, {"drift_history", drifts}};
}

template <class Sel>
int cmd_status(const config& c) {
    using K = typename Sel::keyring;
    const auto o = options_of(c);
    const auto p = presence_of(c);
    if (!p.directory_exists) return *require_store(c);
    json out{
        {"ok", true}, {"app", c.app}, {"directory", p.directory.string()}, {"keyring_selection", c.keyring}};
    std::vector<std::string> warnings;
    int code = exit_ok;

    // Paths and permissions.
    json paths = json::array();
    const fs::path lock_file = p.file.string() + ".lock";
    for (const auto& f :
         {check_path("directory", p.directory, true, true), check_path("store file", p.file, false, false),
          check_path("lock file", lock_file, false, false),
          check_path("keyring directory", o.keyring().directory, true, false)}) {
        paths.push_back(json{{"check", f.check}, {"status", f.status}, {"detail", f.detail}});
        if (f.status != "ok") warnings.push_back(f.detail + (f.fix.empty() ? "" : ": " + f.fix));
    }
    out["paths"] = paths;
    out["lock"] = json{{"file", lock_file.string()}, {"state", lock_state(lock_file)}};

    // The file header: which tier holds the key, and its id.
    std::string header_problem;
    const auto header = header_of(p.file, &header_problem);
    out["header"] = header ? header_json(*header) : json(nullptr);
    if (!header && p.file_exists) warnings.push_back("store header: " + header_problem);

    // Which tier resolves and why.
    json tiers = json::array();
    std::string resolves, why;
    for (const auto& tier : tiers_of<K>()) {
        const auto probe = probe_tier(tier, o);
        tiers.push_back(json{{"tier", tier}, {"available", probe.available}, {"detail", probe.detail}});
        if (resolves.empty() && probe.available) resolves = tier;
        if (resolves.empty() && why.empty()) why = tier + ": " + probe.detail;
    }
    if (header) {
        const auto names = tiers_of<K>();
        const bool included = std::find(names.begin(), names.end(), header->tier) != names.end();
        out["resolution"] =
            json{{"tier", header->tier},
                 {"mode", tv::diagnostics::resolves_automatically<K> ? "automatic" : "explicit"},
                 {"reason", included ? "the file header names the tier that holds the key"
                                     : "the file's key is in tier '" + header->tier + "', which --keyring " +
                                           c.keyring + " does not include"}};
        if (!included) {
            code = exit_key;
            std::cerr << "tvctl: error: " << p.file.string() << " is sealed by a key held in keyring tier '"
                      << header->tier << "', which --keyring " << c.keyring << " ("
                      << tv::keyring::chain_name<K>() << ") does not include\n";
        }
    } else {
        out["resolution"] = json{
            {"tier", resolves.empty() ? json(nullptr) : json(resolves)},
            {"mode", tv::diagnostics::resolves_automatically<K> ? "automatic" : "explicit"},
            {"reason", !tv::diagnostics::resolves_automatically<K> ? std::string("configured: one keyring")
                       : why.empty() ? std::string("preferred: the first tier is available")
                                     : why}};
    }
    out["keyring"] = json{{"chain", tv::keyring::chain_name<K>()}, {"tiers", tiers}};

    // The store itself: can it be opened, and how many credentials does it hold?
    if (p.file_exists && code == exit_ok) {
        if (auto stop = check_key_holder<Sel>(c)) {
            code = *stop;
        } else {
            tool_store<typename Sel::preset> store(o);
            auto entries = store.list();
            if (entries) {
                out["credentials"] = entries->size();
                out["key_cached"] = store.backend().status().key_cached;
            } else {
                out["credentials"] = nullptr;
                out["store_error"] = entries.error().message();
                std::cerr << "tvctl: error: " << entries.error().message() << '\n';
                code = code_of(entries.error());
            }
        }
    } else if (!p.file_exists) {
        out["credentials"] = 0;
    }

    // The resolution log: records and drift history.
    const auto log_path = tv::diagnostics::resolution_log_path(p.directory);
    auto log = tv::diagnostics::read_resolution_log(p.directory);
    if (!log) {
        out["resolution_log"] = json{{"file", log_path.string()}, {"error", log.error().message()}};
        warnings.push_back(
            "resolution log: " + log.error().message() +
            "; it is only diagnostics and is rebuilt by the next process that records a resolution "
            "(or remove it: rm " +
            log_path.string() + ")");
    } else if (!*log) {
        out["resolution_log"] = json{{"file", log_path.string()}, {"present", false}};
    } else {
        auto h = history_json(**log);
        h["file"] = log_path.string();
        h["present"] = true;
        out["resolution_log"] = h;
    }

    out["warnings"] = warnings;
    if (code == exit_ok && !warnings.empty()) code = exit_attention;
    if (code != exit_ok) out["ok"] = false;
    out["exit_code"] = code;
    for (const auto& w : warnings) std::cerr << "tvctl: warning: " << w << '\n';
    if (c.json) {
        print_json(out);
        return code;
    }
    std::cout << "app:         " << c.app << '\n' << "directory:   " << p.directory.string() << '\n';
    std::cout << "store file:  " << p.file.string() << (p.file_exists ? "" : " (absent)") << '\n';
    std::cout << "lock:        " << out["lock"]["state"].get<std::string>() << " (" << lock_file.string()
              << ")\n";
    std::cout << "keyring:     --keyring " << c.keyring << ": " << tv::keyring::chain_name<K>() << '\n';
    for (const auto& t : tiers)
        std::cout << "  tier " << t["tier"].get<std::string>() << ": "
                  << (t["available"].get<bool>() ? "available" : "unavailable") << " ("
                  << t["detail"].get<std::string>() << ")\n";
    const auto& r = out["resolution"];
    std::cout << "resolves to: "
              << (r["tier"].is_null() ? std::string("nothing") : r["tier"].get<std::string>()) << " ("
              << r["mode"].get<std::string>() << "; " << r["reason"].get<std::string>() << ")\n";
    if (header)
        std::cout << "header:      format " << header->version << ", "
                  << tv::cipher::describe_id(header->cipher_id) << ", key id " << hex_of(header->key_id)
                  << ", key in tier '" << header->tier << "', " << header->seal_counter << " seals\n";
    if (out.contains("credentials") && !out["credentials"].is_null())
        std::cout << "credentials: " << out["credentials"].get<std::size_t>() << '\n';
    for (const auto& f : paths)
        std::cout << "permissions: " << f["check"].get<std::string>() << ": "
                  << f["status"].get<std::string>() << " - " << f["detail"].get<std::string>() << '\n';
    const auto& rl = out["resolution_log"];
    if (rl.contains("error")) {
        std::cout << "resolutions: unreadable (" << rl["error"].get<std::string>() << ")\n";
    } else if (!rl["present"].get<bool>()) {
        std::cout << "resolutions: none recorded (" << log_path.string() << ")\n";
    } else {
        std::cout << "resolutions: " << rl["records"].size() << " credential(s) recorded, "
                  << rl["drift_history"].size() << " drift(s) in " << log_path.string() << '\n';
        for (const auto& d : rl["drift_history"])
            std::cout << "  drift " << d["at"].get<std::string>() << " "
                      << d["id"].get<std::string>().substr(0, 12) << ": " << d["previous"].get<std::string>()
                      << " -> " << d["current"].get<std::string>() << " (" << d["reason"].get<std::string>()
                      << ")\n";
    }
    return code;
}

template <class Sel>
int cmd_doctor(const config& c) {
    using K = typename Sel::keyring;
    const auto o = options_of(c);
    const auto p = presence_of(c);
    std::vector<finding> found;
    if (!p.directory_exists) return *require_store(c);

    found.push_back(check_path("store directory", p.directory, true, true));
    found.push_back(check_path("store file", p.file, false, false));
    const fs::path lock_file = p.file.string() + ".lock";
    found.push_back(check_path("lock file", lock_file, false, false));
    const auto state = lock_state(lock_file);
    found.push_back(state == "held"
                        ? finding{"store lock", "warning", "held by another process right now",
                                  "if it stays held, find the process: fuser " + lock_file.string()}
                        : finding{"store lock", "ok", state, ""});
    const auto keyring_dir = o.keyring().directory;
    found.push_back(check_path("key file directory", keyring_dir, true, false));
    found.push_back(check_path("key file", keyring_dir / "passphrase", false, false));

    const auto quarantined = files_with_prefix(p.directory, p.file.filename().string() + ".corrupt-");
    if (quarantined.empty()) {
        found.push_back({"quarantined files", "ok", "none", ""});
    } else {
        std::vector<std::string> names;
        for (const auto& q : quarantined) names.push_back(q.string());
        found.push_back({"quarantined files", "warning",
                         std::to_string(quarantined.size()) +
                             " damaged store file(s) were moved aside: " + join(names, ", "),
                         "the tokens in them are lost (log in again); delete them once you are sure: rm " +
                             quarantined.front().string()});
    }
    auto temps = files_with_prefix(p.directory, "." + p.file.filename().string() + ".tmp-");
    for (const auto& t : files_with_prefix(keyring_dir, "."))  // .passphrase.tmp-* holds the passphrase
        if (!tv::detail::temp_file_target(t.filename().string()).empty()) temps.push_back(t);
    if (!temps.empty())
        found.push_back({"temporary files", "warning",
                         std::to_string(temps.size()) + " left by a writer that died mid-write",
                         "nothing to do: the next write removes them"});
    auto handed = files_with_prefix(p.directory, "." + p.file.filename().string() + ".intent-");
    for (const auto& f : files_with_prefix(p.directory, "." + p.file.filename().string() + ".claimed-"))
        handed.push_back(f);
    if (!handed.empty())
        found.push_back({"handed-over changes", "ok",
                         std::to_string(handed.size()) +
                             " change(s) of writers that waited for the store lock (sealed; group commit)",
                         "nothing to do: writers remove them, and those of writers that died go 10 minutes "
                         "after their deadline"});

    std::string header_problem;
    const auto header = header_of(p.file, &header_problem);
    const auto names = tiers_of<K>();
    if (header) {
        const bool included = std::find(names.begin(), names.end(), header->tier) != names.end();
        found.push_back(included ? finding{"store header", "ok",
                                           "format " + std::to_string(header->version) + ", key in tier '" +
                                               header->tier + "', key id " + hex_of(header->key_id),
                                           ""}
                                 : finding{"store header", "problem",
                                           "the key is in keyring tier '" + header->tier +
                                               "', which --keyring " + c.keyring + " (" +
                                               tv::keyring::chain_name<K>() + ") does not include",
                                           fix_for_tier(header->tier)});
    } else if (p.file_exists) {
        found.push_back({"store header", "problem", header_problem,
                         "fix the file's permissions, or move it aside and log in again"});
    }

    for (std::size_t i = 0; i < names.size(); ++i) {
        const auto& tier = names[i];
        const auto probe = probe_tier(tier, o);
        if (header && probe.available && i + 1 < names.size() &&
            std::find(names.begin() + static_cast<std::ptrdiff_t>(i) + 1, names.end(), header->tier) !=
                names.end())
            found.push_back(
                {"key tier", "warning",
                 "the key is held by the fallback tier '" + header->tier + "' although the preferred tier '" +
                     tier + "' is available now",
                 "nothing breaks; to move the key, log out (tvctl logout --all) and log in again while '" +
                     tier + "' is available"});
        const bool needed = header && header->tier == tier;
        found.push_back({"keyring tier " + tier, probe.available ? "ok" : (needed ? "problem" : "warning"),
                         probe.detail,
                         probe.available ? ""
                         : tier == "secret_service"
                             ? "start or unlock the desktop keyring (gnome-keyring, KWallet) in this session"
                         : tier == "wincred" ? "run tvctl in an interactive logon session of the user"
                                             : "check the key file directory"});
    }

    const bool reachable = !header || std::find(names.begin(), names.end(), header->tier) != names.end();
    if (p.file_exists && reachable) {
        if (auto stop = check_key_holder<Sel>(c)) {
            found.push_back({"open store", "problem", "the key file of this store is missing",
                             "restore the keyring directory, or start over: tvctl logout --all --yes"});
        } else {
            tool_store<typename Sel::preset> store(o);
            auto entries = store.list();
            if (entries) {
                found.push_back(
                    {"open store", "ok", std::to_string(entries->size()) + " credential(s); key found", ""});
                for (const auto& u : store.diagnostics().unreadable_entries())
                    found.push_back(
                        {"entry " + u.key.substr(0, 12), "problem",
                         "unreadable, kept unchanged and not used: " + u.reason,
                         "log in to that server again (the new login replaces the entry; tvctl logout "
                         "removes "
                         "it); if a newer tokenvault wrote it, use that version. The other credentials are "
                         "not affected"});
            } else
                found.push_back({"open store", "problem", entries.error().message(),
                                 entries.error() == tv::errc::damaged_key
                                     ? "restore the damaged key (named in the message) from a backup, or the "
                                       "store file it opens; logging in again does not help"
                                 : key_problem(entries.error())
                                     ? "make the keyring that holds the key available (see "
                                       "the keyring tiers above)"
                                     : "see the message: it says what to do"});
        }
    }

    const auto log_path = tv::diagnostics::resolution_log_path(p.directory);
    auto log = tv::diagnostics::read_resolution_log(p.directory);
    if (!log) {
        found.push_back(
            {"resolution log", "problem", log.error().message(),
             "harmless to tokens; it is rebuilt by the next process that records a resolution, or remove "
             "it: rm " +
                 log_path.string()});
    } else if (!*log || (*log)->drifts.empty()) {
        found.push_back({"resolution log", "ok", *log ? "no drift recorded" : "none yet", ""});
    } else {
        const auto& last = (*log)->drifts.back();
        found.push_back(
            {"resolution log", "warning",
             std::to_string((*log)->drifts.size()) +
                 " drift(s): automatic keyring resolution changed "
                 "between processes (last: " +
                 last.previous + " -> " + last.current + ", " + last.reason + ")",
             "make the preferred keyring available to every process that uses the store (e.g. the same "
             "desktop session), or configure one keyring explicitly"});
    }

    std::size_t problems = 0, warnings = 0;
    json checks = json::array();
    for (const auto& f : found) {
        problems += f.status == "problem";
        warnings += f.status == "warning";
        json j{{"check", f.check}, {"status", f.status}, {"detail", f.detail}};
        if (!f.fix.empty()) j["fix"] = f.fix;
        checks.push_back(j);
        if (f.status == "problem") std::cerr << "tvctl: problem: " << f.check << ": " << f.detail << '\n';
    }
    const int code = problems > 0 ? exit_attention : exit_ok;
    if (c.json) {
        print_json(json{{"ok", problems == 0},
                        {"directory", p.directory.string()},
                        {"problems", problems},
                        {"warnings", warnings},
                        {"checks", checks},
                        {"exit_code", code}});
        return code;
    }
    for (const auto& f : found) {
        const char* mark = f.status == "ok" ? "ok     " : f.status == "warning" ? "WARN   " : "PROBLEM";
        std::cout << mark << "  " << f.check << ": " << f.detail << '\n';
        if (!f.fix.empty()) std::cout << "         fix: " << f.fix << '\n';
    }
    std::cout << problems << " problem(s), " << warnings << " warning(s)\n";
    return code;
}

#if TVCTL_LOGIN
// ------------------------------------------------------------------------------------------------------
// login

/// Runs `program url` (no shell) and waits for it; false when it cannot run or fails.
bool run_browser_command(const std::string& program, std::string_view url) {
    std::string name = program, argument(url);
    char* argv[] = {name.data(), argument.data(), nullptr};
    pid_t child = 0;
    if (::posix_spawnp(&child, name.c_str(), nullptr, nullptr, argv, environ) != 0) return false;
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

template <class Store>
int cmd_login(const config& c, Store& store) {
    int code = exit_ok;
    const auto id = parse_id(c, code);
    if (!id) return code;
    tv::oauth::provider_options options;
    options.resource = id->resource();
    options.scopes = c.scopes;
    options.redirect_port = static_cast<std::uint16_t>(c.port);
    options.login_timeout = std::chrono::seconds(c.login_timeout_s);
    options.client_name = "tvctl (" + c.app + ")";
    if (!c.client_id.empty()) {
        tv::oauth::client_registration client;
        client.client_id = c.client_id;
        if (!c.client_secret_env.empty()) {
            const char* secret = std::getenv(c.client_secret_env.c_str());
            if (secret == nullptr || *secret == '\0')
                return fail(c, exit_usage,
                            "--client-secret-env: $" + echo_safe(c.client_secret_env) + " is not set",
                            "export the client secret in that variable (it never goes on the command line)");
            client.client_secret = tv::secret_string{secret};
            client.auth = c.client_auth == "post" ? tv::oauth::client_auth::client_secret_post
                                                  : tv::oauth::client_auth::client_secret_basic;
        }
        options.client = std::move(client);
    }
    options.open_browser = [&c](std::string_view url) -> tv::result<void> {
        // The URL holds no secret (PKCE sends only the challenge): show it, so the user can open it anywhere.
        std::cerr << "tvctl: log in at this URL (it opens in your browser):\n  " << url << '\n';
        if (!c.browser_command.empty()) {
            if (!run_browser_command(c.browser_command, url))
                std::cerr << "tvctl: --browser-command failed: open the URL above yourself\n";
        } else if (!c.no_browser) {
            if (!tv::oauth::open_in_browser(url))
                std::cerr << "tvctl: no browser opened: open the URL above yourself\n";
        }
        std::cerr << "tvctl: waiting for the login to finish...\n";
        return {};
    };
    tv::oauth::curl_transport http;
    auto provider = tv::oauth::make_provider(http, store, *id, std::move(options));
    auto manager = manager_of(c, store);
    auto token = manager.login(*id, provider);
    if (!token) return fail(c, token.error());
    if (c.json) {
        json out{{"ok", true},
                 {"id", id->hash()},
                 {"resource", id->resource()},
                 {"issuer", token->issuer},
                 {"scopes", token->scopes},
                 {"has_refresh_token", token->refresh_token.has_value()}};
        if (token->expires_at) out["expires_at"] = time_text(*token->expires_at);
        print_json(out);
    } else {
        std::cout << "logged in to " << id->resource() << " (issuer " << token->issuer << ")\n";
    }
    print_stats(c, store);
    return exit_ok;
}
#endif

// ------------------------------------------------------------------------------------------------------
// Dispatch

enum class command { list, show, remove, logout, status, doctor, import, login };

template <class Sel>
int run(const config& c, command cmd) {
    switch (cmd) {
    case command::status: return cmd_status<Sel>(c);
    case command::doctor: return cmd_doctor<Sel>(c);
    case command::import: return cmd_import<Sel>(c);
    default: break;
    }
#if TVCTL_LOGIN
    if (cmd == command::login) {  // the one command that may create the store
        tool_store<typename Sel::preset> store(options_of(c));
        return cmd_login(c, store);
    }
#endif
    if (auto stop = require_store(c)) return *stop;
    if (auto stop = check_key_holder<Sel>(c)) return *stop;
    tool_store<typename Sel::preset> store(options_of(c));
    switch (cmd) {
    case command::list: return cmd_list(c, store);
    case command::show: return cmd_show(c, store);
    case command::remove: return cmd_remove(c, store);
    case command::logout: return cmd_logout(c, store);
    default: return exit_usage;
    }
}

using embedded_selection = selection<tv::presets::embedded>;
static_assert(
    std::is_same_v<tool_store<tv::presets::embedded>::backend_type, tv::presets::embedded::backend_type>);
#if TVCTL_DESKTOP
using desktop_selection = selection<tv::presets::desktop>;
#endif

int dispatch(config& c, command cmd) {
    if (c.keyring == "auto") {
        const auto header = header_of(presence_of(c).file);
        c.keyring = header && desktop_tier(header->tier) ? "desktop" : "embedded";
    }
    if (c.keyring == "desktop") {
#if TVCTL_DESKTOP
        return run<desktop_selection>(c, cmd);
#else
        return fail(c, exit_usage,
                    "--keyring desktop: this tvctl was built without Secret Service support (libsecret)",
                    "use --keyring embedded, or rebuild with -Dsecret_service=enabled");
#endif
    }
    return run<embedded_selection>(c, cmd);
}

int main_checked(int argc, char** argv) {
    config c;
    CLI::App app{"tvctl: inspect and manage a tokenvault token store (never prints a secret)", "tvctl"};
    app.footer(
        std::string("\nEvery command takes --help and --json. Options of tvctl itself (--dir, --app, --file, "
                    "--keyring, --timeout, --stats) may also follow the command.\n\n") +
        exit_code_help + "\n");
    app.require_subcommand(1);
    app.fallthrough();
    app.add_option("--dir", c.dir, std::string("Store directory (default: ") + default_directory_text + ")");
    app.add_option("--app", c.app, "Application name: names the default directory and the keyring service")
        ->capture_default_str();
    app.add_option("--file", c.file, "Store file name inside the directory")->capture_default_str();
    app.add_option(
           "--keyring", c.keyring,
           "Key holder: embedded (key file, presets::embedded), desktop (the OS keyring, then its key file; "
           "presets::desktop), or auto (the one the store's file header names)")
        ->check(CLI::IsMember({"embedded", "desktop", "auto"}))
        ->envname("TVCTL_KEYRING")
        ->capture_default_str();
    app.add_option("--timeout", c.timeout_ms, "Bound in milliseconds on every lock wait and keyring call")
        ->check(CLI::Range(1, 600000))
        ->capture_default_str();
    app.add_flag("--stats", c.stats, "Print keyring and file access counts on stderr");
    app.add_flag("--json", c.json, "Print one JSON document on stdout (errors included)");

    command cmd = command::list;
    const auto add = [&](const char* name, const char* help, command which) {
        auto* sub = app.add_subcommand(name, help);
        sub->add_flag("--json", c.json, "Print one JSON document on stdout (errors included)");
        sub->footer(
            "\nGlobal options (--dir, --app, --file, --keyring, --timeout, --stats) may follow the command; "
            "see tvctl --help for them and for the exit codes.\n");
        sub->callback([&cmd, which] { cmd = which; });
        return sub;
    };
    add("list", "List stored credentials: ids, expiry, key tier, generation (never a secret)", command::list);
    auto* show = add("show", "Show one credential with its secrets redacted", command::show);
    show->add_option("id", c.id, "The server's resource URL, e.g. https://mcp.example.com/mcp")->required();
    show->add_option("--account", c.account, "The account (profile) of the credential, if it has one");
    auto* remove = add("remove", "Remove one credential (under its credential lock)", command::remove);
    remove->add_option("id", c.id, "The server's resource URL")->required();
    remove->add_option("--account", c.account, "The account (profile) of the credential, if it has one");
    auto* logout = add("logout", "Log out of one credential, or of all of them with --all", command::logout);
    logout->add_option("id", c.id, "The server's resource URL (or use --all)");
    logout->add_option("--account", c.account, "The account (profile) of the credential, if it has one");
    auto* all = logout->add_flag("--all", c.all, "Log out of every credential in the store");
    logout->add_flag("--yes,-y", c.yes, "Do not ask for confirmation (needed without a terminal)");
    all->excludes(logout->get_option("id"));
    add("status",
        "Show which keyring tier resolves and why, paths, permissions, file header, lock, drift history",
        command::status);
    add("doctor",
        "Check permissions, symlinks, quarantined files, keyring health; say how to fix each problem",
        command::doctor);
    auto* import = add(
        "import", "Import MCP logins from other clients: claude-code, codex, opencode, mcp-remote, or --all",
        command::import);
    auto* import_source =
        import
            ->add_option(
                "source", c.source,
                "claude-code (~/.claude/.credentials.json), codex ($CODEX_HOME/.credentials.json and the "
                "OS keyring), opencode (~/.local/share/opencode/mcp-auth.json) or mcp-remote (~/.mcp-auth)")
            ->check(CLI::IsMember({"claude-code", "codex", "opencode", "mcp-remote"}));
    auto* import_all = import->add_flag(
        "--all", c.all, "Every source on this machine: show what would be imported, import with --yes");
    import_all->excludes(import_source);
    import->add_flag("--yes,-y", c.yes, "With --all: import without asking (needed without a terminal)");
    import->add_option("--codex-home", c.codex_home,
                       "Codex home directory (default: $CODEX_HOME, else ~/.codex)");
    import->add_option("--mcp-remote-dir", c.mcp_remote_dir,
                       "mcp-remote directory (default: $MCP_REMOTE_CONFIG_DIR, else ~/.mcp-auth)");
    import->add_option("--server", c.servers,
                       "A server URL to import from mcp-remote (repeat for each; those in MCP client "
                       "configurations are found without it)");
    import->add_option("--account", c.account,
                       "The account (profile) to file imported mcp-remote logins under");
#if TVCTL_LOGIN
    auto* login =
        add("login", "Log in to an OAuth-protected (MCP) server and store the token", command::login);
    login->add_option("id", c.id, "The server's resource URL, e.g. https://mcp.example.com/mcp")->required();
    login->add_option("--account", c.account, "The account (profile) to file the credential under");
    login->add_option("--scope", c.scopes, "A scope to ask for (repeat; default: what the server names)");
    login->add_option("--client-id", c.client_id, "A pre-registered client (default: dynamic registration)");
    login->add_option("--client-secret-env", c.client_secret_env,
                      "The environment variable holding the pre-registered client's secret");
    login->add_option("--client-auth", c.client_auth, "How to present the secret: basic or post")
        ->check(CLI::IsMember({"basic", "post"}))
        ->capture_default_str();
    login->add_option("--port", c.port, "Port of the loopback redirect on 127.0.0.1 (default: any free one)")
        ->check(CLI::Range(0, 65535));
    login->add_option("--login-timeout", c.login_timeout_s, "Seconds to wait for the login in the browser")
        ->check(CLI::Range(1, 3600))
        ->capture_default_str();
    login->add_flag("--no-browser", c.no_browser, "Only print the login URL");
    login->add_option("--browser-command", c.browser_command,
                      "A program to open the login URL with (gets it as its argument)");
#endif

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
        std::cout << app.help();
        return exit_ok;
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e);
        // Which (sub)command was being parsed, for a precise message.
        std::string message = echo_safe(e.what());
        if (app.get_subcommands().empty() && argc > 1 && argv[1][0] != '-')
            message = "unknown command '" + echo_safe(argv[1]) + "'";
        return fail(c, exit_usage, message,
                    "run tvctl --help (commands: list, show, remove, logout, status, doctor, import, login)");
    }
    if (cmd == command::import && !c.all && c.source.empty())
        return fail(c, exit_usage, "import needs a source or --all", "run tvctl import --help");
    if (cmd == command::logout && !c.all && c.id.empty())
        return fail(c, exit_usage, "logout needs a credential id or --all", "run tvctl logout --help");
    return dispatch(c, cmd);
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return main_checked(argc, argv);
    } catch (const tv::bad_result_access& e) {
        std::cerr << "tvctl: error: " << e.what() << '\n';  // tokenvault messages carry no secret
        return exit_failure;
    } catch (...) {
        // Other exception texts might quote input (a file's bytes): never print them.
        std::cerr << "tvctl: internal error (no details printed, as they could quote stored data); "
                     "please report it with the command you ran\n";
        return exit_failure;
    }
}
