// tokenvault/detail/keyring_item_files.hpp: where a file-based keyring keeps an item, and removing one.
//
// keyring::file and keyring::dpapi keep one file per item in their private directory, named
// `<sha256-hex(service NUL account)><extension>`: the name reveals only a hash, and one directory can hold
// the items of several services. Both name and remove their items through these two functions, so the
// naming rule is written once.
#pragma once

#include <sodium.h>

#include <array>
#include <filesystem>
#include <string>
#include <string_view>

#include "../error.hpp"
#include "../platform/platform.hpp"
#include "../result.hpp"

namespace tokenvault::detail {

/// The file in `directory` that holds `service`'s item `account`; `keyring_name` (e.g. "keyring::file")
/// starts the text of any error.
[[nodiscard]] inline result<std::filesystem::path> keyring_item_path(const std::filesystem::path& directory,
                                                                     std::string_view service,
                                                                     std::string_view account,
                                                                     std::string_view extension,
                                                                     std::string_view keyring_name) {
    if (account.empty()) return error{errc::invalid_argument, std::string(keyring_name) + ": empty account"};
    std::string name(service);
    name.push_back('\0');
    name.append(account);
    std::array<unsigned char, crypto_hash_sha256_BYTES> digest{};
    if (crypto_hash_sha256(digest.data(), reinterpret_cast<const unsigned char*>(name.data()), name.size()) !=
        0)
        return error{errc::crypto_failure, std::string(keyring_name) + ": sha256"};
    std::array<char, crypto_hash_sha256_BYTES * 2 + 1> hex{};
    sodium_bin2hex(hex.data(), hex.size(), digest.data(), digest.size());
    std::string file_name(hex.data(), crypto_hash_sha256_BYTES * 2);
    file_name.append(extension);
    return directory / file_name;
}

/// Removes the file of an item; false when there was none. `keyring_name` starts the text of any error.
[[nodiscard]] inline result<bool> erase_keyring_item(const result<std::filesystem::path>& path,
                                                     std::string_view keyring_name) {
    if (!path) return path.error();
    auto removed = platform::remove_file(*path);
    if (!removed)
        return error{removed.error().code, std::string(keyring_name) + ": " + removed.error().context};
    return *removed;
}

}  // namespace tokenvault::detail
