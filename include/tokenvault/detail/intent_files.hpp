// tokenvault/detail/intent_files.hpp: group commit's hand-over files, next to a sealed file.
//
// A waiting writer posts its change (detail/intent_text.hpp) as `.<file>.intent-<16 hex>` in the store
// directory: mode 0600, sealed with XChaCha20-Poly1305 under a key derived from the store's data key
// (libsodium's KDF, context "tvintent"), the file and intent names in the associated data, so only a
// process holding the data key can post one and a sealed intent cannot be renamed into another. The lock
// holder claims an intent by renaming it to `.<file>.claimed-<16 hex>`; the poster withdraws it by
// removing it. Of the two, exactly one succeeds, so an intent is either applied by a holder or withdrawn,
// never both. The files are never flushed: a crash loses only changes nobody acknowledged.
//
// Layout: "TVINTENT1" (9 bytes), the data key's id, a 24-byte nonce, the ciphertext with its 16-byte tag.
#pragma once

#include <sodium.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "../backend/sealed_file_format.hpp"
#include "../platform/platform.hpp"
#include "../result.hpp"
#include "intent_text.hpp"
#include "secure_buffer.hpp"

namespace tokenvault::detail {

/// The hand-over files of one sealed file.
class intent_files {
public:
    using key_id = backend::sealed_key_id;
    static constexpr std::string_view magic = "TVINTENT1";
    static constexpr std::size_t name_size = 16;  ///< hex digits of an intent's name
    static constexpr std::size_t nonce_size = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
    static constexpr std::size_t tag_size = crypto_aead_xchacha20poly1305_ietf_ABYTES;
    /// A holder claims at most this many intents for one save.
    static constexpr std::size_t max_batch = 64;
    /// Files nobody claimed or settled (their poster died) are removed once this much older than their
    /// deadline or, when unreadable, than their last write.
    static constexpr std::chrono::milliseconds stale_after = intent_stale_after;
    /// A holder leaves an intent whose deadline is this close: its poster is about to withdraw it.
    static constexpr std::chrono::milliseconds claim_margin{50};

    /// The hand-over files of `directory`/`file_name`.
    intent_files(std::filesystem::path directory, std::string file_name)
        : directory_(std::move(directory)), file_name_(std::move(file_name)) {}

    /// A claimed intent: its name and its change.
    struct claimed {
        std::string name;
        intent change;
    };

    /// Seals `change` with the data key `data_key` (id `id`) and posts it; returns the intent's name.
    [[nodiscard]] result<std::string> post(std::span<const std::byte> data_key, const key_id& id,
                                           const intent& change) const {
        auto name = tokenvault::platform::random_hex(name_size / 2);
        if (!name) return name.error();
        auto subkey = subkey_for(data_key, id);
        if (!subkey) return subkey.error();
        auto sealed = seal(change, *name, **subkey, id);
        if (!sealed) return sealed.error();
        TOKENVAULT_TRY(tokenvault::platform::create_private_file(posted_path(*name), *sealed));
        return *name;
    }

    /// The bytes of the intent file for `change`, named `name`, sealed with `subkey` (see derive()).
    [[nodiscard]] result<std::vector<std::byte>> seal(const intent& change, std::string_view name,
                                                      const secure_buffer& subkey, const key_id& id) const {
        auto text = write_intent_text(change);
        if (!text) return text.error();
        std::vector<std::byte> out(magic.size() + id.size() + nonce_size + text->size() + tag_size);
        std::memcpy(out.data(), magic.data(), magic.size());
        std::memcpy(out.data() + magic.size(), id.data(), id.size());
        const std::size_t header = magic.size() + id.size();
        randombytes_buf(out.data() + header, nonce_size);
        const auto ad = associated_data(id, name);
        unsigned long long written = 0;
        if (crypto_aead_xchacha20poly1305_ietf_encrypt(
                bytes(out.data() + header + nonce_size), &written, bytes(text->data()), text->size(),
                bytes(ad.data()), ad.size(), nullptr, bytes(out.data() + header), bytes(subkey.data())) != 0)
            return error{errc::crypto_failure, "intent: seal"};
        return out;
    }

    /// Withdraws the posted intent `name`: true when it was still posted (now removed), false when a holder
    /// claimed it first.
    [[nodiscard]] result<bool> withdraw(std::string_view name) const {
        return tokenvault::platform::remove_file_unflushed(posted_path(name));
    }

