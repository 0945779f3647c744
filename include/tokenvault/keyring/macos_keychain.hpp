// tokenvault/keyring/macos_keychain.hpp: keyring::macos_keychain, the macOS keychain (Security.framework).
//
// One generic-password item per keyring item (kSecAttrService = the service, kSecAttrAccount = the
// account): read with SecItemCopyMatching, created with SecItemAdd, removed with SecItemDelete. An item is
// never rewritten (no SecItemUpdate, no delete-and-add): a rewrite resets the item's access list and every
// program that reads it asks the user again, so writing other bytes over an existing item is errc::conflict.
// A denial (errSecUserCanceled, errSecAuthFailed) is remembered for the process: nothing asks again, and
// first_available stops there (ends_chain) instead of asking the next tier. Every call runs on a worker
// thread bounded by options.timeout; a call that times out is abandoned, not cancelled, and the next read
// of the same item joins it (or takes its late result) instead of asking again. Calls go through the
// keychain_api table (macos_keychain_api.hpp): Security.framework on Apple platforms; elsewhere open()
// answers "not available here" unless a table (a fake, in tests) is installed. Not in tokenvault.hpp.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <concepts>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "../detail/macos_keychain_calls.hpp"
#include "../detail/secure_buffer.hpp"
#include "../error.hpp"
#include "../platform/platform.hpp"
#include "../result.hpp"
#include "concept.hpp"
#include "macos_keychain_api.hpp"

namespace tokenvault::keyring {

/// Items in the user's file-based keychain (the login keychain): where SecItem calls go by default on
/// macOS. Every item carries its own access list; a program not on it makes macOS ask the user.
struct keychain_file_based {
    static constexpr std::string_view tier = "macos_keychain";  ///< tier name in file headers and logs
    static constexpr bool data_protection_keychain = false;     ///< kSecUseDataProtectionKeychain
    static constexpr std::string_view access_group{};           ///< kSecAttrAccessGroup ("": none)
};

/// Items in the data protection keychain (macOS 10.15+), in the program's default access group, readable
/// after the first unlock (kSecAttrAccessibleAfterFirstUnlock). Needs a signed program with a
/// keychain-access-groups entitlement. For another group, define a struct like this one with its own tier.
struct keychain_data_protection {
    static constexpr std::string_view tier = "macos_keychain_dp";  ///< tier name in file headers and logs
    static constexpr bool data_protection_keychain = true;         ///< kSecUseDataProtectionKeychain
    static constexpr std::string_view access_group{};              ///< the program's default group
};

/// What basic_macos_keychain<Location> needs of Location: see keychain_file_based.
template <class L>
concept keychain_location = requires {
    { L::tier } -> std::convertible_to<std::string_view>;
    { L::data_protection_keychain } -> std::convertible_to<bool>;
    { L::access_group } -> std::convertible_to<std::string_view>;
};

/// The macOS keychain: generic-password items, each created once and never rewritten. See the top of
/// tokenvault/keyring/macos_keychain.hpp.
template <class Location = keychain_file_based>
class basic_macos_keychain {
    static_assert(keychain_location<Location>,
                  "keyring::basic_macos_keychain<Location>: Location must provide `tier`, "
                  "`data_protection_keychain` and `access_group` as static constexpr members: copy "
                  "keyring::keychain_file_based or keyring::keychain_data_protection");
    static_assert(Location::data_protection_keychain || Location::access_group.empty(),
                  "keyring::basic_macos_keychain<Location>: an access group applies to the data protection "
                  "keychain only: set `data_protection_keychain = true` in Location");
    static_assert(!Location::tier.empty() && Location::tier.size() <= 32,
                  "keyring::basic_macos_keychain<Location>: Location::tier must be 1-32 characters (it is "
                  "recorded in sealed file headers)");

public:
    using policy_family = family::keyring;
    /// The tier name recorded in file headers and resolution logs.
    static constexpr std::string_view tier = Location::tier;
    /// Whether items survive a reboot.
    static constexpr bool persistent = true;
    /// The largest item written or read (the keychain documents no limit; this keyring holds keys).
    static constexpr std::size_t max_item_size = std::size_t{1} << 20;
    /// It lists its accounts (list_accounts below); a denial ends a fallback chain (ends_chain below); it
    /// never rewrites an item (write below), so it holds keys, not a bundle rewritten on every save.
    static constexpr keyring::traits traits{.lists_accounts = true, .ends_chain = true, .add_only = true};

