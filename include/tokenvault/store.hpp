// tokenvault/store.hpp: token_store<Backend, Cipher, Locking, Migration, Diagnostics>, the composition.
//
// Reads are served from an in-memory cache; on backends that other processes write, every read first
// makes the backend's cheap change check and reloads when another process committed a write. Every write
// takes the store lock, reloads from the source of truth, applies its one change and saves durably, so
// no process loses another's update. On a failed save the cache is rolled back: nothing half-applied. A
// failed reload (a quarantined or rolled-back file) fails the operation that met it, read or write.
#pragma once

#include <algorithm>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "backend/memory.hpp"
#include "cipher/xchacha20poly1305.hpp"
#include "detail/intent_text.hpp"
#include "detail/policy_checks.hpp"
#include "diagnostics/none.hpp"
#include "entry.hpp"
#include "fwd.hpp"
#include "locking/threads.hpp"
#include "migration/none.hpp"
#include "options.hpp"
#include "result.hpp"
#include "token_json.hpp"

namespace tokenvault {

namespace detail {
/// The last generation of a persistent bundle that starts afresh (no source yet, or a deleted or quarantined
/// one): the current time in microseconds since 1970, above every generation handed out before (each write
/// takes at least a microsecond). See docs/FORMAT.md, "Generations".
template <class = void>
[[nodiscard]] inline std::uint64_t fresh_generation_floor() noexcept {
    const auto since_epoch =
        std::chrono::duration_cast<std::chrono::microseconds>(clock::now().time_since_epoch()).count();
    return since_epoch > 0 ? static_cast<std::uint64_t>(since_epoch) : 0;
}
}  // namespace detail

/// A token store assembled from five policies; see README.md for the policy table.
///
/// The arguments pass through detail::store_front first (detail/policy_checks.hpp): a policy in the wrong
/// slot, an incomplete policy or an unsafe combination fails there with one message naming the fix, and
/// the body below is then built from the default policies instead, so no second error follows.
template <class BackendArg, class CipherArg, class LockingArg, class MigrationArg, class DiagnosticsArg>
class token_store {
    using front = detail::store_front<BackendArg, CipherArg, LockingArg, MigrationArg, DiagnosticsArg>;
    static_assert(
        front::accepted ||  // else: the one message naming the first problem and its fix
        !detail::store_requirements<BackendArg, CipherArg, LockingArg, MigrationArg, DiagnosticsArg, true>());
    using Backend = typename front::backend;
    using Cipher = typename front::cipher;
    using Locking = typename front::locking;
    using Migration = typename front::migration;
    using Diagnostics = typename front::diagnostics;

public:
    using backend_type = Backend;
    using cipher_type = Cipher;
    using locking_type = Locking;
    using migration_type = Migration;
    using diagnostics_type = Diagnostics;
    using context_type = store_context<Cipher, Diagnostics>;

    /// A store with the given options; nothing is read until the first operation.
    explicit token_store(store_options options = {})
        : options_(std::move(options)), backend_(options_), migration_(options_) {}
    token_store(const token_store&) = delete;
    token_store& operator=(const token_store&) = delete;

    /// The stored token for `id`, or nullopt when there is none.
    [[nodiscard]] result<std::optional<token>> get(const credential_id& id) {
        return read([&](const bundle& b) -> result<std::optional<token>> {
            const auto found = b.entries.find(id.hash());
            if (found == b.entries.end()) return std::optional<token>{};
            return std::optional<token>{found->second.token};
        });
    }

    /// The stored entry (token plus generation) for `id`, or nullopt.
    [[nodiscard]] result<std::optional<entry>> get_entry(const credential_id& id) {
        return read([&](const bundle& b) -> result<std::optional<entry>> {
            const auto found = b.entries.find(id.hash());
            if (found == b.entries.end()) return std::optional<entry>{};
            return std::optional<entry>{found->second};
        });
    }

    /// Runs `fn(const token*)` on the cached token of `id` (nullptr when there is none) under the store's
    /// read lock, after the same change check as get, and returns what `fn` returns (a result type, so
    /// that a failed reload can be reported). For callers that copy a token at most once or need only
    /// part of it. `fn` must not call back into the store.
    template <class Fn>
    [[nodiscard]] auto with_token(const credential_id& id, Fn&& fn)
        -> std::invoke_result_t<Fn&, const token*> {
        return read([&](const bundle& b) {
            const auto found = b.entries.find(id.hash());
            return fn(found == b.entries.end() ? nullptr : &found->second.token);
        });
    }