    /// Removes every file of intent `name` (best effort): its outcome has been read, or it was not applied.
    void settle(std::string_view name) const {
        (void)tokenvault::platform::remove_file_unflushed(posted_path(name));
        (void)tokenvault::platform::remove_file_unflushed(claimed_path(name));
    }

    /// Whether a file of intent `name` is still there (its poster has not settled it).
    [[nodiscard]] bool outstanding(std::string_view name) const {
        if (!is_name(name)) return false;  // not a name this writes: its record is dropped
        const auto posted = tokenvault::platform::stat_identity(posted_path(name));
        const auto taken = tokenvault::platform::stat_identity(claimed_path(name));
        return !posted || *posted || !taken || *taken;  // an error counts as present: keep the record
    }

    /// Claims every posted intent sealed by `data_key` whose deadline is at least claim_margin after
    /// `now_ms`, at most max_batch, in deadline order; removes stale files (see stale_after). An intent
    /// that does not open or read is left to its poster, who finds no outcome and applies it itself.
    [[nodiscard]] std::vector<claimed> claim_all(std::span<const std::byte> data_key, const key_id& id,
                                                 std::int64_t now_ms) const {
        std::vector<claimed> out;
        const auto stale_ms = static_cast<std::int64_t>(stale_after.count());
        for (const auto& [path, name, is_claimed, mtime_ms] : listing()) {
            const bool old = mtime_ms < now_ms - stale_ms;
            if (is_claimed && !old) continue;  // its poster settles it once it has read the outcome
            auto subkey = subkey_for(data_key, id);
            if (!subkey) return out;
            if (is_claimed) {
                // Not settled within 10 minutes of its deadline (by the sealed deadline, else by the last
                // write): its poster is gone.
                const auto change = open(path, name, **subkey, id);
                if (!change || change->deadline_ms < now_ms - stale_ms)
                    (void)tokenvault::platform::remove_file_unflushed(path);
                continue;
            }
            if (out.size() >= max_batch) break;
            auto change = open(path, name, **subkey, id);
            if (!change) {
                if (old) (void)tokenvault::platform::remove_file_unflushed(path);
                continue;
            }
            if (change->deadline_ms < now_ms - stale_ms) {
                (void)tokenvault::platform::remove_file_unflushed(path);
                continue;
            }
            if (change->deadline_ms < now_ms + static_cast<std::int64_t>(claim_margin.count())) continue;
            auto taken = tokenvault::platform::rename_file(path, claimed_path(name));
            if (!taken || !*taken) continue;  // withdrawn meanwhile
            out.push_back(claimed{name, std::move(*change)});
        }
        std::sort(out.begin(), out.end(), [](const claimed& a, const claimed& b) {
            return a.change.deadline_ms != b.change.deadline_ms ? a.change.deadline_ms < b.change.deadline_ms
                                                                : a.name < b.name;
        });
        return out;
    }

    /// Opens the intent file at `path` named `name` (public for the fuzz harness and the tests).
    [[nodiscard]] result<intent> open(const std::filesystem::path& path, std::string_view name,
                                      const secure_buffer& subkey, const key_id& id) const {
        auto read = tokenvault::platform::read_private_file<tokenvault::platform::plain_bytes>(
            path, magic.size() + id.size() + nonce_size + max_intent_text + tag_size);
        if (!read) return read.error();
        if (!*read) return error{errc::io_error, "intent: withdrawn"};
        return open_bytes((*read)->bytes.bytes(), name, subkey, id);
    }

    /// Authenticates and reads the sealed bytes of intent `name`.
    [[nodiscard]] result<intent> open_bytes(std::span<const std::byte> sealed, std::string_view name,
                                            const secure_buffer& subkey, const key_id& id) const {
        const std::size_t header = magic.size() + id.size();
        if (sealed.size() < header + nonce_size + tag_size ||
            std::memcmp(sealed.data(), magic.data(), magic.size()) != 0)
            return error{errc::corrupt_file, "intent: not an intent file"};
        if (std::memcmp(sealed.data() + magic.size(), id.data(), id.size()) != 0)
            return error{errc::foreign_key, "intent: sealed by another data key"};
        const auto ad = associated_data(id, name);
        const auto cipher = sealed.subspan(header + nonce_size);
        secret_text plain(cipher.size() - tag_size, '\0');
        unsigned long long length = 0;
        if (crypto_aead_xchacha20poly1305_ietf_decrypt(
                bytes(plain.data()), &length, nullptr, bytes(cipher.data()), cipher.size(), bytes(ad.data()),
                ad.size(), bytes(sealed.data() + header), bytes(subkey.data())) != 0)
            return error{errc::corrupt_file, "intent: authentication failed"};
        return read_intent_text(std::string_view(plain.data(), plain.size()));
    }