    /// Opens the keychain after one query that never shows a dialog (an attribute lookup): nullopt when this
    /// build has no keychain table or the session has no keychain; errc::keyring_locked when it is locked
    /// and no dialog may be shown; errc::keyring_denied when this process was denied before.
    [[nodiscard]] static result<std::optional<basic_macos_keychain>> open(const keyring_options& options) {
        namespace dm = detail::macos_keychain;
        namespace st = keychain::status;
        const keychain::keychain_api* api = keychain::current_api();
        if (api == nullptr) return std::optional<basic_macos_keychain>{};
        TOKENVAULT_TRY(dm::check_name("service", options.service, tier));
        basic_macos_keychain ring(*api, options.service, options.timeout);
        const std::string where = describe_call("open", options.service, std::nullopt);
        if (auto denied = dm::remembered_denial(ring.denial_key(options.service), where)) return *denied;
        auto probed = dm::run(*api, "probe" + ring.denial_key(options.service),
                              ring.denial_key(options.service), where, options.timeout,
                              [q = ring.query_of(options.service, std::nullopt)](
                                  const keychain::keychain_api& a) { return probe(a, q); });
        if (!probed) return probed.error();
        if (probed->failure) return *probed->failure;
        switch (probed->status) {
        case st::success:
        case st::item_not_found: return std::optional<basic_macos_keychain>{std::move(ring)};
        case st::not_available:
        case st::no_such_keychain:
        case st::no_default_keychain: return std::optional<basic_macos_keychain>{};
        default: return dm::status_error(probed->status, where, probed->said);
        }
    }

    /// Whether an error of open() ends a first_available chain: a denial does (the user said no; the
    /// next tier must not ask in its place or quietly hold the key instead).
    [[nodiscard]] static bool ends_chain(const error& e) noexcept { return e == errc::keyring_denied; }

    /// The tier name ("macos_keychain").
    [[nodiscard]] std::string_view tier_name() const noexcept { return tier; }

    /// The item's bytes, or nullopt when there is none. May show macOS's access dialog once.
    [[nodiscard]] result<std::optional<detail::secure_buffer>> read(std::string_view account) {
        return read_item_of(service_, account);
    }

    /// Creates the item. An item that exists with the same bytes is success; with other bytes it is
    /// errc::conflict: an item is never rewritten (erase it first to replace it on purpose).
    [[nodiscard]] result<void> write(std::string_view account, std::span<const std::byte> secret) {
        namespace dm = detail::macos_keychain;
        namespace st = keychain::status;
        const std::string where = describe_call("write", service_, account);
        TOKENVAULT_TRY(dm::check_name("account", account, tier));
        if (secret.size() > max_item_size)
            return error{errc::keyring_item_too_large,
                         where + ": over " + std::to_string(max_item_size) + " bytes"};
        if (auto denied = dm::remembered_denial(denial_key(service_), where)) return *denied;
        auto added =
            dm::run(*api_, "", denial_key(service_), where, timeout_,
                    [q = query_of(service_, std::string(account)),
                     label = "tokenvault " + service_ + " " + std::string(account),
                     bytes = detail::secure_buffer::copy_of(secret)](const keychain::keychain_api& a) {
                        return add(a, q, label, bytes.bytes());
                    });
        if (!added) return added.error();
        if (added->failure) return *added->failure;
        dm::forget_result(read_key(service_, account));
        if (added->status == st::success) return {};
        if (added->status != st::duplicate_item) return dm::status_error(added->status, where, added->said);
        // It exists: made by another process meanwhile, or by an earlier call of ours that timed out and
        // landed later. The same bytes are what the caller wanted; other bytes are never overwritten.
        auto existing = read_item_of(service_, account);
        if (!existing) return existing.error();
        if (*existing && (*existing)->equals(secret)) return {};
        return error{errc::conflict,
                     where +
                         ": the item exists with other content; tokenvault never rewrites a keychain item (a "
                         "rewrite resets its access list, and every program reading it asks the user "
                         "again): read it again, or erase it first to replace it"};
    }

