// tests/unit/test_mcp_remote_discovery.cpp: finding the servers mcp-remote was launched for in MCP client
// configurations, and the file hash mcp-remote gives each. The expected hashes were computed by
// mcp-remote 0.15.1's own parseCommandLineArgs (node, as in tests/fixtures/mcp_remote_generate.mjs).
#include <doctest/doctest.h>

#include <tokenvault/backend/sealed_file.hpp>
#include <tokenvault/cipher/xchacha20poly1305.hpp>
#include <tokenvault/detail/md5.hpp>
#include <tokenvault/diagnostics/callback.hpp>
#include <tokenvault/keyring/memory.hpp>
#include <tokenvault/locking/process.hpp>
#include <tokenvault/migration/mcp_remote_discovery.hpp>
#include <tokenvault/store.hpp>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "../support/legacy.hpp"
#include "../support/temp_dir.hpp"

namespace test_mcp_remote_discovery {  // unity builds put several test files in one translation unit

namespace tv = tokenvault;
namespace fs = std::filesystem;
using tv::migration::mcp_remote_server_of;

namespace {

std::string hash_of(const std::vector<std::string>& args) {
    auto server = mcp_remote_server_of(args);
    REQUIRE(server.has_value());
    std::string joined = server->url;
    for (const auto& part : server->hash_parts) joined += "|" + part;
    return tv::detail::md5_hex(joined);
}

/// Sets HOME, XDG_CONFIG_HOME and CODEX_HOME for one test, restoring them afterwards.
class environment {
public:
    explicit environment(const fs::path& home) {
        for (const char* name : {"HOME", "XDG_CONFIG_HOME", "CODEX_HOME", "APPDATA"}) {
            const char* value = std::getenv(name);
            saved_.emplace_back(name, value != nullptr ? std::optional<std::string>(value) : std::nullopt);
        }
        ::setenv("HOME", home.c_str(), 1);
        ::unsetenv("XDG_CONFIG_HOME");
        ::unsetenv("CODEX_HOME");
        ::unsetenv("APPDATA");
    }
    ~environment() {
        for (const auto& [name, value] : saved_)
            value ? (void)::setenv(name.c_str(), value->c_str(), 1) : (void)::unsetenv(name.c_str());
    }
    environment(const environment&) = delete;
    environment& operator=(const environment&) = delete;

private:
    std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

const std::string tokens_json =
    R"({"access_token":"AT","token_type":"Bearer","expires_in":3600,"refresh_token":"RT","scope":"read","expires_at":1795411511802})";

}  // namespace

TEST_CASE("mcp_remote_server_of gives the hash mcp-remote 0.15.1 gives") {
    CHECK(hash_of({"https://mcp.example.com/sse"}) == "494d19bc05f3885edf847e391b7f9153");
    CHECK(hash_of({"https://mcp2.example.com/mcp", "--resource", "https://resource.example.com", "--header",
                   "X-Api:1"}) == "1de3eb8a8b7c1dee54efed118feb51b7");
    CHECK(hash_of({"https://mcp3.example.com/mcp", "--header", "Authorization: Bearer abc def", "--header",
                   "A-First:x", "--authorize-param", "audience=https://api.example.com", "--authorize-param",
                   "prompt=consent", "--client-metadata-url", "https://client.example.com/meta.json"}) ==
          "abcd8718513460aec52fa62a70a76b18");
    CHECK(hash_of({"https://mcp4.example.com/mcp", "--resource", "https://r.example.com",
                   "--disable-resource-parameter", "--allow-http"}) == "3e2384e019528a1342d087ecad07fc76");
    CHECK_FALSE(mcp_remote_server_of({}).has_value());
    CHECK_FALSE(mcp_remote_server_of({"--debug"}).has_value());
    CHECK_FALSE(mcp_remote_server_of({"https://x.example.com", "--header-file", "/h"}).has_value());
}

TEST_CASE("discovery finds mcp-remote in every client's configuration and from_mcp_remote imports them") {
    tvtest::temp_dir dir;
    const fs::path home = dir.path() / "home";
    environment env(home);
    tvtest::write_file(home / ".config" / "Claude" / "claude_desktop_config.json", R"({
      "mcpServers": {
        "desktop": {"command": "npx", "args": ["-y", "mcp-remote@0.15.1", "https://desktop.example.com/mcp",
                    "--header", "Authorization:${AUTH}"], "env": {"AUTH": "Bearer from-env"}},
        "local": {"command": "python3", "args": ["server.py", "mcp-remote"]}
      }})");
    tvtest::write_file(
        home / ".cursor" / "mcp.json",
        R"({"mcpServers": {"cursor": {"command": "/usr/local/bin/mcp-remote", "args": ["https://cursor.example.com/sse"]}}})");
    tvtest::write_file(home / ".config" / "Code" / "User" / "mcp.json", R"({
      // VS Code allows comments
      "servers": {"code": {"type": "stdio", "command": "npx.cmd", "args": ["mcp-remote", "https://code.example.com/mcp", "--resource", "https://code.example.com"]}}
    })");
    tvtest::write_file(home / ".claude.json", R"({"projects": {"/work/p": {"mcpServers": {
      "cc": {"type": "stdio", "command": "node", "args": ["/opt/node_modules/mcp-remote/dist/proxy.js", "https://cc.example.com/mcp"]}}}}})");
    tvtest::write_file(home / ".codex" / "config.toml", R"(# Codex
model = "o3"
[mcp_servers.codex-remote]
command = "npx"
args = [
  "-y",   # comment inside the array
  "mcp-remote",
  "https://codex.example.com/mcp",
  "--header", "X-Team:${TEAM}",
]
env = { TEAM = "blue" }

[mcp_servers."quoted name"]
command = 'bunx'
args = ['mcp-remote', 'https://quoted.example.com/mcp']
[mcp_servers.other]
command = "uvx"
args = ["something"]
)");

    std::vector<tv::migration::mcp_remote_launch> launches;
    for (const auto& config : tv::migration::default_mcp_client_configs()) {
        auto found = tv::migration::read_mcp_client_config(config);
        CHECK_FALSE(found.failure);
        for (auto& l : found.launches) launches.push_back(l);
    }
    const auto has = [&](const std::string& client, const std::string& url, std::vector<std::string> parts) {
        for (const auto& l : launches)
            if (l.client == client && l.server.url == url && l.server.hash_parts == parts) return true;
        return false;
    };
    CHECK(
        has("claude_desktop", "https://desktop.example.com/mcp", {R"({"Authorization":"Bearer from-env"})"}));
    CHECK(has("claude_desktop", "https://desktop.example.com/mcp", {R"({"Authorization":"${AUTH}"})"}));
    CHECK(has("cursor", "https://cursor.example.com/sse", {}));
    CHECK(has("vscode", "https://code.example.com/mcp", {"https://code.example.com"}));
    CHECK(has("claude_code", "https://cc.example.com/mcp", {}));
    CHECK(has("codex", "https://codex.example.com/mcp", {R"({"X-Team":"blue"})"}));
    CHECK(has("codex", "https://quoted.example.com/mcp", {}));
    CHECK(launches.size() == 8);  // the python server and uvx are not mcp-remote

    // from_mcp_remote finds the files these launches name.
    const auto base = home / ".mcp-auth" / "mcp-remote-v1";
    const std::string desktop_hash =
        hash_of({"https://desktop.example.com/mcp", "--header", "Authorization:Bearer from-env"});
    tvtest::write_file(base / (desktop_hash + "_tokens.json"), tokens_json);
    tvtest::write_file(
        base / (hash_of({"https://codex.example.com/mcp", "--header", "X-Team:blue"}) + "_tokens.json"),
        tokens_json);
    using store_t =
        tv::token_store<tv::backend::sealed_file<tv::keyring::allow_volatile<tv::keyring::memory>>,
                        tv::cipher::xchacha20poly1305, tv::locking::process,
                        tv::migration::from_mcp_remote<tv::migration::discovered_mcp_remote_config<>>,
                        tv::diagnostics::callback>;
    tv::store_options options;
    options.app_name = tvtest::unique_name("tv-discovery");
    options.directory = dir.path() / "store";
    std::vector<tv::events::any> events;
    store_t store(options);
    store.diagnostics().set([&](const tv::events::any& e) { events.push_back(e); });
    auto all = store.list();
    REQUIRE(all.has_value());
    CHECK(all->size() == 2);
    CHECK(tvtest::migrated(events, "mcp_remote") == 2);
}

