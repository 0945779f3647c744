// tokenvault/keyring/file.hpp: keyring::file, a file-backed keyring for hosts without an OS keyring.
//
// In options.directory (0700): `passphrase`, 32 random bytes (0600), and one
// `<sha256-hex(service NUL account)>.item` per item, an XChaCha20-Poly1305 box under a key derived from
// the passphrase (format below). Every write holds `passphrase.lock`: the first write creates the
// passphrase there (so concurrent first starts agree on one; a read never creates it, and a missing
// passphrase is never replaced while items sealed under it remain) and removes temp files that killed
// writers left. Weaker than an OS keyring: the 0700 directory is the real boundary. Only the lock wait is
// bounded by options.timeout. Item format v1: "TVKF" | version 1 | key id (16) | nonce (24) |
// ciphertext+tag; associated data: the first 21 bytes, the service, a NUL, the account.
#pragma once

#include <sodium.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
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
#include "../detail/temp_files.hpp"
#include "../error.hpp"
#include "../platform/platform.hpp"
#include "../result.hpp"
#include "concept.hpp"

namespace tokenvault::keyring {

/// A keyring of sealed files in one private directory, keyed by a per-install random passphrase.
template <class = void>
class basic_file {
public:
    using policy_family = family::keyring;
    /// The tier name recorded in file headers and resolution logs.
    static constexpr std::string_view tier = "file";
    /// Whether items survive a reboot.
    static constexpr bool persistent = true;
    /// The largest item accepted.
    static constexpr std::size_t max_item_size = std::size_t{1} << 20;

    /// Opens the keyring in options.directory (creating the 0700 directory). The passphrase is read if it
    /// exists; a missing one is created by the first write, never by open or read.
    [[nodiscard]] static result<std::optional<basic_file>> open(const keyring_options& options) {
        if (options.directory.empty())
            return error{errc::invalid_argument, "keyring::file needs a directory"};
        TOKENVAULT_TRY(detail::ensure_sodium());
        if (auto made = platform::ensure_store_directory(options.directory); !made) return wrap(made.error());
        basic_file ring{options.directory, options.service, options.timeout};
        TOKENVAULT_TRY(ring.adopt_existing_passphrase());
        return std::optional<basic_file>{std::move(ring)};
    }

    /// The tier name, "file".
    [[nodiscard]] std::string_view tier_name() const noexcept { return tier; }

    /// The item's bytes, or nullopt when there is none; a tampered item, or one whose passphrase is missing,
    /// is errc::damaged_key (left in place).
    [[nodiscard]] result<std::optional<detail::secure_buffer>> read(std::string_view account) {
        const auto path = item_path(account);
        if (!path) return path.error();
        auto loaded = platform::read_private_file(*path, max_item_size + overhead);
        if (!loaded) return wrap(loaded.error());
        if (!*loaded) return std::optional<detail::secure_buffer>{};
        const auto bytes = (*loaded)->bytes.bytes();
        const auto* raw = reinterpret_cast<const unsigned char*>(bytes.data());
        const std::string where = "keyring::file: " + path->string();
        if (bytes.size() < overhead || std::memcmp(raw, magic.data(), magic.size()) != 0)
            return error{errc::damaged_key, where + ": not a tokenvault item (left in place)"};
        if (raw[magic.size()] != format_version) return error{errc::unsupported_format_version, where};
        if (!have_key_) {
            TOKENVAULT_TRY(adopt_existing_passphrase());  // another process may have created it since open
            if (!have_key_)
                return error{errc::damaged_key, where + ": the passphrase it is sealed under (" +
                                                    (directory_ / "passphrase").string() +
                                                    ") is missing (left in place; nothing was created)"};
        }
        if (sodium_memcmp(raw + magic.size() + 1, key_id_.data(), key_id_.size()) != 0)
            return error{errc::foreign_key, where + ": sealed under another passphrase (left in place)"};

        const auto ad = associated_data(account);
        const unsigned char* nonce = raw + header_size;
        const unsigned char* sealed = nonce + nonce_size;
        const std::size_t sealed_size = bytes.size() - header_size - nonce_size;
        detail::secure_buffer plain(sealed_size - tag_size);
        unsigned long long plain_size = 0;
        if (crypto_aead_xchacha20poly1305_ietf_decrypt(
                reinterpret_cast<unsigned char*>(plain.data()), &plain_size, nullptr, sealed, sealed_size,
                ad.data(), ad.size(), nonce, reinterpret_cast<const unsigned char*>(key_.data())) != 0)
            return error{errc::damaged_key, where + ": failed authentication (left in place)"};
        plain.shrink(static_cast<std::size_t>(plain_size));
        return std::optional<detail::secure_buffer>{std::move(plain)};
    }

