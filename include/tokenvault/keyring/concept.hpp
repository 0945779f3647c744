// tokenvault/keyring/concept.hpp: the keyring contract (holders of small secrets), and allow_volatile.
//
// A keyring K stores small secrets (a data key, a bundle) as items named by an account string inside a
// service namespace. It provides `using policy_family = tokenvault::family::keyring;`, `K::tier` (a short
// stable name such as "file"), `K::persistent` (survives reboot), `K::max_item_size`, `static
// result<std::optional<K>> open(const keyring_options&)` (nullopt: "not available here", so a fallback
// chain moves on), `tier_name()` and `read` / `write` / `erase`. It may assume calls are serialised by the
// store; it must bound every call by `options.timeout`. Keyrings go inside backends and migrations
// (backend::sealed_file<K>), never into a store slot of their own.
// Optional, declared as `static constexpr tokenvault::keyring::traits traits{.name = value};`:
//   lists_accounts     (false)  K has `result<std::vector<std::string>> list_accounts(std::string_view
//                               prefix)`, which lets migrations find legacy items no index lists
//   chooses_tier       (false)  K picks one of several tiers when it opens (a fallback chain); it then has
//                               `static std::string chain_name()`, `static constexpr bool
//                               contains_tier(std::string_view)`, `static open_tier(options, name)` and
//                               `const std::vector<tier_attempt>& resolution() const`
//   volatile_accepted  (false)  the program accepts that items vanish at reboot or exit: a non-persistent
//                               K may hold the key of a persistent file (allow_volatile<K> says so)
//   ends_chain         (false)  some errors of K::open must end a fallback chain instead of falling through
//                               to the next tier (the user denied access: asking another keyring would
//                               move the secret behind their back); K then has `static bool
//                               ends_chain(const error&)` saying which
//   add_only           (false)  write never replaces an item that exists with other bytes (errc::conflict:
//                               rewriting a macOS keychain item resets its access list, and every reader
//                               asks the user again); backends that rewrite one item on every save
//                               (backend::keyring_bundle) refuse such a K at compile time
// `keyring::check<K>()` names the first missing piece; `keyring_policy<K>` is the same test, silently.
#pragma once

#include <chrono>
#include <concepts>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "../detail/secure_buffer.hpp"
#include "../policy_family.hpp"
#include "../result.hpp"