    /// Removes the item; false when there was none.
    [[nodiscard]] result<bool> erase(std::string_view account) {
        namespace dm = detail::macos_keychain;
        namespace st = keychain::status;
        const std::string where = describe_call("erase", service_, account);
        TOKENVAULT_TRY(dm::check_name("account", account, tier));
        if (auto denied = dm::remembered_denial(denial_key(service_), where)) return *denied;
        auto removed = dm::run(*api_, "", denial_key(service_), where, timeout_,
                               [q = query_of(service_, std::string(account))](
                                   const keychain::keychain_api& a) { return remove(a, q); });
        if (!removed) return removed.error();
        if (removed->failure) return *removed->failure;
        dm::forget_result(read_key(service_, account));
        if (removed->status == st::success) return true;
        if (removed->status == st::item_not_found) return false;
        return dm::status_error(removed->status, where, removed->said);
    }

    /// The accounts of this service that start with `prefix`, sorted (attributes only: never a dialog).
    [[nodiscard]] result<std::vector<std::string>> list_accounts(std::string_view prefix) {
        return list_accounts_of(service_, prefix);
    }

    /// Another program's item (`service`, `account`), read only: keyring::foreign_item_reader, for
    /// importers (the Rust keyring crate, go-keyring and keytar file a generic password by service and
    /// account). One dialog at most; a denial is remembered for that service.
    [[nodiscard]] result<std::optional<detail::secure_buffer>> read_foreign(std::string_view service,
                                                                            std::string_view account) {
        return read_item_of(service, account);
    }

    /// The accounts of another program's `service`, sorted (attributes only: never a dialog).
    [[nodiscard]] result<std::vector<std::string>> list_foreign(std::string_view service) {
        return list_accounts_of(service, "");
    }

    /// Reads item (`service`, `account`) of another program, read-only (importers). Like read: one
    /// dialog at most, a denial remembered for that service.
    [[nodiscard]] result<std::optional<detail::secure_buffer>> read_item_of(std::string_view service,
                                                                            std::string_view account) {
        namespace dm = detail::macos_keychain;
        namespace st = keychain::status;
        using value_t = std::optional<detail::secure_buffer>;
        const std::string where = describe_call("read", service, account);
        TOKENVAULT_TRY(dm::check_name("service", service, tier));
        TOKENVAULT_TRY(dm::check_name("account", account, tier));
        const std::string denied_under = denial_key(service);
        if (auto denied = dm::remembered_denial(denied_under, where)) return *denied;
        auto got = dm::run(*api_, read_key(service, account), denied_under, where, timeout_,
                           [q = query_of(service, std::string(account)),
                            where](const keychain::keychain_api& a) { return fetch(a, q, where); });
        if (!got) return got.error();
        if (got->failure) return *got->failure;
        if (got->status == st::item_not_found) return value_t{};
        if (got->status != st::success) return dm::status_error(got->status, where, got->said);
        if (!got->data) return value_t{detail::secure_buffer{}};
        return value_t{std::move(*got->data)};
    }

    /// The accounts of another program's `service` that start with `prefix`, sorted (read-only).
    [[nodiscard]] result<std::vector<std::string>> list_accounts_of(std::string_view service,
                                                                    std::string_view prefix) {
        namespace dm = detail::macos_keychain;
        namespace st = keychain::status;
        const std::string where = describe_call("list", service, std::nullopt);
        TOKENVAULT_TRY(dm::check_name("service", service, tier));
        if (auto denied = dm::remembered_denial(denial_key(service), where)) return *denied;
        auto listed = dm::run(*api_, "", denial_key(service), where, timeout_,
                              [q = query_of(service, std::nullopt), where](const keychain::keychain_api& a) {
                                  return list(a, q, where);
                              });
        if (!listed) return listed.error();
        if (listed->failure) return *listed->failure;
        if (listed->status == st::item_not_found) return std::vector<std::string>{};
        if (listed->status != st::success) return dm::status_error(listed->status, where, listed->said);
        std::vector<std::string> accounts;
        for (auto& account : listed->accounts)
            if (std::string_view(account).starts_with(prefix)) accounts.push_back(std::move(account));
        std::sort(accounts.begin(), accounts.end());
        accounts.erase(std::unique(accounts.begin(), accounts.end()), accounts.end());
        return accounts;
    }

private:
    /// What a query names: the item (or every item of the service) at Location.
    struct item_query {
        std::string service;
        std::optional<std::string> account;
    };

