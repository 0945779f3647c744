// tokenvault/cipher/aes256gcm.hpp: cipher::aes256gcm, for CPUs with AES instructions.
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
#include "../detail/sodium_aead.hpp"
#include "concept.hpp"

namespace tokenvault::cipher {

/// AES-256-GCM: fast where the CPU has AES instructions; checked at run time.
struct aes256gcm
    : detail::sodium_aead<aes256gcm, &crypto_aead_aes256gcm_encrypt, &crypto_aead_aes256gcm_decrypt> {
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
    /// A random 12-byte nonce is safe for 2^32 messages per key: the key must be replaced before that.
    static constexpr cipher::traits traits{.max_messages_per_key = std::uint64_t{1} << 32};
};

static_assert(check<aes256gcm>());

}  // namespace tokenvault::cipher
