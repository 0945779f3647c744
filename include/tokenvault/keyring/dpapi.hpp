// tokenvault/keyring/dpapi.hpp: keyring::dpapi, items sealed by Windows DPAPI in files (Windows only).
//
// The Windows counterpart of keyring::file, for machines where the Credential Manager is unavailable:
// in options.directory (created with an owner-only DACL), one `<sha256-hex(service NUL account)>.dpapi`
// file per item, holding "TVDP" | version 1 | the CryptProtectData blob of the secret (user scope, no UI,
// optional entropy "tokenvault/dpapi/v1" NUL service NUL account, so an item copied to another name or
// service does not open). Only the Windows user who wrote an item can read it; a damaged item, or one of
// another user, is errc::corrupt_file and is left in place. File writes are durable and atomic
// (platform::write_file_atomically). Link advapi32 and crypt32.
#pragma once

#if !defined(_WIN32)
#error "tokenvault/keyring/dpapi.hpp is Windows DPAPI: on other systems pick keyring::file"
#endif

#include <sodium.h>

#include <array>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../detail/keyring_item_files.hpp"
#include "../detail/secure_buffer.hpp"
#include "../error.hpp"
#include "../platform/platform.hpp"
#include "../platform/win32_keyring.hpp"
#include "../result.hpp"
#include "concept.hpp"

namespace tokenvault::keyring {

/// A keyring of DPAPI-sealed files in one private directory.
template <class = void>
class basic_dpapi {
public:
    /// Marks this type as a keyring policy.
    using policy_family = family::keyring;
    /// The tier name recorded in file headers and resolution logs.
    static constexpr std::string_view tier = "dpapi";
    /// Whether items survive a reboot.
    static constexpr bool persistent = true;
    /// The largest item accepted.
    static constexpr std::size_t max_item_size = std::size_t{1} << 20;

    /// Opens (creating the private directory on first use) the keyring in options.directory.
    [[nodiscard]] static result<std::optional<basic_dpapi>> open(const keyring_options& options) {
        if (options.directory.empty())
            return error{errc::invalid_argument, "keyring::dpapi needs a directory"};
        TOKENVAULT_TRY(detail::ensure_sodium());
        if (auto made = platform::ensure_store_directory(options.directory); !made) return wrap(made.error());
        return std::optional<basic_dpapi>{basic_dpapi{options.directory, options.service}};
    }

    /// The tier name, "dpapi".
    [[nodiscard]] std::string_view tier_name() const noexcept { return tier; }

    /// The item's bytes, or nullopt when there is none; a damaged or foreign item is errc::corrupt_file
    /// (left in place).
    [[nodiscard]] result<std::optional<detail::secure_buffer>> read(std::string_view account) {
        const auto path = item_path(account);
        if (!path) return path.error();
        auto loaded = platform::read_private_file<platform::plain_bytes>(*path, max_item_size + 4096);
        if (!loaded) return wrap(loaded.error());
        if (!*loaded) return std::optional<detail::secure_buffer>{};
        const auto bytes = (*loaded)->bytes.bytes();
        const std::string where = "keyring::dpapi: " + path->string();
        if (bytes.size() <= header_size || std::memcmp(bytes.data(), magic.data(), magic.size()) != 0)
            return error{errc::corrupt_file, where + ": not a tokenvault item (left in place)"};
        if (std::to_integer<unsigned char>(bytes[magic.size()]) != format_version)
            return error{errc::unsupported_format_version, where};
        const auto entropy = entropy_of(account);
        auto secret =
            platform::win32::unprotect(bytes.subspan(header_size), std::as_bytes(std::span(entropy)));
        if (!secret)
            return error{secret.error().code, where + ": " + secret.error().context + " (left in place)"};
        return std::optional<detail::secure_buffer>{std::move(*secret)};
    }

    /// Creates or replaces the item: sealed by DPAPI for this user, written durably and atomically.
    [[nodiscard]] result<void> write(std::string_view account, std::span<const std::byte> secret) {
        if (secret.size() > max_item_size)
            return error{errc::keyring_item_too_large, "keyring::dpapi: write"};
        const auto path = item_path(account);
        if (!path) return path.error();
        const auto entropy = entropy_of(account);
        auto blob = platform::win32::protect(secret, std::as_bytes(std::span(entropy)));
        if (!blob) return wrap(blob.error());
        std::vector<std::byte> file(header_size + blob->size());
        std::memcpy(file.data(), magic.data(), magic.size());
        file[magic.size()] = std::byte{format_version};
        std::memcpy(file.data() + header_size, blob->data(), blob->size());
        if (auto written = platform::write_file_atomically(*path, file); !written)
            return wrap(written.error());
        return {};
    }

    /// Removes the item; false when there was none.
    [[nodiscard]] result<bool> erase(std::string_view account) {
        return detail::erase_keyring_item(item_path(account), "keyring::dpapi");
    }

    /// The file that holds `account`'s item (for tests and diagnostics; the name reveals only a hash).
    [[nodiscard]] result<std::filesystem::path> item_path(std::string_view account) const {
        return detail::keyring_item_path(directory_, service_, account, ".dpapi", "keyring::dpapi");
    }

private:
    static constexpr std::array<char, 4> magic{'T', 'V', 'D', 'P'};
    static constexpr unsigned char format_version = 1;
    static constexpr std::size_t header_size = 5;
    static constexpr std::string_view entropy_prefix = "tokenvault/dpapi/v1";

    basic_dpapi(std::filesystem::path directory, std::string service)
        : directory_(std::move(directory)), service_(std::move(service)) {}

    /// Prefixes the context of an error with this keyring's name.
    [[nodiscard]] static error wrap(const error& e) { return error{e.code, "keyring::dpapi: " + e.context}; }

    /// The optional entropy that binds a blob to its item: prefix NUL service NUL account.
    [[nodiscard]] std::string entropy_of(std::string_view account) const {
        std::string entropy(entropy_prefix);
        entropy.push_back('\0');
        entropy += service_;
        entropy.push_back('\0');
        entropy.append(account);
        return entropy;
    }

    std::filesystem::path directory_;
    std::string service_;
};

/// keyring::dpapi: a class template only so that its members are compiled where they are used.
using dpapi = basic_dpapi<>;

static_assert(keyring_policy<dpapi>,
              "keyring::dpapi must model keyring_policy (tokenvault/keyring/concept.hpp)");

}  // namespace tokenvault::keyring
