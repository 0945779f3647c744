// tokenvault/store_with.hpp: `store_with<Policies...>`, naming only the policies you care about.
//
// Each policy names its family (policy_family.hpp), so policies may be given in any order; the families
// left out take the defaults of token_store. `store_with<locking::none, backend::memory>` is
// `token_store<backend::memory, cipher::xchacha20poly1305, locking::none, migration::none,
// diagnostics::none>`. A type that is not a policy, or two policies of one family, fail to compile.
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

template <class P>
concept names_its_family = requires { typename P::policy_family; };

/// The policy of `Family` among `Policies`, else `Default`.
template <class Family, class Default, class... Policies>
struct pick_policy {
    static constexpr std::size_t matches = (std::size_t{0} + ... + std::is_same_v<typename Policies::policy_family, Family>);
    static_assert(matches <= 1, "tokenvault: store_with<...> got two policies of the same family; name one per family");
    static constexpr auto found = hana::find_if(hana::tuple_t<Policies...>, [](auto policy) {
        return hana::type_c<typename decltype(policy)::type::policy_family> == hana::type_c<Family>;
    });
    using type = typename decltype(+found.value_or(hana::type_c<Default>))::type;
};

template <class... Policies>
struct store_with_impl {
    static_assert((names_its_family<Policies> && ...),
                  "tokenvault: store_with<...> takes policies only (types with a policy_family, such as "
                  "backend::memory or locking::threads); see tokenvault/policy_family.hpp");
    using type = token_store<typename pick_policy<family::backend, backend::memory, Policies...>::type,
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
