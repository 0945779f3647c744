// tokenvault/diagnostics/events.hpp: the typed events every component reports.
//
// Events carry no secret by construction: their fields are enums, counts, durations, static names
// (keyring tiers, backends, migration sources), credential hashes and file paths. No field can hold a
// token value. Every closed set of values is an enum with a constexpr `to_string` (its enumerator's name),
// the text tools print and the resolution log writes.
// Like spdlog's log_msg, an event is a view: its string_view fields are valid only during the call that
// delivers it. A sink that keeps an event copies the fields it needs.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <variant>

namespace tokenvault::events {

/// A keyring item was read (`found`: the item existed).
struct keyring_read {
    std::string_view tier;
    bool found = false;
    std::error_code failure;  ///< empty on success
};
/// A keyring item was written or erased.
struct keyring_write {
    std::string_view tier;
    bool erase = false;
    std::error_code failure;
};
/// The store read its file (`bytes` on disk).
struct file_read {
    std::size_t bytes = 0;
    std::error_code failure;
};
/// The store wrote its file durably.
struct file_write {
    std::size_t bytes = 0;
    std::error_code failure;
};
/// Which lock an event is about.
enum class lock_kind : std::uint8_t {
    store,       ///< the store's cross-process lock (taken by every load and write)
    credential,  ///< one credential's lock (credential_manager: refresh, login, logout)
};

/// "store" or "credential".
[[nodiscard]] constexpr std::string_view to_string(lock_kind lock) noexcept {
    return lock == lock_kind::store ? std::string_view{"store"} : std::string_view{"credential"};
}

/// A lock was taken; `contended` when another holder made it wait.
struct lock_acquired {
    lock_kind lock = lock_kind::store;
    bool contended = false;
    std::chrono::nanoseconds waited{0};
};
/// A lock could not be taken within its timeout.
struct lock_timed_out {
    lock_kind lock = lock_kind::store;
    std::chrono::nanoseconds waited{0};
};
/// A certainly corrupt file was moved aside.
struct quarantined {
    std::string original;
    std::string moved_to;
    std::error_code reason;
};
/// Which store write an event is about (reads are not reported as operations).
enum class operation_kind : std::uint8_t {
    put,               ///< token_store::put
    erase,             ///< token_store::erase
    update,            ///< token_store::update
    compare_and_swap,  ///< token_store::compare_and_swap
    erase_if,          ///< token_store::erase_if
};

/// The member function's name: "put", "erase", "update", "compare_and_swap" or "erase_if".
[[nodiscard]] constexpr std::string_view to_string(operation_kind operation) noexcept {
    switch (operation) {
    case operation_kind::put: return "put";
    case operation_kind::erase: return "erase";
    case operation_kind::update: return "update";
    case operation_kind::compare_and_swap: return "compare_and_swap";
    case operation_kind::erase_if: return "erase_if";
    }
    return "unknown";
}

/// A store write finished (successfully or not).
struct store_operation {
    operation_kind operation = operation_kind::put;
    std::string_view credential;  ///< credential hash
    std::error_code failure;
    bool erased =
        false;  ///< a successful write left no entry (erase, erase_if, an update that reset the token)
};
/// The store reloaded its bundle because another process changed it.
struct reloaded {
    std::size_t entries = 0;
};
/// How credential_manager's refresh (or logout's revocation) of one credential ended. Not the provider's
/// answer (tokenvault::refresh_outcome): what the manager made of it.
enum class refresh_outcome : std::uint8_t {
    refreshed,          ///< the provider issued a new token and it was stored
    adopted,            ///< a valid token another caller or process had stored was used: no provider call
    rejected,           ///< the server refused the refresh token: the credential was erased for a new login
    transient_failure,  ///< the refresh failed (network, server error): remembered briefly, then retried
    invalid_response,   ///< the provider's token failed validation: nothing was stored
    discarded,        ///< a refreshed token lost its compare-and-swap to a writer without the credential lock
    failed_recently,  ///< a refresh of exactly this state failed moments ago: that failure was returned
    revoked,          ///< logout revoked the token at the server
    revoke_failed,    ///< logout could not revoke the token at the server (the local logout happened)
};

/// The enumerator's name, e.g. "transient_failure".
[[nodiscard]] constexpr std::string_view to_string(refresh_outcome outcome) noexcept {
    switch (outcome) {
    case refresh_outcome::refreshed: return "refreshed";
    case refresh_outcome::adopted: return "adopted";
    case refresh_outcome::rejected: return "rejected";
    case refresh_outcome::transient_failure: return "transient_failure";
    case refresh_outcome::invalid_response: return "invalid_response";
    case refresh_outcome::discarded: return "discarded";
    case refresh_outcome::failed_recently: return "failed_recently";
    case refresh_outcome::revoked: return "revoked";
    case refresh_outcome::revoke_failed: return "revoke_failed";
    }
    return "unknown";
}

/// A token refresh ran (or was avoided because another process had refreshed), or logout revoked a token.
struct refresh {
    std::string_view credential;
    refresh_outcome outcome = refresh_outcome::refreshed;
};
/// Entries were migrated from a legacy source.
struct migration {
    std::string_view source;
    std::size_t migrated = 0;
    std::size_t skipped = 0;
    std::error_code failure;
};
/// Why a keyring tier did not open, in one stable word.
enum class tier_failure : std::uint8_t {
    none,              ///< no tier failed (the reason is not a fallback)
    unavailable,       ///< errc::keyring_unavailable: the keyring is not available here
    locked,            ///< errc::keyring_locked
    denied,            ///< errc::keyring_denied
    timeout,           ///< errc::keyring_timeout
    volatile_refused,  ///< errc::volatile_collection_refused
    unsafe_files,      ///< errc::insecure_permissions, errc::wrong_owner or errc::symlink_refused
    read_only,         ///< errc::read_only_store
    corrupt,           ///< errc::corrupt_file
    damaged_key,       ///< errc::damaged_key
    error,             ///< any other error
};

/// The enumerator's name, e.g. "unavailable".
[[nodiscard]] constexpr std::string_view to_string(tier_failure failure) noexcept {
    switch (failure) {
    case tier_failure::none: return "none";
    case tier_failure::unavailable: return "unavailable";
    case tier_failure::locked: return "locked";
    case tier_failure::denied: return "denied";
    case tier_failure::timeout: return "timeout";
    case tier_failure::volatile_refused: return "volatile_refused";
    case tier_failure::unsafe_files: return "unsafe_files";
    case tier_failure::read_only: return "read_only";
    case tier_failure::corrupt: return "corrupt";
    case tier_failure::damaged_key: return "damaged_key";
    case tier_failure::error: return "error";
    }
    return "error";
}

/// How a store's keyring came to its tier.
enum class resolution_cause : std::uint8_t {
    preferred,    ///< the first tier of a fallback chain opened
    fallback,     ///< an earlier tier of the chain failed to open (resolution_reason says which and why)
    configured,   ///< one keyring was configured: its tier is a choice
    file_header,  ///< the store file's header named the tier that holds its key
};

/// The enumerator's name, e.g. "file_header".
[[nodiscard]] constexpr std::string_view to_string(resolution_cause cause) noexcept {
    switch (cause) {
    case resolution_cause::preferred: return "preferred";
    case resolution_cause::fallback: return "fallback";
    case resolution_cause::configured: return "configured";
    case resolution_cause::file_header: return "file_header";
    }
    return "configured";
}

/// Why a store's keyring resolved to its tier: the cause and, for a fallback, the first tier that failed
/// before it and why.
struct resolution_reason {
    resolution_cause cause = resolution_cause::configured;
    std::string_view failed_tier;               ///< fallback: the first tier of the chain, which failed
    tier_failure failure = tier_failure::none;  ///< fallback: why `failed_tier` did not open
};

/// The reason as the resolution log writes it: "<failed_tier>:<failure>" for a fallback (e.g.
/// "secret_service:unavailable"), else the cause ("preferred", "configured", "file_header").
[[nodiscard]] inline std::string to_string(const resolution_reason& reason) {
    if (reason.cause != resolution_cause::fallback) return std::string(to_string(reason.cause));
    std::string out(reason.failed_tier);
    out += ':';
    out += to_string(reason.failure);
    return out;
}

/// The keyring tier that resolved differs from what an earlier process recorded.
struct drift {
    std::string_view credential;
    std::string previous;      ///< the tier recorded before
    std::string current;       ///< the tier that resolved now
    resolution_reason reason;  ///< why `current` resolved
};

/// How a store picked its keyring tier (the resolution log compares only automatic resolutions).
enum class store_mode : std::uint8_t {
    automatic,      ///< a fallback chain (keyring::first_available) took the first tier that opened
    explicit_tier,  ///< one keyring was configured: its tier is a choice, not a resolution
};

/// "automatic" or "explicit", as written in the resolution log.
[[nodiscard]] constexpr std::string_view to_string(store_mode mode) noexcept {
    return mode == store_mode::automatic ? std::string_view{"automatic"} : std::string_view{"explicit"};
}

/// A store opened the keyring that holds its data: which backend and tier, picked how and why.
struct store_resolved {
    std::string_view directory;   ///< the store's directory (the resolution log lives there)
    std::string_view store;       ///< the store's file name in `directory`, e.g. "tokens.sealed"
    std::string_view credential;  ///< one credential's hash, or empty: every credential of the store
    store_mode mode = store_mode::automatic;
    std::string_view
        backend;  ///< backend and keyring chain, e.g. "sealed_file/first_available(secret_service,file)"
    std::string_view tier;     ///< the tier that resolved, e.g. "file"
    resolution_reason reason;  ///< why that tier, e.g. {fallback, "secret_service", unavailable}
    bool moved = false;        ///< the data was moved into `tier` on purpose (re-seal, migration): not drift
};

/// A login of one credential is about to store a fresh token: the tier it lands in is a choice, not drift.
struct login {
    std::string_view credential;  ///< credential hash
};

/// A store file was replaced by an older copy: sealed by the same key with a lower seal counter than one this
/// store instance had loaded or written (the operation that met it failed with errc::rolled_back).
struct rolled_back {
    std::string_view file;           ///< the store file
    std::uint64_t seen_counter = 0;  ///< the highest seal counter this instance had seen for the key
    std::uint64_t file_counter = 0;  ///< the seal counter of the file on disk now
};

/// A stored entry could not be read (written by a newer version, a bug, a hand edit). It is neither served
/// nor lost: the store keeps its text and writes it back unchanged, until a login of that credential
/// replaces it or a logout removes it. Reported on every load that finds it.
struct entry_unreadable {
    std::string_view credential;  ///< the entry's key in the bundle: its credential hash (sanitized)
    std::error_code reason;       ///< what is wrong with it
    std::string_view detail;      ///< which field and why, e.g. "token: field 'expires_at' is out of range"
};

/// A write saved, with its own change, the changes other processes had handed to it while they waited for
/// the store lock (group commit: docs/FORMAT.md).
struct handed_over {
    std::size_t changes = 0;  ///< how many changes of other writers this save carried
};

/// Any event.
using any = std::variant<keyring_read, keyring_write, file_read, file_write, lock_acquired, lock_timed_out,
                         quarantined, store_operation, reloaded, refresh, migration, drift, store_resolved,
                         login, rolled_back, entry_unreadable, handed_over>;

}  // namespace tokenvault::events
