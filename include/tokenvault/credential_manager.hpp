// tokenvault/credential_manager.hpp: credential_manager<Store>: serialized refresh, 401s, login, logout.
//
// `credential_manager<Store>` hands out access tokens from any token_store. A valid cached token is
// returned without a lock. Otherwise it takes the per-credential lock (cross-process for shared stores),
// rereads the source of truth, adopts a token another process refreshed meanwhile, and only then calls the
// provider, outside every store lock; writes are compare-and-swap, so a refresh never overwrites a newer
// token and never resurrects a logged-out credential. A refresh that failed is remembered for every waiter
// (detail/refresh_failure_record.hpp). A provider models `token_provider` (provider/concept.hpp). See
// docs/LIFECYCLE.md for the decision tree.
#pragma once

#include <time.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <nlohmann/json.hpp>

#include "credential_id.hpp"
#include "detail/credential_lock.hpp"
#include "detail/lock_order.hpp"
#include "detail/refresh_failure_record.hpp"
#include "diagnostics/events.hpp"
#include "entry.hpp"
#include "error.hpp"
#include "options.hpp"
#include "provider/concept.hpp"
#include "result.hpp"
#include "token.hpp"
#include "token_json.hpp"

namespace tokenvault {

namespace detail {

/// The current time to within a few milliseconds, at a fraction of clock::now()'s cost (the fast path
/// compares expiries with a skew of seconds); clock::now() where no coarse clock exists.
template <class = void>
[[nodiscard]] inline clock::time_point coarse_now() noexcept {
#if defined(CLOCK_REALTIME_COARSE)
    timespec now{};
    if (::clock_gettime(CLOCK_REALTIME_COARSE, &now) == 0)
        return clock::time_point{std::chrono::duration_cast<clock::duration>(
            std::chrono::seconds{now.tv_sec} + std::chrono::nanoseconds{now.tv_nsec})};
#endif
    return clock::now();
}

}  // namespace detail

/// Options of a credential manager.
struct lifecycle_options {
    /// A token counts as expired this long before its expiry (unknown expiry: valid until a 401); >= 0.
    std::chrono::seconds expiry_skew{60};
    /// Bound on the wait for the credential lock (another thread or process refreshing or logging in).
    std::chrono::milliseconds lock_timeout{std::chrono::seconds(60)};
    /// How long a failed refresh is remembered in the store, so that every waiter and caller returns the
    /// same failure at once instead of calling a failing endpoint again; zero: never remembered.
    std::chrono::milliseconds refresh_failure_ttl{std::chrono::seconds(10)};
};

namespace detail {

/// What a credential manager needs from a store; with `Report`, a store that lacks it fails to compile
/// with one message. lifecycle_store<S> reads this silently.
template <class S, bool Report>
consteval bool lifecycle_store_requirements() {
    if constexpr (!requires(S & s, const credential_id& id, const token& t, std::uint64_t generation,
                            result<token> (&copy)(const token*)) {
                      typename S::locking_type;
                      { s.get(id) } -> std::same_as<result<std::optional<token>>>;
                      { s.with_token(id, copy) } -> std::same_as<result<token>>;
                      { s.get_entry(id) } -> std::same_as<result<std::optional<entry>>>;
                      { s.put(id, t) } -> std::same_as<result<std::uint64_t>>;
                      { s.erase(id) } -> std::same_as<result<bool>>;
                      { s.compare_and_swap(id, generation, t) } -> std::same_as<result<std::uint64_t>>;
                      { s.erase_if(id, generation) } -> std::same_as<result<bool>>;
                      { s.reload() } -> std::same_as<result<void>>;
                      { s.options() } -> std::convertible_to<const store_options&>;
                      s.diagnostics();
                  }) {
        static_assert(!Report,
                      "tokenvault: credential_manager<Store> needs a tokenvault::token_store (get, "
                      "with_token, get_entry, put, erase, compare_and_swap, erase_if, reload, options, "
                      "diagnostics; see tokenvault/store.hpp)");
        return false;
    } else {
        return true;
    }
}

}  // namespace detail

/// What a credential manager needs from a store; every tokenvault::token_store provides it.
template <class S>
concept lifecycle_store = detail::lifecycle_store_requirements<S, false>();

/// Token lifecycle over a token store: get_access_token, on_unauthorized, login, logout.
template <class Store>
class credential_manager {
    static_assert(detail::lifecycle_store_requirements<Store, true>() ||
                  true);  // one message, no second error

public:
    using store_type = Store;

    /// A manager over `store` (which must outlive it). Cheap: managers of one store may coexist.
    explicit credential_manager(Store& store, lifecycle_options options = {}) noexcept
        : store_(&store), options_(options), failures_(store, options.refresh_failure_ttl) {
        if (options_.expiry_skew < std::chrono::seconds::zero())
            options_.expiry_skew = std::chrono::seconds::zero();
    }

