// tokenvault/token.hpp: the OAuth token and the string type that holds its secrets.
//
// `secret_string` keeps its characters in memory that is zeroed when freed and prints as `<redacted>`
// on every stream, so a token logged by mistake leaks nothing. `token` is the provider-neutral OAuth
// credential; fields tokenvault does not know are kept in `extra` (an `extra_json`, whose memory is wiped
// when released, since unknown fields may hold secrets too) and written back unchanged.
#pragma once

#include <chrono>
#include <compare>
#include <concepts>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <sodium.h>
#include <nlohmann/json.hpp>

#include "detail/secure_buffer.hpp"

namespace tokenvault {

/// A string holding a secret: zeroed on destruction, compared in constant time, printed as <redacted>.
class secret_string {
public:
    using storage_type = std::basic_string<char, std::char_traits<char>, detail::zeroing_allocator<char>>;

    secret_string() = default;
    explicit secret_string(std::string_view value) : value_(value.data(), value.size()) {}
    secret_string(const secret_string&) = default;
    secret_string(secret_string&& other) noexcept : value_(std::move(other.value_)) { other.wipe(); }
    secret_string& operator=(const secret_string& other) {
        if (this != &other) {
            wipe();
            value_ = other.value_;
        }
        return *this;
    }
    secret_string& operator=(secret_string&& other) noexcept {
        if (this != &other) {
            wipe();
            value_ = std::move(other.value_);
            other.wipe();
        }
        return *this;
    }
    ~secret_string() { wipe(); }

    /// The secret itself; handle with care (never log it).
    [[nodiscard]] std::string_view reveal() const noexcept { return {value_.data(), value_.size()}; }
    [[nodiscard]] bool empty() const noexcept { return value_.empty(); }
    [[nodiscard]] std::size_t size() const noexcept { return value_.size(); }

    /// Constant-time equality of the secrets.
    friend bool operator==(const secret_string& a, const secret_string& b) noexcept {
        return a.value_.size() == b.value_.size() &&
               (a.value_.empty() || sodium_memcmp(a.value_.data(), b.value_.data(), a.value_.size()) == 0);
    }
    /// Prints `<redacted>`, never the secret.
    friend std::ostream& operator<<(std::ostream& os, const secret_string&) { return os << "<redacted>"; }

private:
    void wipe() noexcept {
        // Zero the whole buffer, including a short-string buffer inside the object itself.
        if (value_.capacity() > 0) sodium_memzero(value_.data(), value_.capacity());
        value_.clear();
    }
    storage_type value_;
};

namespace detail {

/// Orders the keys of an extra_json object; transparent, so std::string, string_view and literals all
/// find a key.
struct text_less {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const noexcept { return a < b; }
};

/// The object type of extra_json: a std::map ordered by text_less.
template <class Key, class Value, class /*Compare*/, class Allocator>
using text_map = std::map<Key, Value, text_less, Allocator>;

}  // namespace detail

/// A JSON value of fields tokenvault does not know: nlohmann::basic_json whose strings and nodes live in
/// memory that is wiped when released (detail::zeroing_allocator). Values nest at most 64 levels deep,
/// counting the object that holds them (docs/FORMAT.md).
using extra_json = nlohmann::basic_json<detail::text_map, std::vector, detail::secret_text, bool,
                                        std::int64_t, std::uint64_t, double, detail::zeroing_allocator>;

/// The clock of every tokenvault time point.
using clock = std::chrono::system_clock;

/// An OAuth credential as issued by an authorization server.
struct token {
    secret_string access_token;                   ///< the bearer credential
    std::string token_type = "Bearer";            ///< usually "Bearer" or "DPoP"
    std::optional<secret_string> refresh_token;   ///< absent when the server issued none
    std::optional<clock::time_point> expires_at;  ///< absent: unknown expiry, valid until a 401
    std::vector<std::string> scopes;              ///< granted scopes
    std::string issuer;                           ///< authorization server (issuer URL)
    std::string client_id;                        ///< the OAuth client this token was issued to
    std::optional<secret_string> client_secret;   ///< for confidential or dynamically registered clients
    std::optional<secret_string> id_token;        ///< OpenID Connect ID token, if any
    extra_json extra = extra_json::object();      ///< unknown fields, preserved on round trip

    /// True when the token expires within `skew` of `now` (unknown expiry is never expired).
    [[nodiscard]] bool expires_within(clock::duration skew, clock::time_point now = clock::now()) const {
        return expires_at.has_value() && *expires_at <= now + skew;
    }
    /// Equal when every field is (secrets compared in constant time). A template so that a translation
    /// unit that never compares tokens does not pay for resolving extra_json's comparisons.
    template <std::same_as<token> T>
    friend bool operator==(const T& a, const T& b) {
        return a.access_token == b.access_token && a.token_type == b.token_type &&
               a.refresh_token == b.refresh_token && a.expires_at == b.expires_at && a.scopes == b.scopes &&
               a.issuer == b.issuer && a.client_id == b.client_id && a.client_secret == b.client_secret &&
               a.id_token == b.id_token && a.extra == b.extra;
    }
    /// Prints a redacted summary: type, expiry and scopes, never a secret.
    friend std::ostream& operator<<(std::ostream& os, const token& t) {
        os << "token{type=" << t.token_type << ", access_token=<redacted>";
        if (t.refresh_token) os << ", refresh_token=<redacted>";
        if (t.expires_at)
            os << ", expires_at="
               << std::chrono::duration_cast<std::chrono::seconds>(t.expires_at->time_since_epoch()).count();
        os << ", scopes=" << t.scopes.size() << "}";
        return os;
    }
};

}  // namespace tokenvault
