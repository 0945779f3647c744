// benchmarks/bench_tokens.hpp: the token every store benchmark stores.
#pragma once

#include <tokenvault/token.hpp>

#include <chrono>
#include <string>

namespace tvbench {

/// A token of realistic size: a ~600-byte JWT-like access token, a refresh token, expiry, scopes.
inline tokenvault::token make_token(int i) {
    tokenvault::token t;
    t.access_token = tokenvault::secret_string{"access-token-" + std::to_string(i) + std::string(600, 'a')};
    t.refresh_token = tokenvault::secret_string{"refresh-token-" + std::to_string(i) + std::string(100, 'r')};
    t.expires_at = tokenvault::clock::now() + std::chrono::hours(1);
    t.scopes = {"read", "write"};
    t.issuer = "https://auth.example.com";
    t.client_id = "client";
    return t;
}

}  // namespace tvbench
