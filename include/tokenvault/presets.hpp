// tokenvault/presets.hpp: named policy combinations, like spdlog's _mt / _st sinks.
//
// Pick the one whose name says what you need; each is an ordinary token_store type. The desktop preset
// (Secret Service first, key file as fallback) needs libsecret and lives in presets_desktop.hpp.
#pragma once

#include "backend/memory.hpp"
#include "backend/sealed_file.hpp"
#include "cipher/xchacha20poly1305.hpp"
#include "diagnostics/none.hpp"
#include "keyring/file.hpp"
#include "locking/none.hpp"
#include "locking/process.hpp"
#include "locking/threads.hpp"
#include "migration/none.hpp"
#include "store.hpp"

namespace tokenvault::presets {

/// Tokens in memory for one thread: tests, short-lived tools.
using memory_st = token_store<backend::memory, cipher::xchacha20poly1305, locking::none>;
/// Tokens in memory shared by the threads of one process.
using memory_mt = token_store<backend::memory, cipher::xchacha20poly1305, locking::threads>;
/// Tokens in an XChaCha20-Poly1305 sealed file whose key is in a private key file: needs no OS keyring.
using embedded =
    token_store<backend::sealed_file<keyring::file>, cipher::xchacha20poly1305, locking::process>;
/// Servers, containers and CI without a desktop keyring: the same store as `embedded`.
using headless = embedded;

}  // namespace tokenvault::presets
