// tokenvault/backend/sealed_file_format.hpp: the header of a sealed file, format version 1 (docs/FORMAT.md).
//
// A sealed file is this header, a nonce, then the ciphertext and tag of the bundle; the header bytes are
// the AEAD associated data. The header names the format version, the cipher, the data key (by a
// fingerprint, never the key), the keyring tier that holds the key, and the seal counter (seals made by
// that key). Encoding, parsing and the fingerprint only: no file, no keyring. Used by
// backend::sealed_file, and by tools that read a header without opening the file.
#pragma once

#include <sodium.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "../detail/secure_buffer.hpp"
#include "../result.hpp"
#include "../token_json.hpp"

namespace tokenvault::backend {
/// The layout constants of a sealed file (format version 1; docs/FORMAT.md).
struct sealed_file_format {
    static constexpr std::array<char, 8> magic{'T', 'V', 'S', 'E', 'A', 'L', 'E', 'D'};  ///< first 8 bytes
    static constexpr std::uint16_t version = 1;         ///< the format version this build writes and reads
    static constexpr std::size_t key_id_size = 16;      ///< bytes of the key fingerprint
    static constexpr std::size_t max_tier_length = 32;  ///< bytes of the keyring tier name
    static constexpr std::size_t fixed_size =
        8 + 2 + 1 + 1 + key_id_size + 1;  ///< bytes before the tier name
    /// Largest file read: a maximal bundle plus header, nonce and tag (anything larger is errc::too_large).
    static constexpr std::size_t max_file_size = token_limits::max_bundle_json + 4096;
    /// Domain-separation prefix of the key id: BLAKE2b-256(prefix || key), first 16 bytes.
    static constexpr std::string_view key_id_context = "tokenvault/sealed_file/key-id/v1";
};

/// A key fingerprint as written in the header (not the key).
using sealed_key_id = std::array<std::uint8_t, sealed_file_format::key_id_size>;

/// The parsed header of a sealed file; `size` bytes of it are the AEAD associated data.
struct sealed_file_header {
    std::uint16_t version = 0;       ///< format version
    std::uint8_t cipher_id = 0;      ///< Cipher::id of the cipher that sealed it
    std::uint8_t flags = 0;          ///< 0 in version 1
    sealed_key_id key_id{};          ///< fingerprint of the data key
    std::string tier;                ///< keyring tier that holds the key (e.g. "secret_service")
    std::uint64_t seal_counter = 0;  ///< seals made by this key, this one included
    std::size_t size = 0;            ///< header bytes (associated data)
};

/// The fingerprint of a data key: BLAKE2b-256 over key_id_context then the key, first 16 bytes.
template <class = void>
[[nodiscard]] inline result<sealed_key_id> sealed_key_fingerprint(std::span<const std::byte> key) {
    TOKENVAULT_TRY(tokenvault::detail::ensure_sodium());
    crypto_generichash_state state;
    std::array<unsigned char, crypto_generichash_BYTES> digest{};
    const auto& context = sealed_file_format::key_id_context;
    const bool ok = crypto_generichash_init(&state, nullptr, 0, digest.size()) == 0 &&
                    crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(context.data()),
                                              context.size()) == 0 &&
                    crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(key.data()),
                                              key.size()) == 0 &&
                    crypto_generichash_final(&state, digest.data(), digest.size()) == 0;
    sodium_memzero(&state, sizeof state);
    if (!ok) return error{errc::crypto_failure, "sealed_file: key fingerprint"};
    sealed_key_id id{};
    std::memcpy(id.data(), digest.data(), id.size());
    return id;
}

/// Encodes a version-1 header (the associated data of the seal).
template <class = void>
[[nodiscard]] inline result<std::vector<std::byte>> encode_sealed_header(std::uint8_t cipher_id,
                                                                         const sealed_key_id& key_id,
                                                                         std::string_view tier,
                                                                         std::uint64_t seal_counter) {
    if (tier.empty() || tier.size() > sealed_file_format::max_tier_length)
        return error{errc::invalid_argument, "sealed_file: keyring tier name must be 1-32 bytes"};
    std::vector<std::byte> out;
    out.reserve(sealed_file_format::fixed_size + tier.size() + 8);
    const auto put = [&](std::uint64_t value, int bytes) {
        for (int i = 0; i < bytes; ++i) out.push_back(static_cast<std::byte>((value >> (8 * i)) & 0xff));
    };
    for (const char c : sealed_file_format::magic) out.push_back(static_cast<std::byte>(c));
    put(sealed_file_format::version, 2);
    put(cipher_id, 1);
    put(0, 1);  // flags
    for (const auto b : key_id) out.push_back(static_cast<std::byte>(b));
    put(tier.size(), 1);
    for (const char c : tier) out.push_back(static_cast<std::byte>(c));
    put(seal_counter, 8);
    return out;
}

/// Parses the header at the start of `bytes`. errc::corrupt_file: not a (complete) version-1 header;
/// errc::unsupported_format_version: a newer version or unknown flags. Contexts carry no path.
template <class = void>
[[nodiscard]] inline result<sealed_file_header> parse_sealed_header(std::span<const std::byte> bytes) {
    const auto u = [&](std::size_t at, int n) {
        std::uint64_t v = 0;
        for (int i = n - 1; i >= 0; --i)
            v = (v << 8) | std::to_integer<std::uint64_t>(bytes[at + static_cast<std::size_t>(i)]);
        return v;
    };
    const auto& magic = sealed_file_format::magic;
    if (bytes.size() < magic.size() || std::memcmp(bytes.data(), magic.data(), magic.size()) != 0)
        return error{errc::corrupt_file, "not a tokenvault sealed file (bad magic)"};
    if (bytes.size() < 10) return error{errc::corrupt_file, "truncated header"};
    sealed_file_header h;
    h.version = static_cast<std::uint16_t>(u(8, 2));
    if (h.version == 0) return error{errc::corrupt_file, "format version 0 was never written"};
    if (h.version > sealed_file_format::version)
        return error{errc::unsupported_format_version,
                     "format version " + std::to_string(h.version) + " (this build reads version 1)"};
    if (bytes.size() < sealed_file_format::fixed_size) return error{errc::corrupt_file, "truncated header"};
    h.cipher_id = static_cast<std::uint8_t>(u(10, 1));
    h.flags = static_cast<std::uint8_t>(u(11, 1));
    if (h.flags != 0)
        return error{errc::unsupported_format_version, "unknown header flags " + std::to_string(h.flags)};
    for (std::size_t i = 0; i < h.key_id.size(); ++i) h.key_id[i] = static_cast<std::uint8_t>(u(12 + i, 1));
    const auto tier_length = static_cast<std::size_t>(u(sealed_file_format::fixed_size - 1, 1));
    if (tier_length == 0 || tier_length > sealed_file_format::max_tier_length)
        return error{errc::corrupt_file, "keyring tier name length out of range"};
    h.size = sealed_file_format::fixed_size + tier_length + 8;
    if (bytes.size() < h.size) return error{errc::corrupt_file, "truncated header"};
    h.tier.reserve(tier_length);
    for (std::size_t i = 0; i < tier_length; ++i) {
        const auto c = std::to_integer<unsigned char>(bytes[sealed_file_format::fixed_size + i]);
        if (c < 0x21 || c > 0x7e)
            return error{errc::corrupt_file, "keyring tier name is not printable ASCII"};
        h.tier.push_back(static_cast<char>(c));
    }
    h.seal_counter = u(sealed_file_format::fixed_size + tier_length, 8);
    return h;
}

}  // namespace tokenvault::backend