    /// A usable access token for `id`: the cached one while valid (no lock); else, under the credential
    /// lock, one another process refreshed, a refreshed one, or a new login from `provider.authorize()`.
    template <class Provider>
    [[nodiscard]] result<token> get_access_token(const credential_id& id, Provider&& provider) {
        [[maybe_unused]] constexpr bool provider_ok = check_provider<std::remove_cvref_t<Provider>>();
        // The fast path copies the cached token once, straight into the returned result.
        bool present = false, stale = false;
        result<token> out = store_call([&] {
            return store_->with_token(id, [&](const token* cached) -> result<token> {
                present = cached != nullptr;
                if (present && fresh(*cached)) return *cached;
                stale = true;
                return error{errc::not_logged_in};  // a placeholder: the slow path replaces it
            });
        });
        if (stale) out = under_lock(id, provider, nullptr, present);
        return out;
    }

    /// The server answered 401 with `rejected` although its expiry looked fine: returns the stored token if
    /// it differs, else refreshes (or, without a refresh token, logs in). Call it once per request.
    template <class Provider>
    [[nodiscard]] result<token> on_unauthorized(const credential_id& id, const secret_string& rejected,
                                                Provider&& provider) {
        [[maybe_unused]] constexpr bool provider_ok = check_provider<std::remove_cvref_t<Provider>>();
        auto cached = store_get(id);
        if (!cached) return cached.error();
        if (!*cached) return error{errc::not_logged_in, "on_unauthorized"};
        if (acceptable(**cached, &rejected)) return std::move(**cached);
        return under_lock(id, provider, &rejected, true);
    }

    /// Logs in with `provider.authorize()` under the credential lock and stores the token (replacing any).
    template <class Provider>
    [[nodiscard]] result<token> login(const credential_id& id, Provider&& provider) {
        [[maybe_unused]] constexpr bool provider_ok = check_provider<std::remove_cvref_t<Provider>>();
        auto lock = lock_credential(id, [] { return false; });
        if (!lock) return lock.error();
        auto issued = call_authorize(provider);
        if (!issued) return issued.error();
        store_->diagnostics().on(events::login{id.hash()});
        auto stored = store_call([&] { return store_->put(id, *issued); });
        if (!stored) return stored.error();
        failures_.clear(id);
        return std::move(*issued);
    }

    /// Removes the credential from the store under the credential lock; true when the store held it. A
    /// refresh in flight finishes first; its compare-and-swap makes sure nothing written before the logout
    /// comes back. No legacy source brings it back either: tokenvault's migration policies keep an import
    /// ledger in the store (each credential is imported once).
    [[nodiscard]] result<bool> logout(const credential_id& id) {
        auto lock = lock_credential(id, [] { return false; });
        if (!lock) return lock.error();
        return logout_locked(id);
    }

    /// Logs out as `logout(id)`, then, when the provider's traits say revokes, asks the server to revoke the
    /// token (RFC 7009): best effort, after the local logout is durable, its failure only reported (event
    /// refresh{revoke_failed}): the local logout never depends on the server.
    template <class Provider>
    [[nodiscard]] result<bool> logout(const credential_id& id, Provider&& provider) {
        auto lock = lock_credential(id, [] { return false; });
        if (!lock) return lock.error();
        std::optional<token> revocable;
        if constexpr (provider_traits_of<std::remove_cvref_t<Provider>>.revokes) {
            (void)store_call([&] { return store_->reload(); });  // a no-op where no other process writes
            if (auto current = store_get(id); current && *current) revocable = std::move(**current);
        }
        auto erased = logout_locked(id);
        if constexpr (provider_traits_of<std::remove_cvref_t<Provider>>.revokes) {
            if (erased && revocable) {
                const result<void> revoked = [&] {
                    const detail::lock_order::provider_scope in_provider;
                    return provider.revoke(*revocable);
                }();
                report(id,
                       revoked ? events::refresh_outcome::revoked : events::refresh_outcome::revoke_failed);
            }
        } else {
            (void)provider;
        }
        return erased;
    }

    /// Whether `t` counts as valid now: no expiry, or an expiry beyond the skew.
    [[nodiscard]] bool fresh(const token& t) const {
        return !t.expires_at || *t.expires_at > detail::coarse_now() + options_.expiry_skew;
    }

    /// The lock file of `id`'s credential lock; nullopt for stores that live in one process.
    [[nodiscard]] std::optional<std::filesystem::path> credential_lock_path(const credential_id& id) const {
        if constexpr (Store::locking_type::cross_process) {
            const auto directory = store_->options().resolved_directory();
            if (directory.empty()) return std::nullopt;  // no store directory: the store reports why
            return directory / "locks" / (id.hash() + ".lock");
        } else {
            return std::nullopt;
        }
    }

