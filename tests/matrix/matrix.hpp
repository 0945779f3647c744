// tests/matrix/matrix.hpp: the compile-time test matrix.
//
// Hana builds the cartesian product of the policy lists below, keeps the combinations the library
// accepts (detail::combination_rules) minus redundant ones (a cipher on a backend that uses none; a
// cross-process lock on a backend no other process sees), and hands the result to doctest as a
// std::tuple of store types. A new policy joins every conformance test by adding it to one list.
#pragma once

#include <boost/hana/at.hpp>
#include <boost/hana/bool.hpp>
#include <boost/hana/cartesian_product.hpp>
#include <boost/hana/filter.hpp>
#include <boost/hana/transform.hpp>
#include <boost/hana/tuple.hpp>
#include <boost/hana/type.hpp>
#include <boost/hana/unpack.hpp>

#include <tokenvault/tokenvault.hpp>

#include <tuple>
#include <type_traits>

namespace tvtest::matrix {

namespace hana = boost::hana;
namespace tv = tokenvault;

/// The default cipher: the only one tried on backends that use no cipher.
using default_cipher = tv::cipher::xchacha20poly1305;

/// Builds the std::tuple of valid store types from lists of backends, ciphers, lockings, migrations
/// and diagnostics (each a hana::tuple_t).
template <class Backends, class Ciphers, class Lockings, class Migrations, class Diagnostics>
constexpr auto valid_stores(Backends backends, Ciphers ciphers, Lockings lockings, Migrations migrations,
                            Diagnostics diagnostics) {
    const auto product =
        hana::cartesian_product(hana::make_tuple(backends, ciphers, lockings, migrations, diagnostics));
    const auto valid = hana::filter(product, [](auto combination) {
        using B = typename decltype(+hana::at_c<0>(combination))::type;
        using C = typename decltype(+hana::at_c<1>(combination))::type;
        using L = typename decltype(+hana::at_c<2>(combination))::type;
        using M = typename decltype(+hana::at_c<3>(combination))::type;
        constexpr bool accepted = tv::detail::combination_rules<B, C, L, M>::valid;
        constexpr bool cipher_matters = B::uses_cipher || std::is_same_v<C, default_cipher>;
        constexpr bool lock_matters = B::shared || !L::cross_process;
        return hana::bool_c < accepted && cipher_matters && lock_matters > ;
    });
    const auto stores = hana::transform(valid, [](auto combination) {
        return hana::unpack(combination, [](auto... policy) {
            return hana::type_c<tv::token_store<typename decltype(+policy)::type...>>;
        });
    });
    return hana::unpack(
        stores, [](auto... store) { return hana::type_c<std::tuple<typename decltype(+store)::type...>>; });
}

/// The std::tuple type of the store types built by valid_stores(...).
template <auto Lists>
using stores_t = typename decltype(+Lists)::type;

}  // namespace tvtest::matrix
