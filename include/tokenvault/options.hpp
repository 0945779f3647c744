// tokenvault/options.hpp: run-time options of a store, and the context handed to its policies.
//
// The directory defaults to $XDG_CONFIG_HOME/<app> (else ~/.config/<app>, with the home directory from
// $HOME or the user database) on POSIX, to ~/Library/Application Support/<app> on Apple platforms and to
// %LOCALAPPDATA%\<app> on Windows; with no home directory
// known there is no default, and every store call says so (never a path relative to the working
// directory). Directories and files are created private. Timeouts bound every lock wait and keyring call.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

#include "error.hpp"
#include "keyring/concept.hpp"
#include "platform/common.hpp"
#include "platform/system.hpp"
#include "result.hpp"

namespace tokenvault {

/// Run-time options of a token store.
struct store_options {
    std::string app_name = "tokenvault";            ///< names the directory and the keyring service
    std::filesystem::path directory;                ///< empty: store_directory() picks the default
    std::string file_name = "tokens.sealed";        ///< the bundle file inside `directory`
    std::chrono::milliseconds lock_timeout{10000};  ///< bound on every lock wait
    /// What only keyrings read (call timeout, secret_service's session collection): keyring/concept.hpp.
    tokenvault::keyring_settings keyring_settings;

    /// The directory the store uses: `directory`, else the default for `app_name`, else why there is none.
    [[nodiscard]] result<std::filesystem::path> store_directory() const {
        if (!directory.empty()) return directory;
        auto root = platform::user_config_root();
        if (!root) return root.error();
        return *root / app_name;
    }
    /// store_directory(), or an empty path when there is none (backends then fail with directory_error()).
    [[nodiscard]] std::filesystem::path resolved_directory() const {
        auto found = store_directory();
        return found ? *found : std::filesystem::path{};
    }
    /// Why the store has no directory (no home directory known), or nullopt when it has one.
    [[nodiscard]] std::optional<error> directory_error() const {
        auto found = store_directory();
        if (found) return std::nullopt;
        return found.error();
    }
    /// Options for the store's keyring: keyring_settings, the app name as service, and a `keyring`
    /// sub-directory.
    [[nodiscard]] keyring_options keyring() const {
        keyring_options k;
        static_cast<tokenvault::keyring_settings&>(k) = keyring_settings;
        k.service = app_name;
        if (auto dir = resolved_directory(); !dir.empty()) k.directory = dir / "keyring";
        return k;
    }
    /// The default directory of `app` (platform::user_config_root() / app), or an empty path when no home
    /// directory is known.
    [[nodiscard]] static std::filesystem::path default_directory(const std::string& app) {
        auto root = platform::user_config_root();
        return root ? *root / app : std::filesystem::path{};
    }
};

/// What a store hands to its backend and migration policies on every call.
template <class Cipher, class Diagnostics>
struct store_context {
    using cipher = Cipher;
    Diagnostics& diagnostics;      ///< where events go
    const store_options& options;  ///< the store's options
    /// Where a backend's save may leave the directory flush of its file replacement (replace_file) for the
    /// store to run after letting go of the store lock; null: the backend completes it before returning.
    platform::pending_sync* sync_after_unlock = nullptr;
};

}  // namespace tokenvault