    /// Every entry's identity and metadata; never a secret, never a keyring prompt per entry.
    [[nodiscard]] result<std::vector<entry_info>> list() {
        return read([](const bundle& b) -> result<std::vector<entry_info>> {
            std::vector<entry_info> out;
            out.reserve(b.entries.size());
            for (const auto& [hash, e] : b.entries) out.push_back(summarize(e));
            return out;
        });
    }

    /// Stores `value` for `id` (replacing any token); returns the new generation. Durable on return.
    [[nodiscard]] result<std::uint64_t> put(const credential_id& id, const token& value) {
        TOKENVAULT_TRY(validate(value));
        return write(
            events::operation_kind::put, id,
            [&](std::optional<token>& current, std::uint64_t) -> result<void> {
                current = value;
                return {};
            },
            handover{detail::intent_kind::put, &value, 0, nullptr});
    }

    /// Removes the token of `id`; true when there was one. Durable on return.
    [[nodiscard]] result<bool> erase(const credential_id& id) {
        bool existed = false;
        auto done = write(
            events::operation_kind::erase, id,
            [&](std::optional<token>& current, std::uint64_t) -> result<void> {
                existed = current.has_value();
                current.reset();
                return {};
            },
            handover{detail::intent_kind::erase, nullptr, 0, &existed});
        if (!done) return done.error();
        return existed;
    }

    /// Read-modify-write of one entry under the store lock. `fn(std::optional<token>&)` may change,
    /// set or reset the token, and may return result<void> to abort. Returns the generation after the
    /// call (0 when the entry is absent afterwards).
    template <class Fn>
    [[nodiscard]] result<std::uint64_t> update(const credential_id& id, Fn&& fn) {
        return write(events::operation_kind::update, id,
                     [&](std::optional<token>& current, std::uint64_t) -> result<void> {
                         if constexpr (std::is_void_v<std::invoke_result_t<Fn&, std::optional<token>&>>) {
                             fn(current);
                         } else {
                             TOKENVAULT_TRY(fn(current));
                         }
                         if (current) TOKENVAULT_TRY(validate(*current));
                         return {};
                     });
    }

    /// Stores `value` only if the entry's generation is still `expected_generation` (0: absent);
    /// errc::conflict otherwise. Returns the new generation.
    [[nodiscard]] result<std::uint64_t> compare_and_swap(const credential_id& id,
                                                         std::uint64_t expected_generation,
                                                         const token& value) {
        TOKENVAULT_TRY(validate(value));
        return write(
            events::operation_kind::compare_and_swap, id,
            [&](std::optional<token>& current, std::uint64_t generation) -> result<void> {
                if (generation != expected_generation) return error{errc::conflict, "compare_and_swap"};
                current = value;
                return {};
            },
            handover{detail::intent_kind::compare_and_swap, &value, expected_generation, nullptr});
    }

    /// Erases the entry only if its generation is still `expected_generation`; errc::conflict otherwise.
    /// Returns false when the entry is absent and `expected_generation` is 0.
    [[nodiscard]] result<bool> erase_if(const credential_id& id, std::uint64_t expected_generation) {
        bool existed = false;
        auto done = write(
            events::operation_kind::erase_if, id,
            [&](std::optional<token>& current, std::uint64_t generation) -> result<void> {
                if (generation != expected_generation) return error{errc::conflict, "erase_if"};
                existed = current.has_value();
                current.reset();
                return {};
            },
            handover{detail::intent_kind::erase_if, nullptr, expected_generation, &existed});
        if (!done) return done.error();
        return existed;
    }

    /// Re-reads the source of truth now (normally not needed: reads notice other processes' writes).
    [[nodiscard]] result<void> reload() {
        if constexpr (!needs_first_load || !(Backend::persistent || Backend::shared)) {
            return {};  // the cache is the only copy: there is nothing to re-read
        } else {
            [[maybe_unused]] auto exclusive = locking_.lock_exclusive();
            loaded_ = false;
            return ensure_loaded_locked();
        }
    }

    /// The diagnostics policy instance (counters to read, a callback to set).
    [[nodiscard]] Diagnostics& diagnostics() noexcept { return diagnostics_; }
    /// The backend instance, read-only (its status: paths, key tier); writes go through the store's locks.
    [[nodiscard]] const Backend& backend() const noexcept { return backend_; }
    /// The options this store was made with.
    [[nodiscard]] const store_options& options() const noexcept { return options_; }

private:
    static constexpr bool needs_first_load = Backend::shared || Backend::persistent || Migration::enabled;

