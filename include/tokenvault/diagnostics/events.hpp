// tokenvault/diagnostics/events.hpp: the typed events every component reports.
//
// Events carry no secret by construction: their fields are enums, counts, durations, static names
// (keyring tiers, operations), credential hashes and file paths. No field can hold a token value.
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
/// A lock was taken; `contended` when another holder made it wait.
struct lock_acquired {
    std::string_view lock;  ///< "store" or "credential"
    bool contended = false;
    std::chrono::nanoseconds waited{0};
};
/// A lock could not be taken within its timeout.
struct lock_timed_out {
    std::string_view lock;
    std::chrono::nanoseconds waited{0};
};
/// A certainly corrupt file was moved aside.
struct quarantined {
    std::string original;
    std::string moved_to;
    std::error_code reason;
};
/// A store operation finished.
struct store_operation {
    std::string_view operation;   ///< "get", "put", "erase", "update", "compare_and_swap", "erase_if", "list"
    std::string_view credential;  ///< credential hash, empty for list
    std::error_code failure;
    bool erased =
        false;  ///< a successful write left no entry (erase, erase_if, an update that reset the token)
};
/// The store reloaded its bundle because another process changed it.
struct reloaded {
    std::size_t entries = 0;
};
/// A token refresh ran (or was avoided because another process had refreshed).
struct refresh {
    std::string_view credential;
    std::string_view outcome;  ///< "refreshed", "adopted", "rejected", "transient_failure"
};
/// Entries were migrated from a legacy source.
struct migration {
    std::string_view source;
    std::size_t migrated = 0;
    std::size_t skipped = 0;
    std::error_code failure;
};
/// The keyring tier that resolved differs from what an earlier process recorded.
struct drift {
    std::string_view credential;
    std::string previous;
    std::string current;
    std::string_view reason;
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
    std::string_view tier;  ///< the tier that resolved, e.g. "file"
    std::string_view
        reason;          ///< low-cardinality why: "preferred", "secret_service:unavailable", "file_header"
    bool moved = false;  ///< the data was moved into `tier` on purpose (re-seal, migration): not drift
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

/// Any event.
using any = std::variant<keyring_read, keyring_write, file_read, file_write, lock_acquired, lock_timed_out,
                         quarantined, store_operation, reloaded, refresh, migration, drift, store_resolved,
                         login, rolled_back, entry_unreadable>;

}  // namespace tokenvault::events
