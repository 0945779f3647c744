// tokenvault/detail/sealed_key_cache.hpp: the data key of a sealed file, and the keyring tier that holds it.
//
// detail::sealed_key_cache<K> opens keyring K on first need and keeps the data key (and, after an AES-GCM
// key rotation, the previous key) in secure memory, so steady-state loads and saves make no keyring call.
// A file's header names its key id and tier: the key comes from that tier only (a chain opens that tier
// on purpose, never another), a key is created only for a new file, and keyring failures and keys the
// keyring cannot match are remembered, so a broken keyring is asked once. Used by backend::sealed_file,
// which holds the store lock around every call.
#pragma once

#include <sodium.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "../backend/sealed_file_format.hpp"
#include "../diagnostics/events.hpp"
#include "../diagnostics/resolution.hpp"
#include "../keyring/concept.hpp"
#include "../result.hpp"
#include "secure_buffer.hpp"

namespace tokenvault::detail {

/// The data key of one sealed file: cached after the first keyring read, fetched from the tier the file
/// names; keyring failures are remembered until the store is reopened.
template <class K>
class sealed_key_cache {
    using secure_buffer = tokenvault::detail::secure_buffer;
    using sealed_file_header = backend::sealed_file_header;
    using sealed_key_id = backend::sealed_key_id;

public:
    /// The keyring account of the data key (the keyring service is the app name).
    static constexpr std::string_view key_account = "data-key";
    /// The keyring account that keeps the previous key after an AES-GCM key rotation.
    static constexpr std::string_view previous_key_account = "data-key.previous";

    /// The key of `file` (named in error texts) in keyring K opened with `options`; nothing is opened yet.
    sealed_key_cache(std::filesystem::path file, keyring_options options)
        : file_(std::move(file)), keyring_options_(std::move(options)) {}

    /// The current data key (valid after key_for_save succeeded): it seals.
    [[nodiscard]] std::span<const std::byte> key() const noexcept { return key_.bytes(); }
    /// The fingerprint of the current data key.
    [[nodiscard]] const sealed_key_id& key_id() const noexcept { return key_id_; }
    /// Whether the current data key is held in memory.
    [[nodiscard]] bool cached() const noexcept { return have_key_; }
    /// The tier of the opened keyring ("" until it is opened).
    [[nodiscard]] std::string_view tier() const {
        return keyring_ ? std::string_view(keyring_->tier_name()) : "";
    }
    /// A remembered keyring failure (opening, reading, or creating the key), if any.
    [[nodiscard]] std::optional<error> failure() const {
        return keyring_failure_ ? keyring_failure_ : key_write_failure_;
    }

    /// The key that opens a file with `header`: cached, else from the keyring tier the header names.
    template <class Cipher, class Context>
    [[nodiscard]] result<std::span<const std::byte>> key_for_header(Context& ctx,
                                                                    const sealed_file_header& header) {
        if (have_key_ && header.key_id == key_id_) return std::as_const(key_).bytes();
        if (have_previous_ && header.key_id == previous_key_id_) return std::as_const(previous_key_).bytes();
        if (keyring_failure_) return *keyring_failure_;
        if (unmatched_ && unmatched_->first == header.key_id) return unmatched_->second;
        auto remember = [&](error e) {
            unmatched_.emplace(header.key_id, e);
            return e;
        };

        auto keyring = keyring_for_tier(ctx, header.tier);
        if (!keyring) {
            if (keyring.error() == errc::foreign_key) return remember(keyring.error());
            return keyring.error();
        }
        auto current = fetch<Cipher>(ctx, key_account);
        if (!current) return current.error();
        if (!*current)
            return remember(
                error{errc::foreign_key, file_.string() + ": sealed by a key that keyring tier '" +
                                             header.tier + "' does not hold (no item '" +
                                             std::string(key_account) + "' for service '" +
                                             keyring_options_.service + "'); the file was left unchanged"});
        adopt_current(std::move(**current));
        if (header.key_id == key_id_) return std::as_const(key_).bytes();

        auto previous = fetch<Cipher>(ctx, previous_key_account);
        if (!previous) return previous.error();
        if (*previous) {
            auto id = backend::sealed_key_fingerprint((*previous)->bytes());
            if (!id) return id.error();
            if (*id == header.key_id) {
                previous_key_ = std::move(**previous);
                previous_key_id_ = *id;
                have_previous_ = true;
                return std::as_const(previous_key_).bytes();
            }
        }
        return remember(error{
            errc::foreign_key,
            file_.string() + ": sealed by another key than the one keyring tier '" + header.tier +
                "' holds for service '" + keyring_options_.service +
                "' (the key item was replaced or damaged since, or the file comes from another install): "
                "restore that key item, or the file that matches it; the file was left unchanged"});
    }

