// examples/quickstart.cpp: the smallest real tokenvault program.
//
// Stores a token for an MCP server in the embedded default store (a sealed file whose key lives in a
// file keyring: no OS keyring needed), reads it back, and lists what is stored. Run it twice: the
// second run finds the token the first one stored. Set TOKENVAULT_DEMO_DIR to choose the directory.
#include <tokenvault/tokenvault.hpp>

#include <cstdlib>
#include <iostream>

int main() {
    using namespace tokenvault;

    store_options options;
    options.app_name = "tokenvault-quickstart";
    if (const char* dir = std::getenv("TOKENVAULT_DEMO_DIR")) options.directory = dir;
    presets::embedded store{options};

    auto server = credential_id::parse("https://mcp.example.com/mcp");
    if (!server) {
        std::cerr << server.error().message() << "\n";
        return 1;
    }

    token t;
    t.access_token = secret_string{"example-access-token"};
    t.refresh_token = secret_string{"example-refresh-token"};
    t.expires_at = clock::now() + std::chrono::hours(1);
    t.scopes = {"mcp:tools"};
    if (auto stored = store.put(*server, t); !stored) {
        std::cerr << "put failed: " << stored.error().message() << "\n";
        return 1;
    }

    auto back = store.get(*server);
    if (!back || !*back) {
        std::cerr << "get failed: " << (back ? std::string("absent") : back.error().message()) << "\n";
        return 1;
    }
    std::cout << "stored and read back " << **back << " for " << server->resource() << "\n";

    auto entries = store.list();
    if (!entries) {
        std::cerr << "list failed: " << entries.error().message() << "\n";
        return 1;
    }
    std::cout << entries->size() << " credential(s) in " << store.options().resolved_directory().string()
              << ":\n";
    for (const auto& e : *entries)
        std::cout << "  " << e.id.resource() << "  generation " << e.generation
                  << (e.has_refresh_token ? "  (refreshable)" : "") << "\n";
    return 0;
}
