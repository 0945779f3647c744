// A program outside the tokenvault tree, built against an *installed* tokenvault by
// tests/meta/install_consumer.py: once with `pkg-config --cflags --libs tokenvault`, once through
// find_package(tokenvault) in this directory's CMakeLists.txt. Hashing the id links libsodium.
#include <tokenvault/tokenvault.hpp>

#include <cstdio>
#include <string_view>
#include <system_error>

int main() {
    const std::error_code code = tokenvault::make_error_code(tokenvault::errc::conflict);
    if (std::string_view(code.category().name()) != "tokenvault") return 1;
    const auto id = tokenvault::credential_id::parse("https://x.example/mcp");
    if (!id) {
        std::fprintf(stderr, "credential_id::parse failed: %s\n", id.error().message().c_str());
        return 2;
    }
    if (id->hash().size() != 64) return 3;
    std::printf("tokenvault consumer ok: credential id hash %.8s...\n", id->hash().c_str());
    return 0;
}
