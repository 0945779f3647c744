// tokenvault/keyring/wincred.hpp: keyring::wincred, the Windows Credential Manager (Windows only).
//
// One generic credential per item, target name `<service>/<account>`, user name the account, persisted
// on this machine (CRED_PERSIST_LOCAL_MACHINE: not roaming to other machines with the profile). Items
// are at most 2560 bytes, Windows's limit for a credential blob, checked here before Windows is asked
// (errc::keyring_item_too_large), so a build tested where the limit is not enforced behaves the same.
// `open` answers nullopt when the logon session has no credential store (services, some remote
// sessions), so keyring::first_available moves on to keyring::dpapi. Calls are local (LSA) and not bounded
// by options.timeout. Link advapi32 (the default for MinGW and MSVC).
#pragma once

#if !defined(_WIN32)
#error \
    "tokenvault/keyring/wincred.hpp is the Windows Credential Manager: on other systems pick keyring::file, keyring::secret_service or keyring::keyctl"
#endif

#include <algorithm>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../detail/secure_buffer.hpp"
#include "../error.hpp"
#include "../platform/win32_keyring.hpp"
#include "../result.hpp"
#include "concept.hpp"

namespace tokenvault::keyring {

/// The Windows Credential Manager: one generic credential per item.
template <class = void>
class basic_wincred {
public:
    /// Marks this type as a keyring policy.
    using policy_family = family::keyring;
    /// Optional members: list_accounts.
    static constexpr keyring::traits traits{.lists_accounts = true};
    /// The tier name recorded in file headers and resolution logs.
    static constexpr std::string_view tier = "wincred";
    /// Whether items survive a reboot.
    static constexpr bool persistent = true;
    /// The largest item accepted: Windows's limit for a credential blob (CRED_MAX_CREDENTIAL_BLOB_SIZE).
    static constexpr std::size_t max_item_size = 2560;

    /// Opens the Credential Manager of this logon session; nullopt when the session has none.
    [[nodiscard]] static result<std::optional<basic_wincred>> open(const keyring_options& options) {
        if (options.service.empty())
            return error{errc::invalid_argument, "keyring::wincred needs a service name"};
        if (!platform::win32::credential_store_available()) return std::optional<basic_wincred>{};
        return std::optional<basic_wincred>{basic_wincred{platform::win32::widen(options.service)}};
    }

    /// The tier name, "wincred".
    [[nodiscard]] std::string_view tier_name() const noexcept { return tier; }

    /// The item's bytes, or nullopt when there is none.
    [[nodiscard]] result<std::optional<detail::secure_buffer>> read(std::string_view account) {
        auto target = target_of(account);
        if (!target) return target.error();
        return wrap(platform::win32::read_credential(*target));
    }

    /// Creates or replaces the item (at most max_item_size bytes).
    [[nodiscard]] result<void> write(std::string_view account, std::span<const std::byte> secret) {
        if (secret.size() > max_item_size)
            return error{errc::keyring_item_too_large,
                         "keyring::wincred: " + std::to_string(secret.size()) + " bytes, over the " +
                             std::to_string(max_item_size) +
                             "-byte Credential Manager limit; nothing was written"};
        auto target = target_of(account);
        if (!target) return target.error();
        return wrap(platform::win32::write_credential(*target, platform::win32::widen(account), secret));
    }

    /// Removes the item; false when there was none.
    [[nodiscard]] result<bool> erase(std::string_view account) {
        auto target = target_of(account);
        if (!target) return target.error();
        return wrap(platform::win32::delete_credential(*target));
    }

    /// The accounts of this service that start with `prefix`, sorted.
    [[nodiscard]] result<std::vector<std::string>> list_accounts(std::string_view prefix) {
        const auto service_prefix = service_ + L"/";
        auto targets = platform::win32::list_credentials(service_prefix + platform::win32::widen(prefix));
        if (!targets) return wrap_error(targets.error());
        std::vector<std::string> accounts;
        for (const auto& t : *targets)
            accounts.push_back(platform::win32::narrow(t.substr(service_prefix.size())));
        std::sort(accounts.begin(), accounts.end());
        return accounts;
    }

    /// The target name of `account`'s credential: `<service>/<account>` (for tests and diagnostics).
    [[nodiscard]] result<std::wstring> target_of(std::string_view account) const {
        if (account.empty()) return error{errc::invalid_argument, "keyring::wincred: empty account"};
        return service_ + L"/" + platform::win32::widen(account);
    }

private:
    explicit basic_wincred(std::wstring service) : service_(std::move(service)) {}

    [[nodiscard]] static error wrap_error(const error& e) {
        return error{e.code, "keyring::wincred: " + e.context};
    }
    template <class T>
    [[nodiscard]] static result<T> wrap(result<T> r) {
        if (!r) return wrap_error(r.error());
        return r;
    }

    std::wstring service_;
};

/// keyring::wincred: a class template only so that its members are compiled where they are used.
using wincred = basic_wincred<>;

static_assert(keyring_policy<wincred>,
              "keyring::wincred must model keyring_policy (tokenvault/keyring/concept.hpp)");
static_assert(enumerable_keyring<wincred>, "keyring::wincred lists its accounts (keyring/concept.hpp)");

}  // namespace tokenvault::keyring
