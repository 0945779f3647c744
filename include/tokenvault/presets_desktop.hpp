// tokenvault/presets_desktop.hpp: presets::desktop, the store for Linux desktops (needs libsecret-1).
//
// The data key lives in the Secret Service (GNOME Keyring, KWallet) when one answers, else in the
// private key file of keyring::file; the file header records which tier holds it, so a later run never
// makes a second key in the other tier. Separate from presets.hpp so nobody links libsecret unasked.
#pragma once

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