    /// The store this manager works on.
    [[nodiscard]] Store& store() noexcept { return *store_; }

private:
    // Runs one store call, marked for the lock order checker.
    template <class Fn>
    auto store_call(Fn&& fn) {
        const detail::lock_order::store_scope in_store;
        return fn();
    }
    result<std::optional<token>> store_get(const credential_id& id) {
        return store_call([&] { return store_->get(id); });
    }

    // A token the caller can use: fresh, and not the one the server just rejected.
    bool acceptable(const token& t, const secret_string* rejected) const {
        return fresh(t) && (rejected == nullptr || !(t.access_token == *rejected));
    }

    void report(const credential_id& id, events::refresh_outcome outcome) {
        store_->diagnostics().on(events::refresh{id.hash(), outcome});
    }

    template <class Poll>
    result<detail::credential_lock> lock_credential(const credential_id& id, Poll&& poll) {
        const auto lock_file = credential_lock_path(id);
        std::string key = lock_file ? lock_file->string()
                                    : "memory:" + std::to_string(reinterpret_cast<std::uintptr_t>(store_)) +
                                          "/" + id.hash();
        detail::credential_lock_wait wait;
        auto lock =
            detail::credential_lock::acquire(std::move(key), lock_file, options_.lock_timeout, wait, poll);
        if (!lock) {
            if (lock.error() == errc::lock_timeout)
                store_->diagnostics().on(events::lock_timed_out{events::lock_kind::credential, wait.waited});
        } else if (lock->held()) {
            store_->diagnostics().on(
                events::lock_acquired{events::lock_kind::credential, wait.contended, wait.waited});
        }
        return lock;
    }

    template <class Provider>
    result<token> call_authorize(Provider& provider) {
        result<token> issued = [&] {
            const detail::lock_order::provider_scope in_provider;
            return provider.authorize();
        }();
        if (!issued) return issued.error();
        TOKENVAULT_TRY(check_issued(*issued, "authorize"));
        return issued;
    }

    // A token from a provider must be storable and not already expired.
    static result<void> check_issued(const token& t, std::string_view what) {
        if (auto valid = validate(t); !valid)
            return error{errc::provider_invalid_response, std::string(what) +
                                                              " response: " + valid.error().context + " (" +
                                                              valid.error().code.message() + ")"};
        if (t.expires_at && *t.expires_at <= clock::now())
            return error{errc::provider_invalid_response,
                         std::string(what) + " response: the token expired before it arrived"};
        return {};
    }

    // A refresh response keeps what it omits: refresh token, scopes, issuer, client, ID token, extra fields.
    static token merge(const token& previous, token issued) {
        if (!issued.refresh_token || issued.refresh_token->empty())
            issued.refresh_token = previous.refresh_token;
        if (issued.scopes.empty()) issued.scopes = previous.scopes;
        if (issued.issuer.empty()) issued.issuer = previous.issuer;
        if (issued.client_id.empty()) issued.client_id = previous.client_id;
        if (!issued.client_secret) issued.client_secret = previous.client_secret;
        if (!issued.id_token) issued.id_token = previous.id_token;
        if (previous.extra.is_object() && issued.extra.is_object())
            for (auto it = previous.extra.begin(); it != previous.extra.end(); ++it)
                if (!issued.extra.contains(it.key())) issued.extra[it.key()] = it.value();
        return issued;
    }

    // Steps 2-5 of the decision tree, under the credential lock. `rejected`: the access token a server
    // refused (on_unauthorized); `was_present`: the first read found a credential.
    template <class Provider>
    result<token> under_lock(const credential_id& id, Provider& provider, const secret_string* rejected,
                             bool was_present) {
        std::optional<token> adopted;
        std::optional<error> failed_recently;
        const auto note_id = failures_.id_of(id);
        auto lock = lock_credential(id, [&] {
            // While another holder works, a usable token it writes ends the wait (the fast path, retried),
            // and so does the failure it records.
            auto now = store_call([&] { return store_->get_entry(id); });
            if (!now) return false;
            if (*now && acceptable((*now)->token, rejected)) {
                adopted = std::move((*now)->token);
                return true;
            }
            if (auto note = failures_.recent(note_id, *now)) {
                failed_recently = std::move(note);
                return true;
            }
            return false;
        });
        if (!lock) return lock.error();
        if (!lock->held()) {
            if (failed_recently) {
                report(id, events::refresh_outcome::failed_recently);
                return std::move(*failed_recently);
            }
            report(id, events::refresh_outcome::adopted);
            return std::move(*adopted);
        }

        // Authoritative reread: the cache may predate another process's write (the store's reload() is a
        // no-op where no other process writes).
        TOKENVAULT_TRY(store_call([&] { return store_->reload(); }));
        auto current = store_call([&] { return store_->get_entry(id); });
        if (!current) return current.error();
        if (auto note = failures_.recent(note_id, *current)) {
            // A refresh of exactly this state failed moments ago: the same answer, without calling again.
            report(id, events::refresh_outcome::failed_recently);
            return std::move(*note);
        }
        if (!*current) {
            // Logged out since the first read (or a 401 for a credential we do not hold): never log in again
            // behind the user's back.
            if (was_present || rejected != nullptr)
                return error{errc::not_logged_in, "the credential was logged out meanwhile"};
            return authorize_and_store(id, provider, 0, rejected, false);
        }
        const entry& stored = **current;
        if (acceptable(stored.token, rejected)) {
            report(id, events::refresh_outcome::adopted);
            return stored.token;
        }
        if (!stored.token.refresh_token)
            return authorize_and_store(id, provider, stored.generation, rejected, false);
        return refresh_and_store(id, provider, stored, rejected);
    }