    /// Creates or replaces the item: sealed with a fresh nonce, written durably and atomically (0600), under
    /// `passphrase.lock` (the first write creates the passphrase there).
    [[nodiscard]] result<void> write(std::string_view account, std::span<const std::byte> secret) {
        if (secret.size() > max_item_size) return error{errc::keyring_item_too_large, "keyring::file: write"};
        const auto path = item_path(account);
        if (!path) return path.error();
        auto lock = platform::file_lock::acquire(directory_ / "passphrase.lock", timeout_);
        if (!lock) return wrap(lock.error());
        if (!swept_temp_files_) {
            swept_temp_files_ = true;  // we hold the writers' lock: every temp file here is a dead writer's
            (void)detail::remove_stale_temp_files(directory_, [](std::string_view target) {
                return target == "passphrase" || target.ends_with(".item");
            });
        }
        if (!have_key_) TOKENVAULT_TRY(create_passphrase_locked());
        const auto ad = associated_data(account);
        std::vector<std::byte> sealed(overhead + secret.size());
        auto* out = reinterpret_cast<unsigned char*>(sealed.data());
        std::memcpy(out, ad.data(), header_size);
        unsigned char* nonce = out + header_size;
        randombytes_buf(nonce, nonce_size);
        unsigned long long sealed_size = 0;
        if (crypto_aead_xchacha20poly1305_ietf_encrypt(
                nonce + nonce_size, &sealed_size, reinterpret_cast<const unsigned char*>(secret.data()),
                secret.size(), ad.data(), ad.size(), nullptr, nonce,
                reinterpret_cast<const unsigned char*>(key_.data())) != 0)
            return error{errc::crypto_failure, "keyring::file: seal"};
        if (auto written = platform::write_file_atomically(*path, sealed); !written)
            return wrap(written.error());
        return {};
    }

    /// Removes the item; false when there was none.
    [[nodiscard]] result<bool> erase(std::string_view account) {
        return detail::erase_keyring_item(item_path(account), "keyring::file");
    }

    /// The file that holds `account`'s item (for tests and diagnostics; the name reveals only a hash).
    [[nodiscard]] result<std::filesystem::path> item_path(std::string_view account) const {
        return detail::keyring_item_path(directory_, service_, account, ".item", "keyring::file");
    }

private:
    static constexpr std::array<unsigned char, 4> magic{'T', 'V', 'K', 'F'};
    static constexpr unsigned char format_version = 1;
    static constexpr std::size_t key_id_size = 16;
    static constexpr std::size_t header_size = 4 + 1 + key_id_size;
    static constexpr std::size_t nonce_size = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
    static constexpr std::size_t tag_size = crypto_aead_xchacha20poly1305_ietf_ABYTES;
    static constexpr std::size_t overhead = header_size + nonce_size + tag_size;
    static constexpr std::size_t passphrase_size = 32;
    static constexpr char kdf_context[crypto_kdf_CONTEXTBYTES + 1] = "tvfilekr";
    static_assert(passphrase_size == crypto_kdf_KEYBYTES);

    basic_file(std::filesystem::path directory, std::string service, std::chrono::milliseconds timeout)
        : directory_(std::move(directory)), service_(std::move(service)), timeout_(timeout) {}

    /// Prefixes the context of a detail error with this keyring's name.
    [[nodiscard]] static error wrap(const error& e) { return error{e.code, "keyring::file: " + e.context}; }

    /// Derives the item key from the passphrase file if it exists (nothing is created).
    [[nodiscard]] result<void> adopt_existing_passphrase() {
        auto existing = read_passphrase(directory_ / "passphrase");
        if (!existing) return existing.error();
        if (*existing) return adopt(**existing);
        return {};
    }

