// tokenvault/presets_macos.hpp: presets::macos_desktop, the store for macOS desktops (Security.framework).
//
// The data key lives in the user's login keychain, written once and never rewritten, read once per store,
// so macOS asks each program at most once (and never again after "Always Allow"); where no keychain
// answers (a session without one) it lives in the private key file of keyring::file. The file header
// records the tier, so a later run never makes a second key elsewhere. presets::desktop is this preset on
// Apple platforms; the type is defined everywhere, so its logic can be tested against a fake keychain.
#pragma once

#include "backend/sealed_file.hpp"
#include "cipher/xchacha20poly1305.hpp"
#include "keyring/file.hpp"
#include "keyring/first_available.hpp"
#include "keyring/macos_keychain.hpp"
#include "locking/process.hpp"
#include "store.hpp"

namespace tokenvault::presets {

/// Sealed file; key in the macOS keychain, else in a private key file; shared by threads and processes.
using macos_desktop =
    token_store<backend::sealed_file<keyring::first_available<keyring::macos_keychain, keyring::file>>,
                cipher::xchacha20poly1305, locking::process>;

}  // namespace tokenvault::presets
