// tokenvault/presets_desktop_windows.hpp: presets::desktop on Windows (tokenvault.hpp includes it there).
//
// The data key lives in the Credential Manager when the logon session has one, else in a DPAPI-sealed
// file (keyring::dpapi); the file header records which tier holds the key. System libraries only.
#pragma once

#if !defined(_WIN32)
#error "tokenvault/presets_desktop_windows.hpp is for Windows: include tokenvault/presets_desktop.hpp"
#endif

#include "backend/sealed_file.hpp"
#include "cipher/xchacha20poly1305.hpp"
#include "keyring/dpapi.hpp"
#include "keyring/first_available.hpp"
#include "keyring/wincred.hpp"
#include "locking/process.hpp"
#include "presets.hpp"
#include "store.hpp"

namespace tokenvault::presets {

/// Sealed file; key in the Credential Manager, else in a DPAPI-sealed file; shared by threads and processes.
using desktop = token_store<backend::sealed_file<keyring::first_available<keyring::wincred, keyring::dpapi>>,
                            cipher::xchacha20poly1305, locking::process>;

}  // namespace tokenvault::presets
