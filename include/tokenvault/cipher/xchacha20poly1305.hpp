// tokenvault/cipher/xchacha20poly1305.hpp: cipher::xchacha20poly1305, the portable default.
//
// XChaCha20-Poly1305 (IETF) from libsodium: 32-byte key, 24-byte random nonce (safe to pick at random
// for any number of messages), 16-byte tag. Runs everywhere without special hardware.
#pragma once

#include <sodium.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "../detail/secure_buffer.hpp"
#include "../detail/sodium_aead.hpp"
#include "concept.hpp"

namespace tokenvault::cipher {

/// XChaCha20-Poly1305: the portable default cipher.
struct xchacha20poly1305 : detail::sodium_aead<xchacha20poly1305, &crypto_aead_xchacha20poly1305_ietf_encrypt,
                                               &crypto_aead_xchacha20poly1305_ietf_decrypt> {
    using policy_family = family::cipher;
    static constexpr std::uint8_t id = 1;
    static constexpr std::string_view name = "xchacha20poly1305";
    static constexpr std::size_t key_size = crypto_aead_xchacha20poly1305_ietf_KEYBYTES;
    static constexpr std::size_t nonce_size = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
    static constexpr std::size_t tag_size = crypto_aead_xchacha20poly1305_ietf_ABYTES;
    static constexpr bool writes_plaintext = false;

    [[nodiscard]] static result<void> available() { return detail::ensure_sodium(); }
};

static_assert(check<xchacha20poly1305>());

}  // namespace tokenvault::cipher
