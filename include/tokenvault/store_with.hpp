// tokenvault/store_with.hpp: `store_with<Policies...>`, naming only the policies you care about.
//
// Each policy names its family (policy_family.hpp), so policies may be given in any order; the families
// left out take the defaults of token_store. `store_with<locking::none, backend::memory>` is
// `token_store<backend::memory, cipher::xchacha20poly1305, locking::none, migration::none,
// diagnostics::none>`. A type that is not a policy, a keyring, or two policies of one family fail to
// compile with one message; the store then checks each policy against its family's contract.
#pragma once

#include <boost/hana/equal.hpp>
#include <boost/hana/find_if.hpp>
#include <boost/hana/optional.hpp>
#include <boost/hana/tuple.hpp>
#include <boost/hana/type.hpp>

#include <type_traits>

#include "backend/memory.hpp"
#include "cipher/xchacha20poly1305.hpp"
#include "diagnostics/none.hpp"
#include "fwd.hpp"
#include "locking/threads.hpp"
#include "migration/none.hpp"
#include "policy_family.hpp"

namespace tokenvault {

namespace detail {

namespace hana = boost::hana;

/// P's policy family, or void for a type that names none.
template <class P>
struct family_of {
    using type = void;
};
template <names_a_family P>
struct family_of<P> {
    using type = typename P::policy_family;
};

/// The policy of `Family` among `Policies` (the first, if several), else `Default`.
template <class Family, class Default, class... Policies>
struct pick_policy {
    static constexpr auto found = hana::find_if(hana::tuple_t<Policies...>, [](auto policy) {
        return hana::type_c<typename family_of<typename decltype(policy)::type>::type> ==
               hana::type_c<Family>;
    });
    using type = typename decltype(+found.value_or(hana::type_c<Default>))::type;
};

/// How many of `Policies` belong to `Family`.
template <class Family, class... Policies>
inline constexpr std::size_t count_of_family = (std::size_t{0} + ... +
                                                std::is_same_v<typename family_of<Policies>::type, Family>);

/// store_with's own rules, one at a time: policies only, no keyring, one per family (with `Report`, the
/// first broken one fails to compile; the store is then built from the policies that do fit).
template <bool Report, class... Policies>
consteval bool store_with_requirements() {
    if constexpr (count_of_family < void, Policies... >> 0) {
        static_assert(!Report,
                      "tokenvault: store_with<...> takes policies only (types with a policy_family, "
                      "such as backend::memory or locking::threads); see tokenvault/policy_family.hpp");
        return false;
    } else if constexpr (count_of_family<family::keyring, Policies...> > 0) {
        static_assert(!Report,
                      "tokenvault: store_with<...> got a keyring: a keyring holds a backend's data key; "
                      "name backend::sealed_file<TheKeyring> (or backend::keyring_bundle<TheKeyring>)");
        return false;
    } else if constexpr (count_of_family<family::backend, Policies...> > 1 ||
                         count_of_family<family::cipher, Policies...> > 1 ||
                         count_of_family<family::locking, Policies...> > 1 ||
                         count_of_family<family::migration, Policies...> > 1 ||
                         count_of_family<family::diagnostics, Policies...> > 1) {
        static_assert(!Report,
                      "tokenvault: store_with<...> got two policies of the same family; name one per "
                      "family");
        return false;
    } else {
        return true;
    }
}

template <class... Policies>
struct store_with_impl {
    static_assert(store_with_requirements<false, Policies...>() ||
                  !store_with_requirements<true, Policies...>());
    using type =
        token_store<typename pick_policy<family::backend, backend::memory, Policies...>::type,
                    typename pick_policy<family::cipher, cipher::xchacha20poly1305, Policies...>::type,
                    typename pick_policy<family::locking, locking::threads, Policies...>::type,
                    typename pick_policy<family::migration, migration::none, Policies...>::type,
                    typename pick_policy<family::diagnostics, diagnostics::none, Policies...>::type>;
};

}  // namespace detail

/// A token_store from policies given in any order; families not named take the defaults.
template <class... Policies>
using store_with = typename detail::store_with_impl<Policies...>::type;

}  // namespace tokenvault
