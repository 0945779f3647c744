// tests/matrix/persistent_lists.hpp: the policy lists of the persistent-backend matrix TUs.
//
// Each TU takes one cipher so the matrix compiles in parallel; the other lists are shared here. Adding a
// backend, keyring, locking, migration or diagnostics policy to a list adds it to every combination.
#pragma once

#include <tokenvault/backend/keyring_bundle.hpp>
#include <tokenvault/backend/sealed_file.hpp>
#include <tokenvault/keyring/file.hpp>
#include <tokenvault/keyring/first_available.hpp>
#include <tokenvault/locking/process.hpp>
#include <tokenvault/migration/chain.hpp>

#include "matrix.hpp"

namespace tvtest::matrix {

namespace kr = tokenvault::keyring;

/// Sealed-file backends over each kind of key holder.
inline constexpr auto sealed_backends =
    hana::tuple_t<tv::backend::sealed_file<kr::allow_volatile<kr::memory>>,
                  tv::backend::sealed_file<kr::file>,
                  tv::backend::sealed_file<kr::allow_volatile<kr::first_available<kr::memory, kr::file>>>>;
/// Keyring-bundle backends.
inline constexpr auto bundle_backends =
    hana::tuple_t<tv::backend::keyring_bundle<kr::memory>, tv::backend::keyring_bundle<kr::file>>;
/// Every locking policy (the matrix keeps only those a backend accepts).
inline constexpr auto all_lockings =
    hana::tuple_t<tv::locking::none, tv::locking::threads, tv::locking::process>;
/// Every migration policy that needs no configuration.
inline constexpr auto all_migrations = hana::tuple_t<tv::migration::none>;
/// The migrations tried with one cipher: none, and the legacy keyring layouts drained from
/// the process-local keyring, so that the matrix never reads a real user's keyring.
inline constexpr auto migrations_with_legacy =
    hana::tuple_t<tv::migration::none, tv::migration::from_legacy_keyring<kr::memory>>;
/// Every diagnostics policy.
inline constexpr auto all_diagnostics =
    hana::tuple_t<tv::diagnostics::none, tv::diagnostics::callback, tv::diagnostics::counters>;

}  // namespace tvtest::matrix