    // Runs `fn(cache)` under a shared lock, after reloading if the backend changed underneath.
    template <class Fn>
    auto read(Fn&& fn) -> std::invoke_result_t<Fn&, const bundle&> {
        if constexpr (!needs_first_load) {
            [[maybe_unused]] auto shared = locking_.lock_shared();
            return fn(cache_);
        } else {
            {
                [[maybe_unused]] auto shared = locking_.lock_shared();
                if (loaded_) {
                    auto changed = backend_.changed(context_);
                    if (changed && !*changed) return fn(cache_);
                }
            }
            [[maybe_unused]] auto exclusive = locking_.lock_exclusive();
            TOKENVAULT_TRY(ensure_loaded_locked());
            return fn(cache_);
        }
    }

    // Loads (or reloads) the cache; the caller holds the exclusive in-process lock. The load itself runs
    // under the store lock, as the backend contract says: a backend may then act on what it read (move a
    // corrupt file aside) without racing another process's write.
    result<void> ensure_loaded_locked() {
        if constexpr (needs_first_load) {
            if (loaded_) {
                auto changed = backend_.changed(context_);
                if (!changed) return changed.error();
                if (!*changed) return {};
            }
            locking::wait_report wait;
            if constexpr (Migration::enabled) {
                if (!migrated_) {
                    auto store_lock = take_store_lock(wait);
                    if (!store_lock) return store_lock.error();
                    return migrate_under_store_lock();
                }
            }
            // A load only reads: other readers may load at the same time; writers wait.
            auto store_lock = take_store_lock(wait, /*shared=*/true);
            if (!store_lock) return store_lock.error();
            TOKENVAULT_TRY(load_locked());
        }
        return {};
    }

    // Loads the source of truth into the cache. A backend that met damage (it moved a certainly corrupt
    // file aside: corrupt_file; an older copy: rolled_back) reports it once, and the read or write that
    // met it fails with that error: it is not applied, and a retry works on what is there now.
    result<void> load_locked() {
        auto loaded = [&] {
            // A backend that can take over unchanged entries of the held bundle gets it
            // (backend/concept.hpp).
            if constexpr (requires { backend_.load(context_, std::as_const(cache_)); }) {
                if (loaded_) return backend_.load(context_, std::as_const(cache_));
            }
            return backend_.load(context_);
        }();
        if (!loaded) return loaded.error();
        const bool was_loaded = loaded_;
        cache_ = std::move(*loaded);
        if constexpr (Backend::persistent) keep_generations_unique();
        loaded_ = true;
        if (was_loaded) diagnostics_.on(events::reloaded{cache_.entries.size()});
        for (const auto& [key, kept] : cache_.unreadable)
            diagnostics_.on(
                events::entry_unreadable{detail::displayable_key(key), kept.why.code, kept.why.context});
        return {};
    }

    // A generation is never handed out twice, even when the source of truth starts afresh (no file yet, a
    // deleted or quarantined file, a removed keyring item): a fresh bundle counts on from the current time
    // in microseconds, and never from below the highest last_generation this instance has seen.
    void keep_generations_unique() {
        if (cache_.last_generation == 0) cache_.last_generation = detail::fresh_generation_floor();
        cache_.last_generation = std::max(cache_.last_generation, generation_high_water_);
        generation_high_water_ = cache_.last_generation;
    }

    // Loads, imports legacy entries, persists, and only then deletes the legacy data. A failure keeps the
    // legacy data and the session works from the cache; the policy reports what went wrong.
    result<void> migrate_under_store_lock() {
        TOKENVAULT_TRY(load_locked());
        migrated_ = true;
        auto imported = migration_.import_into(context_, cache_);
        if (!imported || !*imported) return {};
        if (auto saved = backend_.save(context_, cache_); !saved) {
            // Legacy data stays where it is; the cache serves this session. Tell the policy, or report it.
            if constexpr (migration::traits_of<Migration>.persist_failed_hook)
                migration_.persist_failed(context_, saved.error());
            else
                diagnostics_.on(events::migration{"store", 0, 0, saved.code()});
            return {};
        }
        (void)migration_.after_persist(context_);
        return {};
    }

