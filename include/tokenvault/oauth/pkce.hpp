// tokenvault/oauth/pkce.hpp: PKCE (RFC 7636, S256 only) and the `state` of a login, from libsodium.
//
// The verifier is 32 random bytes in base64url (43 characters, the RFC's recommendation); the challenge is
// base64url(SHA-256(verifier)). The state is another 32 random bytes; it is compared in constant time.
#pragma once

#include <array>
#include <string>
#include <string_view>

#include <sodium.h>

#include "../detail/secure_buffer.hpp"
#include "../result.hpp"
#include "../token.hpp"

namespace tokenvault::oauth {

/// A PKCE verifier (secret until the code exchange) and its S256 challenge.
struct pkce_pair {
    secret_string verifier;  ///< sent with the code exchange
    std::string challenge;   ///< base64url(SHA-256(verifier)), sent with the authorization request
};

namespace detail {

/// base64url without padding of `bytes`.
[[nodiscard]] inline std::string base64url(const unsigned char* bytes, std::size_t size) {
    constexpr int variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
    ::tokenvault::detail::secret_text out(sodium_base64_ENCODED_LEN(size, variant), '\0');
    sodium_bin2base64(out.data(), out.size(), bytes, size, variant);
    return std::string(out.c_str());
}

}  // namespace detail

/// The S256 challenge of `verifier`.
[[nodiscard]] inline std::string pkce_challenge(std::string_view verifier) {
    std::array<unsigned char, crypto_hash_sha256_BYTES> digest{};
    crypto_hash_sha256(digest.data(), reinterpret_cast<const unsigned char*>(verifier.data()),
                       verifier.size());
    return detail::base64url(digest.data(), digest.size());
}

/// A random base64url string of `bytes` random bytes, in wiped memory.
[[nodiscard]] inline result<secret_string> random_url_token(std::size_t bytes = 32) {
    TOKENVAULT_TRY(::tokenvault::detail::ensure_sodium());
    ::tokenvault::detail::secure_buffer random(bytes);
    randombytes_buf(random.data(), random.size());
    constexpr int variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
    ::tokenvault::detail::secret_text text(sodium_base64_ENCODED_LEN(bytes, variant), '\0');
    sodium_bin2base64(text.data(), text.size(), reinterpret_cast<const unsigned char*>(random.data()), bytes,
                      variant);
    return secret_string{std::string_view(text.c_str())};
}

/// A fresh PKCE pair.
[[nodiscard]] inline result<pkce_pair> make_pkce() {
    auto verifier = random_url_token(32);
    if (!verifier) return verifier.error();
    pkce_pair pair;
    pair.challenge = pkce_challenge(verifier->reveal());
    pair.verifier = std::move(*verifier);
    return pair;
}

}  // namespace tokenvault::oauth
