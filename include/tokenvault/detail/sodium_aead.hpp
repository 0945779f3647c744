// tokenvault/detail/sodium_aead.hpp: the seal/open plumbing shared by libsodium's AEAD ciphers.
//
// `sodium_aead<Cipher, Encrypt, Decrypt>` checks the sizes a cipher declares, calls libsodium's combined
// encrypt/decrypt functions and maps their failures (a forged or corrupt message is errc::corrupt_file).
// A cipher derives from it (CRTP) and adds its id, sizes and run-time availability check.
#pragma once

#include <sodium.h>

#include <cstddef>
#include <span>
#include <string>

#include "../result.hpp"

namespace tokenvault::detail {

/// libsodium's combined-mode AEAD signature (crypto_aead_*_encrypt).
using sodium_encrypt_fn = int (*)(unsigned char*, unsigned long long*, const unsigned char*,
                                  unsigned long long, const unsigned char*, unsigned long long,
                                  const unsigned char*, const unsigned char*, const unsigned char*);
/// libsodium's combined-mode AEAD signature (crypto_aead_*_decrypt).
using sodium_decrypt_fn = int (*)(unsigned char*, unsigned long long*, unsigned char*, const unsigned char*,
                                  unsigned long long, const unsigned char*, unsigned long long,
                                  const unsigned char*, const unsigned char*);

/// seal/open for a libsodium AEAD; `Cipher` provides name, key_size, nonce_size, tag_size, available().
template <class Cipher, sodium_encrypt_fn Encrypt, sodium_decrypt_fn Decrypt>
struct sodium_aead {
    /// Seals `plaintext` into `out` (plaintext.size() + tag_size bytes).
    [[nodiscard]] static result<void> seal(std::span<const std::byte> key, std::span<const std::byte> nonce,
                                           std::span<const std::byte> ad,
                                           std::span<const std::byte> plaintext, std::span<std::byte> out) {
        TOKENVAULT_TRY(Cipher::available());
        if (key.size() != Cipher::key_size || nonce.size() != Cipher::nonce_size ||
            out.size() != plaintext.size() + Cipher::tag_size)
            return error{errc::invalid_argument, where() + ": wrong key, nonce or output size"};
        unsigned long long written = 0;
        if (Encrypt(bytes(out.data()), &written, bytes(plaintext.data()), plaintext.size(), bytes(ad.data()),
                    ad.size(), nullptr, bytes(nonce.data()), bytes(key.data())) != 0)
            return error{errc::crypto_failure, where() + ": seal"};
        return {};
    }

    /// Opens `ciphertext` into `out` (ciphertext.size() - tag_size bytes); errc::corrupt_file if forged.
    [[nodiscard]] static result<void> open(std::span<const std::byte> key, std::span<const std::byte> nonce,
                                           std::span<const std::byte> ad,
                                           std::span<const std::byte> ciphertext, std::span<std::byte> out) {
        TOKENVAULT_TRY(Cipher::available());
        if (key.size() != Cipher::key_size || nonce.size() != Cipher::nonce_size ||
            ciphertext.size() < Cipher::tag_size || out.size() != ciphertext.size() - Cipher::tag_size)
            return error{errc::invalid_argument, where() + ": wrong key, nonce or output size"};
        unsigned long long written = 0;
        if (Decrypt(bytes(out.data()), &written, nullptr, bytes(ciphertext.data()), ciphertext.size(),
                    bytes(ad.data()), ad.size(), bytes(nonce.data()), bytes(key.data())) != 0)
            return error{errc::corrupt_file, where() + ": authentication failed"};
        return {};
    }

private:
    static std::string where() { return "cipher::" + std::string(Cipher::name); }
    static unsigned char* bytes(std::byte* p) noexcept { return reinterpret_cast<unsigned char*>(p); }
    static const unsigned char* bytes(const std::byte* p) noexcept {
        return reinterpret_cast<const unsigned char*>(p);
    }
};

}  // namespace tokenvault::detail
