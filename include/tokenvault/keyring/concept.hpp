// tokenvault/keyring/concept.hpp: the keyring concept (holders of small secrets).
//
// A keyring K stores small secrets (a data key, a bundle) as items named by an account string inside
// a service namespace. It must provide: `K::tier` (a short stable name such as "file"), `K::persistent`
// (survives reboot), `K::max_item_size`, `static result<std::optional<K>> open(const keyring_options&)`
// (nullopt: "not available here", so a fallback chain moves on), and `read` / `write` / `erase`.
// It may assume calls are serialised by the store; it must bound every call by `options.timeout`.
// Optional: `result<std::vector<std::string>> list_accounts(std::string_view prefix)` (the accounts of the
// service that start with `prefix`; `enumerable_keyring<K>`), which lets migrations find legacy items
// that no index lists. Keyrings that hash account names (keyring::file) cannot offer it.
#pragma once

#include <chrono>
#include <concepts>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "../detail/secure_buffer.hpp"
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

/// What every keyring provides; see the top of tokenvault/keyring/concept.hpp.
template <class K>
concept keyring_policy = std::movable<K> && requires(K& k, const K& ck, std::string_view account,
                                                      std::span<const std::byte> secret,
                                                      const keyring_options& options) {
    { K::tier } -> std::convertible_to<std::string_view>;
    { K::persistent } -> std::convertible_to<bool>;
    { K::max_item_size } -> std::convertible_to<std::size_t>;
    { K::open(options) } -> std::same_as<result<std::optional<K>>>;
    { ck.tier_name() } -> std::convertible_to<std::string_view>;
    { k.read(account) } -> std::same_as<result<std::optional<detail::secure_buffer>>>;
    { k.write(account, secret) } -> std::same_as<result<void>>;
    { k.erase(account) } -> std::same_as<result<bool>>;
};

/// A keyring that can also list its accounts by prefix (optional; see the top of this header).
template <class K>
concept enumerable_keyring = keyring_policy<K> && requires(K& k, std::string_view prefix) {
    { k.list_accounts(prefix) } -> std::same_as<result<std::vector<std::string>>>;
};

/// Marks a non-persistent keyring K as an accepted key holder for a persistent file: a reboot (keyctl)
/// or process exit (memory) then loses the key and with it every sealed token. Name it only on purpose.
template <keyring_policy K>
struct allow_volatile {
    static constexpr std::string_view tier = K::tier;
    static constexpr bool persistent = K::persistent;
    static constexpr std::size_t max_item_size = K::max_item_size;

    K inner;

    [[nodiscard]] static result<std::optional<allow_volatile>> open(const keyring_options& options) {
        auto opened = K::open(options);
        if (!opened) return opened.error();
        if (!*opened) return std::optional<allow_volatile>{};
        return std::optional<allow_volatile>{allow_volatile{std::move(**opened)}};
    }
    [[nodiscard]] std::string_view tier_name() const { return inner.tier_name(); }
    [[nodiscard]] result<std::optional<detail::secure_buffer>> read(std::string_view account) {
        return inner.read(account);
    }
    [[nodiscard]] result<void> write(std::string_view account, std::span<const std::byte> secret) {
        return inner.write(account, secret);
    }
    [[nodiscard]] result<bool> erase(std::string_view account) { return inner.erase(account); }
};

}  // namespace keyring

namespace detail {
template <class K>
struct is_allow_volatile : std::false_type {};
template <class K>
struct is_allow_volatile<keyring::allow_volatile<K>> : std::true_type {};
}  // namespace detail

}  // namespace tokenvault
