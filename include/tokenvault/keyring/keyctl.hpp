// tokenvault/keyring/keyctl.hpp: keyring::keyctl, the Linux kernel keyring (libkeyutils; link -lkeyutils).
//
// Items are "user" keys named "<service>:<account>" in the user keyring (@u), shared by every process of
// the user and lost at reboot (persistent = false: as a file's key holder it needs allow_volatile).
// Kernel keyring calls never wait on another process, so options.timeout is moot here. Payloads are
// read straight into secure memory. Not included by tokenvault.hpp (it needs libkeyutils).
#pragma once

#include <keyutils.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "../detail/secure_buffer.hpp"
#include "../error.hpp"
#include "../result.hpp"
#include "concept.hpp"

namespace tokenvault::keyring {

/// The Linux kernel keyring: "user" keys in the user keyring, named "<service>:<account>".
class keyctl {
public:
    using policy_family = family::keyring;
    /// Lists the accounts of its service (list_accounts).
    static constexpr keyring::traits traits{.lists_accounts = true};
    /// The tier name recorded in file headers and resolution logs.
    static constexpr std::string_view tier = "keyctl";
    /// Whether items survive a reboot.
    static constexpr bool persistent = false;
    /// The kernel's payload limit for "user" keys (the per-user key quota, kernel.keys.maxbytes, may be
    /// lower).
    /// The largest item accepted.
    static constexpr std::size_t max_item_size = 32767;

    /// Opens the user keyring; nullopt when the kernel keyring is missing or forbidden (seccomp).
    [[nodiscard]] static result<std::optional<keyctl>> open(const keyring_options& options) {
        if (options.service.empty() ||
            options.service.find_first_of(std::string_view(":\0", 2)) != std::string::npos)
            return error{errc::invalid_argument,
                         "keyring::keyctl: the service name must be non-empty without ':'"};
        if (::keyctl_get_keyring_ID(KEY_SPEC_USER_KEYRING, 1) == -1) {
            const int err = errno;
            if (err == ENOSYS || err == EPERM || err == EACCES || err == EOPNOTSUPP)
                return std::optional<keyctl>{};
            return failure("open", err);
        }
        return std::optional<keyctl>{keyctl{options.service}};
    }

    /// The tier name, "keyctl".
    [[nodiscard]] std::string_view tier_name() const noexcept { return tier; }

    /// The item's bytes, or nullopt when there is none.
    [[nodiscard]] result<std::optional<detail::secure_buffer>> read(std::string_view account) {
        auto description = describe(account);
        if (!description) return description.error();
        const long found = ::keyctl_search(KEY_SPEC_USER_KEYRING, "user", description->c_str(), 0);
        if (found == -1) {
            const int err = errno;
            if (is_absent(err)) return std::optional<detail::secure_buffer>{};
            return failure("read", err);
        }
        const auto id = static_cast<key_serial_t>(found);
        // Size first, then read into secure memory; loop if a concurrent write changed the size meanwhile.
        long size = ::keyctl_read(id, nullptr, 0);
        for (int attempt = 0; attempt < 8; ++attempt) {
            if (size == -1) {
                const int err = errno;
                if (is_absent(err)) return std::optional<detail::secure_buffer>{};
                return failure("read", err);
            }
            detail::secure_buffer buffer(static_cast<std::size_t>(size));
            const long got = ::keyctl_read(id, reinterpret_cast<char*>(buffer.data()), buffer.size());
            if (got >= 0 && got <= size) {
                buffer.shrink(static_cast<std::size_t>(got));
                return std::optional<detail::secure_buffer>{std::move(buffer)};
            }
            size = got;  // -1 (error, handled above) or the new, larger size
        }
        return error{errc::keyring_unavailable, "keyring::keyctl: read: the item kept changing size"};
    }

    /// Creates or replaces the item.
    [[nodiscard]] result<void> write(std::string_view account, std::span<const std::byte> secret) {
        auto description = describe(account);
        if (!description) return description.error();
        if (secret.size() > max_item_size)
            return error{errc::keyring_item_too_large, "keyring::keyctl: write"};
        if (secret.empty())
            return error{errc::invalid_argument,
                         "keyring::keyctl: write: the kernel keyring cannot hold an empty item"};
        const key_serial_t id =
            ::add_key("user", description->c_str(), secret.data(), secret.size(), KEY_SPEC_USER_KEYRING);
        if (id == -1) return failure("write", errno);
        // The default grants the owner's other processes only "view": one whose session keyring does not
        // link @u (keyctl session, some containers) could not read the item. Same-uid processes can trace
        // each other anyway, so granting them read/write adds no exposure. setperm needs possession, which
        // such a process gets only by linking the key into a keyring of its own for the call.
        constexpr key_perm_t perm =
            KEY_POS_ALL | KEY_USR_VIEW | KEY_USR_READ | KEY_USR_WRITE | KEY_USR_SEARCH | KEY_USR_SETATTR;
        if (::keyctl_search(KEY_SPEC_USER_KEYRING, "user", description->c_str(), KEY_SPEC_THREAD_KEYRING) ==
            -1)
            return failure("write (link)", errno);
        const bool perm_set = ::keyctl_setperm(id, perm) == 0;
        const int perm_err = errno;
        if (::keyctl_unlink(id, KEY_SPEC_THREAD_KEYRING) == -1 && errno != ENOENT)
            return failure("write (unlink)", errno);
        if (!perm_set) return failure("write (setperm)", perm_err);
        return {};
    }

