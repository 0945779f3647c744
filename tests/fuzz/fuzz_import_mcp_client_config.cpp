// tests/fuzz/fuzz_import_mcp_client_config.cpp: libFuzzer harness for the readers of MCP client
// configurations (JSON, JSONC and Codex's TOML) that find mcp-remote launches. The first byte picks the
// format. Oracle: every launch has a URL and what mcp-remote_server_of derives from its own arguments is
// stable; a URL that is a valid credential id survives the bundle round trip with a token filed under it.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <tokenvault/detail/md5.hpp>
#include <tokenvault/migration/mcp_remote_discovery.hpp>

#include "fuzz_support.hpp"

namespace fuzz_import_mcp_client_config {  // one namespace per harness: see TOKENVAULT_FUZZ_TARGET

TOKENVAULT_FUZZ_TARGET(import_mcp_client_config) {
    if (size == 0) return 0;
    using kind = tokenvault::migration::mcp_client_config::format;
    static constexpr kind kinds[] = {kind::json_mcp_servers, kind::json_servers, kind::json_vscode_settings,
                                     kind::json_claude_code, kind::toml_codex};
    const tokenvault::migration::mcp_client_config config{"fuzz", "fuzz", kinds[data[0] % 5]};
    const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
    auto [launches, failure] = tokenvault::migration::parse_mcp_client_config(text, config);
    if (failure && !launches.empty()) tvfuzz::broken("a configuration that failed still gave launches");
    for (const auto& launch : launches) {
        if (launch.server.url.empty() || launch.server.url.starts_with("--"))
            tvfuzz::broken("a launch without a URL");
        (void)tokenvault::detail::md5_hex(launch.server.url);
        auto id = tokenvault::credential_id::parse(launch.server.url);
        if (!id) continue;
        tokenvault::token t;
        t.access_token = tokenvault::secret_string{"fuzz-access-token"};
        tvfuzz::check_storable(*id, t);
    }
    return 0;
}

}  // namespace fuzz_import_mcp_client_config
