// tokenvault/oauth/registration.hpp: the OAuth client a login uses, and where it is kept.
//
// A client is pre-registered (an id, maybe a secret and how to present it) or registered at login time by
// RFC 7591 dynamic registration. Either way the provider keeps a client record next to the credential, in
// the same store and sealed like it (a companion entry, see companion.hpp): the client, the issuer it
// belongs to, its redirect URI and the RFC 8707 resource indicator of the login. A dynamic registration is
// made once, under the credential lock of the login, and every later login and refresh of every process
// reuses it. `registration_slot` is the provider's handle on that entry: two function pointers over any
// token store (no virtual dispatch, no allocation).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "../companion.hpp"
#include "../credential_id.hpp"
#include "../detail/json_writer.hpp"
#include "../entry.hpp"
#include "../result.hpp"
#include "../token.hpp"
#include "document.hpp"

namespace tokenvault::oauth {

/// How a client authenticates at the token endpoint (RFC 6749 2.3.1, RFC 7591 2).
enum class client_auth {
    none,                 ///< a public client: client_id in the body
    client_secret_basic,  ///< HTTP Basic with the form-encoded id and secret
    client_secret_post,   ///< client_id and client_secret in the body
};

/// The RFC 7591 name of a client authentication method.
[[nodiscard]] constexpr std::string_view to_string(client_auth method) noexcept {
    switch (method) {
    case client_auth::client_secret_basic: return "client_secret_basic";
    case client_auth::client_secret_post: return "client_secret_post";
    case client_auth::none: break;
    }
    return "none";
}

/// The method named `name`; nullopt for methods tokenvault does not implement (private_key_jwt, ...).
[[nodiscard]] inline std::optional<client_auth> client_auth_named(std::string_view name) noexcept {
    if (name == "none") return client_auth::none;
    if (name == "client_secret_basic") return client_auth::client_secret_basic;
    if (name == "client_secret_post") return client_auth::client_secret_post;
    return std::nullopt;
}

/// An OAuth client: pre-registered, or from dynamic registration.
struct client_registration {
    std::string client_id;                                      ///< required
    std::optional<secret_string> client_secret;                 ///< confidential clients
    client_auth auth = client_auth::none;                       ///< how to present the secret
    std::vector<std::string> redirect_uris;                     ///< as registered
    std::optional<clock::time_point> client_secret_expires_at;  ///< absent: never expires
    std::optional<secret_string> registration_access_token;     ///< RFC 7592, when the server issued one
    std::string registration_client_uri;                        ///< RFC 7592, when the server issued one
    friend bool operator==(const client_registration&, const client_registration&) = default;
};

/// The record a provider keeps next to the credential: the client and what the login used.
struct client_record {
    client_registration client;
    std::string issuer;    ///< the authorization server the client belongs to
    std::string resource;  ///< the RFC 8707 resource indicator of the login
    bool dynamic = false;  ///< registered by tokenvault (RFC 7591)
    friend bool operator==(const client_record&, const client_record&) = default;
};

/// Parses an RFC 7591 client information response (2xx body).
[[nodiscard]] inline result<client_registration> parse_registration_response(std::string_view text) {
    static constexpr std::string_view what = "client registration response";
    client_registration out;
    std::string method;
    TOKENVAULT_TRY(detail::read_object(text, what, [&](std::string_view key, auto& cursor) -> result<bool> {
        if (key == "client_id" || key == "token_endpoint_auth_method" || key == "registration_client_uri") {
            auto value = detail::read_text(cursor, what, key, 2048);
            if (!value) return value.error();
            (key == "client_id"                    ? out.client_id
             : key == "token_endpoint_auth_method" ? method
                                                   : out.registration_client_uri) = std::move(*value);
        } else if (key == "client_secret" || key == "registration_access_token") {
            auto value = detail::read_secret(cursor, what, key);
            if (!value) return value.error();
            (key == "client_secret" ? out.client_secret : out.registration_access_token) = std::move(*value);
        } else if (key == "client_secret_expires_at") {
            auto seconds = detail::read_seconds(cursor, what, key);
            if (!seconds) return seconds.error();
            if (*seconds != 0)  // 0: never expires (RFC 7591 3.2.1)
                out.client_secret_expires_at = clock::time_point{std::chrono::seconds(*seconds)};
        } else if (key == "redirect_uris") {
            auto values = detail::read_text_array(cursor, what, key);
            if (!values) return values.error();
            out.redirect_uris = std::move(*values);
        } else {
            return false;
        }
        return true;
    }));
    if (out.client_id.empty()) return error{errc::missing_field, std::string(what) + ": field 'client_id'"};
    if (method.empty())
        method = out.client_secret ? "client_secret_basic" : "none";  // RFC 7591 2: default basic
    const auto auth = client_auth_named(method);
    if (!auth)
        return error{errc::value_out_of_range, std::string(what) + ": token_endpoint_auth_method '" +
                                                   method.substr(0, 64) + "' is not supported"};
    out.auth = *auth;
    if (out.auth != client_auth::none && (!out.client_secret || out.client_secret->empty()))
        return error{errc::missing_field,
                     std::string(what) + ": field 'client_secret' (needed by " + method + ")"};
    return out;
}

/// Writes a client registration as an RFC 7591 client information response (the parser's inverse), in
/// wiped memory (it holds the client secret).
[[nodiscard]] inline ::tokenvault::detail::secret_text format_registration_response(
    const client_registration& c) {
    ::tokenvault::detail::json_writer w(256);
    bool ok = true;
    w.open_object();
    ok = ok && w.key("client_id") && w.string(c.client_id);
    if (c.client_secret) ok = ok && w.key("client_secret") && w.string(c.client_secret->reveal());
    ok = ok && w.key("token_endpoint_auth_method") && w.string(to_string(c.auth));
    if (!c.redirect_uris.empty()) {
        ok = ok && w.key("redirect_uris");
        w.open_array();
        for (const auto& uri : c.redirect_uris) {
            w.element();
            ok = ok && w.string(uri);
        }
        w.close_array();
    }
    if (c.client_secret_expires_at) {
        ok = ok && w.key("client_secret_expires_at");
        w.number(static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::seconds>(c.client_secret_expires_at->time_since_epoch())
                .count()));
    }
    if (c.registration_access_token)
        ok = ok && w.key("registration_access_token") && w.string(c.registration_access_token->reveal());
    if (!c.registration_client_uri.empty())
        ok = ok && w.key("registration_client_uri") && w.string(c.registration_client_uri);
    w.close_object();
    if (!ok) w.text().clear();  // invalid UTF-8 cannot come from the parser
    return std::move(w.text());
}

