// examples/mcp_login.cpp: log in to an OAuth-protected MCP server, keep the token, call the server.
//
//   mcp_login https://mcp.example.com/mcp
//
// The first run discovers the server's authorization server, registers a client, opens the browser for
// the login (PKCE, loopback redirect) and stores the token sealed; later runs reuse it and refresh it when
// it expires, safely across processes. Build: link libsodium and libcurl (meson: tokenvault-curl).
#include <tokenvault/lifecycle.hpp>
#include <tokenvault/oauth/curl.hpp>
#include <tokenvault/oauth/provider.hpp>
#include <tokenvault/presets.hpp>

#include <iostream>
#include <string>

int main(int argc, char** argv) {
    using namespace tokenvault;
    if (argc != 2) {
        std::cerr << "usage: mcp_login <MCP server URL>\n";
        return 2;
    }
    store_options options;
    options.app_name = "mcp-login-example";
    auto& tokens =
        shared_manager<presets::embedded>(options);  // over shared_store<presets::embedded>(options)
    auto& store = tokens.store();
    auto server = credential_id::parse(argv[1]);
    if (!server) {
        std::cerr << server.error().message() << "\n";
        return 2;
    }

    oauth::curl_transport http;
    auto provider = oauth::make_provider(http, store, *server);  // discovery, registration, login, refresh
    auto access = tokens.get_access_token(*server, provider);    // logs in through the browser if needed
    if (!access) {
        std::cerr << access.error().message() << "\n";  // what went wrong and what to do; never a secret
        return 1;
    }

    // An MCP request with the token; a 401 although the token looked valid: refresh once and retry.
    const auto call = [&](const token& t) {
        oauth::http_request request;
        request.method = oauth::http_method::post;
        request.url = server->resource();
        request.content_type = "application/json";
        request.body = oauth::secret_text(R"({"jsonrpc":"2.0","id":1,"method":"ping"})");
        request.authorization = secret_string{"Bearer " + std::string(t.access_token.reveal())};
        return http.send(request);
    };
    auto answer = call(*access);
    if (answer && answer->status == 401) {
        access = tokens.on_unauthorized(*server, access->access_token, provider);
        if (!access) {
            std::cerr << access.error().message() << "\n";
            return 1;
        }
        answer = call(*access);
    }
    if (!answer) {
        std::cerr << answer.error().message() << "\n";
        return 1;
    }
    std::cout << server->resource() << " answered HTTP " << answer->status << "\n";
    return answer->status >= 200 && answer->status < 300 ? 0 : 1;
}
