// tokenvault/backend/keyring_bundle.hpp: backend::keyring_bundle<K>, the bundle in one keyring item.
//
// One keyring read per instance, then the store's cache; a stamp file beside the lock changes on every
// write, so reads see other processes' writes with one lstat, and every write reloads the item first
// (traits reload_before_write). A bundle over K::max_item_size (Windows: 2560 bytes) is refused before
// writing; an item that does not parse is refused, never overwritten. Assumes load/save under the store lock.
#pragma once

#include <sodium.h>

#include <array>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "../detail/secure_buffer.hpp"
#include "../detail/temp_files.hpp"
#include "../diagnostics/events.hpp"
#include "../diagnostics/resolution.hpp"
#include "../json.hpp"
#include "../keyring/concept.hpp"
#include "../platform/platform.hpp"
#include "concept.hpp"

namespace tokenvault::backend {

/// What a keyring_bundle backend knows right now (for tools; no secret).
struct keyring_bundle_status {
    std::filesystem::path lock_file;       ///< the store lock file (never deleted)
    std::filesystem::path stamp_file;      ///< changes identity on every write
    std::string tier;                      ///< tier of the opened keyring ("" until opened)
    std::optional<error> keyring_failure;  ///< a remembered keyring read failure, if any
    std::optional<error> write_failure;    ///< a remembered keyring write failure, if any
};

/// The bundle as JSON in one keyring item ("bundle"); the keyring protects it, no cipher is used.
template <class K>
class keyring_bundle {
    static_assert(keyring::check<K>());  // names what K misses (tokenvault/keyring/concept.hpp)
    static_assert(
        !keyring::traits_of<K>.add_only,
        "tokenvault: backend::keyring_bundle<K> rewrites one keyring item on every save, and K never "
        "rewrites an item (traits add_only, e.g. keyring::macos_keychain): use "
        "backend::sealed_file<K>, which keeps only the data key in K");

public:
    using policy_family = family::backend;
    using keyring_type = K;
    static constexpr bool persistent = K::persistent;
    static constexpr bool shared = true;
    static constexpr bool uses_cipher = false;
    /// The store reloads the item before every write: the stamp only covers writers that update it.
    static constexpr backend::traits traits{.reload_before_write = true};
    /// The keyring account of the bundle (the keyring service is the app name).
    static constexpr std::string_view item_account = "bundle";

    /// Lock and stamp in options.resolved_directory(); the keyring is opened on first need.
    explicit keyring_bundle(const store_options& options)
        : directory_(options.resolved_directory()),
          lock_(directory_ / "keyring-bundle.lock"),
          stamp_(directory_ / "keyring-bundle.stamp"),
          keyring_options_(options.keyring()) {
        if (auto missing = options.directory_error()) read_failure_ = *missing;  // no home directory known
    }

    /// `<directory>/keyring-bundle.lock`; nullopt without a directory (every call then fails).
    [[nodiscard]] std::optional<std::filesystem::path> lock_path() const {
        if (directory_.empty()) return std::nullopt;
        return lock_;
    }

    /// One lstat of the stamp file compared with the identity seen at the last load or save.
    template <class Context>
    [[nodiscard]] result<bool> changed(Context&) const {
        if (!stamp_known_) return true;
        auto now = tokenvault::platform::stat_identity(stamp_);
        if (!now) return now.error();
        return *now != stamp_identity_;
    }

    /// Reads and parses the item; no item is an empty bundle (nothing is written).
    template <class Context>
    [[nodiscard]] result<bundle> load(Context& ctx) {
        stamp_known_ = false;
        auto stamp =
            tokenvault::platform::stat_identity(stamp_);  // before the read: a later write changes it
        if (!stamp) return stamp.error();
        if (read_failure_) return *read_failure_;
        auto keyring = open_keyring(ctx);
        if (!keyring) return keyring.error();
        auto item = keyring_->read(item_account);
        ctx.diagnostics.on(
            events::keyring_read{keyring_->tier_name(), item && item->has_value(), item.code()});
        if (!item) {
            read_failure_ = error{item.error().code, where() + ": " + item.error().context};
            return *read_failure_;
        }
        bundle content;
        if (*item) {
            auto parsed = parse_bundle((*item)->view());
            if (!parsed) {
                const auto& e = parsed.error();
                const bool keep_code = e == errc::unsupported_format_version || e == errc::too_large ||
                                       e == errc::value_out_of_range;
                read_failure_ = error{keep_code ? e.code : make_error_code(errc::malformed_json),
                                      where() + ": the item does not hold a tokenvault bundle (" + e.context +
                                          "); it was left unchanged: remove it to start afresh"};
                return *read_failure_;
            }
            content = std::move(*parsed);
        }
        stamp_identity_ = *stamp;
        stamp_known_ = true;
        return content;
    }

