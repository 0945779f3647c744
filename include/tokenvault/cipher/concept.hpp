// tokenvault/cipher/concept.hpp: the cipher contract (how a persisted bundle is sealed).
//
// A cipher C is stateless and provides `using policy_family = tokenvault::family::cipher;`, `C::id` (one
// byte written into file headers: cipher/catalog.hpp lists the ids in use), `C::name`, `C::key_size`,
// `C::nonce_size`, `C::tag_size`, `C::writes_plaintext`, `C::available()` (a run-time check such as AES
// hardware; never a crash), and static `seal` / `open` over caller-provided spans. `open` reports a failed
// authentication as errc::corrupt_file. It may assume spans have the sizes it declares.
// Optional, declared as `static constexpr tokenvault::cipher::traits traits{.name = value};`:
//   max_messages_per_key  (unbounded)  seals one key may make; backend::sealed_file rotates the key
//                                      at half of it (random 12-byte nonces: 2^32)
//   plaintext_opted_in    (false)      writes_plaintext, chosen on purpose (cipher::plaintext_opt_in)
// `cipher::check<C>()` names the first missing piece; `cipher_policy<C>` is the same test, silently.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "../policy_family.hpp"
#include "../result.hpp"

namespace tokenvault::cipher {

/// The optional members of a cipher, with their defaults (see the top of this header).
struct traits {
    std::uint64_t max_messages_per_key = ~std::uint64_t{0};  ///< seals one key may make
    bool plaintext_opted_in = false;                         ///< plaintext on disk, chosen on purpose
};

/// The traits of cipher C: what it declares, else the defaults.
template <class C>
inline constexpr traits traits_of = tokenvault::detail::declared_traits<C, traits>;

}  // namespace tokenvault::cipher

namespace tokenvault::detail {

/// The cipher contract, one requirement at a time: with `Report`, the first one C misses fails to compile
/// with a message naming it. cipher_policy<C> and cipher::check<C>() both read this.
template <class C, bool Report>
consteval bool cipher_requirements() {
    if constexpr (!in_family<C, family::cipher>) {
        static_assert(!Report,
                      "tokenvault: Cipher needs `using policy_family = tokenvault::family::cipher;` "
                      "(see tokenvault/cipher/concept.hpp)");
        return false;
    } else if constexpr (!requires {
                             { C::id } -> std::convertible_to<std::uint8_t>;
                         }) {
        static_assert(!Report,
                      "tokenvault: Cipher needs `static constexpr std::uint8_t id`, the byte file "
                      "headers record (see tokenvault/cipher/catalog.hpp for the ids in use)");
        return false;
    } else if constexpr (!requires {
                             { C::name } -> std::convertible_to<std::string_view>;
                         }) {
        static_assert(!Report,
                      "tokenvault: Cipher needs `static constexpr std::string_view name` "
                      "(see tokenvault/cipher/concept.hpp)");
        return false;
    } else if constexpr (!requires {
                             { C::key_size } -> std::convertible_to<std::size_t>;
                             { C::nonce_size } -> std::convertible_to<std::size_t>;
                             { C::tag_size } -> std::convertible_to<std::size_t>;
                         }) {
        static_assert(!Report,
                      "tokenvault: Cipher needs `static constexpr std::size_t` key_size, nonce_size "
                      "and tag_size (see tokenvault/cipher/concept.hpp)");
        return false;
    } else if constexpr (!requires {
                             { C::writes_plaintext } -> std::convertible_to<bool>;
                         }) {
        static_assert(!Report,
                      "tokenvault: Cipher needs `static constexpr bool writes_plaintext` "
                      "(see tokenvault/cipher/concept.hpp)");
        return false;
    } else if constexpr (!requires {
                             { C::available() } -> std::same_as<result<void>>;
                         }) {
        static_assert(!Report,
                      "tokenvault: Cipher needs `static result<void> available()` "
                      "(see tokenvault/cipher/concept.hpp)");
        return false;
    } else if constexpr (!requires(std::span<const std::byte> in, std::span<std::byte> out) {
                             {
                                 C::seal(in, in, in, in, out)
                                 } -> std::same_as<result<void>>;  // key, nonce, ad, plain
                             {
                                 C::open(in, in, in, in, out)
                                 } -> std::same_as<result<void>>;  // key, nonce, ad, sealed
                         }) {
        static_assert(!Report,
                      "tokenvault: Cipher needs static seal(key, nonce, ad, in, out) and "
                      "open(key, nonce, ad, in, out) over std::span<const std::byte> (out: "
                      "std::span<std::byte>) returning result<void> (see tokenvault/cipher/concept.hpp)");
        return false;
    } else if constexpr (declares_traits<C> && !declares_traits_of<C, cipher::traits>) {
        static_assert(!Report,
                      "tokenvault: a cipher's optional members go in "
                      "`static constexpr tokenvault::cipher::traits traits{...};` "
                      "(see tokenvault/cipher/concept.hpp)");
        return false;
    } else if constexpr (requires { C::max_messages_per_key; }) {
        static_assert(!Report,
                      "tokenvault: declare max_messages_per_key in the cipher's traits: "
                      "`static constexpr tokenvault::cipher::traits traits{.max_messages_per_key = N};` "
                      "(a member outside traits is read by nobody)");
        return false;
    } else if constexpr (requires { C::plaintext_opted_in; }) {
        static_assert(!Report,
                      "tokenvault: declare plaintext_opted_in in the cipher's traits: "
                      "`static constexpr tokenvault::cipher::traits traits{.plaintext_opted_in = true};` "
                      "(a member outside traits is read by nobody)");
        return false;
    } else {
        return true;
    }
}

}  // namespace tokenvault::detail

namespace tokenvault::cipher {

/// What every cipher provides; see the top of tokenvault/cipher/concept.hpp.
template <class C>
concept cipher_policy = tokenvault::detail::cipher_requirements<C, false>();

/// Fails to compile, naming the first piece C misses, unless C models cipher_policy. Returns true, so
/// that `static_assert(cipher::check<C>())` gives that one message and no second error.
template <class C>
consteval bool check() {
    (void)tokenvault::detail::cipher_requirements<C, true>();
    return true;
}

}  // namespace tokenvault::cipher