    /// Makes key_ the keyring's current key before a seal. Steady state (the file is sealed by key_): no
    /// keyring call. A new file, or a file opened with another key: read "data-key" once; create it only for
    /// a new file. `file_key_id`: the key id in the header of the file on disk (nullopt: no file).
    template <class Cipher, class Context>
    [[nodiscard]] result<void> key_for_save(Context& ctx, const std::optional<sealed_key_id>& file_key_id) {
        if (have_key_ && file_key_id && *file_key_id == key_id_) return {};
        if (keyring_failure_) return *keyring_failure_;
        if (key_write_failure_) return *key_write_failure_;
        auto keyring = open_keyring(ctx);
        if (!keyring) return keyring.error();
        auto current = fetch<Cipher>(ctx, key_account);
        if (!current) return current.error();
        if (*current) {
            adopt_current(std::move(**current));
            if (!have_key_) return error{errc::crypto_failure, "sealed_file: key fingerprint"};
            return {};
        }
        // The keyring has no data key. For an existing file (opened with the previous key, so it is in
        // memory) put that key back; with no file, make the first key. Never a key that orphans a file.
        secure_buffer fresh(Cipher::key_size);
        if (file_key_id) {
            if (!(have_previous_ && previous_key_id_ == *file_key_id))
                return error{errc::key_unavailable,
                             file_.string() + ": keyring tier '" + std::string(keyring_->tier_name()) +
                                 "' no longer holds the data key; the file was left unchanged"};
            fresh = secure_buffer::copy_of(previous_key_.bytes());
        } else {
            randombytes_buf(fresh.data(), fresh.size());
        }
        if (auto stored = store_key(ctx, key_account, fresh.bytes()); !stored) {
            key_write_failure_ = stored.error();
            return stored.error();
        }
        adopt_current(std::move(fresh));
        if (!have_key_) return error{errc::crypto_failure, "sealed_file: key fingerprint"};
        return {};
    }

    /// Replaces key_ by a new key, crash-safely: previous := the file's key, then data-key := new key; the
    /// file is sealed with the new key afterwards. Any crash leaves the file's key in one of the two items.
    /// False (keep sealing with the old key) when a keyring write fails; not retried in this instance.
    template <class Cipher, class Context>
    [[nodiscard]] bool rotate_key(Context& ctx) {
        if (rotation_failed_) return false;
        secure_buffer fresh(Cipher::key_size);
        randombytes_buf(fresh.data(), fresh.size());
        auto fresh_id = backend::sealed_key_fingerprint(fresh.bytes());
        if (!fresh_id || !store_key(ctx, previous_key_account, key_.bytes()) ||
            !store_key(ctx, key_account, fresh.bytes())) {
            rotation_failed_ = true;
            return false;
        }
        previous_key_ = std::move(key_);
        previous_key_id_ = key_id_;
        have_previous_ = true;
        key_ = std::move(fresh);
        key_id_ = *fresh_id;
        return true;
    }

private:
    // The keyring at `tier`: the open one if it is that tier, else that tier opened on purpose (never
    // another).
    template <class Context>
    [[nodiscard]] result<K*> keyring_for_tier(Context& ctx, const std::string& tier) {
        if (keyring_ && keyring_->tier_name() == tier) return &*keyring_;
        if constexpr (keyring::traits_of<K>.chooses_tier) {
            auto opened = K::open_tier(keyring_options_, tier);
            if (!opened) {
                if (opened.error() == errc::invalid_argument)
                    return error{errc::foreign_key,
                                 file_.string() + ": sealed by a key held in keyring tier '" + tier +
                                     "', which this store's keyring chain does not include: add it "
                                     "to the chain; the file was left unchanged"};
                keyring_failure_ =
                    error{opened.error().code, "keyring tier '" + tier + "': " + opened.error().context};
                return *keyring_failure_;
            }
            if (!*opened)
                return error{errc::foreign_key,
                             file_.string() + ": sealed by a key held in keyring tier '" + tier +
                                 "', which is unavailable now: make it available; the file was "
                                 "left unchanged"};
            forget_keys();  // keys cached from another tier must not seal this file
            keyring_.emplace(std::move(**opened));
            diagnostics::report_store_resolved(ctx.diagnostics, file_, "sealed_file", *keyring_,
                                               events::resolution_cause::file_header);
            return &*keyring_;
        } else {
            auto keyring = open_keyring(ctx);
            if (!keyring) return keyring.error();
            if ((*keyring)->tier_name() != tier)
                return error{errc::foreign_key, file_.string() + ": sealed by a key held in keyring tier '" +
                                                    tier + "', but this store's keyring is '" +
                                                    std::string((*keyring)->tier_name()) +
                                                    "': configure that keyring; the file was left unchanged"};
            return *keyring;
        }
    }