    basic_macos_keychain(const keychain::keychain_api& api, std::string service,
                         std::chrono::milliseconds timeout)
        : api_(&api), service_(std::move(service)), timeout_(timeout) {}

    [[nodiscard]] static item_query query_of(std::string_view service, std::optional<std::string> account) {
        return item_query{std::string(service), std::move(account)};
    }

    /// "keyring::macos_keychain: read \"data-key\" (service \"app\")".
    [[nodiscard]] static std::string describe_call(std::string_view op, std::string_view service,
                                                   std::optional<std::string_view> account) {
        std::string text = "keyring::" + std::string(tier) + ": " + std::string(op);
        if (account) text += " \"" + std::string(*account) + "\"";
        return text + " (service \"" + std::string(service) + "\")";
    }

    /// The process-wide name of `service` in this keychain (table, location, service).
    [[nodiscard]] std::string denial_key(std::string_view service) const {
        return std::to_string(reinterpret_cast<std::uintptr_t>(api_)) + '\x1f' + std::string(tier) + '\x1f' +
               std::string(Location::access_group) + '\x1f' + std::string(service);
    }
    [[nodiscard]] std::string read_key(std::string_view service, std::string_view account) const {
        return "read\x1f" + denial_key(service) + '\x1f' + std::string(account);
    }

    /// The class, service, account and keychain attributes of a query (on the worker thread).
    [[nodiscard]] static detail::macos_keychain::dictionary query_dictionary(const keychain::keychain_api& a,
                                                                             const item_query& q) {
        using keychain::cf_constant;
        detail::macos_keychain::dictionary d(a);
        d.set(cf_constant::sec_class, cf_constant::class_generic_password);
        d.set_text(cf_constant::attr_service, q.service);
        if (q.account) d.set_text(cf_constant::attr_account, *q.account);
        if constexpr (Location::data_protection_keychain) {
            d.set(cf_constant::use_data_protection_keychain, cf_constant::boolean_true);
            if constexpr (!Location::access_group.empty())
                d.set_text(cf_constant::attr_access_group, Location::access_group);
        }
        return d;
    }

    [[nodiscard]] static detail::macos_keychain::outcome not_utf8(const item_query& q, std::string_view op) {
        detail::macos_keychain::outcome out;
        out.failure = error{errc::invalid_argument, describe_call(op, q.service, q.account) +
                                                        ": the service and account must be valid UTF-8"};
        return out;
    }

    [[nodiscard]] static detail::macos_keychain::outcome finish(const keychain::keychain_api& a,
                                                                keychain::os_status s) {
        detail::macos_keychain::outcome out;
        out.status = s;
        if (s != keychain::status::success && s != keychain::status::item_not_found)
            out.said = detail::macos_keychain::describe_status(a, s);
        return out;
    }

    // The calls, run on the worker thread: each builds its dictionary, calls Security once, releases all.

    /// One SecItemCopyMatching of `q` that returns `what` (kSecReturnData or kSecReturnAttributes) for
    /// `limit` matches; `use(found, out)` reads the result before it is released.
    template <class Use>
    [[nodiscard]] static detail::macos_keychain::outcome search(const keychain::keychain_api& a,
                                                                const item_query& q,
                                                                keychain::cf_constant what,
                                                                keychain::cf_constant limit,
                                                                std::string_view op, Use use) {
        using keychain::cf_constant;
        auto d = query_dictionary(a, q);
        d.set(what, cf_constant::boolean_true);
        d.set(cf_constant::match_limit, limit);
        if (!d.ok()) return not_utf8(q, op);
        keychain::cf_ref found = nullptr;
        const keychain::os_status s = a.copy_matching(d.get(), &found);
        const detail::macos_keychain::cf_owned owned(a, found);
        auto out = finish(a, s);
        if (s == keychain::status::success) use(found, out);
        return out;
    }

    /// Whether the keychain answers at all: an attribute lookup (never a dialog for an item's data).
    [[nodiscard]] static detail::macos_keychain::outcome probe(const keychain::keychain_api& a,
                                                               const item_query& q) {
        using keychain::cf_constant;
        return search(a, q, cf_constant::return_attributes, cf_constant::match_limit_one, "open",
                      [](keychain::cf_ref, detail::macos_keychain::outcome&) {});
    }