namespace tokenvault {

/// How keyring calls behave, whichever store opens the keyring (store_options::keyring_settings).
struct keyring_settings {
    std::chrono::milliseconds timeout{5000};  ///< bound on every keyring call
    bool allow_volatile_collection = false;   ///< secret_service: accept the "session" collection
};

/// Where and how a keyring opens.
struct keyring_options : keyring_settings {
    std::string service = "tokenvault";  ///< namespace of the items (the app name)
    std::filesystem::path directory;     ///< for keyring::file: its 0700 directory
};

namespace keyring {

/// The optional members of a keyring, with their defaults (see the top of this header).
struct traits {
    bool lists_accounts = false;     ///< has list_accounts(prefix)
    bool chooses_tier = false;       ///< a fallback chain: chain_name, contains_tier, open_tier, resolution
    bool volatile_accepted = false;  ///< may hold a persistent file's key although not persistent
    bool ends_chain = false;         ///< has ends_chain(error): errors of open() that end a fallback chain
    bool add_only = false;           ///< write never replaces an existing item with other bytes
};

/// The traits of keyring K: what it declares, else the defaults.
template <class K>
inline constexpr traits traits_of = tokenvault::detail::declared_traits<K, traits>;

/// One attempt of a fallback chain's open: which tier, whether it opened, and why not (never a secret).
struct tier_attempt {
    std::string_view tier;   ///< K::tier of the attempted keyring
    bool opened = false;     ///< true for the tier that was chosen
    std::error_code reason;  ///< why it did not open: errc::keyring_unavailable for "not available here"
};

}  // namespace keyring

namespace detail {

/// Whether K has `list_accounts(prefix)` returning the account names.
template <class K>
concept has_list_accounts = requires(K& k, std::string_view prefix) {
    { k.list_accounts(prefix) } -> std::same_as<result<std::vector<std::string>>>;
};

/// Whether K has the members of a fallback chain (see chooses_tier at the top of this header).
template <class K>
concept has_chain_members = requires(const K& k, const keyring_options& options, std::string_view name) {
    { K::chain_name() } -> std::same_as<std::string>;
    { K::contains_tier(name) } -> std::same_as<bool>;
    { K::open_tier(options, name) } -> std::same_as<result<std::optional<K>>>;
    { k.resolution() } -> std::same_as<const std::vector<keyring::tier_attempt>&>;
};

/// Whether K has `static bool ends_chain(const error&)`.
template <class K>
concept has_ends_chain = requires(const error& e) {
    { K::ends_chain(e) } -> std::same_as<bool>;
};

/// The keyring contract, one requirement at a time: with `Report`, the first one K misses fails to
/// compile with a message naming it. keyring_policy<K> and keyring::check<K>() both read this.
template <class K, bool Report>
consteval bool keyring_requirements() {
    constexpr keyring::traits t = keyring::traits_of<K>;
    if constexpr (!in_family<K, family::keyring>) {
        static_assert(!Report,
                      "tokenvault: Keyring needs `using policy_family = tokenvault::family::keyring;` "
                      "(see tokenvault/keyring/concept.hpp)");
        return false;
    } else if constexpr (!std::movable<K>) {
        static_assert(!Report,
                      "tokenvault: Keyring needs to be movable (see tokenvault/keyring/concept.hpp)");
        return false;
    } else if constexpr (!requires {
                             { K::tier } -> std::convertible_to<std::string_view>;
                             { K::persistent } -> std::convertible_to<bool>;
                             { K::max_item_size } -> std::convertible_to<std::size_t>;
                         }) {
        static_assert(!Report,
                      "tokenvault: Keyring needs `static constexpr` tier (std::string_view), "
                      "persistent (bool) and max_item_size (std::size_t) (see "
                      "tokenvault/keyring/concept.hpp)");
        return false;
    } else if constexpr (!requires(const keyring_options& o) {
                             { K::open(o) } -> std::same_as<result<std::optional<K>>>;
                         }) {
        static_assert(!Report,
                      "tokenvault: Keyring needs `static result<std::optional<K>> open(const "
                      "keyring_options&)` (nullopt: not available here; see tokenvault/keyring/concept.hpp)");
        return false;
    } else if constexpr (!requires(K & k, const K& ck, std::string_view account,
                                   std::span<const std::byte> secret) {
                             { ck.tier_name() } -> std::convertible_to<std::string_view>;
                             { k.read(account) } -> std::same_as<result<std::optional<secure_buffer>>>;
                             { k.write(account, secret) } -> std::same_as<result<void>>;
                             { k.erase(account) } -> std::same_as<result<bool>>;
                         }) {
        static_assert(!Report,
                      "tokenvault: Keyring needs tier_name() const, read(account) -> "
                      "result<std::optional<secure_buffer>>, write(account, bytes) -> result<void> and "
                      "erase(account) -> result<bool> (see tokenvault/keyring/concept.hpp)");
        return false;
    } else if constexpr (declares_traits<K> && !declares_traits_of<K, keyring::traits>) {
        static_assert(!Report,
                      "tokenvault: a keyring's optional members go in "
                      "`static constexpr tokenvault::keyring::traits traits{...};` "
                      "(see tokenvault/keyring/concept.hpp)");
        return false;
    } else if constexpr (t.lists_accounts != has_list_accounts<K>) {
        static_assert(!Report,
                      "tokenvault: a keyring has `result<std::vector<std::string>> "
                      "list_accounts(std::string_view)` exactly when its traits say lists_accounts = true "
                      "(see tokenvault/keyring/concept.hpp)");
        return false;
    } else if constexpr (t.chooses_tier != has_chain_members<K>) {
        static_assert(!Report,
                      "tokenvault: a keyring has chain_name(), contains_tier(), open_tier() and "
                      "resolution() exactly when its traits say chooses_tier = true (see "
                      "tokenvault/keyring/concept.hpp)");
        return false;
    } else if constexpr (t.ends_chain != has_ends_chain<K>) {
        static_assert(!Report,
                      "tokenvault: a keyring has `static bool ends_chain(const error&)` exactly when its "
                      "traits say ends_chain = true (see tokenvault/keyring/concept.hpp)");
        return false;
    } else {
        return true;
    }
}

}  // namespace detail

namespace keyring {

/// What every keyring provides; see the top of tokenvault/keyring/concept.hpp.
template <class K>
concept keyring_policy = tokenvault::detail::keyring_requirements<K, false>();

/// Fails to compile, naming the first piece K misses, unless K models keyring_policy. Returns true, so
/// that `static_assert(keyring::check<K>())` gives that one message and no second error.
template <class K>
consteval bool check() {
    (void)tokenvault::detail::keyring_requirements<K, true>();
    return true;
}

/// A keyring that can also list its accounts by prefix (traits lists_accounts).
template <class K>
concept enumerable_keyring = keyring_policy<K> && traits_of<K>
.lists_accounts;

/// Whether keyring K may hold the key of a persistent file: it persists, or the program accepted that it
/// does not (allow_volatile<K>, or a chain whose every tier is accepted).
template <class K>
inline constexpr bool accepted_key_holder = K::persistent || traits_of<K>.volatile_accepted;

/// The name of keyring K as resolution logs record it: "first_available(secret_service,file)" for a
/// chain, "file" for one keyring.
template <class K>
[[nodiscard]] std::string chain_name() {
    if constexpr (traits_of<K>.chooses_tier)
        return K::chain_name();
    else
        return std::string(K::tier);
}

/// Whether error `e` of K::open must end a fallback chain (traits ends_chain), rather than fall through.
template <class K>
[[nodiscard]] bool ends_chain(const error& e) {
    if constexpr (traits_of<K>.ends_chain)
        return K::ends_chain(e);
    else
        return false;
}

/// Marks a non-persistent keyring K as an accepted key holder for a persistent file: a reboot (keyctl)
/// or process exit (memory) then loses the key and with it every sealed token. Name it only on purpose.
/// Everything else is K's: tier, items, and the chain members when K is a chain.
template <keyring_policy K>
struct allow_volatile {
    using policy_family = family::keyring;
    static constexpr std::string_view tier = K::tier;
    static constexpr bool persistent = K::persistent;
    static constexpr std::size_t max_item_size = K::max_item_size;
    static constexpr keyring::traits traits{.lists_accounts = traits_of<K>.lists_accounts,
                                            .chooses_tier = traits_of<K>.chooses_tier,
                                            .volatile_accepted = true,
                                            .ends_chain = traits_of<K>.ends_chain,
                                            .add_only = traits_of<K>.add_only};

