// tokenvault/keyring/foreign.hpp: reading items that other programs keep in the OS keyring (read only).
//
// Importers read the logins other clients keep in the OS keyring (Codex's MCP credentials, Claude Code's
// keychain item). Those items follow the (service, account) naming shared by the native keyring libraries
// (the Rust keyring crate, go-keyring, keytar), which each keyring maps to its own store:
//   - Secret Service: the attributes "service" and "username", in any collection; the secret is the raw
//     bytes (no encoding of tokenvault's own);
//   - macOS keychain: a generic password with that service and account;
//   - Windows Credential Manager: a generic credential whose target is "<account>.<service>".
// A keyring K that can do this models `foreign_item_reader<K>`: `read_foreign(service, account)` (the
// item's bytes, nullopt when absent) and `list_foreign(service)` (the accounts of that service, sorted).
// Both only read: they never create, change, unlock or delete an item, and never prompt (a locked item
// is errc::keyring_locked). Each call is bounded by the keyring's timeout, like every keyring call.
#pragma once

#include <concepts>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../detail/secure_buffer.hpp"
#include "../result.hpp"

namespace tokenvault::keyring {

/// The Secret Service attribute that holds a foreign item's service.
inline constexpr std::string_view foreign_service_attribute = "service";
/// The Secret Service attribute that holds a foreign item's account (the Rust keyring crate's name).
inline constexpr std::string_view foreign_account_attribute = "username";

/// A keyring that can read (never write) other programs' items; see the top of
/// tokenvault/keyring/foreign.hpp.
template <class K>
concept foreign_item_reader = requires(K& k, std::string_view service, std::string_view account) {
    { k.read_foreign(service, account) } -> std::same_as<result<std::optional<detail::secure_buffer>>>;
    { k.list_foreign(service) } -> std::same_as<result<std::vector<std::string>>>;
};

}  // namespace tokenvault::keyring
