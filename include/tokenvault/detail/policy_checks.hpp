// tokenvault/detail/policy_checks.hpp: compile-time checks that name the fix.
//
// Each check_* function static_asserts one requirement at a time, so a policy that does not model its
// concept fails with a message naming the missing member and the header to read. `combination_rules`
// holds the rules that make a combination of valid policies unsafe; the test matrix filters with them.
#pragma once

#include <filesystem>
#include <type_traits>

#include "../backend/concept.hpp"
#include "../cipher/concept.hpp"
#include "../diagnostics/concept.hpp"
#include "../locking/concept.hpp"
#include "../migration/concept.hpp"
#include "../migration/none.hpp"

namespace tokenvault::detail {

template <class B>
consteval bool check_backend() {
    static_assert(requires { typename B::policy_family; },
                  "tokenvault: Backend needs `using policy_family = tokenvault::family::backend;` "
                  "(see tokenvault/backend/concept.hpp)");
    static_assert(requires { { B::persistent } -> std::convertible_to<bool>; },
                  "tokenvault: Backend needs `static constexpr bool persistent` (see tokenvault/backend/concept.hpp)");
    static_assert(requires { { B::shared } -> std::convertible_to<bool>; },
                  "tokenvault: Backend needs `static constexpr bool shared` (see tokenvault/backend/concept.hpp)");
    static_assert(requires { { B::uses_cipher } -> std::convertible_to<bool>; },
                  "tokenvault: Backend needs `static constexpr bool uses_cipher` (see tokenvault/backend/concept.hpp)");
    static_assert(std::is_constructible_v<B, const store_options&>,
                  "tokenvault: Backend needs a constructor taking `const store_options&` "
                  "(see tokenvault/backend/concept.hpp)");
    static_assert(requires(const B& b) { { b.lock_path() } -> std::same_as<std::optional<std::filesystem::path>>; },
                  "tokenvault: Backend needs `std::optional<std::filesystem::path> lock_path() const` "
                  "(see tokenvault/backend/concept.hpp)");
    static_assert(requires(B& b, backend::detail::archetype_context& c) { { b.load(c) } -> std::same_as<result<bundle>>; },
                  "tokenvault: Backend needs `result<bundle> load(Context&)` (see tokenvault/backend/concept.hpp)");
    static_assert(requires(B& b, backend::detail::archetype_context& c) { { b.changed(c) } -> std::same_as<result<bool>>; },
                  "tokenvault: Backend needs `result<bool> changed(Context&)` (see tokenvault/backend/concept.hpp)");
    static_assert(requires(B& b, backend::detail::archetype_context& c, const bundle& x) {
                      { b.save(c, x) } -> std::same_as<result<void>>; },
                  "tokenvault: Backend needs `result<void> save(Context&, const bundle&)` "
                  "(see tokenvault/backend/concept.hpp)");
    return backend::backend_policy<B>;
}

template <class C>
consteval bool check_cipher() {
    static_assert(requires { typename C::policy_family; },
                  "tokenvault: Cipher needs `using policy_family = tokenvault::family::cipher;` "
                  "(see tokenvault/cipher/concept.hpp)");
    static_assert(requires { { C::id } -> std::convertible_to<std::uint8_t>; },
                  "tokenvault: Cipher needs `static constexpr std::uint8_t id` (see tokenvault/cipher/concept.hpp)");
    static_assert(requires { { C::key_size } -> std::convertible_to<std::size_t>; { C::nonce_size } -> std::convertible_to<std::size_t>; { C::tag_size } -> std::convertible_to<std::size_t>; },
                  "tokenvault: Cipher needs key_size, nonce_size and tag_size (see tokenvault/cipher/concept.hpp)");
    static_assert(requires { { C::writes_plaintext } -> std::convertible_to<bool>; },
                  "tokenvault: Cipher needs `static constexpr bool writes_plaintext` "
                  "(see tokenvault/cipher/concept.hpp)");
    static_assert(requires { { C::available() } -> std::same_as<result<void>>; },
                  "tokenvault: Cipher needs `static result<void> available()` (see tokenvault/cipher/concept.hpp)");
    static_assert(requires(std::span<const std::byte> in, std::span<std::byte> out) {
                      { C::seal(in, in, in, in, out) } -> std::same_as<result<void>>;
                      { C::open(in, in, in, in, out) } -> std::same_as<result<void>>; },
                  "tokenvault: Cipher needs static seal(key, nonce, ad, in, out) and open(...) returning "
                  "result<void> (see tokenvault/cipher/concept.hpp)");
    return cipher::cipher_policy<C>;
}

template <class L>
consteval bool check_locking() {
    static_assert(requires { typename L::policy_family; },
                  "tokenvault: Locking needs `using policy_family = tokenvault::family::locking;` "
                  "(see tokenvault/locking/concept.hpp)");
    static_assert(requires { { L::thread_safe } -> std::convertible_to<bool>; { L::cross_process } -> std::convertible_to<bool>; },
                  "tokenvault: Locking needs `static constexpr bool thread_safe` and `cross_process` "
                  "(see tokenvault/locking/concept.hpp)");
    static_assert(requires(L& l) { l.lock_shared(); l.lock_exclusive(); },
                  "tokenvault: Locking needs lock_shared() and lock_exclusive() (see tokenvault/locking/concept.hpp)");
    static_assert(requires(L& l, const std::filesystem::path& p, std::chrono::milliseconds t, locking::wait_report& w) {
                      l.lock_store(p, t, w); },
                  "tokenvault: Locking needs lock_store(path, timeout, wait_report&) "
                  "(see tokenvault/locking/concept.hpp)");
    return locking::locking_policy<L>;
}

template <class M>
consteval bool check_migration() {
    static_assert(requires { typename M::policy_family; },
                  "tokenvault: Migration needs `using policy_family = tokenvault::family::migration;` "
                  "(see tokenvault/migration/concept.hpp)");
    static_assert(requires { { M::enabled } -> std::convertible_to<bool>; },
                  "tokenvault: Migration needs `static constexpr bool enabled` (see tokenvault/migration/concept.hpp)");
    static_assert(std::is_constructible_v<M, const store_options&>,
                  "tokenvault: Migration needs a constructor taking `const store_options&` "
                  "(see tokenvault/migration/concept.hpp)");
    static_assert(requires(M& m, backend::detail::archetype_context& c, bundle& b) {
                      { m.import_into(c, b) } -> std::same_as<result<bool>>;
                      { m.after_persist(c) } -> std::same_as<result<void>>; },
                  "tokenvault: Migration needs `result<bool> import_into(Context&, bundle&)` and "
                  "`result<void> after_persist(Context&)` (see tokenvault/migration/concept.hpp)");
    return migration::migration_policy<M>;
}

template <class D>
consteval bool check_diagnostics() {
    static_assert(requires { typename D::policy_family; },
                  "tokenvault: Diagnostics needs `using policy_family = tokenvault::family::diagnostics;` "
                  "(see tokenvault/diagnostics/concept.hpp)");
    static_assert(requires { { D::enabled } -> std::convertible_to<bool>; },
                  "tokenvault: Diagnostics needs `static constexpr bool enabled` "
                  "(see tokenvault/diagnostics/concept.hpp)");
    static_assert(requires(D& d) {
                      d.on(events::keyring_read{}); d.on(events::drift{});
                      d.on(events::store_resolved{}); d.on(events::login{}); },
                  "tokenvault: Diagnostics needs `on(const Event&)` for every event of "
                  "tokenvault/diagnostics/events.hpp (see tokenvault/diagnostics/concept.hpp)");
    return diagnostics::diagnostics_policy<D>;
}

/// True when the cipher writes plaintext and was chosen for that on purpose (cipher::plaintext_opt_in).
template <class Cipher>
inline constexpr bool plaintext_opted_in = [] {
    if constexpr (requires { { Cipher::plaintext_opted_in } -> std::convertible_to<bool>; })
        return static_cast<bool>(Cipher::plaintext_opted_in);
    else
        return false;
}();

/// True when the migration deletes the legacy data it imported (M::deletes_source; false if unsaid).
template <class Migration>
inline constexpr bool migration_deletes_source = [] {
    if constexpr (requires { { Migration::deletes_source } -> std::convertible_to<bool>; })
        return static_cast<bool>(Migration::deletes_source);
    else
        return false;
}();

/// The rules that make a combination of individually valid policies unsafe.
template <class Backend, class Cipher, class Locking, class Migration = migration::none>
struct combination_rules {
    /// Legacy data would be deleted after moving into a store that forgets it at exit.
    static constexpr bool volatile_migration = migration_deletes_source<Migration> && !Backend::persistent;
    /// Tokens would reach a disk unencrypted without the explicit opt-in.
    static constexpr bool silent_plaintext = Backend::persistent && Backend::uses_cipher && Cipher::writes_plaintext &&
                                             !plaintext_opted_in<Cipher>;
    /// Other processes write the backend, but the locking only serialises threads.
    static constexpr bool unlocked_sharing = Backend::shared && !Locking::cross_process;
    static constexpr bool valid = !silent_plaintext && !unlocked_sharing && !volatile_migration;
};

}  // namespace tokenvault::detail