    /// Under `passphrase.lock`: adopts the passphrase another process created meanwhile, else creates one,
    /// unless items sealed under a lost passphrase remain (a new one would orphan them for good).
    [[nodiscard]] result<void> create_passphrase_locked() {
        TOKENVAULT_TRY(adopt_existing_passphrase());
        if (have_key_) return {};
        const auto orphans = count_items();
        if (orphans > 0)
            return error{errc::damaged_key,
                         "keyring::file: " + (directory_ / "passphrase").string() + " is missing while " +
                             std::to_string(orphans) +
                             " item(s) sealed under it remain: restore it from a backup, or remove the "
                             "keyring directory to start over (what its items held is then lost); nothing "
                             "was created"};
        auto fresh = detail::secure_buffer(passphrase_size);
        randombytes_buf(fresh.data(), fresh.size());
        if (auto written = platform::write_file_atomically(directory_ / "passphrase", fresh.bytes());
            !written)
            return wrap(written.error());
        return adopt(fresh);
    }

    /// Derives the item key and its id from `passphrase`.
    [[nodiscard]] result<void> adopt(const detail::secure_buffer& passphrase) {
        detail::secure_buffer key(crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
        std::array<unsigned char, key_id_size> key_id{};
        const auto* master = reinterpret_cast<const unsigned char*>(passphrase.data());
        if (crypto_kdf_derive_from_key(reinterpret_cast<unsigned char*>(key.data()), key.size(), 1,
                                       kdf_context, master) != 0 ||
            crypto_kdf_derive_from_key(key_id.data(), key_id.size(), 2, kdf_context, master) != 0)
            return error{errc::crypto_failure, "keyring::file: key derivation"};
        key_ = std::move(key);
        key_id_ = key_id;
        have_key_ = true;
        return {};
    }

    /// The `*.item` files in the directory.
    [[nodiscard]] std::size_t count_items() const {
        std::size_t count = 0;
        std::error_code ec;
        for (std::filesystem::directory_iterator it(directory_, ec), end; !ec && it != end;
             it.increment(ec)) {
            const auto name = it->path().filename().string();
            if (name.size() > 5 && name.front() != '.' && name.ends_with(".item")) ++count;
        }
        return count;
    }

    [[nodiscard]] static result<std::optional<detail::secure_buffer>> read_passphrase(
        const std::filesystem::path& path) {
        auto loaded = platform::read_private_file(path, 4096);
        if (!loaded) return wrap(loaded.error());
        if (!*loaded) return std::optional<detail::secure_buffer>{};
        if ((*loaded)->bytes.size() != passphrase_size)
            return error{errc::damaged_key, "keyring::file: " + path.string() + ": the passphrase has " +
                                                std::to_string((*loaded)->bytes.size()) + " bytes, not " +
                                                std::to_string(passphrase_size) +
                                                " (left in place; items sealed under it cannot be read "
                                                "without the original)"};
        return std::optional<detail::secure_buffer>{std::move((*loaded)->bytes)};
    }

    /// The header (magic, version, key id) followed by the service, a NUL and the account.
    [[nodiscard]] std::vector<unsigned char> associated_data(std::string_view account) const {
        // Sized once and filled with memcpy: GCC 12 at -O3 misreads a chain of insert()s as an overflow.
        std::vector<unsigned char> ad(magic.size() + 1 + key_id_.size() + service_.size() + 1 +
                                      account.size());
        unsigned char* out = ad.data();
        std::memcpy(out, magic.data(), magic.size());
        out += magic.size();
        *out++ = format_version;
        std::memcpy(out, key_id_.data(), key_id_.size());
        out += key_id_.size();
        if (!service_.empty()) std::memcpy(out, service_.data(), service_.size());
        out += service_.size();
        *out++ = 0;
        if (!account.empty()) std::memcpy(out, account.data(), account.size());
        return ad;
    }

    std::filesystem::path directory_;
    std::string service_;
    std::chrono::milliseconds timeout_{};
    detail::secure_buffer key_;  // derived from the passphrase; empty until it is known
    std::array<unsigned char, key_id_size> key_id_{};
    bool have_key_ = false;
    bool swept_temp_files_ = false;
};

/// keyring::file: a class template only so that its members are compiled where they are used.
using file = basic_file<>;

static_assert(check<file>());

}  // namespace tokenvault::keyring
