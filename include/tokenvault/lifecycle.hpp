// tokenvault/lifecycle.hpp: the credential lifecycle: serialized refresh, 401 handling, login and logout.
//
// `credential_manager<Store>` hands out access tokens from any token_store. A valid cached token is
// returned without a lock. Otherwise it takes the per-credential lock (cross-process for shared stores),
// rereads the source of truth, adopts a token another process refreshed meanwhile, and only then calls the
// provider, outside every store lock; writes are compare-and-swap, so a refresh never overwrites a newer
// token and never resurrects a logged-out credential. A provider models `token_provider`
// (provider/concept.hpp). See docs/LIFECYCLE.md for the decision tree.
#pragma once

#include <time.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include <nlohmann/json.hpp>

#include "companion.hpp"
#include "credential_id.hpp"
#include "detail/credential_lock.hpp"
#include "detail/lock_order.hpp"
#include "diagnostics/events.hpp"
#include "entry.hpp"
#include "error.hpp"
#include "migration/concept.hpp"
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

/// Whether `text` is a short OAuth error code ([a-z_]+), safe to repeat in an error context.
template <class = void>
[[nodiscard]] inline bool is_oauth_error_code(std::string_view text) noexcept {
    if (text.empty() || text.size() > 64) return false;
    for (const char c : text)
        if (!((c >= 'a' && c <= 'z') || c == '_')) return false;
    return true;
}

/// Checks that a token endpoint response is one JSON object (at most 64 levels deep) and finds its
/// top-level "error": nullopt when there is none; the code when it is a short OAuth code, else "". Reads
/// nothing else: the token is read by parse_token, and only from a success.
template <class = void>
[[nodiscard]] inline result<std::optional<std::string>> response_error_code(std::string_view body) {
    json_cursor in(body);
    std::optional<std::string> code;
    std::string_view key, ignored;
    TOKENVAULT_TRY(begin_document(in, json_cursor::kind::object, "token response"));
    while (in.next_member(key)) {
        if (key == "error" && in.peek() == json_cursor::kind::string) {
            std::string_view value;
            if (!in.string(value)) break;
            code = is_oauth_error_code(value) ? std::string(value) : std::string{};
            continue;
        }
        if (key == "error") code = std::string{};
        if (!in.skip(ignored, max_member_depth)) break;
    }
    TOKENVAULT_TRY(end_document(in, "token response"));
    return code;
}

}  // namespace detail

/// Reads a token endpoint response (RFC 6749 5.1 and 5.2): 2xx with a token: refreshed; `invalid_grant`:
/// rejected; 429, 5xx, `temporarily_unavailable`, `server_error`, status 0 (no answer): failed with
/// errc::provider_unavailable; other OAuth errors: failed with errc::provider_rejected; anything else
/// (garbage, bad fields, negative expires_in): failed with errc::provider_invalid_response.
/// `issued_at` resolves a relative expires_in: take the time the request was sent.
template <class = void>
[[nodiscard]] inline refresh_result read_token_response(std::string_view body, clock::time_point issued_at,
                                                        int http_status = 200) {
    if (http_status == 0 || http_status == 429 || (http_status >= 500 && http_status <= 599))
        return refresh_result::failed(
            error{errc::provider_unavailable, "token endpoint answered HTTP " + std::to_string(http_status)});
    if (body.size() > token_limits::max_token_json)
        return refresh_result::failed(
            error{errc::provider_invalid_response, "token response: larger than 256 KiB"});
    // First the shape and the OAuth error code, if any; the token itself is read only from a success.
    auto error_code = detail::response_error_code(body);
    if (!error_code)
        return refresh_result::failed(error{errc::provider_invalid_response, error_code.error().context});
    if (*error_code || http_status < 200 || http_status > 299) {
        const std::string name = error_code->value_or(std::string{});
        if (name == "invalid_grant") return refresh_result::rejected();
        if (name == "temporarily_unavailable" || name == "server_error")
            return refresh_result::failed(
                error{errc::provider_unavailable, "token endpoint error '" + name + "'"});
        if (detail::is_oauth_error_code(name))
            return refresh_result::failed(
                error{errc::provider_rejected,
                      "token endpoint error '" + name + "' (the stored credential was kept)"});
        return refresh_result::failed(error{
            errc::provider_invalid_response,
            "token endpoint answered HTTP " + std::to_string(http_status) + " without an OAuth error code"});
    }
    auto parsed = parse_token(body, token_json_options{issued_at});
    if (!parsed) {
        return refresh_result::failed(
            error{errc::provider_invalid_response,
                  "token response: " + parsed.error().context + " (" + parsed.error().code.message() + ")"});
    }
    return refresh_result::refreshed(std::move(*parsed));
}

