// tokenvault/cipher/concept.hpp: the cipher concept (how a persisted bundle is sealed).
//
// A cipher C is stateless and provides: `C::id` (one byte, written into file headers), `C::name`,
// `C::key_size`, `C::nonce_size`, `C::tag_size`, `C::writes_plaintext`, `C::available()` (a run-time check
// such as AES hardware; never a crash), and static `seal` / `open` over caller-provided spans. `open`
// reports a failed authentication as errc::corrupt_file. It may assume spans have the sizes it declares.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "../policy_family.hpp"
#include "../result.hpp"

namespace tokenvault::cipher {

/// What every cipher provides; see the top of tokenvault/cipher/concept.hpp.
template <class C>
concept cipher_policy = std::same_as<typename C::policy_family, family::cipher> &&
    requires(std::span<const std::byte> in, std::span<std::byte> out) {
        { C::id } -> std::convertible_to<std::uint8_t>;
        { C::name } -> std::convertible_to<std::string_view>;
        { C::key_size } -> std::convertible_to<std::size_t>;
        { C::nonce_size } -> std::convertible_to<std::size_t>;
        { C::tag_size } -> std::convertible_to<std::size_t>;
        { C::writes_plaintext } -> std::convertible_to<bool>;
        { C::available() } -> std::same_as<result<void>>;
        { C::seal(in, in, in, in, out) } -> std::same_as<result<void>>;  // key, nonce, ad, plaintext, out
        { C::open(in, in, in, in, out) } -> std::same_as<result<void>>;  // key, nonce, ad, ciphertext, out
    };

}  // namespace tokenvault::cipher
