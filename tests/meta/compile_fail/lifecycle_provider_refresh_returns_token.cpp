// expect: the provider's refresh() must return tokenvault::refresh_result
// A refresh() that returns a plain token cannot say invalid_grant from a network failure: refused.
#include <tokenvault/lifecycle.hpp>
#include <tokenvault/presets.hpp>

struct plain_provider {
    tokenvault::result<tokenvault::token> refresh(const tokenvault::token& t) { return t; }
    tokenvault::result<tokenvault::token> authorize() {
        return tokenvault::error{tokenvault::errc::not_logged_in};
    }
};

int main() {
    tokenvault::presets::memory_mt store;
    tokenvault::credential_manager manager(store);
    plain_provider provider;
    auto id = tokenvault::credential_id::parse("https://mcp.example.com/mcp").value();
    (void)manager.get_access_token(id, provider);
}