    // Takes the cross-process store lock; `shared` for loads when the policy offers a shared lock (traits).
    result<typename Locking::store_guard> take_store_lock(locking::wait_report& wait, bool shared = false) {
        const auto path = backend_.lock_path();
        const auto where = path ? *path : std::filesystem::path{};
        auto guard = [&] {
            if constexpr (locking::traits_of<Locking>.shared_store_lock) {
                if (shared) return locking_.lock_store_shared(where, options_.lock_timeout, wait);
            }
            return locking_.lock_store(where, options_.lock_timeout, wait);
        }();
        if constexpr (Locking::cross_process) {
            if (!guard)
                diagnostics_.on(events::lock_timed_out{events::lock_kind::store, wait.waited});
            else
                diagnostics_.on(events::lock_acquired{events::lock_kind::store, wait.contended, wait.waited});
        }
        return guard;
    }

    // A change another process may apply on this one's behalf (group commit): put, erase and the two
    // conditional forms; update() runs caller code and never hands over.
    struct handover {
        detail::intent_kind kind = detail::intent_kind::put;
        const token* value = nullptr;           // put, compare_and_swap
        std::uint64_t expected_generation = 0;  // compare_and_swap, erase_if
        bool* existed = nullptr;                // erase, erase_if: set from a recorded outcome
    };

    // Group commit: a writer that finds the store lock taken posts its change for the holder, which saves
    // the changes of every waiting writer with its own in one durable replacement (docs/FORMAT.md).
    static constexpr bool group_commit = Locking::cross_process && requires(Backend & b, context_type& c) {
        b.claim_intents(c, std::int64_t{});
        b.withdraw_intent(std::string_view{});
    };

    [[nodiscard]] static std::int64_t wall_ms() noexcept {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
    }

    // The write protocol: exclusive lock, store lock, reload, apply `change`, save; roll back on failure.
    // The directory flush that makes the saved file's rename durable runs after both locks are released:
    // other writers may already read and replace the new file, but this write is acknowledged only once
    // the flush returns, and a later writer's file holds it too.
    template <class Change>
    result<std::uint64_t> write(events::operation_kind operation, const credential_id& id, Change&& change,
                                std::optional<handover> handed = std::nullopt) {
        const bool erasing =
            operation == events::operation_kind::erase || operation == events::operation_kind::erase_if;
        platform::pending_sync durable;
        auto outcome = write_locked(id, change, erasing, durable, handed);
        if (auto synced = durable.complete(); outcome && !synced) outcome = synced.error();
        // Every write but an erase hands out a new generation: 0 means the entry is gone (or never was).
        const bool erased = outcome.has_value() && *outcome == 0;
        diagnostics_.on(events::store_operation{operation, id.hash(), outcome.code(), erased});
        return outcome;
    }

    // The store lock for a write. With group commit, a writer that finds it taken posts its change first
    // (`posted`: the intent's name) and, while it waits, looks for its outcome in each new version of the
    // file: once a holder has saved the change, it stops waiting (`early` holds the outcome, and no lock is
    // returned). Should its wait time out, it withdraws the change or, when a holder has claimed it
    // already, waits once more for that holder to finish.
    result<std::optional<typename Locking::store_guard>> take_write_lock(
        locking::wait_report& wait, const credential_id& id, const std::optional<handover>& handed,
        std::optional<std::string>& posted, std::optional<detail::intent_outcome>& early) {
        using guard_type = std::optional<typename Locking::store_guard>;
        const auto held = [](result<typename Locking::store_guard> taken) -> result<guard_type> {
            if (!taken) return taken.error();
            return guard_type{std::move(*taken)};
        };
        if constexpr (group_commit) {
            if (handed && loaded_) {
                const auto path = backend_.lock_path();
                const auto where = path ? *path : std::filesystem::path{};
                auto guard = locking_.lock_store(where, std::chrono::milliseconds(0), wait);
                if (guard || guard.error() != errc::lock_timeout) {
                    if (guard)
                        diagnostics_.on(events::lock_acquired{events::lock_kind::store, false, wait.waited});
                    return held(std::move(guard));
                }
                const auto deadline =
                    wall_ms() +
                    static_cast<std::int64_t>(
                        std::chrono::duration_cast<std::chrono::milliseconds>(options_.lock_timeout).count());
                detail::intent change{
                    handed->kind, id,
                    handed->value != nullptr ? std::optional<token>{*handed->value} : std::optional<token>{},
                    handed->expected_generation, deadline};
                if (auto name = backend_.post_intent(context_, change); name && *name)
                    posted = std::move(*name);
                // else: wait as any writer does (a directory that refuses the file, no key held yet)
                auto taken = [&] {
                    if constexpr (locking::traits_of<Locking>.stoppable_wait) {
                        if (posted) {
                            const std::function<bool()> saved_by_holder = [&] {
                                early = backend_.peek_intent_outcome(context_, *posted);
                                return early.has_value();
                            };
                            auto got = locking_.lock_store_unless(where, options_.lock_timeout, wait,
                                                                  saved_by_holder);
                            if (got)
                                diagnostics_.on(
                                    events::lock_acquired{events::lock_kind::store, true, wait.waited});
                            else if (!wait.stopped)
                                diagnostics_.on(
                                    events::lock_timed_out{events::lock_kind::store, wait.waited});
                            return got;
                        }
                    }
                    return take_store_lock(wait);
                }();
                if (early) return guard_type{};  // saved by a holder (a lock granted meanwhile goes back)
                if (taken || taken.error() != errc::lock_timeout || !posted) return held(std::move(taken));
                if (auto withdrawn = backend_.withdraw_intent(*posted); withdrawn && *withdrawn) {
                    posted.reset();
                    return held(std::move(taken));
                }
                // A holder claimed it (or it could not be removed): its outcome is decided once that holder
                // lets go of the lock.
                taken = take_store_lock(wait);
                if (!taken && taken.error() == errc::lock_timeout)
                    return error{errc::lock_timeout,
                                 taken.error().context +
                                     " (the change was handed to the process holding the lock, which has not "
                                     "finished; whether it was saved is not known: read the entry again)"};
                return held(std::move(taken));
            }
        }
        return held(take_store_lock(wait));
    }