namespace detail {

/// Marks the token that carries a client record.
inline constexpr std::string_view client_record_type = "tokenvault-oauth-client";

}  // namespace detail

/// The client record as a storable token (token_type marks it; secrets in the secret fields).
[[nodiscard]] inline token record_to_token(const client_record& record) {
    token t;
    t.token_type = std::string(detail::client_record_type);
    t.access_token = record.client.registration_access_token ? *record.client.registration_access_token
                                                             : secret_string{"none"};
    t.client_id = record.client.client_id;
    t.client_secret = record.client.client_secret;
    t.issuer = record.issuer;
    t.expires_at = record.client.client_secret_expires_at;
    t.extra = nlohmann::json::object();
    t.extra["token_endpoint_auth_method"] = std::string(to_string(record.client.auth));
    t.extra["redirect_uris"] = record.client.redirect_uris;
    t.extra["resource"] = record.resource;
    t.extra["dynamic"] = record.dynamic;
    t.extra["registration_access_token"] = record.client.registration_access_token.has_value();
    if (!record.client.registration_client_uri.empty())
        t.extra["registration_client_uri"] = record.client.registration_client_uri;
    return t;
}

/// The client record a stored token carries; errc::wrong_type when it carries none.
[[nodiscard]] inline result<client_record> record_from_token(const token& t) {
    if (t.token_type != detail::client_record_type || !t.extra.is_object())
        return error{errc::wrong_type, "client record: the entry is not an OAuth client record"};
    client_record record;
    record.client.client_id = t.client_id;
    record.client.client_secret = t.client_secret;
    record.client.client_secret_expires_at = t.expires_at;
    record.issuer = t.issuer;
    const auto text = [&](const char* name) -> std::string {
        const auto found = t.extra.find(name);
        return found != t.extra.end() && found->is_string() ? found->get<std::string>() : std::string{};
    };
    const auto flag = [&](const char* name) {
        const auto found = t.extra.find(name);
        return found != t.extra.end() && found->is_boolean() && found->get<bool>();
    };
    const auto auth = client_auth_named(text("token_endpoint_auth_method"));
    if (!auth || record.client.client_id.empty())
        return error{errc::wrong_type, "client record: no client id or an unknown authentication method"};
    record.client.auth = *auth;
    record.resource = text("resource");
    record.dynamic = flag("dynamic");
    record.client.registration_client_uri = text("registration_client_uri");
    if (flag("registration_access_token")) record.client.registration_access_token = t.access_token;
    if (const auto uris = t.extra.find("redirect_uris"); uris != t.extra.end() && uris->is_array())
        for (const auto& uri : *uris)
            if (uri.is_string()) record.client.redirect_uris.push_back(uri.get<std::string>());
    return record;
}

