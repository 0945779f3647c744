// tests/support/tokens.hpp: sample tokens and ids for tests.
#pragma once

#include <tokenvault/credential_id.hpp>
#include <tokenvault/token.hpp>

#include <string>
#include <string_view>

namespace tvtest {

/// `prefix` followed by `n` in decimal ("p" and 7: "p7"). Built by appending: GCC 12 at -O3 warns
/// (-Wrestrict, a false positive) on `"p" + std::to_string(n)`, whose operator+ inserts at the front.
inline std::string numbered(std::string_view prefix, int n) {
    std::string out(prefix);
    out += std::to_string(n);
    return out;
}

/// A credential id for `n`: https://mcp<n>.example.com/mcp.
inline tokenvault::credential_id id_for(int n) {
    return tokenvault::credential_id::parse("https://mcp" + std::to_string(n) + ".example.com/mcp").value();
}

/// A token whose secrets contain `tag`, with every field set.
inline tokenvault::token sample_token(const std::string& tag) {
    tokenvault::token t;
    t.access_token = tokenvault::secret_string{"at-" + tag};
    t.refresh_token = tokenvault::secret_string{"rt-" + tag};
    // A fixed expiry (2030-01-01T00:00:00Z), so that two calls give equal tokens whenever they run.
    t.expires_at = tokenvault::clock::time_point{std::chrono::seconds{1893456000}};
    t.scopes = {"read", "write"};
    t.issuer = "https://auth.example.com";
    t.client_id = "client-" + tag;
    t.extra["custom_field"] = "kept";
    return t;
}

}  // namespace tvtest