    // What a write whose change a holder saved returns: the recorded outcome, as the write would have. Its
    // intent's files go, and the directory flush that makes the holder's rename durable is owed (that
    // holder may not have flushed yet).
    result<std::uint64_t> handed_over_result(const detail::intent_outcome& outcome, const std::string& posted,
                                             const handover& handed, platform::pending_sync& durable) {
        backend_.settle_intent(posted);
        durable = backend_.intent_flush();
        if (outcome.conflict)
            return error{errc::conflict,
                         handed.kind == detail::intent_kind::erase_if ? "erase_if" : "compare_and_swap"};
        if (handed.existed != nullptr) *handed.existed = outcome.existed;
        return outcome.generation;
    }

    template <class Change>
    result<std::uint64_t> write_locked(const credential_id& id, Change& change, bool erasing,
                                       platform::pending_sync& durable,
                                       const std::optional<handover>& handed) {
        [[maybe_unused]] auto exclusive = locking_.lock_exclusive();
        locking::wait_report wait;
        std::optional<std::string> posted;
        std::optional<detail::intent_outcome> early;
        auto store_lock = take_write_lock(wait, id, handed, posted, early);
        if (!store_lock) return store_lock.error();
        if constexpr (group_commit) {
            if (early) return handed_over_result(*early, *posted, *handed, durable);
        }
        if constexpr (needs_first_load) {
            if constexpr (Migration::enabled) {
                if (!migrated_) TOKENVAULT_TRY(migrate_under_store_lock());
            }
            if (Backend::shared || !loaded_) {
                auto changed = loaded_ && !backend::traits_of<Backend>.reload_before_write
                                   ? backend_.changed(context_)
                                   : result<bool>{true};
                if (!changed) return changed.error();
                if (*changed) TOKENVAULT_TRY(load_locked());
            }
        }

        std::size_t handed_over = 0;  // intents of other writers applied to the cache for this save
        bool records_changed = false;
        if constexpr (group_commit) {
            if (posted) {
                // Saved by a holder? Its outcome is in the bundle, saved with the change itself.
                if (const auto outcome = detail::find_intent_outcome(cache_, *posted))
                    return handed_over_result(*outcome, *posted, *handed, durable);
                // Not applied (no holder claimed it, or its holder failed): applied here, as any write.
                backend_.settle_intent(*posted);
            }
            // Intents are posted by writers that found the lock taken, so a writer that took it at once
            // need not look (a listing of the directory costs an uncontended write about a tenth of its
            // time); the first write of each store does, to remove the files of writers that died.
            const auto now = wall_ms();
            if (wait.contended || posted || !looked_for_intents_) {
                looked_for_intents_ = true;
                for (const auto& claimed : backend_.claim_intents(context_, now)) {
                    // An outcome already recorded under its name: a copy put back after it was applied.
                    if (detail::find_intent_outcome(cache_, claimed.name)) continue;
                    detail::record_intent_outcome(cache_, claimed.name, apply_intent(claimed.change));
                    ++handed_over;
                }
            }
            // Outcomes stay until their poster has read them (it removes its intent's files) or went stale.
            const bool pruned = detail::prune_intent_outcomes(cache_, [&](std::string_view name,
                                                                          std::int64_t deadline_ms) {
                return deadline_ms < now - static_cast<std::int64_t>(detail::intent_stale_after.count()) ||
                       !backend_.intent_outstanding(name);
            });
            records_changed = handed_over > 0 || pruned;
        }

        const auto found = cache_.entries.find(id.hash());
        std::optional<token> current;
        std::uint64_t generation = 0;
        if (found != cache_.entries.end()) {
            current = found->second.token;
            generation = found->second.generation;
        }
        auto own = change(current, generation);
        if (!own && !records_changed) return own.error();

        // Apply to the cache, remembering what to restore if the save fails. An unreadable entry of this
        // credential goes too: a write replaces it, an erase removes it.
        std::optional<entry> previous;
        if (found != cache_.entries.end()) previous = found->second;
        std::optional<unreadable_entry> superseded;
        const auto previous_generation = cache_.last_generation;
        std::uint64_t new_generation = 0;
        if (own) {
            if (const auto kept = cache_.unreadable.find(id.hash());
                kept != cache_.unreadable.end() && (current || erasing)) {
                superseded = std::move(kept->second);
                cache_.unreadable.erase(kept);
            }
            if (!current && !previous && !superseded && !records_changed)
                return std::uint64_t{0};  // nothing to erase: no write needed
            if (current) {
                new_generation = ++cache_.last_generation;
                if (found != cache_.entries.end()) {
                    found->second.token = std::move(*current);
                    found->second.generation = new_generation;
                    found->second.updated_at = clock::now();
                } else {
                    cache_.entries.emplace(id.hash(), entry{id, std::move(*current), new_generation,
                                                            clock::now(), extra_json::object()});
                }
            } else if (found != cache_.entries.end()) {
                cache_.entries.erase(found);
            }
        }
        context_.sync_after_unlock = &durable;
        auto saved = backend_.save(context_, cache_);
        context_.sync_after_unlock = nullptr;
        if (!saved) {
            if (records_changed) {
                loaded_ = false;  // the cache holds other writers' changes too: read the file again
                return saved.error();
            }
            cache_.last_generation = previous_generation;
            if (previous)
                cache_.entries.insert_or_assign(id.hash(), std::move(*previous));
            else
                cache_.entries.erase(id.hash());
            if (superseded) cache_.unreadable.insert_or_assign(id.hash(), std::move(*superseded));
            return saved.error();
        }
        generation_high_water_ = std::max(generation_high_water_, cache_.last_generation);
        if (handed_over > 0) diagnostics_.on(events::handed_over{handed_over});
        if (!own) return own.error();
        return new_generation;
    }