    /// The item's data (kSecReturnData, one match).
    [[nodiscard]] static detail::macos_keychain::outcome fetch(const keychain::keychain_api& a,
                                                               const item_query& q,
                                                               const std::string& where) {
        using keychain::cf_constant;
        return search(a, q, cf_constant::return_data, cf_constant::match_limit_one, "read",
                      [&](keychain::cf_ref found, detail::macos_keychain::outcome& out) {
                          if (found == nullptr || a.kind_of(found) != keychain::cf_kind::data) {
                              out.failure = error{errc::keyring_unavailable,
                                                  where + ": the keychain returned no data object"};
                              return;
                          }
                          const keychain::cf_size size = a.data_size(found);
                          if (size < 0 || static_cast<std::size_t>(size) > max_item_size) {
                              out.failure = error{errc::too_large, where + ": the item is over " +
                                                                       std::to_string(max_item_size) +
                                                                       " bytes; left in place"};
                              return;
                          }
                          out.data = detail::secure_buffer::copy_of(std::span<const std::byte>(
                              a.data_bytes(found), static_cast<std::size_t>(size)));
                      });
    }

    /// Creates the item (SecItemAdd); never replaces one.
    [[nodiscard]] static detail::macos_keychain::outcome add(const keychain::keychain_api& a,
                                                             const item_query& q, const std::string& label,
                                                             std::span<const std::byte> bytes) {
        using keychain::cf_constant;
        auto d = query_dictionary(a, q);
        d.set_text(cf_constant::attr_label, label);
        if constexpr (Location::data_protection_keychain)  // the file-based keychain takes no accessibility
            d.set(cf_constant::attr_accessible, cf_constant::accessible_after_first_unlock);
        d.set_bytes(cf_constant::value_data, bytes);
        if (!d.ok()) return not_utf8(q, "write");
        return finish(a, a.add(d.get(), nullptr));
    }

    /// Removes the item (SecItemDelete: every match).
    [[nodiscard]] static detail::macos_keychain::outcome remove(const keychain::keychain_api& a,
                                                                const item_query& q) {
        auto d = query_dictionary(a, q);
        if (!d.ok()) return not_utf8(q, "erase");
        return finish(a, a.remove(d.get()));
    }

    /// The accounts of the service (kSecReturnAttributes of every match: no data).
    [[nodiscard]] static detail::macos_keychain::outcome list(const keychain::keychain_api& a,
                                                              const item_query& q, const std::string& where) {
        using keychain::cf_constant;
        return search(
            a, q, cf_constant::return_attributes, cf_constant::match_limit_all, "list",
            [&](keychain::cf_ref found, detail::macos_keychain::outcome& out) {
                const auto account_of = [&](keychain::cf_ref attributes) {
                    if (attributes == nullptr || a.kind_of(attributes) != keychain::cf_kind::dictionary)
                        return;
                    auto text = detail::macos_keychain::text_of(
                        a, a.dictionary_get(attributes, a.constant(cf_constant::attr_account)));
                    if (text) out.accounts.push_back(std::move(*text));
                };
                const auto kind = found == nullptr ? keychain::cf_kind::other : a.kind_of(found);
                if (kind == keychain::cf_kind::array) {
                    const keychain::cf_size count = a.array_count(found);
                    for (keychain::cf_size i = 0; i < count; ++i) account_of(a.array_at(found, i));
                } else if (kind == keychain::cf_kind::dictionary) {
                    account_of(found);
                } else {
                    out.failure =
                        error{errc::keyring_unavailable, where + ": the keychain returned no attributes"};
                }
            });
    }

    const keychain::keychain_api* api_;
    std::string service_;
    std::chrono::milliseconds timeout_;
};

/// The macOS keychain (the user's file-based login keychain); see the top of this header.
using macos_keychain = basic_macos_keychain<keychain_file_based>;
/// The macOS data protection keychain, in the program's default access group.
using macos_data_protection_keychain = basic_macos_keychain<keychain_data_protection>;

static_assert(keyring_policy<macos_keychain>,
              "keyring::macos_keychain must model keyring_policy (tokenvault/keyring/concept.hpp)");
static_assert(enumerable_keyring<macos_keychain>);

}  // namespace tokenvault::keyring
