// tokenvault/diagnostics/counters.hpp: diagnostics::counters, lock-free counts of what the store did.
//
// Counts keyring reads/writes/failures, file reads/writes, lock waits and contention, quarantines,
// reloads, refreshes, migrations, store resolutions, logins, drift, rollbacks and unreadable entries.
// Relaxed atomics: cheap enough for the cached get path.
#pragma once

#include <atomic>
#include <cstdint>

#include "concept.hpp"

namespace tokenvault::diagnostics {

/// Counts events with relaxed atomics.
class counters {
public:
    using policy_family = family::diagnostics;
    static constexpr bool enabled = true;

    /// A plain copy of the counts.
    struct snapshot {
        std::uint64_t keyring_reads = 0, keyring_writes = 0, keyring_failures = 0;
        std::uint64_t file_reads = 0, file_writes = 0, file_failures = 0;
        std::uint64_t lock_waits = 0, lock_contentions = 0, lock_timeouts = 0;
        std::uint64_t quarantines = 0, reloads = 0, operations = 0, operation_failures = 0;
        std::uint64_t refreshes = 0, refreshes_adopted = 0, migrations = 0, drifts = 0;
        std::uint64_t resolutions = 0, logins = 0;
        std::uint64_t rollbacks = 0;
        std::uint64_t unreadable_entries = 0;  ///< entries found unreadable, counted on every load
        std::uint64_t handed_over = 0;         ///< changes of other writers saved by this store's writes
    };

    void on(const events::keyring_read& e) noexcept { bump(e.failure ? keyring_failures_ : keyring_reads_); }
    void on(const events::keyring_write& e) noexcept {
        bump(e.failure ? keyring_failures_ : keyring_writes_);
    }
    void on(const events::file_read& e) noexcept { bump(e.failure ? file_failures_ : file_reads_); }
    void on(const events::file_write& e) noexcept { bump(e.failure ? file_failures_ : file_writes_); }
    void on(const events::lock_acquired& e) noexcept {
        bump(lock_waits_);
        if (e.contended) bump(lock_contentions_);
    }
    void on(const events::lock_timed_out&) noexcept { bump(lock_timeouts_); }
    void on(const events::quarantined&) noexcept { bump(quarantines_); }
    void on(const events::store_operation& e) noexcept {
        bump(operations_);
        if (e.failure) bump(operation_failures_);
    }
    void on(const events::reloaded&) noexcept { bump(reloads_); }
    void on(const events::refresh& e) noexcept {
        bump(e.outcome == events::refresh_outcome::adopted ? refreshes_adopted_ : refreshes_);
    }
    void on(const events::migration&) noexcept { bump(migrations_); }
    void on(const events::drift&) noexcept { bump(drifts_); }
    void on(const events::store_resolved&) noexcept { bump(resolutions_); }
    void on(const events::login&) noexcept { bump(logins_); }
    void on(const events::rolled_back&) noexcept { bump(rollbacks_); }
    void on(const events::entry_unreadable&) noexcept { bump(unreadable_entries_); }
    void on(const events::handed_over& e) noexcept {
        handed_over_.fetch_add(e.changes, std::memory_order_relaxed);
    }

    /// The counts so far.
    [[nodiscard]] snapshot read() const noexcept {
        const auto r = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
        return snapshot{r(keyring_reads_),
                        r(keyring_writes_),
                        r(keyring_failures_),
                        r(file_reads_),
                        r(file_writes_),
                        r(file_failures_),
                        r(lock_waits_),
                        r(lock_contentions_),
                        r(lock_timeouts_),
                        r(quarantines_),
                        r(reloads_),
                        r(operations_),
                        r(operation_failures_),
                        r(refreshes_),
                        r(refreshes_adopted_),
                        r(migrations_),
                        r(drifts_),
                        r(resolutions_),
                        r(logins_),
                        r(rollbacks_),
                        r(unreadable_entries_),
                        r(handed_over_)};
    }

private:
    static void bump(std::atomic<std::uint64_t>& a) noexcept { a.fetch_add(1, std::memory_order_relaxed); }
    std::atomic<std::uint64_t> keyring_reads_{0}, keyring_writes_{0}, keyring_failures_{0};
    std::atomic<std::uint64_t> file_reads_{0}, file_writes_{0}, file_failures_{0};
    std::atomic<std::uint64_t> lock_waits_{0}, lock_contentions_{0}, lock_timeouts_{0};
    std::atomic<std::uint64_t> quarantines_{0}, reloads_{0}, operations_{0}, operation_failures_{0};
    std::atomic<std::uint64_t> refreshes_{0}, refreshes_adopted_{0}, migrations_{0}, drifts_{0};
    std::atomic<std::uint64_t> resolutions_{0}, logins_{0};
    std::atomic<std::uint64_t> rollbacks_{0};
    std::atomic<std::uint64_t> unreadable_entries_{0};
    std::atomic<std::uint64_t> handed_over_{0};
};

static_assert(diagnostics_policy<counters>);

}  // namespace tokenvault::diagnostics