    // Opens K (first use); a failure is remembered until the store is reopened.
    template <class Context>
    [[nodiscard]] result<K*> open_keyring(Context& ctx) {
        if (keyring_) return &*keyring_;
        if (keyring_failure_) return *keyring_failure_;
        auto opened = K::open(keyring_options_);
        if (!opened) {
            keyring_failure_ = opened.error();
            return *keyring_failure_;
        }
        if (!*opened) {
            keyring_failure_ =
                error{errc::keyring_unavailable,
                      "sealed_file: keyring '" + std::string(K::tier) + "' is not available here"};
            return *keyring_failure_;
        }
        keyring_.emplace(std::move(**opened));
        diagnostics::report_store_resolved(ctx.diagnostics, file_, "sealed_file", *keyring_);
        return &*keyring_;
    }

    // Reads one key item from the open keyring; a failure (or a wrong-size item) is remembered.
    template <class Cipher, class Context>
    [[nodiscard]] result<std::optional<secure_buffer>> fetch(Context& ctx, std::string_view account) {
        auto item = keyring_->read(account);
        ctx.diagnostics.on(
            events::keyring_read{keyring_->tier_name(), item && item->has_value(), item.code()});
        if (!item) {
            keyring_failure_ = error{item.error().code,
                                     "sealed_file: reading the data key from keyring tier '" +
                                         std::string(keyring_->tier_name()) + "': " + item.error().context};
            return *keyring_failure_;
        }
        if (*item && (*item)->size() != Cipher::key_size) {
            keyring_failure_ =
                error{errc::damaged_key, "sealed_file: keyring item '" + std::string(account) +
                                             "' in tier '" + std::string(keyring_->tier_name()) + "' has " +
                                             std::to_string((*item)->size()) + " bytes, not a " +
                                             std::to_string(Cipher::key_size) +
                                             "-byte data key; it and the store file were left unchanged"};
            return *keyring_failure_;
        }
        return item;
    }

    // Writes one key item; a failure is remembered for later writes.
    template <class Context>
    [[nodiscard]] result<void> store_key(Context& ctx, std::string_view account,
                                         std::span<const std::byte> key) {
        auto written = keyring_->write(account, key);
        ctx.diagnostics.on(events::keyring_write{keyring_->tier_name(), false, written.code()});
        if (!written)
            return error{written.error().code, "sealed_file: writing the data key to keyring tier '" +
                                                   std::string(keyring_->tier_name()) +
                                                   "': " + written.error().context};
        return {};
    }

    void adopt_current(secure_buffer key) {
        auto id = backend::sealed_key_fingerprint(key.bytes());
        if (!id) return;  // unreachable after a successful ensure_sodium; the key stays unset
        key_ = std::move(key);
        key_id_ = *id;
        have_key_ = true;
    }

    void forget_keys() {
        key_ = secure_buffer{};
        previous_key_ = secure_buffer{};
        have_key_ = false;
        have_previous_ = false;
    }

    std::filesystem::path file_;       // the sealed file, for error texts and resolution reports
    keyring_options keyring_options_;  // how K is opened
    std::optional<K> keyring_;
    std::optional<error> keyring_failure_;    // open/read failed: every keyring need answers this
    std::optional<error> key_write_failure_;  // creating the key failed: saves that need it answer this
    std::optional<std::pair<sealed_key_id, error>> unmatched_;  // a file key id the keyring could not match
    bool rotation_failed_ = false;
    secure_buffer key_;  // the keyring's current data key: seals
    sealed_key_id key_id_{};
    bool have_key_ = false;
    secure_buffer previous_key_;  // the key before a rotation: opens only
    sealed_key_id previous_key_id_{};
    bool have_previous_ = false;
};

}  // namespace tokenvault::detail