    /// Writes the bundle to the item, refusing first if it exceeds K::max_item_size.
    template <class Context>
    [[nodiscard]] result<void> save(Context& ctx, const bundle& content) {
        if (read_failure_) return *read_failure_;
        if (write_failure_) return *write_failure_;
        auto text = serialize_bundle(content);
        if (!text) return text.error();
        if (text->size() > K::max_item_size)
            return error{errc::keyring_item_too_large,
                         where() + ": the bundle is " + std::to_string(text->size()) + " bytes, over the " +
                             std::to_string(K::max_item_size) + "-byte item limit; nothing was written"};
        auto keyring = open_keyring(ctx);
        if (!keyring) return keyring.error();
        TOKENVAULT_TRY(tokenvault::platform::ensure_store_directory(directory_));
        if (!swept_temp_files_) {
            swept_temp_files_ = true;  // we hold the store lock: a stamp temp file is a dead writer's
            (void)tokenvault::detail::remove_stale_temp_files(
                directory_, [&](std::string_view target) { return target == stamp_.filename().string(); });
        }
        // Stamp first: a crash before the item write only makes readers reload needlessly.
        TOKENVAULT_TRY(tokenvault::detail::ensure_sodium());
        std::array<std::byte, 16> nonce{};
        randombytes_buf(nonce.data(), nonce.size());
        auto stamped = tokenvault::platform::write_file_atomically(stamp_, nonce);
        if (!stamped) {
            stamp_known_ = false;
            return stamped.error();
        }
        auto written = keyring_->write(item_account, text->bytes());
        ctx.diagnostics.on(events::keyring_write{keyring_->tier_name(), false, written.code()});
        stamp_identity_ =
            *stamped;  // the item is unchanged on failure: the rolled-back cache still matches it
        stamp_known_ = true;
        if (!written) {
            write_failure_ = error{written.error().code, where() + ": " + written.error().context};
            return *write_failure_;
        }
        return {};
    }

    /// What this backend knows now (call it while no store operation runs).
    [[nodiscard]] keyring_bundle_status status() const {
        keyring_bundle_status s;
        s.lock_file = lock_;
        s.stamp_file = stamp_;
        if (keyring_) s.tier = std::string(keyring_->tier_name());
        s.keyring_failure = read_failure_;
        s.write_failure = write_failure_;
        return s;
    }

private:
    [[nodiscard]] std::string where() const {
        return "keyring_bundle: item '" + std::string(item_account) + "' of service '" +
               keyring_options_.service + "' in keyring tier '" +
               std::string(keyring_ ? keyring_->tier_name() : K::tier) + "'";
    }

    // Opens K (first use); a failure is remembered until the store is reopened.
    template <class Context>
    [[nodiscard]] result<K*> open_keyring(Context& ctx) {
        if (keyring_) return &*keyring_;
        if (read_failure_) return *read_failure_;
        auto opened = K::open(keyring_options_);
        if (!opened) {
            read_failure_ = error{opened.error().code, where() + ": " + opened.error().context};
            return *read_failure_;
        }
        if (!*opened) {
            read_failure_ = error{errc::keyring_unavailable, where() + ": the keyring is not available here"};
            return *read_failure_;
        }
        keyring_.emplace(std::move(**opened));
        diagnostics::report_store_resolved(ctx.diagnostics, directory_ / "keyring-bundle", "keyring_bundle",
                                           *keyring_);
        return &*keyring_;
    }

    std::filesystem::path directory_;
    std::filesystem::path lock_;
    std::filesystem::path stamp_;
    keyring_options keyring_options_;
    std::optional<K> keyring_;
    std::optional<error> read_failure_;   // open/read/parse failed: loads and saves answer this
    std::optional<error> write_failure_;  // a write failed: later saves answer this (no prompt storm)
    bool stamp_known_ = false;
    std::optional<tokenvault::platform::file_identity> stamp_identity_;
    bool swept_temp_files_ = false;
};

}  // namespace tokenvault::backend