    /// The key intents are sealed with, derived from the data key.
    [[nodiscard]] static result<secure_buffer> derive(std::span<const std::byte> data_key) {
        TOKENVAULT_TRY(ensure_sodium());
        if (data_key.size() != crypto_kdf_KEYBYTES)
            return error{errc::invalid_argument, "intent: data key size"};
        secure_buffer subkey(crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
        if (crypto_kdf_derive_from_key(bytes(subkey.data()), subkey.size(), 1, "tvintent",
                                       bytes(data_key.data())) != 0)
            return error{errc::crypto_failure, "intent: key derivation"};
        return subkey;
    }

    /// derive(data_key), kept for the next call while the data key (`id`) stays the same: deriving costs
    /// a locked allocation, which a write that finds no intent should not pay.
    [[nodiscard]] result<const secure_buffer*> subkey_for(std::span<const std::byte> data_key,
                                                          const key_id& id) const {
        if (subkey_.empty() || subkey_id_ != id) {
            auto derived = derive(data_key);
            if (!derived) return derived.error();
            subkey_ = std::move(*derived);
            subkey_id_ = id;
        }
        return &subkey_;
    }

    [[nodiscard]] std::filesystem::path posted_path(std::string_view name) const {
        return directory_ / ("." + file_name_ + ".intent-" + std::string(name));
    }
    [[nodiscard]] std::filesystem::path claimed_path(std::string_view name) const {
        return directory_ / ("." + file_name_ + ".claimed-" + std::string(name));
    }

private:
    struct listed {
        std::filesystem::path path;
        std::string name;
        bool is_claimed = false;
        std::int64_t mtime_ms = 0;
    };

    // The intent files of this sealed file (regular files only, never through a symlink).
    [[nodiscard]] std::vector<listed> listing() const {
        std::vector<listed> out;
        const std::string posted = "." + file_name_ + ".intent-";
        const std::string taken = "." + file_name_ + ".claimed-";
        try {
            std::error_code ec;
            for (std::filesystem::directory_iterator it(directory_, ec), end; !ec && it != end;
                 it.increment(ec)) {
                const auto file = it->path().filename().string();
                const bool is_posted = file.starts_with(posted);
                const bool is_taken = file.starts_with(taken);
                if (!is_posted && !is_taken) continue;
                const std::string name = file.substr(is_posted ? posted.size() : taken.size());
                if (!is_name(name)) continue;
                auto identity = tokenvault::platform::stat_identity(it->path());
                if (!identity || !*identity) continue;
                std::error_code type_ec;
                if (it->symlink_status(type_ec).type() != std::filesystem::file_type::regular || type_ec)
                    continue;
                out.push_back(listed{it->path(), name, is_taken, (*identity)->mtime_ns / 1000000});
            }
        } catch (...) {  // NOLINT(bugprone-empty-catch): a listing that fails claims nothing this time
        }
        return out;
    }

    [[nodiscard]] static bool is_name(std::string_view name) noexcept {
        return name.size() == name_size && std::all_of(name.begin(), name.end(), [](char c) {
                   return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
               });
    }

    [[nodiscard]] std::string associated_data(const key_id& id, std::string_view name) const {
        std::string ad(magic);
        ad.append(reinterpret_cast<const char*>(id.data()), id.size());
        ad += file_name_;
        ad += '/';
        ad += name;
        return ad;
    }

    static unsigned char* bytes(void* p) noexcept { return static_cast<unsigned char*>(p); }
    static const unsigned char* bytes(const void* p) noexcept { return static_cast<const unsigned char*>(p); }

    std::filesystem::path directory_;
    std::string file_name_;
    mutable secure_buffer subkey_;  // derive() of the data key subkey_id_ names (see subkey_for)
    mutable key_id subkey_id_{};
};

}  // namespace tokenvault::detail