    // Applies another writer's change to the cache, as write_locked applies its own; returns its outcome.
    detail::intent_outcome apply_intent(const detail::intent& change) {
        const auto hash = change.id.hash();
        const auto found = cache_.entries.find(hash);
        const std::uint64_t generation = found != cache_.entries.end() ? found->second.generation : 0;
        detail::intent_outcome outcome{generation, false, false, change.deadline_ms};
        const bool conditional = change.kind == detail::intent_kind::compare_and_swap ||
                                 change.kind == detail::intent_kind::erase_if;
        if (conditional && generation != change.expected_generation) {
            outcome.conflict = true;
            return outcome;
        }
        cache_.unreadable.erase(hash);
        if (change.value) {
            outcome.generation = ++cache_.last_generation;
            if (found != cache_.entries.end()) {
                found->second.token = *change.value;
                found->second.generation = outcome.generation;
                found->second.updated_at = clock::now();
            } else {
                cache_.entries.emplace(hash, entry{change.id, *change.value, outcome.generation, clock::now(),
                                                   extra_json::object()});
            }
        } else {
            outcome.generation = 0;
            outcome.existed = found != cache_.entries.end();
            if (found != cache_.entries.end()) cache_.entries.erase(found);
        }
        return outcome;
    }

    store_options options_;
    [[no_unique_address]] Diagnostics diagnostics_{};
    context_type context_{diagnostics_, options_};
    Backend backend_;
    Migration migration_;
    Locking locking_{};
    bundle cache_{};
    bool loaded_ = false;
    bool migrated_ = false;
    std::uint64_t generation_high_water_ = 0;  // the highest last_generation loaded or written (persistent)
    bool looked_for_intents_ = false;          // a write has looked for other writers' intents (group commit)
};

}  // namespace tokenvault