/// A client record as stored, with the generation to compare-and-swap against.
struct stored_client_record {
    client_record record;
    std::uint64_t generation = 0;
};

/// Where a provider keeps its client record: the companion entry of one credential in one token store.
/// A default-constructed slot keeps nothing (every login then registers anew).
class registration_slot {
public:
    registration_slot() = default;
    /// The slot of credential `id` in `store` (which must outlive the slot).
    template <class Store>
    registration_slot(Store& store, const credential_id& id) : store_(&store) {
        auto companion = companion_id(id, companion_role::oauth_client);
        if (companion) id_.emplace(std::move(*companion));
        load_ = [](void* s, const credential_id& key) -> result<std::optional<entry>> {
            return static_cast<Store*>(s)->get_entry(key);
        };
        save_ = [](void* s, const credential_id& key, std::uint64_t generation,
                   const token& t) -> result<std::uint64_t> {
            return static_cast<Store*>(s)->compare_and_swap(key, generation, t);
        };
    }

    /// Whether the slot keeps records.
    [[nodiscard]] bool active() const noexcept { return store_ != nullptr && id_.has_value(); }

    /// The stored record, if any (an unreadable record counts as none: it is replaced).
    [[nodiscard]] result<std::optional<stored_client_record>> load() const {
        if (!active()) return std::optional<stored_client_record>{};
        auto stored = load_(store_, *id_);
        if (!stored) return stored.error();
        if (!*stored) return std::optional<stored_client_record>{};
        auto record = record_from_token((*stored)->token);
        if (!record)
            return std::optional<stored_client_record>{stored_client_record{{}, (*stored)->generation}};
        return std::optional<stored_client_record>{
            stored_client_record{std::move(*record), (*stored)->generation}};
    }

    /// Stores `record` if the entry's generation is still `expected_generation` (0: absent).
    [[nodiscard]] result<std::uint64_t> save(const client_record& record,
                                             std::uint64_t expected_generation) const {
        if (!active()) return std::uint64_t{0};
        return save_(store_, *id_, expected_generation, record_to_token(record));
    }

private:
    void* store_ = nullptr;
    std::optional<credential_id> id_;
    result<std::optional<entry>> (*load_)(void*, const credential_id&) = nullptr;
    result<std::uint64_t> (*save_)(void*, const credential_id&, std::uint64_t, const token&) = nullptr;
};

}  // namespace tokenvault::oauth