    K inner;

    [[nodiscard]] static result<std::optional<allow_volatile>> open(const keyring_options& options) {
        return wrap(K::open(options));
    }
    [[nodiscard]] std::string_view tier_name() const { return inner.tier_name(); }
    [[nodiscard]] result<std::optional<detail::secure_buffer>> read(std::string_view account) {
        return inner.read(account);
    }
    [[nodiscard]] result<void> write(std::string_view account, std::span<const std::byte> secret) {
        return inner.write(account, secret);
    }
    [[nodiscard]] result<bool> erase(std::string_view account) { return inner.erase(account); }

    /// K's accounts with this prefix (when K lists accounts).
    [[nodiscard]] result<std::vector<std::string>> list_accounts(std::string_view prefix) requires(
        traits_of<K>.lists_accounts) {
        return inner.list_accounts(prefix);
    }
    /// Whether an error of K::open ends a fallback chain (when K says some do).
    [[nodiscard]] static bool ends_chain(const error& e) requires(traits_of<K>.ends_chain) {
        return K::ends_chain(e);
    }
    /// K's chain name (when K is a chain).
    [[nodiscard]] static std::string chain_name() requires(traits_of<K>.chooses_tier) {
        return K::chain_name();
    }
    /// Whether K's chain has a tier named `name` (when K is a chain).
    [[nodiscard]] static constexpr bool contains_tier(std::string_view name) noexcept
        requires(traits_of<K>.chooses_tier) {
        return K::contains_tier(name);
    }
    /// Opens exactly K's tier named `name` (when K is a chain).
    [[nodiscard]] static result<std::optional<allow_volatile>> open_tier(
        const keyring_options& options, std::string_view name) requires(traits_of<K>.chooses_tier) {
        return wrap(K::open_tier(options, name));
    }
    /// The tiers K's chain tried (when K is a chain).
    [[nodiscard]] const std::vector<tier_attempt>& resolution() const noexcept
        requires(traits_of<K>.chooses_tier) {
        return inner.resolution();
    }

private:
    static result<std::optional<allow_volatile>> wrap(result<std::optional<K>> opened) {
        if (!opened) return opened.error();
        if (!*opened) return std::optional<allow_volatile>{};
        return std::optional<allow_volatile>{allow_volatile{std::move(**opened)}};
    }
};

}  // namespace keyring

}  // namespace tokenvault
