// tokenvault/cipher/xchacha20poly1305.hpp: cipher::aes256gcm, for CPUs with AES instructions.
//
// AES-256-GCM from libsodium: 32-byte key, 12-byte random nonce, 16-byte tag. It needs AES hardware
// (AES-NI with PCLMUL on x86, ARMv8 crypto): available() checks at run time and answers
// errc::cipher_unavailable instead of crashing. A random 12-byte nonce is safe for at most 2^32 messages
// per key; backend::sealed_file counts seals per key and asks for a new key long before that.
#pragma once

#include <sodium.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "../detail/secure_buffer.hpp"
#include "concept.hpp"

namespace tokenvault::cipher {

/// AES-256-GCM: fast where the CPU has AES instructions; checked at run time.
struct aes256gcm {
    using policy_family = family::cipher;
    static constexpr std::uint8_t id = 2;
    static constexpr std::string_view name = "aes256gcm";
    static constexpr std::size_t key_size = crypto_aead_aes256gcm_KEYBYTES;
    static constexpr std::size_t nonce_size = crypto_aead_aes256gcm_NPUBBYTES;
    static constexpr std::size_t tag_size = crypto_aead_aes256gcm_ABYTES;
    static constexpr bool writes_plaintext = false;

    [[nodiscard]] static result<void> available() {
        TOKENVAULT_TRY(detail::ensure_sodium());
        if (crypto_aead_aes256gcm_is_available() == 0)
            return error{errc::cipher_unavailable, "cipher::aes256gcm"};
        return {};
    }
    /// Messages one key may seal with random nonces before it must be replaced.
    static constexpr std::uint64_t max_messages_per_key = std::uint64_t{1} << 32;

    /// Seals `plaintext` into `out` (plaintext.size() + tag_size bytes).
    [[nodiscard]] static result<void> seal(std::span<const std::byte> key, std::span<const std::byte> nonce,
                                           std::span<const std::byte> ad, std::span<const std::byte> plaintext,
                                           std::span<std::byte> out) {
        TOKENVAULT_TRY(available());
        if (key.size() != key_size || nonce.size() != nonce_size || out.size() != plaintext.size() + tag_size)
            return error{errc::invalid_argument, "cipher::aes256gcm: wrong key, nonce or output size"};
        unsigned long long written = 0;
        if (crypto_aead_aes256gcm_encrypt(
                reinterpret_cast<unsigned char*>(out.data()), &written,
                reinterpret_cast<const unsigned char*>(plaintext.data()), plaintext.size(),
                reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), nullptr,
                reinterpret_cast<const unsigned char*>(nonce.data()),
                reinterpret_cast<const unsigned char*>(key.data())) != 0)
            return error{errc::crypto_failure, "cipher::aes256gcm: seal"};
        return {};
    }

    /// Opens `ciphertext` into `out` (ciphertext.size() - tag_size bytes); errc::corrupt_file if forged.
    [[nodiscard]] static result<void> open(std::span<const std::byte> key, std::span<const std::byte> nonce,
                                           std::span<const std::byte> ad, std::span<const std::byte> ciphertext,
                                           std::span<std::byte> out) {
        TOKENVAULT_TRY(available());
        if (key.size() != key_size || nonce.size() != nonce_size || ciphertext.size() < tag_size ||
            out.size() != ciphertext.size() - tag_size)
            return error{errc::invalid_argument, "cipher::aes256gcm: wrong key, nonce or output size"};
        unsigned long long written = 0;
        if (crypto_aead_aes256gcm_decrypt(
                reinterpret_cast<unsigned char*>(out.data()), &written, nullptr,
                reinterpret_cast<const unsigned char*>(ciphertext.data()), ciphertext.size(),
                reinterpret_cast<const unsigned char*>(ad.data()), ad.size(),
                reinterpret_cast<const unsigned char*>(nonce.data()),
                reinterpret_cast<const unsigned char*>(key.data())) != 0)
            return error{errc::corrupt_file, "cipher::aes256gcm: authentication failed"};
        return {};
    }
};

static_assert(cipher_policy<aes256gcm>);

}  // namespace tokenvault::cipher