TEST_CASE("a configuration that is not JSON, too deep or not TOML yields no launch and no crash") {
    tvtest::temp_dir dir;
    using kind = tv::migration::mcp_client_config::format;
    const auto path = dir.path() / "config";
    SUBCASE("deep JSON") {
        tvtest::write_file(path, std::string(200000, '[') + std::string(200000, ']'));
        auto r = tv::migration::read_mcp_client_config({"cursor", path, kind::json_mcp_servers});
        CHECK(r.failure == make_error_code(tv::errc::too_large));
    }
    SUBCASE("broken JSON") {
        tvtest::write_file(path, R"({"mcpServers": {"x": )");
        auto r = tv::migration::read_mcp_client_config({"cursor", path, kind::json_mcp_servers});
        CHECK(r.failure == make_error_code(tv::errc::malformed_json));
    }
    SUBCASE("hostile TOML") {
        tvtest::write_file(
            path,
            "[mcp_servers.a]\ncommand = \"npx\"\nargs = " + std::string(100000, '[') +
                "\n[mcp_servers.b]\ncommand = \"npx\"\nargs = [\"mcp-remote\", \"https://b.example.com\"]\n"
                "x = \"unterminated\n= = =\n[[[\n\"\\u12\"");
        auto r = tv::migration::read_mcp_client_config({"codex", path, kind::toml_codex});
        CHECK_FALSE(r.failure);
        CHECK(r.launches.empty());  // everything after the runaway array is given up
    }
    SUBCASE("absent") {
        auto r = tv::migration::read_mcp_client_config(
            {"cursor", dir.path() / "none.json", kind::json_mcp_servers});
        CHECK_FALSE(r.present);
        CHECK_FALSE(r.failure);
    }
}

TEST_CASE("toml_lite reads strings, arrays and inline tables, and skips the rest") {
    const auto values = tv::detail::toml_lite::read(R"(a = "x\ty\u00e9"
[t."k.k"]
b = ['lit\n', "q\"q"] # c
n = 12
d = { e = "f", g.h = 'i' }
m = """multi
line"""
z = "after"
)");
    REQUIRE(values.size() == 4);
    CHECK(values[0].path == std::vector<std::string>{"a"});
    CHECK(values[0].text == "x\ty\xc3\xa9");
    CHECK(values[1].path == std::vector<std::string>{"t", "k.k", "b"});
    CHECK(values[1].items == std::vector<std::string>{"lit\\n", "q\"q"});
    REQUIRE(values[2].members.size() == 2);
    CHECK(values[2].members[1] == std::pair<std::string, std::string>{"g.h", "i"});
    CHECK(values[3].text == "after");
    // Not UTF-8 (TOML requires it; such a URL could not be stored): the value is skipped.
    CHECK(tv::detail::toml_lite::read("u = \"https://r.example.com/\xe1\"\nv = \"ok\"\n").size() == 1);
}

}  // namespace test_mcp_remote_discovery
