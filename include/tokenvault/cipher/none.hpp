// tokenvault/cipher/none.hpp: cipher::none and cipher::plaintext_opt_in (no encryption).
//
// cipher::none copies bytes unchanged. It is fine where nothing reaches a disk (backend::memory, tests)
// and refused at compile time on a persistent backend. A program that really wants tokens in a plaintext
// file (say, on an encrypted volume it controls) names cipher::plaintext_opt_in instead, on purpose.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include "concept.hpp"

namespace tokenvault::cipher {

/// No encryption; refused on persistent backends (use plaintext_opt_in to insist).
struct none {
    using policy_family = family::cipher;
    static constexpr std::uint8_t id = 0;
    static constexpr std::string_view name = "none";
    static constexpr std::size_t key_size = 32;  // a key is still held, so that headers keep a key id
    static constexpr std::size_t nonce_size = 0;
    static constexpr std::size_t tag_size = 0;
    static constexpr bool writes_plaintext = true;

    [[nodiscard]] static result<void> available() { return {}; }
    [[nodiscard]] static result<void> seal(std::span<const std::byte>, std::span<const std::byte>,
                                           std::span<const std::byte>, std::span<const std::byte> plaintext,
                                           std::span<std::byte> out) {
        if (out.size() != plaintext.size())
            return error{errc::invalid_argument, "cipher::none: wrong output size"};
        if (!plaintext.empty()) std::memcpy(out.data(), plaintext.data(), plaintext.size());
        return {};
    }
    [[nodiscard]] static result<void> open(std::span<const std::byte> key, std::span<const std::byte> nonce,
                                           std::span<const std::byte> ad,
                                           std::span<const std::byte> ciphertext, std::span<std::byte> out) {
        return seal(key, nonce, ad, ciphertext, out);
    }
};

/// Plaintext on disk, chosen explicitly: the tokens are readable by anything that can read the file.
struct plaintext_opt_in : none {
    static constexpr cipher::traits traits{.plaintext_opted_in = true};
};

static_assert(check<none>() && check<plaintext_opt_in>());

}  // namespace tokenvault::cipher
