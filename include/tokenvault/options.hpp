// tokenvault/options.hpp: run-time options of a store, and the context handed to its policies.
//
// The directory defaults to $XDG_CONFIG_HOME/<app> (else ~/.config/<app>); directories are created
// 0700 and files 0600. Timeouts bound every lock wait and keyring call.
#pragma once

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "keyring/concept.hpp"

namespace tokenvault {

/// Run-time options of a token store.
struct store_options {
    std::string app_name = "tokenvault";            ///< names the directory and the keyring service
    std::filesystem::path directory;                ///< empty: default_directory(app_name)
    std::string file_name = "tokens.sealed";        ///< the bundle file inside `directory`
    std::chrono::milliseconds lock_timeout{10000};  ///< bound on every lock wait
    /// What only keyrings read (call timeout, secret_service's session collection): keyring/concept.hpp.
    tokenvault::keyring_settings keyring_settings;

    /// The directory the store uses: `directory`, else the default for `app_name`.
    [[nodiscard]] std::filesystem::path resolved_directory() const {
        return directory.empty() ? default_directory(app_name) : directory;
    }
    /// Options for the store's keyring: keyring_settings, the app name as service, and a `keyring`
    /// sub-directory.
    [[nodiscard]] keyring_options keyring() const {
        keyring_options k;
        static_cast<tokenvault::keyring_settings&>(k) = keyring_settings;
        k.service = app_name;
        k.directory = resolved_directory() / "keyring";
        return k;
    }
    /// $XDG_CONFIG_HOME/<app>, else $HOME/.config/<app>, else ./.config/<app>.
    [[nodiscard]] static std::filesystem::path default_directory(const std::string& app) {
        if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg != nullptr && *xdg == '/')
            return std::filesystem::path(xdg) / app;
        if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0')
            return std::filesystem::path(home) / ".config" / app;
        return std::filesystem::path(".config") / app;
    }
};

/// What a store hands to its backend and migration policies on every call.
template <class Cipher, class Diagnostics>
struct store_context {
    using cipher = Cipher;
    Diagnostics& diagnostics;      ///< where events go
    const store_options& options;  ///< the store's options
};

}  // namespace tokenvault
