// tokenvault/provider/concept.hpp: the token provider contract (where new tokens come from).
//
// A provider P is what credential_manager (credential_manager.hpp) calls when a stored token will not do:
// `refresh(current)` at the token endpoint, returning a `refresh_result` (refreshed, rejected =
// invalid_grant, failed = keep the credential), and `authorize()`, the full login, returning
// `result<token>`. Both run outside every store lock, under the credential lock. Providers need no
// policy_family: credential_manager takes one per call.
// Optional, declared as `static constexpr tokenvault::provider_traits traits{.name = value};`:
//   revokes  (false)  P has `result<void> revoke(const token&)`: RFC 7009 revocation, which
//                     `credential_manager::logout(id, provider)` calls after the local logout (best effort)
// A new optional member is added as a field of `provider_traits`, its row in detail::provider_requirements
// (declared exactly when present), and the call behind `if constexpr (provider_traits_of<P>.name)` in
// credential_manager.
// `check_provider<P>()` names the first missing piece; `token_provider<P>` is the same test, silently.
#pragma once

#include <concepts>
#include <string>
#include <utility>

#include "../error.hpp"
#include "../policy_family.hpp"
#include "../result.hpp"
#include "../token.hpp"

namespace tokenvault {

/// How a provider's refresh ended.
enum class refresh_outcome {
    refreshed,  ///< a new token was issued
    rejected,   ///< definitive: the refresh token is dead (invalid_grant); the credential is erased
    failed,     ///< transient or unusable answer: the stored credential is kept, the error returned
};

/// What `token_provider::refresh` returns: a new token, a definitive rejection, or a failure.
class refresh_result {
public:
    /// A new token; fields it leaves empty (refresh token, scopes, client) keep their previous values.
    [[nodiscard]] static refresh_result refreshed(token issued) { return refresh_result(std::move(issued)); }
    /// The authorization server said invalid_grant: the refresh token is revoked, expired or reused.
    [[nodiscard]] static refresh_result rejected(std::string context = "token endpoint: invalid_grant") {
        return refresh_result(refresh_outcome::rejected, error{errc::provider_rejected, std::move(context)});
    }
    /// Anything else (network, timeout, 5xx, garbage): the stored credential is kept and `why` returned.
    [[nodiscard]] static refresh_result failed(error why) {
        return refresh_result(refresh_outcome::failed, std::move(why));
    }

    /// Which of the three outcomes this is.
    [[nodiscard]] refresh_outcome outcome() const noexcept { return outcome_; }
    /// The issued token; only valid when outcome() is refreshed.
    [[nodiscard]] token& issued() noexcept { return *state_; }
    /// The error; only valid when outcome() is rejected or failed.
    [[nodiscard]] const error& failure() const noexcept { return state_.error(); }

private:
    explicit refresh_result(token issued) : outcome_(refresh_outcome::refreshed), state_(std::move(issued)) {}
    refresh_result(refresh_outcome outcome, error why) : outcome_(outcome), state_(std::move(why)) {}

    refresh_outcome outcome_;
    result<token> state_;  // the token, or the rejection or failure
};

/// The optional members of a provider, with their defaults (see the top of this header).
struct provider_traits {
    bool revokes = false;  ///< has `result<void> revoke(const token&)` (RFC 7009)
};

/// The traits of provider P: what it declares, else the defaults.
template <class P>
inline constexpr provider_traits provider_traits_of = detail::declared_traits<P, provider_traits>;

namespace detail {

/// The provider contract, one requirement at a time: with `Report`, the first one P misses fails to
/// compile with a message naming it. token_provider<P> and check_provider<P>() both read this.
template <class P, bool Report>
consteval bool provider_requirements() {
    if constexpr (!requires(P & p, const token& t) { p.refresh(t); }) {
        static_assert(!Report,
                      "tokenvault: the provider needs `tokenvault::refresh_result refresh(const "
                      "tokenvault::token&)`, called with the stored token when it has expired (see "
                      "tokenvault/provider/concept.hpp)");
        return false;
    } else if constexpr (!requires(P & p, const token& t) {
                             { p.refresh(t) } -> std::same_as<refresh_result>;
                         }) {
        static_assert(!Report,
                      "tokenvault: the provider's refresh() must return tokenvault::refresh_result "
                      "(refresh_result::refreshed(token), ::rejected() for invalid_grant, ::failed(error) "
                      "otherwise); read_token_response() builds one from a token endpoint response");
        return false;
    } else if constexpr (!requires(P & p) { p.authorize(); }) {
        static_assert(
            !Report,
            "tokenvault: the provider needs `tokenvault::result<tokenvault::token> authorize()`, the "
            "full login; a provider that cannot log in returns errc::not_logged_in from it");
        return false;
    } else if constexpr (!requires(P & p) {
                             { p.authorize() } -> std::same_as<result<token>>;
                         }) {
        static_assert(
            !Report,
            "tokenvault: the provider's authorize() must return tokenvault::result<tokenvault::token>");
        return false;
    } else if constexpr (declares_traits<P> && !declares_traits_of<P, provider_traits>) {
        static_assert(!Report,
                      "tokenvault: a provider's optional members go in "
                      "`static constexpr tokenvault::provider_traits traits{...};` "
                      "(see tokenvault/provider/concept.hpp)");
        return false;
    } else if constexpr (provider_traits_of<P>.revokes != requires(P & p, const token& t) {
                             { p.revoke(t) } -> std::same_as<result<void>>;
                         }) {
        static_assert(!Report,
                      "tokenvault: a provider has `tokenvault::result<void> revoke(const "
                      "tokenvault::token&)` exactly when its traits say revokes = true: declare "
                      "`static constexpr tokenvault::provider_traits traits{.revokes = true};` "
                      "(see tokenvault/provider/concept.hpp)");
        return false;
    } else {
        return true;
    }
}

}  // namespace detail

/// A source of tokens: `refresh(current)` at the token endpoint, `authorize()` for a full login.
template <class P>
concept token_provider = detail::provider_requirements<P, false>();

/// A provider that can also revoke a logged-out token at the server (traits revokes).
template <class P>
concept token_revoker = token_provider<P> && provider_traits_of<P>
.revokes;

/// Fails to compile, naming the first piece P misses, unless P models token_provider. Returns true, so
/// that `static_assert(check_provider<P>())` gives that one message and no second error.
template <class P>
consteval bool check_provider() {
    (void)detail::provider_requirements<P, true>();
    return true;
}

}  // namespace tokenvault
