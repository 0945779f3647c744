// tests/matrix/windows_lists.hpp: the policy lists of the Windows matrix (built for Windows).
//
// The Windows key holders: sealed files whose key lives in the Credential Manager, in a DPAPI file, in the
// chain of both (what presets::desktop uses) and in keyring::file (presets::embedded); a keyring bundle in
// a DPAPI file; and the memory backend. (A keyring bundle in the Credential Manager is not here: a 2560-byte
// item cannot hold the bundles the contract writes; test_keyring_wincred.cpp checks that limit.) Each
// test_windows_matrix_<holder>.cpp takes one of them and meets every cipher, locking, migration and
// diagnostics policy the library accepts with it (valid_stores keeps the valid combinations): every
// Windows-valid combination, split by holder so the files compile in parallel.
#pragma once

#include <tokenvault/backend/keyring_bundle.hpp>
#include <tokenvault/backend/memory.hpp>
#include <tokenvault/backend/sealed_file.hpp>
#include <tokenvault/keyring/dpapi.hpp>
#include <tokenvault/keyring/file.hpp>
#include <tokenvault/keyring/first_available.hpp>
#include <tokenvault/keyring/wincred.hpp>
#include <tokenvault/locking/process.hpp>
#include <tokenvault/migration/chain.hpp>

#include "matrix.hpp"

namespace tvtest::matrix::windows {

namespace kr = tokenvault::keyring;

/// Both ciphers.
inline constexpr auto ciphers = hana::tuple_t<tv::cipher::xchacha20poly1305, tv::cipher::aes256gcm>;
/// Every locking policy (valid_stores keeps those the backend accepts).
inline constexpr auto lockings = hana::tuple_t<tv::locking::none, tv::locking::threads, tv::locking::process>;
/// No migration, and the legacy keyring layouts drained from the process-local keyring.
inline constexpr auto migrations =
    hana::tuple_t<tv::migration::none, tv::migration::from_legacy_keyring<kr::memory>>;
/// Every diagnostics policy.
inline constexpr auto diagnostics =
    hana::tuple_t<tv::diagnostics::none, tv::diagnostics::callback, tv::diagnostics::counters>;

/// Every valid store over `Backend`.
template <class Backend>
using stores_over = typename decltype(+valid_stores(hana::tuple_t<Backend>, ciphers, lockings, migrations,
                                                    diagnostics))::type;

}  // namespace tvtest::matrix::windows
