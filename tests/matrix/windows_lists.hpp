// tests/matrix/windows_lists.hpp: the stores of the Windows matrix (built for Windows).
//
// The Windows key holders: sealed files whose key lives in the Credential Manager, in a DPAPI file, in the
// chain of both (what presets::desktop uses) and in keyring::file (presets::embedded); a keyring bundle in
// a DPAPI file; and the memory backend. (A keyring bundle in the Credential Manager is not here: a 2560-byte
// item cannot hold the bundles the contract writes; test_keyring_wincred.cpp checks that limit.)
//
// Every valid combination of these with every cipher, migration and diagnostics policy is 60 stores, and
// one store contract takes seconds under wine: all 60 would add minutes to the Windows phase. Ciphers,
// migrations and diagnostics are the same code on every OS and run in full in the Linux matrix, so here
// each key holder meets each value of every other axis, and each value meets each value of every other
// axis (pairwise coverage): for the four sealed files, row i (0..3) with diagnostics j (0..2) takes
// cipher (i + j) % 2 and migration (i / 2 + j) % 2. 12 sealed stores, 3 keyring bundles, 2 memory stores.
#pragma once

#include <tokenvault/backend/memory.hpp>
#include <tokenvault/keyring/dpapi.hpp>
#include <tokenvault/keyring/wincred.hpp>

#include "persistent_lists.hpp"

#include <tuple>

namespace tvtest::matrix::windows {

namespace kr = tokenvault::keyring;

using wincred_file = tv::backend::sealed_file<kr::wincred>;
using dpapi_file = tv::backend::sealed_file<kr::dpapi>;
using desktop_file = tv::backend::sealed_file<kr::first_available<kr::wincred, kr::dpapi>>;
using key_file = tv::backend::sealed_file<kr::file>;

using xchacha = tv::cipher::xchacha20poly1305;
using aes = tv::cipher::aes256gcm;
using no_migration = tv::migration::none;
using legacy = tv::migration::from_legacy_keyring<kr::memory>;
using process = tv::locking::process;
using tv::diagnostics::callback;
using tv::diagnostics::counters;
using quiet = tv::diagnostics::none;

/// The rows of the pairwise table with cipher::xchacha20poly1305, the keyring bundles and the memory stores.
using stores_xchacha20poly1305 = std::tuple<
    tv::token_store<wincred_file, xchacha, process, no_migration, quiet>,     // i=0 j=0
    tv::token_store<wincred_file, xchacha, process, no_migration, counters>,  // i=0 j=2
    tv::token_store<dpapi_file, xchacha, process, legacy, callback>,          // i=1 j=1
    tv::token_store<desktop_file, xchacha, process, legacy, quiet>,           // i=2 j=0
    tv::token_store<desktop_file, xchacha, process, legacy, counters>,        // i=2 j=2
    tv::token_store<key_file, xchacha, process, no_migration, callback>,      // i=3 j=1
    tv::token_store<tv::backend::keyring_bundle<kr::dpapi>, xchacha, process, no_migration, quiet>,
    tv::token_store<tv::backend::keyring_bundle<kr::dpapi>, xchacha, process, legacy, callback>,
    tv::token_store<tv::backend::keyring_bundle<kr::dpapi>, xchacha, process, no_migration, counters>,
    tv::token_store<tv::backend::memory, xchacha, tv::locking::none, no_migration, counters>,
    tv::token_store<tv::backend::memory, xchacha, tv::locking::threads, no_migration, callback>>;

/// The rows of the pairwise table with cipher::aes256gcm.
using stores_aes256gcm =
    std::tuple<tv::token_store<wincred_file, aes, process, legacy, callback>,        // i=0 j=1
               tv::token_store<dpapi_file, aes, process, no_migration, quiet>,       // i=1 j=0
               tv::token_store<dpapi_file, aes, process, no_migration, counters>,    // i=1 j=2
               tv::token_store<desktop_file, aes, process, no_migration, callback>,  // i=2 j=1
               tv::token_store<key_file, aes, process, legacy, quiet>,               // i=3 j=0
               tv::token_store<key_file, aes, process, legacy, counters>>;           // i=3 j=2

}  // namespace tvtest::matrix::windows
