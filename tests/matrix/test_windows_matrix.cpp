// tests/matrix/test_windows_matrix.cpp: the store contract over the Windows keyrings (built for Windows).
//
// Sealed files whose key lives in the Credential Manager, in a DPAPI file, in the chain of both (what
// presets::desktop uses) and in keyring::file (presets::embedded), and a keyring bundle in a DPAPI file,
// with cross-process locking; one cipher and one diagnostics policy (both are the same code on every OS
// and run in the Linux matrix), to keep the Windows phase short. (A keyring bundle in the Credential
// Manager is not here: a 2560-byte item cannot hold the bundles the contract writes;
// test_keyring_wincred.cpp checks that limit.)
#include <tokenvault/keyring/dpapi.hpp>
#include <tokenvault/keyring/wincred.hpp>

#include "conformance.hpp"
#include "persistent_lists.hpp"

namespace {
namespace hana = boost::hana;
namespace kr = tokenvault::keyring;
namespace tv = tokenvault;

using windows_stores = decltype(+tvtest::matrix::valid_stores(
    hana::tuple_t<tv::backend::sealed_file<kr::wincred>, tv::backend::sealed_file<kr::dpapi>,
                  tv::backend::sealed_file<kr::first_available<kr::wincred, kr::dpapi>>,
                  tv::backend::sealed_file<kr::file>, tv::backend::keyring_bundle<kr::dpapi>>,
    hana::tuple_t<tv::cipher::xchacha20poly1305>, tvtest::matrix::all_lockings,
    tvtest::matrix::all_migrations, hana::tuple_t<tv::diagnostics::counters>))::type;
static_assert(std::tuple_size_v<windows_stores> == 5, "5 backends x locking::process x 1 diagnostics");
}  // namespace

TEST_CASE_TEMPLATE_APPLY(conformance, windows_stores);
