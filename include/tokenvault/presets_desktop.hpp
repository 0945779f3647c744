// tokenvault/presets_desktop.hpp: presets::desktop, the store for desktops: the OS keyring, else the
// file-style keyring of that OS.
//
// Linux (needs libsecret-1): the data key lives in the Secret Service (GNOME Keyring, KWallet) when one
// answers, else in the private key file of keyring::file; the file header records which tier holds it, so
// a later run never makes a second key in the other tier. macOS (links Security and CoreFoundation): the
// same with the login keychain, presets::macos_desktop (presets_macos.hpp). Windows:
// presets_desktop_windows.hpp (Credential Manager, else DPAPI). Separate from presets.hpp so nobody links
// a platform keyring unasked.
#pragma once

#if defined(_WIN32)
#include "presets_desktop_windows.hpp"
#elif defined(__APPLE__)
#include "presets.hpp"
#include "presets_macos.hpp"

namespace tokenvault::presets {
/// Sealed file; key in the macOS keychain, else in a private key file (presets_macos.hpp).
using desktop = macos_desktop;
}  // namespace tokenvault::presets
#else
#include "backend/sealed_file.hpp"
#include "cipher/xchacha20poly1305.hpp"
#include "keyring/file.hpp"
#include "keyring/first_available.hpp"
#include "keyring/secret_service.hpp"
#include "locking/process.hpp"
#include "presets.hpp"
#include "store.hpp"

namespace tokenvault::presets {

/// Sealed file; key in the Secret Service, else in a private key file; shared by threads and processes.
using desktop =
    token_store<backend::sealed_file<keyring::first_available<keyring::secret_service, keyring::file>>,
                cipher::xchacha20poly1305, locking::process>;

}  // namespace tokenvault::presets
#endif