    template <class Provider>
    result<token> refresh_and_store(const credential_id& id, Provider& provider, const entry& stored,
                                    const secret_string* rejected) {
        refresh_result answer = [&] {
            const detail::lock_order::provider_scope in_provider;
            return provider.refresh(stored.token);
        }();
        switch (answer.outcome()) {
        case refresh_outcome::refreshed: {
            token renewed = merge(stored.token, std::move(answer.issued()));
            if (auto valid = check_issued(renewed, "refresh"); !valid) {
                report(id, events::refresh_outcome::invalid_response);
                return valid.error();
            }
            auto swapped =
                store_call([&] { return store_->compare_and_swap(id, stored.generation, renewed); });
            if (swapped) {
                report(id, events::refresh_outcome::refreshed);
                failures_.clear(id);
                return renewed;
            }
            if (swapped.error() != errc::conflict) return swapped.error();
            // A writer that does not take the credential lock changed the entry meanwhile: theirs wins.
            report(id, events::refresh_outcome::discarded);
            return adopt_after_conflict(id, rejected);
        }
        case refresh_outcome::rejected: {
            report(id, events::refresh_outcome::rejected);
            auto erased = store_call([&] { return store_->erase_if(id, stored.generation); });
            if (!erased) {
                if (erased.error() != errc::conflict) return erased.error();
                return adopt_after_conflict(id, rejected);  // a concurrent winner's token survives
            }
            return authorize_and_store(id, provider, 0, rejected, true);
        }
        case refresh_outcome::failed: break;
        }
        report(id, events::refresh_outcome::transient_failure);
        failures_.remember(id, answer.failure(), false, stored.generation);
        return answer.failure();
    }

    // `after_revocation`: the server refused the refresh token (invalid_grant) and the credential is erased;
    // a login that does not happen then ends in errc::grant_revoked, remembered for the waiters.
    template <class Provider>
    result<token> authorize_and_store(const credential_id& id, Provider& provider,
                                      std::uint64_t expected_generation, const secret_string* rejected,
                                      bool after_revocation) {
        auto issued = call_authorize(provider);
        if (!issued) {
            if (!after_revocation) return issued.error();
            error revoked{errc::grant_revoked,
                          "the token endpoint refused the refresh token (invalid_grant), and "
                          "logging in again failed: " +
                              issued.error().message()};
            failures_.remember(id, revoked, true, 0);
            return revoked;
        }
        store_->diagnostics().on(events::login{id.hash()});
        auto swapped = store_call([&] { return store_->compare_and_swap(id, expected_generation, *issued); });
        if (swapped) {
            failures_.clear(id);
            return std::move(*issued);
        }
        if (swapped.error() != errc::conflict) return swapped.error();
        return adopt_after_conflict(id, rejected);
    }

    // After a lost compare-and-swap: the entry's current state decides; an erased entry stays erased.
    result<token> adopt_after_conflict(const credential_id& id, const secret_string* rejected) {
        auto now = store_get(id);
        if (!now) return now.error();
        if (!*now) return error{errc::not_logged_in, "the credential was logged out during the refresh"};
        if (!acceptable(**now, rejected))
            return error{errc::conflict,
                         "the credential was changed during the refresh by a writer that does not "
                         "take the credential lock"};
        report(id, events::refresh_outcome::adopted);
        return std::move(**now);
    }

    result<bool> logout_locked(const credential_id& id) {
        auto erased = store_call([&] { return store_->erase(id); });
        if (!erased) return erased.error();
        failures_.clear(id);
        return *erased;
    }

    Store* store_;
    lifecycle_options options_;
    detail::refresh_failure_record<Store> failures_;  // what failed moments ago, for every waiter
};

}  // namespace tokenvault
