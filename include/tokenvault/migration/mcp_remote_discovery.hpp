// tokenvault/migration/mcp_remote_discovery.hpp: finds the servers mcp-remote was launched for, in the MCP
// client configurations that launch it, so from_mcp_remote can name its files (an MD5 of the URL and of the
// options that change it) without the user typing every URL.
//
// Read (each only if present, never changed): Claude Desktop's claude_desktop_config.json and Cursor's
// ~/.cursor/mcp.json ("mcpServers"), VS Code's user mcp.json ("servers") and settings.json ("mcp" ->
// "servers"), Claude Code's ~/.claude.json ("mcpServers", and per project), Codex's config.toml
// ([mcp_servers.NAME] command/args/env). A server is an mcp-remote launch when its command is mcp-remote,
// or npx/bunx/pnpm/yarn/node with an argument naming the mcp-remote package or its proxy.js; the arguments
// after it are mcp-remote's. mcp_remote_hash_parts() follows mcp-remote 0.15.1's getServerUrlHash. The
// files are attacker-controlled: size-bounded, depth-capped (see detail/import_support.hpp and
// detail/toml_lite.hpp), nothing recurses on their nesting. See docs/MIGRATION.md.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "../detail/import_support.hpp"
#include "../detail/migration_support.hpp"
#include "../detail/toml_lite.hpp"
#include "mcp_remote.hpp"