    /// Removes the item; false when there was none.
    [[nodiscard]] result<bool> erase(std::string_view account) {
        auto description = describe(account);
        if (!description) return description.error();
        const long found = ::keyctl_search(KEY_SPEC_USER_KEYRING, "user", description->c_str(), 0);
        if (found == -1) {
            const int err = errno;
            if (is_absent(err)) return false;
            return failure("erase", err);
        }
        const auto id = static_cast<key_serial_t>(found);
        // Invalidate removes the key from every keyring at once; unlink is the fallback for old kernels.
        if (::keyctl_invalidate(id) == 0) return true;
        const int err = errno;
        if (is_absent(err)) return false;
        if (err != EOPNOTSUPP && err != ENOSYS && err != EACCES) return failure("erase", err);
        if (::keyctl_unlink(id, KEY_SPEC_USER_KEYRING) == -1) {
            const int unlink_err = errno;
            if (is_absent(unlink_err)) return false;
            return failure("erase", unlink_err);
        }
        return true;
    }

    /// The accounts of this service whose name starts with `prefix`, sorted (items linked in @u itself).
    [[nodiscard]] result<std::vector<std::string>> list_accounts(std::string_view prefix) {
        // A keyring's payload is the array of the key ids linked into it.
        std::vector<key_serial_t> ids;
        long size = ::keyctl_read(KEY_SPEC_USER_KEYRING, nullptr, 0);
        for (int attempt = 0;; ++attempt) {
            if (size == -1) return failure("list", errno);
            if (attempt == 8) return error{errc::keyring_unavailable, "keyring::keyctl: list: kept changing"};
            ids.resize(static_cast<std::size_t>(size) / sizeof(key_serial_t));
            const long got = ::keyctl_read(KEY_SPEC_USER_KEYRING, reinterpret_cast<char*>(ids.data()),
                                           ids.size() * sizeof(key_serial_t));
            if (got >= 0 && got <= size) {
                ids.resize(static_cast<std::size_t>(got) / sizeof(key_serial_t));
                break;
            }
            size = got;
        }
        const std::string wanted = "user;";
        const std::string name_prefix = service_ + ":" + std::string(prefix);
        std::vector<std::string> accounts;
        for (const key_serial_t id : ids) {
            char* described = nullptr;  // "type;uid;gid;perm;description"
            if (::keyctl_describe_alloc(id, &described) == -1) {
                const int err = errno;
                if (is_absent(err) || err == EACCES) continue;  // gone meanwhile, or another program's
                return failure("list", err);
            }
            const std::string text(described);
            std::free(described);
            if (text.rfind(wanted, 0) != 0) continue;
            std::size_t field = 0;
            std::size_t pos = 0;
            while (field < 4 && (pos = text.find(';', pos)) != std::string::npos) {
                ++pos;
                ++field;
            }
            if (field < 4) continue;
            const std::string_view description = std::string_view(text).substr(pos);
            if (description.starts_with(name_prefix))
                accounts.emplace_back(description.substr(service_.size() + 1));
        }
        std::sort(accounts.begin(), accounts.end());
        return accounts;
    }

private:
    explicit keyctl(std::string service) : service_(std::move(service)) {}

    [[nodiscard]] result<std::string> describe(std::string_view account) const {
        if (account.empty() || account.find('\0') != std::string_view::npos)
            return error{errc::invalid_argument,
                         "keyring::keyctl: the account must be non-empty without NUL"};
        std::string description = service_ + ":" + std::string(account);
        if (description.size() > 4095)  // the kernel's description limit
            return error{errc::invalid_argument, "keyring::keyctl: the account name is too long"};
        return description;
    }

    [[nodiscard]] static bool is_absent(int err) noexcept {
        return err == ENOKEY || err == EKEYREVOKED || err == EKEYEXPIRED;
    }

    [[nodiscard]] static error failure(std::string_view operation, int err) {
        const std::string context =
            "keyring::keyctl: " + std::string(operation) + ": " + std::generic_category().message(err);
        switch (err) {
        case EACCES:
        case EPERM: return error{errc::keyring_denied, context};
        case EDQUOT:
            return error{errc::keyring_item_too_large,
                         context + " (per-user key quota: kernel.keys.maxbytes)"};
        case EINVAL: return error{errc::invalid_argument, context};
        default: return error{errc::keyring_unavailable, context};
        }
    }

    std::string service_;
};

static_assert(check<keyctl>() && enumerable_keyring<keyctl>);

}  // namespace tokenvault::keyring
