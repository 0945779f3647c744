// expect: the provider needs `tokenvault::result<tokenvault::token> authorize()`
// A provider without authorize() names the missing member and what it must return.
#include <tokenvault/lifecycle.hpp>
#include <tokenvault/presets.hpp>

struct refresh_only {
    tokenvault::refresh_result refresh(const tokenvault::token&) {
        return tokenvault::refresh_result::rejected();
    }
};

int main() {
    tokenvault::presets::memory_mt store;
    tokenvault::credential_manager manager(store);
    refresh_only provider;
    auto id = tokenvault::credential_id::parse("https://mcp.example.com/mcp").value();
    (void)manager.get_access_token(id, provider);
}
