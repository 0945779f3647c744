// tokenvault/detail/policy_checks.hpp: what token_store checks before it exists: slots, then combinations.
//
// Each slot must get a policy of its family (a keyring, a policy of another family or a type that is no
// policy is named as such, with the fix), and that policy must meet its family's contract (the family's
// concept.hpp says what is missing). Then `combination_rules` rejects unsafe combinations of valid
// policies, naming the opt-in; the test matrix filters with the same rules. `store_requirements` runs
// these in order and, reporting, fails at the first problem only: one error, whose first line says it.
#pragma once

#include <type_traits>

#include "../backend/concept.hpp"
#include "../backend/memory.hpp"
#include "../cipher/concept.hpp"
#include "../cipher/xchacha20poly1305.hpp"
#include "../diagnostics/concept.hpp"
#include "../diagnostics/none.hpp"
#include "../keyring/concept.hpp"
#include "../locking/concept.hpp"
#include "../locking/threads.hpp"
#include "../migration/concept.hpp"
#include "../migration/none.hpp"
#include "../policy_family.hpp"

namespace tokenvault::detail {

template <class A, class B>
inline constexpr bool same = std::is_same_v<A, B>;

// The advice every "policy in the wrong slot" message ends with.
#define TOKENVAULT_SLOT_ORDER                                                                        \
    ": token_store<backend, cipher, locking, migration, diagnostics> takes policies in this order, " \
    "store_with<...> in any order"

/// Reports a policy of family `Given` in the slot of family `Slot` (Given != Slot).
template <class Slot, class Given, bool Report>
consteval bool report_misplaced() {
    if constexpr (same<Slot, family::backend> && same<Given, family::cipher>)
        static_assert(!Report,
                      "tokenvault: token_store's backend slot got a cipher policy" TOKENVAULT_SLOT_ORDER);
    else if constexpr (same<Slot, family::backend> && same<Given, family::locking>)
        static_assert(!Report,
                      "tokenvault: token_store's backend slot got a locking policy" TOKENVAULT_SLOT_ORDER);
    else if constexpr (same<Slot, family::backend> && same<Given, family::migration>)
        static_assert(!Report,
                      "tokenvault: token_store's backend slot got a migration policy" TOKENVAULT_SLOT_ORDER);
    else if constexpr (same<Slot, family::backend> && same<Given, family::diagnostics>)
        static_assert(
            !Report, "tokenvault: token_store's backend slot got a diagnostics policy" TOKENVAULT_SLOT_ORDER);
    else if constexpr (same<Slot, family::cipher> && same<Given, family::backend>)
        static_assert(!Report,
                      "tokenvault: token_store's cipher slot got a backend policy" TOKENVAULT_SLOT_ORDER);
    else if constexpr (same<Slot, family::cipher> && same<Given, family::locking>)
        static_assert(!Report,
                      "tokenvault: token_store's cipher slot got a locking policy" TOKENVAULT_SLOT_ORDER);
    else if constexpr (same<Slot, family::cipher> && same<Given, family::migration>)
        static_assert(!Report,
                      "tokenvault: token_store's cipher slot got a migration policy" TOKENVAULT_SLOT_ORDER);
    else if constexpr (same<Slot, family::cipher> && same<Given, family::diagnostics>)
        static_assert(!Report,
                      "tokenvault: token_store's cipher slot got a diagnostics policy" TOKENVAULT_SLOT_ORDER);
    else if constexpr (same<Slot, family::locking> && same<Given, family::backend>)
        static_assert(!Report,
                      "tokenvault: token_store's locking slot got a backend policy" TOKENVAULT_SLOT_ORDER);
    else if constexpr (same<Slot, family::locking> && same<Given, family::cipher>)
        static_assert(!Report,
                      "tokenvault: token_store's locking slot got a cipher policy" TOKENVAULT_SLOT_ORDER);
    else if constexpr (same<Slot, family::locking> && same<Given, family::migration>)
        static_assert(!Report,
                      "tokenvault: token_store's locking slot got a migration policy" TOKENVAULT_SLOT_ORDER);
    else if constexpr (same<Slot, family::locking> && same<Given, family::diagnostics>)
        static_assert(
            !Report, "tokenvault: token_store's locking slot got a diagnostics policy" TOKENVAULT_SLOT_ORDER);
    else if constexpr (same<Slot, family::migration> && same<Given, family::backend>)
        static_assert(!Report,
                      "tokenvault: token_store's migration slot got a backend policy" TOKENVAULT_SLOT_ORDER);
    else if constexpr (same<Slot, family::migration> && same<Given, family::cipher>)
        static_assert(!Report,
                      "tokenvault: token_store's migration slot got a cipher policy" TOKENVAULT_SLOT_ORDER);
    else if constexpr (same<Slot, family::migration> && same<Given, family::locking>)
        static_assert(!Report,
                      "tokenvault: token_store's migration slot got a locking policy" TOKENVAULT_SLOT_ORDER);
    else if constexpr (same<Slot, family::migration> && same<Given, family::diagnostics>)
        static_assert(
            !Report,
            "tokenvault: token_store's migration slot got a diagnostics policy" TOKENVAULT_SLOT_ORDER);
    else if constexpr (same<Slot, family::diagnostics> && same<Given, family::backend>)
        static_assert(
            !Report, "tokenvault: token_store's diagnostics slot got a backend policy" TOKENVAULT_SLOT_ORDER);
    else if constexpr (same<Slot, family::diagnostics> && same<Given, family::cipher>)
        static_assert(!Report,
                      "tokenvault: token_store's diagnostics slot got a cipher policy" TOKENVAULT_SLOT_ORDER);
    else if constexpr (same<Slot, family::diagnostics> && same<Given, family::locking>)
        static_assert(
            !Report, "tokenvault: token_store's diagnostics slot got a locking policy" TOKENVAULT_SLOT_ORDER);
    else
        static_assert(
            !Report,
            "tokenvault: token_store's diagnostics slot got a migration policy" TOKENVAULT_SLOT_ORDER);
    return false;
}

#undef TOKENVAULT_SLOT_ORDER

/// Reports a keyring given in the slot of family `Slot`: keyrings go inside backends.
template <class Slot, bool Report>
consteval bool report_keyring_in_slot() {
    if constexpr (same<Slot, family::backend>)
        static_assert(!Report,
                      "tokenvault: token_store's backend slot got a keyring: a keyring holds a backend's "
                      "data key; use backend::sealed_file<TheKeyring> (or backend::keyring_bundle<"
                      "TheKeyring>)");
    else if constexpr (same<Slot, family::cipher>)
        static_assert(!Report,
                      "tokenvault: token_store's cipher slot got a keyring: a keyring goes inside the "
                      "backend (1st slot), e.g. backend::sealed_file<TheKeyring>");
    else if constexpr (same<Slot, family::locking>)
        static_assert(!Report,
                      "tokenvault: token_store's locking slot got a keyring: a keyring goes inside the "
                      "backend (1st slot), e.g. backend::sealed_file<TheKeyring>");
    else if constexpr (same<Slot, family::migration>)
        static_assert(!Report,
                      "tokenvault: token_store's migration slot got a keyring: a keyring goes inside "
                      "the backend (1st slot) or a migration, e.g. migration::from_legacy_keyring<"
                      "TheKeyring>");
    else
        static_assert(!Report,
                      "tokenvault: token_store's diagnostics slot got a keyring: a keyring goes inside "
                      "the backend (1st slot), e.g. backend::sealed_file<TheKeyring>");
    return false;
}

/// Reports a type that names no policy family in the slot of family `Slot`.
template <class Slot, bool Report>
consteval bool report_not_a_policy() {
    if constexpr (same<Slot, family::backend>)
        static_assert(!Report,
                      "tokenvault: token_store's backend slot got a type that is not a tokenvault "
                      "policy (it names no policy_family): use e.g. backend::memory or "
                      "backend::sealed_file<keyring::file> (tokenvault/backend/concept.hpp)");
    else if constexpr (same<Slot, family::cipher>)
        static_assert(!Report,
                      "tokenvault: token_store's cipher slot got a type that is not a tokenvault "
                      "policy (it names no policy_family): use e.g. cipher::xchacha20poly1305 "
                      "(tokenvault/cipher/concept.hpp)");
    else if constexpr (same<Slot, family::locking>)
        static_assert(!Report,
                      "tokenvault: token_store's locking slot got a type that is not a tokenvault "
                      "policy (it names no policy_family): use e.g. locking::threads or locking::process "
                      "(tokenvault/locking/concept.hpp)");
    else if constexpr (same<Slot, family::migration>)
        static_assert(!Report,
                      "tokenvault: token_store's migration slot got a type that is not a tokenvault "
                      "policy (it names no policy_family): use e.g. migration::none "
                      "(tokenvault/migration/concept.hpp)");
    else
        static_assert(!Report,
                      "tokenvault: token_store's diagnostics slot got a type that is not a tokenvault "
                      "policy (it names no policy_family): use e.g. diagnostics::none "
                      "(tokenvault/diagnostics/concept.hpp)");
    return false;
}

/// Reports P, given in the slot of family `Slot` but not of that family (a keyring, a policy of another
/// family, or a type that is no policy).
template <class Slot, class P, bool Report>
consteval bool report_wrong_family() {
    if constexpr (in_family<P, family::keyring>)
        return report_keyring_in_slot<Slot, Report>();
    else if constexpr (!names_a_family<P>)
        return report_not_a_policy<Slot, Report>();
    else
        return report_misplaced<Slot, typename P::policy_family, Report>();
}

/// The rules that make a combination of individually valid policies unsafe.
template <class Backend, class Cipher, class Locking, class Migration = migration::none>
struct combination_rules {
    /// Legacy data would be deleted after moving into a store that forgets it at exit.
    static constexpr bool volatile_migration =
        migration::traits_of<Migration>.deletes_source && !Backend::persistent;
    /// Tokens would reach a disk unencrypted without the explicit opt-in.
    static constexpr bool silent_plaintext = Backend::persistent && Backend::uses_cipher &&
                                             Cipher::writes_plaintext &&
                                             !cipher::traits_of<Cipher>.plaintext_opted_in;
    /// Other processes write the backend, but the locking only serialises threads.
    static constexpr bool unlocked_sharing = Backend::shared && !Locking::cross_process;
    static constexpr bool valid = !silent_plaintext && !unlocked_sharing && !volatile_migration;
};

/// Everything token_store<B, C, L, M, D> checks, in order: each slot, then the combination rules. With
/// `Report`, the first problem fails to compile with its message and nothing else is checked.
template <class B, class C, class L, class M, class D, bool Report>
consteval bool store_requirements() {
    if constexpr (!in_family<B, family::backend>) {
        return report_wrong_family<family::backend, B, Report>();
    } else if constexpr (!backend_requirements<B, false>()) {
        return backend_requirements<B, Report>();
    } else if constexpr (!in_family<C, family::cipher>) {
        return report_wrong_family<family::cipher, C, Report>();
    } else if constexpr (!cipher_requirements<C, false>()) {
        return cipher_requirements<C, Report>();
    } else if constexpr (!in_family<L, family::locking>) {
        return report_wrong_family<family::locking, L, Report>();
    } else if constexpr (!locking_requirements<L, false>()) {
        return locking_requirements<L, Report>();
    } else if constexpr (!in_family<M, family::migration>) {
        return report_wrong_family<family::migration, M, Report>();
    } else if constexpr (!migration_requirements<M, false>()) {
        return migration_requirements<M, Report>();
    } else if constexpr (!in_family<D, family::diagnostics>) {
        return report_wrong_family<family::diagnostics, D, Report>();
    } else if constexpr (!diagnostics_requirements<D, false>()) {
        return diagnostics_requirements<D, Report>();
    } else if constexpr (combination_rules<B, C, L, M>::silent_plaintext) {
        static_assert(
            !Report,
            "tokenvault: this backend writes to disk and cipher::none would store tokens in plaintext; "
            "use cipher::xchacha20poly1305 (or cipher::aes256gcm), or name cipher::plaintext_opt_in to "
            "accept plaintext files explicitly");
        return false;
    } else if constexpr (combination_rules<B, C, L, M>::volatile_migration) {
        static_assert(
            !Report,
            "tokenvault: this migration deletes the legacy copy once migrated, but the backend does not "
            "persist: the tokens would be gone at exit; use a persistent backend (backend::sealed_file) "
            "or a migration that only imports");
        return false;
    } else if constexpr (combination_rules<B, C, L, M>::unlocked_sharing) {
        static_assert(
            !Report,
            "tokenvault: this backend is shared between processes, so it needs locking::process "
            "(tokenvault/locking/process.hpp); locking::none and locking::threads would lose updates "
            "made by other processes");
        return false;
    } else {
        return true;
    }
}

/// What token_store<B, C, L, M, D> is built from: the arguments when they are accepted, else the default
/// policies, so that after the one message (token_store reports it) its body adds no second error.
template <class B, class C, class L, class M, class D>
struct store_front {
    /// Every slot holds a valid policy and the mix is safe.
    static constexpr bool accepted = store_requirements<B, C, L, M, D, false>();

    using backend = std::conditional_t<accepted, B, tokenvault::backend::memory>;
    using cipher = std::conditional_t<accepted, C, tokenvault::cipher::xchacha20poly1305>;
    using locking = std::conditional_t<accepted, L, tokenvault::locking::threads>;
    using migration = std::conditional_t<accepted, M, tokenvault::migration::none>;
    using diagnostics = std::conditional_t<accepted, D, tokenvault::diagnostics::none>;
};

}  // namespace tokenvault::detail
