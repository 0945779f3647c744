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
#include "concept.hpp"

namespace tokenvault::cipher {

/// XChaCha20-Poly1305: the portable default cipher.
struct xchacha20poly1305 {
    using policy_family = family::cipher;
    static constexpr std::uint8_t id = 1;
    static constexpr std::string_view name = "xchacha20poly1305";
    static constexpr std::size_t key_size = crypto_aead_xchacha20poly1305_ietf_KEYBYTES;
    static constexpr std::size_t nonce_size = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
    static constexpr std::size_t tag_size = crypto_aead_xchacha20poly1305_ietf_ABYTES;
    static constexpr bool writes_plaintext = false;

    [[nodiscard]] static result<void> available() { return detail::ensure_sodium(); }
    /// Messages one key may seal with random nonces (24-byte nonces: no practical bound).
    static constexpr std::uint64_t max_messages_per_key = ~std::uint64_t{0};

    /// Seals `plaintext` into `out` (plaintext.size() + tag_size bytes).
    [[nodiscard]] static result<void> seal(std::span<const std::byte> key, std::span<const std::byte> nonce,
                                           std::span<const std::byte> ad, std::span<const std::byte> plaintext,
                                           std::span<std::byte> out) {
        TOKENVAULT_TRY(available());
        if (key.size() != key_size || nonce.size() != nonce_size || out.size() != plaintext.size() + tag_size)
            return error{errc::invalid_argument, "cipher::xchacha20poly1305: wrong key, nonce or output size"};
        unsigned long long written = 0;
        if (crypto_aead_xchacha20poly1305_ietf_encrypt(
                reinterpret_cast<unsigned char*>(out.data()), &written,
                reinterpret_cast<const unsigned char*>(plaintext.data()), plaintext.size(),
                reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), nullptr,
                reinterpret_cast<const unsigned char*>(nonce.data()),
                reinterpret_cast<const unsigned char*>(key.data())) != 0)
            return error{errc::crypto_failure, "cipher::xchacha20poly1305: seal"};
        return {};
    }

    /// Opens `ciphertext` into `out` (ciphertext.size() - tag_size bytes); errc::corrupt_file if forged.
    [[nodiscard]] static result<void> open(std::span<const std::byte> key, std::span<const std::byte> nonce,
                                           std::span<const std::byte> ad, std::span<const std::byte> ciphertext,
                                           std::span<std::byte> out) {
        TOKENVAULT_TRY(available());
        if (key.size() != key_size || nonce.size() != nonce_size || ciphertext.size() < tag_size ||
            out.size() != ciphertext.size() - tag_size)
            return error{errc::invalid_argument, "cipher::xchacha20poly1305: wrong key, nonce or output size"};
        unsigned long long written = 0;
        if (crypto_aead_xchacha20poly1305_ietf_decrypt(
                reinterpret_cast<unsigned char*>(out.data()), &written, nullptr,
                reinterpret_cast<const unsigned char*>(ciphertext.data()), ciphertext.size(),
                reinterpret_cast<const unsigned char*>(ad.data()), ad.size(),
                reinterpret_cast<const unsigned char*>(nonce.data()),
                reinterpret_cast<const unsigned char*>(key.data())) != 0)
            return error{errc::corrupt_file, "cipher::xchacha20poly1305: authentication failed"};
        return {};
    }
};

static_assert(cipher_policy<xchacha20poly1305>);

}  // namespace tokenvault::cipher