/// Reads a token endpoint response that must hold a token (for authorize()): the token, or the error.
template <class = void>
[[nodiscard]] inline result<token> token_from_response(std::string_view body, clock::time_point issued_at,
                                                       int http_status = 200) {
    auto read = read_token_response(body, issued_at, http_status);
    if (read.outcome() != refresh_outcome::refreshed) return read.failure();
    return std::move(read.issued());
}

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
    if constexpr (!requires(S & s, const credential_id& id, const token& t, std::uint64_t generation) {
                      typename S::locking_type;
                      typename S::migration_type;
                      typename S::context_type;
                      { s.get(id) } -> std::same_as<result<std::optional<token>>>;
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
                      "get_entry, put, erase, compare_and_swap, erase_if, reload, options, "
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
///
/// Logout also calls the store's migration policy's `forget(ctx, id) -> result<bool>` when its traits
/// declare forget_hook, so that a legacy source can never bring a logged-out credential back on a later
/// first load.
template <class Store>
class credential_manager {
    static_assert(detail::lifecycle_store_requirements<Store, true>() ||
                  true);  // one message, no second error

public:
    using store_type = Store;

    /// A manager over `store` (which must outlive it). Cheap: managers of one store may coexist.
    explicit credential_manager(Store& store, lifecycle_options options = {}) noexcept
        : store_(&store), options_(options) {
        if (options_.expiry_skew < std::chrono::seconds::zero())
            options_.expiry_skew = std::chrono::seconds::zero();
    }

    /// A usable access token for `id`: the cached one while valid (no lock); else, under the credential
    /// lock, one another process refreshed, a refreshed one, or a new login from `provider.authorize()`.
    template <class Provider>
    [[nodiscard]] result<token> get_access_token(const credential_id& id, Provider&& provider) {
        [[maybe_unused]] constexpr bool provider_ok = check_provider<std::remove_cvref_t<Provider>>();
        if constexpr (requires {
                          store_->with_token(id, [](const token*) { return result<token>{error{}}; });
                      }) {
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
        } else {
            auto cached = store_get(id);
            if (!cached) return cached.error();
            if (*cached && fresh(**cached)) return std::move(**cached);
            return under_lock(id, provider, nullptr, cached->has_value());
        }
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
        clear_failure(id);
        return std::move(*issued);
    }

    /// Removes the credential under the credential lock, from the store and from the legacy sources of the
    /// store's migration policy; true when the store held it. A refresh in flight finishes first; its
    /// compare-and-swap makes sure nothing written before the logout comes back.
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
            if constexpr (others_may_write) (void)store_call([&] { return store_->reload(); });
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
    /// The options this manager was made with.
    [[nodiscard]] const lifecycle_options& options() const noexcept { return options_; }

private:
    // Whether another process may write the store (unknown store types: assume so).
    static constexpr bool others_may_write = [] {
        if constexpr (requires {
                          { Store::backend_type::shared } -> std::convertible_to<bool>;
                      })
            return static_cast<bool>(Store::backend_type::shared);
        else
            return true;
    }();

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
        const auto note_id = failure_id(id);
        auto lock = lock_credential(id, [&] {
            // While another holder works, a usable token it writes ends the wait (the fast path, retried),
            // and so does the failure it records.
            auto now = store_call([&] { return store_->get_entry(id); });
            if (!now) return false;
            if (*now && acceptable((*now)->token, rejected)) {
                adopted = std::move((*now)->token);
                return true;
            }
            if (auto note = recent_failure(note_id, *now)) {
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

        // Authoritative reread: the cache may predate another process's write.
        if constexpr (others_may_write) TOKENVAULT_TRY(store_call([&] { return store_->reload(); }));
        auto current = store_call([&] { return store_->get_entry(id); });
        if (!current) return current.error();
        if (auto note = recent_failure(note_id, *current)) {
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
                clear_failure(id);
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
        remember_failure(id, answer.failure(), false, stored.generation);
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
            remember_failure(id, revoked, true, 0);
            return revoked;
        }
        store_->diagnostics().on(events::login{id.hash()});
        auto swapped = store_call([&] { return store_->compare_and_swap(id, expected_generation, *issued); });
        if (swapped) {
            clear_failure(id);
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
        result<void> forgotten = forget_legacy(id);
        auto erased = store_call([&] { return store_->erase(id); });
        if (!erased) return erased.error();
        clear_failure(id);
        if (!forgotten) return forgotten.error();
        return *erased;
    }

    // The failure record of a refresh lives in a companion entry (companion.hpp) of the same store, so every
    // process sees it: a token whose type marks it, expiring when the record does, whose extra fields say
    // what failed and for which state of the credential.
    static constexpr std::string_view failure_type = "tokenvault-refresh-failure";

    std::optional<credential_id> failure_id(const credential_id& id) const {
        if (options_.refresh_failure_ttl <= std::chrono::milliseconds::zero()) return std::nullopt;
        auto note = companion_id(id, companion_role::refresh_failure);
        if (!note) return std::nullopt;
        return std::move(*note);
    }

    // Records that a refresh of generation `generation` failed with `why` (`revoked`: the grant is gone and
    // the credential erased). Best effort: a failure to record only costs the waiters a call of their own.
    void remember_failure(const credential_id& id, const error& why, bool revoked, std::uint64_t generation) {
        const auto note_id = failure_id(id);
        if (!note_id) return;
        token note;
        note.access_token = secret_string{"refresh-failure"};
        note.token_type = std::string(failure_type);
        note.expires_at =
            clock::now() + std::chrono::duration_cast<clock::duration>(options_.refresh_failure_ttl);
        const bool ours = &why.code.category() == &error_category();
        note.extra =
            nlohmann::json{{"outcome", revoked ? "revoked" : "failed"},
                           {"generation", generation},
                           {"code", ours ? why.code.value() : static_cast<int>(errc::provider_unavailable)},
                           {"context", why.context.substr(0, 1024)}};
        if (!ours) note.extra["context"] = why.message().substr(0, 1024);
        (void)store_call([&] { return store_->put(*note_id, note); });
    }

    // The failure a waiter should return for credential state `current` (nullopt: absent), if a fresh
    // record (`note_id`: failure_id of the credential) applies to exactly that state.
    std::optional<error> recent_failure(const std::optional<credential_id>& note_id,
                                        const std::optional<entry>& current) {
        if (!note_id) return std::nullopt;
        auto note = store_call([&] { return store_->get(*note_id); });
        if (!note || !*note) return std::nullopt;
        const token& t = **note;
        if (t.token_type != failure_type || !t.expires_at || *t.expires_at <= clock::now() ||
            !t.extra.is_object())
            return std::nullopt;
        const auto outcome = t.extra.value("outcome", std::string{});
        const auto generation = t.extra.value("generation", std::uint64_t{0});
        const bool applies = outcome == "revoked"
                                 ? !current.has_value()
                                 : outcome == "failed" && current && current->generation == generation;
        if (!applies) return std::nullopt;
        const int code = t.extra.value("code", static_cast<int>(errc::provider_unavailable));
        const bool known = code > 0;
        const auto left =
            std::chrono::duration_cast<std::chrono::seconds>(*t.expires_at - clock::now()).count() + 1;
        return error{known ? static_cast<errc>(code) : errc::provider_unavailable,
                     t.extra.value("context", std::string{}) +
                         " (remembered from a refresh that failed moments "
                         "ago; the next attempt is in " +
                         std::to_string(left) + " s)"};
    }

    // Removes a failure record after a success (a cache read when there is none).
    void clear_failure(const credential_id& id) {
        const auto note_id = failure_id(id);
        if (!note_id) return;
        auto note = store_call([&] { return store_->get(*note_id); });
        if (note && *note) (void)store_call([&] { return store_->erase(*note_id); });
    }

    result<void> forget_legacy(const credential_id& id) {
        using migration = typename Store::migration_type;
        using context = typename Store::context_type;
        if constexpr (tokenvault::migration::traits_of<migration>.forget_hook) {
            context ctx{store_->diagnostics(), store_->options()};
            auto forgotten = [&] {
                const detail::lock_order::store_scope in_store;
                if constexpr (requires { store_->migration(); }) {
                    return store_->migration().forget(ctx, id);
                } else {
                    migration legacy(store_->options());
                    return legacy.forget(ctx, id);
                }
            }();
            if (!forgotten) return forgotten.error();
        } else {
            (void)id;
        }
        return {};
    }

    Store* store_;
    lifecycle_options options_;
};

namespace detail {

/// Identifies a store location: directory, file and keyring service.
template <class = void>
[[nodiscard]] inline std::string store_location_key(const store_options& options) {
    std::error_code ignored;
    auto directory = std::filesystem::weakly_canonical(
        std::filesystem::absolute(options.resolved_directory(), ignored), ignored);
    if (directory.empty()) directory = options.resolved_directory();
    return (directory / options.file_name).string() + '\n' + options.app_name;
}

/// The objects of type T made by process_wide, by key; never destroyed (usable from static destructors).
template <class T>
struct process_wide_registry {
    std::mutex mutex;
    std::unordered_map<std::string, std::unique_ptr<T>> objects;

    /// The registry of T.
    [[nodiscard]] static process_wide_registry& instance() {
        static auto* registry = new process_wide_registry();
        return *registry;
    }
};

/// One object of type T per key for the whole process, made by `make()` on first use.
template <class T, class Make>
[[nodiscard]] T& process_wide(const std::string& key, Make&& make) {
    auto& registry = process_wide_registry<T>::instance();
    const std::lock_guard guard(registry.mutex);
    auto& slot = registry.objects[key];
    if (!slot) slot = make();
    return *slot;
}

}  // namespace detail

/// The process-wide store for the location `options` names (directory, file, app): one cache and one key
/// fetch shared by every component; made on the first call, thread-safe, never destroyed. Keep the reference.
template <class Store>
[[nodiscard]] Store& shared_store(const store_options& options = {}) {
    return detail::process_wide<Store>(detail::store_location_key(options),
                                       [&] { return std::make_unique<Store>(options); });
}

/// The process-wide credential manager with `lifecycle` options over `shared_store<Store>(options)`: one per
/// store location and set of lifecycle options.
template <class Store>
[[nodiscard]] credential_manager<Store>& shared_manager(const store_options& options,
                                                        const lifecycle_options& lifecycle) {
    const std::string key = detail::store_location_key(options) + '\n' +
                            std::to_string(lifecycle.expiry_skew.count()) + '/' +
                            std::to_string(lifecycle.lock_timeout.count()) + '/' +
                            std::to_string(lifecycle.refresh_failure_ttl.count());
    return detail::process_wide<credential_manager<Store>>(key, [&] {
        return std::make_unique<credential_manager<Store>>(shared_store<Store>(options), lifecycle);
    });
}

/// The process-wide credential manager (default lifecycle_options) over `shared_store<Store>(options)`.
template <class Store>
[[nodiscard]] credential_manager<Store>& shared_manager(const store_options& options = {}) {
    return shared_manager<Store>(options, lifecycle_options{});
}

}  // namespace tokenvault