namespace tokenvault::migration {

/// An MCP client configuration file that may launch mcp-remote.
struct mcp_client_config {
    std::string client;          ///< "claude_desktop", "cursor", "vscode", "claude_code", "codex"
    std::filesystem::path path;  ///< where it is read
    enum class format : std::uint8_t {
        json_mcp_servers,
        json_servers,
        json_vscode_settings,
        json_claude_code,
        toml_codex
    };
    format kind = format::json_mcp_servers;
};

/// One mcp-remote launch found in a configuration.
struct mcp_remote_launch {
    std::string client;            ///< which client's configuration
    std::filesystem::path config;  ///< the file it was found in
    std::string name;              ///< the server's name there (a label)
    mcp_remote_server server;      ///< URL and hash parts, for from_mcp_remote
};

/// What reading one configuration gave.
struct mcp_client_config_result {
    mcp_client_config config;
    bool present = false;     ///< the file exists
    std::error_code failure;  ///< why it could not be read (unsafe, too large, not JSON/TOML)
    std::vector<mcp_remote_launch> launches;
};

/// The configurations read by default, for the current user (Linux and macOS locations; $APPDATA on
/// Windows); $CODEX_HOME is honoured for Codex.
template <class = void>
[[nodiscard]] inline std::vector<mcp_client_config> default_mcp_client_configs() {
    namespace fs = std::filesystem;
    using kind = mcp_client_config::format;
    std::vector<mcp_client_config> out;
    const char* home_env = std::getenv("HOME");
    const fs::path home = home_env != nullptr && *home_env != '\0' ? fs::path(home_env) : fs::path();
    const char* xdg = std::getenv("XDG_CONFIG_HOME");
    const fs::path config_home = xdg != nullptr && *xdg != '\0' ? fs::path(xdg)
                                 : home.empty()                 ? fs::path()
                                                                : home / ".config";
    if (!config_home.empty()) {
        out.push_back({"claude_desktop", config_home / "Claude" / "claude_desktop_config.json",
                       kind::json_mcp_servers});
        out.push_back({"vscode", config_home / "Code" / "User" / "mcp.json", kind::json_servers});
        out.push_back(
            {"vscode", config_home / "Code" / "User" / "settings.json", kind::json_vscode_settings});
    }
    if (!home.empty()) {
        out.push_back({"claude_desktop",
                       home / "Library" / "Application Support" / "Claude" / "claude_desktop_config.json",
                       kind::json_mcp_servers});
        out.push_back({"vscode", home / "Library" / "Application Support" / "Code" / "User" / "mcp.json",
                       kind::json_servers});
        out.push_back({"cursor", home / ".cursor" / "mcp.json", kind::json_mcp_servers});
        out.push_back({"claude_code", home / ".claude.json", kind::json_claude_code});
    }
    if (const char* appdata = std::getenv("APPDATA"); appdata != nullptr && *appdata != '\0')
        out.push_back({"claude_desktop", fs::path(appdata) / "Claude" / "claude_desktop_config.json",
                       kind::json_mcp_servers});
    if (const char* codex = std::getenv("CODEX_HOME"); codex != nullptr && *codex != '\0')
        out.push_back({"codex", fs::path(codex) / "config.toml", kind::toml_codex});
    else if (!home.empty())
        out.push_back({"codex", home / ".codex" / "config.toml", kind::toml_codex});
    return out;
}

/// mcp-remote's server URL and hash parts for its command-line arguments (mcp-remote 0.15.1,
/// getServerUrlHash: the URL, then --resource, --authorize-param pairs as JSON with sorted keys, --header
/// pairs as JSON with sorted keys, --client-metadata-url, --token-endpoint with --client-credentials; each
/// only when given). nullopt when there is no URL, or when --header-file makes the hash depend on a file.
[[nodiscard]] inline std::optional<mcp_remote_server> mcp_remote_server_of(std::vector<std::string> args) {
    nlohmann::json headers = nlohmann::json::object();
    for (std::size_t i = 0; i < args.size();) {
        if (args[i] == "--header" && i + 1 < args.size()) {
            const std::string& line = args[i + 1];
            const auto colon = line.find(':');
            const bool valid_name =
                colon != std::string::npos && colon > 0 &&
                std::all_of(line.begin(), line.begin() + static_cast<std::ptrdiff_t>(colon), [](char c) {
                    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                           c == '_' || c == '-';
                });
            if (valid_name) {
                auto value = line.substr(colon + 1);
                value.erase(0, value.find_first_not_of(" \t\n\r\f\v"));
                headers[line.substr(0, colon)] = value;
            }
            args.erase(args.begin() + static_cast<std::ptrdiff_t>(i),
                       args.begin() + static_cast<std::ptrdiff_t>(i) + 2);
            continue;
        }
        if (args[i] == "--header-file" && i + 1 < args.size()) return std::nullopt;
        ++i;
    }
    if (args.empty() || args[0].empty() || args[0].starts_with("--")) return std::nullopt;
    const auto has = [&](std::string_view flag) {
        return std::find(args.begin(), args.end(), flag) != args.end();
    };
    const auto value_of = [&](std::string_view flag) -> std::optional<std::string> {
        const auto found = std::find(args.begin(), args.end(), flag);
        if (found == args.end() || found + 1 == args.end()) return std::nullopt;
        std::string v = *(found + 1);
        v.erase(0, v.find_first_not_of(" \t\n\r\f\v"));
        v.erase(v.find_last_not_of(" \t\n\r\f\v") + 1);
        return v;
    };
    mcp_remote_server server;
    server.url = args[0];
    if (auto resource = value_of("--resource");
        resource && !resource->empty() && !has("--disable-resource-parameter"))
        server.hash_parts.push_back(*resource);
    nlohmann::json params = nlohmann::json::object();
    for (std::size_t i = 0; i + 1 < args.size(); ++i) {
        if (args[i] != "--authorize-param") continue;
        const auto eq = args[i + 1].find('=');
        if (eq == std::string::npos || eq == 0) return std::nullopt;  // mcp-remote refuses to start
        auto key = args[i + 1].substr(0, eq);
        key.erase(0, key.find_first_not_of(" \t\n\r\f\v"));
        key.erase(key.find_last_not_of(" \t\n\r\f\v") + 1);
        params[key] = args[i + 1].substr(eq + 1);
    }
    // nlohmann::json objects keep their keys sorted: the JSON.stringify(value, sortedKeys) of mcp-remote.
    if (!params.empty()) server.hash_parts.push_back(params.dump());
    if (!headers.empty()) server.hash_parts.push_back(headers.dump());
    if (auto metadata = value_of("--client-metadata-url"); metadata && !metadata->empty())
        server.hash_parts.push_back(*metadata);
    if (auto endpoint = value_of("--token-endpoint"); endpoint && has("--client-credentials")) {
        // new URL(value).toString(): an origin without a path gains "/".
        if (const auto scheme = endpoint->find("://");
            scheme != std::string::npos && endpoint->find('/', scheme + 3) == std::string::npos)
            *endpoint += "/";
        server.hash_parts.push_back(*endpoint);
    }
    return server;
}

namespace detail_discovery {

/// Whether `word` names the mcp-remote package (mcp-remote, mcp-remote@1.2.3) or its proxy script.
[[nodiscard]] inline bool names_mcp_remote(std::string_view word) {
    if (word == "mcp-remote" || word.starts_with("mcp-remote@")) return true;
    for (const std::string_view tail :
         {"/mcp-remote/dist/proxy.js", "\\mcp-remote\\dist\\proxy.js", "/bin/mcp-remote"})
        if (word.ends_with(tail)) return true;
    return false;
}

/// The file name of a command ("/usr/bin/npx" -> "npx", "npx.cmd" -> "npx").
[[nodiscard]] inline std::string command_name(std::string_view command) {
    const auto slash = command.find_last_of("/\\");
    std::string name(slash == std::string_view::npos ? command : command.substr(slash + 1));
    for (const std::string_view suffix : {".cmd", ".exe", ".bat"})
        if (name.size() > suffix.size() && name.ends_with(suffix)) name.resize(name.size() - suffix.size());
    return name;
}

/// The arguments mcp-remote receives, when `command args...` launches it.
[[nodiscard]] inline std::optional<std::vector<std::string>> mcp_remote_arguments(
    const std::string& command, const std::vector<std::string>& args) {
    const auto name = command_name(command);
    if (names_mcp_remote(name) || names_mcp_remote(command)) return args;
    static constexpr std::string_view launchers[] = {"npx",  "bunx", "pnpm", "pnpx",
                                                     "yarn", "node", "bun",  "deno"};
    if (std::find(std::begin(launchers), std::end(launchers), name) == std::end(launchers))
        return std::nullopt;
    for (std::size_t i = 0; i < args.size(); ++i)
        if (names_mcp_remote(args[i]))
            return std::vector<std::string>(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
    return std::nullopt;
}

/// `text` with ${NAME} replaced from `env` (as the clients expand their configurations); unknown names stay.
[[nodiscard]] inline std::string expand(const std::string& text,
                                        const std::map<std::string, std::string>& env) {
    std::string out;
    for (std::size_t i = 0; i < text.size();) {
        if (text.compare(i, 2, "${") == 0) {
            const auto close = text.find('}', i + 2);
            if (close != std::string::npos) {
                const auto found = env.find(text.substr(i + 2, close - i - 2));
                if (found != env.end()) {
                    out += found->second;
                    i = close + 1;
                    continue;
                }
            }
        }
        out.push_back(text[i++]);
    }
    return out;
}

/// Adds the launch of server `name` (command, args, env) to `out` when it runs mcp-remote: once with the
/// arguments as written and once with ${VAR} expanded from its env, when that differs.
inline void add_launch(const mcp_client_config& config, const std::string& name, const std::string& command,
                       const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
                       std::vector<mcp_remote_launch>& out) {
    const auto remote_args = mcp_remote_arguments(command, args);
    if (!remote_args) return;
    std::vector<std::string> expanded;
    for (const auto& a : *remote_args) expanded.push_back(expand(a, env));
    const std::vector<std::string>* variants[] = {&*remote_args, &expanded};
    for (const auto* variant : variants) {
        auto server = mcp_remote_server_of(*variant);
        if (!server) continue;
        const bool seen = std::any_of(out.begin(), out.end(), [&](const mcp_remote_launch& l) {
            return l.config == config.path && l.name == name && l.server.url == server->url &&
                   l.server.hash_parts == server->hash_parts;
        });
        if (!seen) out.push_back(mcp_remote_launch{config.client, config.path, name, std::move(*server)});
    }
}

/// The strings of a JSON array (other elements skipped).
[[nodiscard]] inline std::vector<std::string> strings_of(const nlohmann::json& array) {
    std::vector<std::string> out;
    if (!array.is_array()) return out;
    for (const auto& item : array)
        if (item.is_string()) out.push_back(item.get<std::string>());
    return out;
}

/// Adds the mcp-remote launches of a JSON object of servers ({"name": {command, args, env}}).
inline void add_json_servers(const mcp_client_config& config, const nlohmann::json& servers,
                             std::vector<mcp_remote_launch>& out) {
    if (!servers.is_object()) return;
    for (auto it = servers.begin(); it != servers.end(); ++it) {
        const auto& entry = it.value();
        if (!entry.is_object()) continue;
        const auto command = tokenvault::detail::string_member(entry, "command");
        if (command.empty()) continue;
        std::map<std::string, std::string> env;
        if (const auto e = entry.find("env"); e != entry.end() && e->is_object())
            for (auto v = e->begin(); v != e->end(); ++v)
                if (v.value().is_string()) env[v.key()] = v.value().get<std::string>();
        const auto args = entry.find("args");
        add_launch(config, it.key(), command,
                   args != entry.end() ? strings_of(*args) : std::vector<std::string>{}, env, out);
    }
}

}  // namespace detail_discovery

/// The mcp-remote launches in the text of one configuration (`config` says its client and format); the
/// failure when it is not JSON or too deep (TOML is read leniently: lines it cannot read are skipped).
template <class = void>
[[nodiscard]] inline std::pair<std::vector<mcp_remote_launch>, std::error_code> parse_mcp_client_config(
    std::string_view text, const mcp_client_config& config) {
    std::vector<mcp_remote_launch> launches;
    using kind = mcp_client_config::format;
    if (config.kind == kind::toml_codex) {
        std::map<std::string, std::string> command;
        std::map<std::string, std::vector<std::string>> args;
        std::map<std::string, std::map<std::string, std::string>> env;
        using value_kind = tokenvault::detail::toml_value::kind;
        for (const auto& v : tokenvault::detail::toml_lite::read(text)) {
            if (v.path.size() < 3 || v.path[0] != "mcp_servers") continue;
            const auto& name = v.path[1];
            if (v.path.size() == 3 && v.path[2] == "command" && v.type == value_kind::string)
                command[name] = v.text;
            else if (v.path.size() == 3 && v.path[2] == "args" && v.type == value_kind::string_array)
                args[name] = v.items;
            else if (v.path.size() == 3 && v.path[2] == "env" && v.type == value_kind::string_table)
                for (const auto& [k, value] : v.members) env[name][k] = value;
            else if (v.path.size() == 4 && v.path[2] == "env" && v.type == value_kind::string)
                env[name][v.path[3]] = v.text;
        }
        for (const auto& [name, cmd] : command)
            detail_discovery::add_launch(config, name, cmd, args[name], env[name], launches);
        return {std::move(launches), {}};
    }
    const bool jsonc = config.kind == kind::json_servers || config.kind == kind::json_vscode_settings;
    if (!tokenvault::detail::json_depth_within(text, tokenvault::detail::max_foreign_json_depth))
        return {std::move(launches), make_error_code(errc::too_large)};
    const nlohmann::json doc = nlohmann::json::parse(text, nullptr, false, jsonc);
    if (doc.is_discarded() || !doc.is_object())
        return {std::move(launches),
                make_error_code(doc.is_discarded() ? errc::malformed_json : errc::wrong_type)};
    const auto member = [](const nlohmann::json& object, const char* name) -> const nlohmann::json* {
        if (!object.is_object()) return nullptr;
        const auto found = object.find(name);
        return found != object.end() ? &*found : nullptr;
    };
    const auto add = [&](const nlohmann::json* servers) {
        if (servers != nullptr) detail_discovery::add_json_servers(config, *servers, launches);
    };
    switch (config.kind) {
    case kind::json_mcp_servers: add(member(doc, "mcpServers")); break;
    case kind::json_servers: add(member(doc, "servers")); break;
    case kind::json_vscode_settings:
        if (const auto* mcp = member(doc, "mcp")) add(member(*mcp, "servers"));
        break;
    case kind::json_claude_code:
        add(member(doc, "mcpServers"));
        if (const auto* projects = member(doc, "projects"); projects != nullptr && projects->is_object())
            for (const auto& project : *projects) add(member(project, "mcpServers"));
        break;
    case kind::toml_codex: break;
    }
    return {std::move(launches), {}};
}

/// Reads one configuration: the mcp-remote launches in it (read only, bounded; see the top of this header).
template <class = void>
[[nodiscard]] inline mcp_client_config_result read_mcp_client_config(const mcp_client_config& config) {
    static constexpr std::size_t max_file_size = std::size_t{16} << 20;
    mcp_client_config_result out{config, false, {}, {}};
    auto file = tokenvault::detail::read_foreign_file(config.path, max_file_size);
    if (!file) {
        out.present = true;
        out.failure = file.code();
        return out;
    }
    if (!*file) return out;
    out.present = true;
    auto [launches, failure] = parse_mcp_client_config((*file)->bytes.view(), config);
    out.launches = std::move(launches);
    out.failure = failure;
    return out;
}

/// Configuration of from_mcp_remote that finds its servers in the MCP client configurations
/// (default_mcp_client_configs), plus those `Extra::servers` names; the base directory is Extra's.
template <class Extra = mcp_remote_config>
struct discovered_mcp_remote_config : Extra {
    /// Every mcp-remote launch found, then Extra's servers.
    [[nodiscard]] static std::vector<mcp_remote_server> servers(const store_options& options) {
        std::vector<mcp_remote_server> out = Extra::servers(options);
        for (const auto& config : default_mcp_client_configs())
            for (auto& launch : read_mcp_client_config(config).launches)
                out.push_back(std::move(launch.server));
        return out;
    }
};

}  // namespace tokenvault::migration
