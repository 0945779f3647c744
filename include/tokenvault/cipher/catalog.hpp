// tokenvault/cipher/catalog.hpp: the ciphers tokenvault ships, looked up by the id a file header records.
//
// Each cipher owns its id (`C::id`) and name; this list only gathers them, so that a reader can say which
// cipher sealed a file it cannot open ("sealed with cipher::aes256gcm, but this store uses ..."). Ids are
// a file-format contract (docs/FORMAT.md): a new cipher takes a new id and joins `known` below.
#pragma once

#include <boost/hana/for_each.hpp>
#include <boost/hana/tuple.hpp>
#include <boost/hana/type.hpp>

#include <cstdint>
#include <optional>
#include <string>

#include "aes256gcm.hpp"
#include "none.hpp"
#include "xchacha20poly1305.hpp"

namespace tokenvault::cipher {

/// Every cipher this build knows (cipher::plaintext_opt_in shares cipher::none's id).
inline constexpr auto known = boost::hana::tuple_t<none, xchacha20poly1305, aes256gcm>;

/// "cipher::<name>" of the known cipher with header id `id` (marked "(plaintext)" when it writes
/// plaintext), or nullopt when this build knows no cipher with that id.
template <class = void>
[[nodiscard]] std::optional<std::string> name_of_id(std::uint8_t id) {
    std::optional<std::string> found;
    boost::hana::for_each(known, [&](auto c) {
        using C = typename decltype(c)::type;
        if (!found && C::id == id)
            found = "cipher::" + std::string(C::name) + (C::writes_plaintext ? " (plaintext)" : "");
    });
    return found;
}

/// name_of_id(id), or "cipher id N" for an id this build does not know.
template <class = void>
[[nodiscard]] std::string describe_id(std::uint8_t id) {
    return name_of_id(id).value_or("cipher id " + std::to_string(id));
}

}  // namespace tokenvault::cipher
