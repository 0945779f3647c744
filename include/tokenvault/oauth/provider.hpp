// tokenvault/oauth/provider.hpp: `oauth::provider<Transport>`, a token_provider for OAuth-protected servers.
//
// It models tokenvault::token_provider, so `credential_manager` uses it unchanged:
// - `authorize()`: the login. Discovery from the resource URL (discovery.hpp), a client (pre-registered, or
//   registered once by RFC 7591 and kept sealed next to the credential), the authorization code flow with
//   PKCE S256 and a random state, the RFC 8707 `resource`, a loopback redirect on 127.0.0.1 (RFC 8252),
//   the RFC 9207 `iss` check, a browser hook and a timeout; then the code exchange.
// - `refresh(token)`: the refresh-token grant with client authentication none, client_secret_basic or
//   client_secret_post, mapped by read_token_response (refreshed / rejected / failed).
// - `revoke(token)`: RFC 7009 revocation of the refresh and the access token, when the server offers it;
//   `credential_manager::logout(id, provider)` calls it after the local logout, as a best effort.
// Every request has a deadline and a response cap; no secret reaches an error text.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <sodium.h>
#include <nlohmann/json.hpp>

#include "../credential_id.hpp"
#include "../provider/token_response.hpp"
#include "../result.hpp"
#include "../token.hpp"
#include "../token_json.hpp"
#include "browser.hpp"
#include "discovery.hpp"
#include "document.hpp"
#include "loopback.hpp"
#include "pkce.hpp"
#include "registration.hpp"
#include "transport.hpp"

namespace tokenvault::oauth {

/// Options of an OAuth provider.
struct provider_options {
    std::string resource;                       ///< the protected resource (MCP server) URL; required
    std::vector<std::string> scopes;            ///< requested; empty: the 401's scope, else the resource's
    std::optional<client_registration> client;  ///< a pre-registered client; empty: dynamic registration
    std::string client_name = "tokenvault";     ///< the client_name of a dynamic registration
    std::uint16_t redirect_port = 0;            ///< 0: the registered port if free, else a random one
    std::string redirect_path = "/callback";    ///< the path of the loopback redirect URI
    std::chrono::milliseconds http_timeout{std::chrono::seconds(30)};   ///< per HTTP request
    std::chrono::milliseconds login_timeout{std::chrono::minutes(5)};   ///< for the user to finish the login
    std::chrono::milliseconds revoke_timeout{std::chrono::seconds(5)};  ///< all of a logout's revocation
    bool interactive = true;          ///< false: authorize() returns errc::not_logged_in (background jobs)
    bool allow_loopback_http = true;  ///< accept http:// server URLs on loopback hosts
    /// Opens the authorization URL; default: the desktop's browser (xdg-open, open).
    std::function<result<void>(std::string_view url)> open_browser = [](std::string_view url) {
        return open_in_browser(url);
    };
    std::string www_authenticate;                         ///< a 401 challenge the caller already has
    discovery_cache* cache = &discovery_cache::shared();  ///< where discovery results are kept
};

/// A token_provider for a server protected by OAuth 2.1 as the MCP authorization spec describes.
template <class Transport>
class provider {
    static_assert(detail::check_transport<Transport>());

public:
    using transport_type = Transport;
    /// revoke() below (RFC 7009).
    static constexpr provider_traits traits{.revokes = true};

    /// A provider over `transport` (which must outlive it); `slot` keeps its client record (see
    /// registration.hpp): pass `registration_slot{store, id}`, or use make_provider.
    provider(Transport& transport, provider_options options, registration_slot slot = {})
        : transport_(&transport), options_(std::move(options)), slot_(std::move(slot)) {}

    /// The refresh-token grant.
    [[nodiscard]] refresh_result refresh(const token& current) {
        const auto sent_at = clock::now();
        if (!current.refresh_token || current.refresh_token->empty())
            return refresh_result::failed(
                error{errc::missing_field, "refresh: the token has no refresh token"});
        auto client = client_for(current);
        if (!client) return refresh_result::failed(client.error());
        auto server = server_for(client->issuer, detail::deadline_after(options_.http_timeout));
        if (!server) return refresh_result::failed(server.error());
        std::vector<std::pair<std::string_view, std::string_view>> form = {
            {"grant_type", "refresh_token"},
            {"refresh_token", current.refresh_token->reveal()},
        };
        const std::string resource = client->resource.empty() ? options_.resource : client->resource;
        if (!resource.empty()) form.emplace_back("resource", resource);
        auto response =
            post_form(server->token_endpoint, form, client->client,
                      detail::deadline_after(options_.http_timeout), token_limits::max_token_json);
        if (!response) {
            if (response.error() == errc::too_large)
                return refresh_result::failed(
                    error{errc::provider_invalid_response, response.error().context});
            return refresh_result::failed(response.error());
        }
        const std::string_view body(response->body.data(), response->body.size());
        if (auto nesting = detail::check_nesting(body, "token response"); !nesting)
            return refresh_result::failed(error{errc::provider_invalid_response, nesting.error().context});
        auto answer = read_token_response(body, sent_at, response->status);
        if (answer.outcome() == refresh_outcome::refreshed) complete(answer.issued(), *client);
        return answer;
    }

    /// The full login: discovery, client, authorization code with PKCE through the browser, code exchange.
    [[nodiscard]] result<token> authorize() {
        if (!options_.interactive)
            return error{
                errc::not_logged_in,
                "interactive login is disabled here: log in with `tvctl login " + options_.resource + "`"};
        auto info = discover();
        if (!info) return info.error();
        const auto& server = info->server;
        TOKENVAULT_TRY(check_login_support(server));

        auto stored = slot_.load();
        if (!stored) return stored.error();
        std::optional<client_record> previous;
        std::uint64_t generation = 0;
        if (*stored) {
            generation = (*stored)->generation;
            if ((*stored)->record.issuer == server.issuer) previous = std::move((*stored)->record);
        }

        auto listener = open_listener(previous);
        if (!listener) return listener.error();
        const std::string redirect_uri = listener->redirect_uri(options_.redirect_path);

        client_record client;
        client.issuer = server.issuer;
        client.resource = info->resource.resource;
        if (options_.client) {
            client.client = *options_.client;
        } else if (previous && previous->dynamic && reusable(previous->client)) {
            client.client = previous->client;
            client.dynamic = true;
        } else {
            auto registered = register_client(server, redirect_uri);
            if (!registered) return registered.error();
            client.client = std::move(*registered);
            client.dynamic = true;
        }
        if (!previous || !(client == *previous)) {
            // Created once under the credential lock: every later login and refresh of every process uses it.
            if (auto saved = slot_.save(client, generation); !saved && saved.error() != errc::conflict)
                return saved.error();
        }
        record_ = client;

        auto pkce = make_pkce();
        if (!pkce) return pkce.error();
        auto state = random_url_token(32);
        if (!state) return state.error();
        const std::string scope = requested_scope(*info);
        std::vector<std::pair<std::string_view, std::string_view>> query = {
            {"response_type", "code"},           {"client_id", client.client.client_id},
            {"redirect_uri", redirect_uri},      {"state", state->reveal()},
            {"code_challenge", pkce->challenge}, {"code_challenge_method", "S256"},
            {"resource", client.resource},
        };
        if (!scope.empty()) query.emplace_back("scope", scope);
        const secret_text encoded = encode(query);
        std::string url = server.authorization_endpoint;
        url += url.find('?') == std::string::npos ? '?' : '&';
        url.append(encoded.data(), encoded.size());
        const auto login_deadline = detail::deadline_after(options_.login_timeout);
        if (options_.open_browser) TOKENVAULT_TRY(options_.open_browser(url));

        auto redirect = listener->wait_for_redirect(options_.redirect_path, login_deadline);
        if (!redirect) return redirect.error();
        auto parameters = parse_query(std::string_view(redirect->data(), redirect->size()),
                                      [this](std::string_view text) { return transport_->unescape(text); });
        if (!parameters)
            return error{errc::login_denied, "authorization response: " + parameters.error().context};
        auto response = read_authorization_response(*parameters);
        if (!response) return error{errc::login_denied, response.error().context};
        if (!response->state || !(*response->state == *state))
            return error{errc::state_mismatch, "authorization response"};
        if (response->iss) {
            if (*response->iss != server.issuer)
                return error{errc::issuer_mismatch, "authorization response from issuer '" +
                                                        response->iss->substr(0, 256) + "', expected '" +
                                                        server.issuer + "'"};
        } else if (server.authorization_response_iss_parameter_supported) {
            return error{errc::issuer_mismatch,
                         "authorization response without the 'iss' its server promises"};
        }
        if (response->error)
            return error{errc::login_denied, "authorization server error '" + *response->error + "'"};
        if (!response->code || response->code->empty())
            return error{errc::login_denied, "authorization response without a code"};

        const auto sent_at = clock::now();
        std::vector<std::pair<std::string_view, std::string_view>> form = {
            {"grant_type", "authorization_code"}, {"code", response->code->reveal()},
            {"redirect_uri", redirect_uri},       {"code_verifier", pkce->verifier.reveal()},
            {"resource", client.resource},
        };
        auto exchanged =
            post_form(server.token_endpoint, form, client.client,
                      detail::deadline_after(options_.http_timeout), token_limits::max_token_json);
        if (!exchanged) {
            if (exchanged.error() == errc::too_large)
                return error{errc::provider_invalid_response, exchanged.error().context};
            return exchanged.error();
        }
        const std::string_view body(exchanged->body.data(), exchanged->body.size());
        if (auto nesting = detail::check_nesting(body, "token response"); !nesting)
            return error{errc::provider_invalid_response, nesting.error().context};
        auto issued = token_from_response(body, sent_at, exchanged->status);
        if (!issued) return issued.error();
        complete(*issued, client);
        return issued;
    }

    /// RFC 7009 revocation of the refresh token, then the access token (best effort: the first failure is
    /// returned after both were tried). errc::server_unsupported when the server has no revocation endpoint.
    [[nodiscard]] result<void> revoke(const token& t) {
        const auto deadline = detail::deadline_after(options_.revoke_timeout);
        auto client = client_for(t);
        if (!client) return client.error();
        auto server = server_for(client->issuer, deadline);
        if (!server) return server.error();
        if (server->revocation_endpoint.empty())
            return error{errc::server_unsupported,
                         "revocation: the authorization server has no revocation_endpoint"};
        result<void> outcome;
        const auto revoke_one = [&](const secret_string& value, std::string_view hint) {
            std::vector<std::pair<std::string_view, std::string_view>> form = {{"token", value.reveal()},
                                                                               {"token_type_hint", hint}};
            auto response = post_form(server->revocation_endpoint, form, client->client, deadline, 64 * 1024);
            if (!response) {
                if (outcome) outcome = response.error();
            } else if (response->status != 200 && outcome) {
                const auto code =
                    detail::error_code_of(std::string_view(response->body.data(), response->body.size()));
                outcome =
                    error{errc::provider_rejected, "revocation: HTTP " + std::to_string(response->status) +
                                                       (code.empty() ? "" : " '" + code + "'")};
            }
        };
        if (t.refresh_token && !t.refresh_token->empty()) revoke_one(*t.refresh_token, "refresh_token");
        if (!t.access_token.empty()) revoke_one(t.access_token, "access_token");
        return outcome;
    }

    /// Discovery for the configured resource (cached; see discovery.hpp).
    [[nodiscard]] result<server_info> discover() {
        discovery_options discovery{options_.http_timeout, options_.allow_loopback_http};
        return ::tokenvault::oauth::discover(*transport_, options_.resource, discovery, options_.cache,
                                             options_.www_authenticate);
    }

    /// The options of this provider.
    [[nodiscard]] const provider_options& options() const noexcept { return options_; }
    /// The transport of this provider.
    [[nodiscard]] Transport& transport() noexcept { return *transport_; }

private:
    // The client to refresh or revoke with: pre-registered, the stored record, or what the token names.
    result<client_record> client_for(const token& t) {
        if (options_.client) {
            client_record out;
            out.client = *options_.client;
            out.issuer = t.issuer;
            out.resource = record_ ? record_->resource : std::string{};
            return out;
        }
        if (!record_) {
            auto stored = slot_.load();
            if (!stored) return stored.error();
            if (*stored && !(*stored)->record.client.client_id.empty())
                record_ = std::move((*stored)->record);
        }
        if (record_ && (t.client_id.empty() || t.client_id == record_->client.client_id)) {
            client_record out = *record_;
            if (out.issuer.empty()) out.issuer = t.issuer;
            return out;
        }
        if (t.client_id.empty())
            return error{errc::missing_field, "no OAuth client is known for this credential: log in again"};
        client_record out;
        out.client.client_id = t.client_id;
        out.client.client_secret = t.client_secret;
        out.client.auth = t.client_secret ? client_auth::client_secret_basic : client_auth::none;
        out.issuer = t.issuer;
        return out;
    }

    // The authorization server metadata for `issuer` (discovery from the resource when it is unknown).
    result<authorization_server_metadata> server_for(const std::string& issuer,
                                                     steady_clock::time_point deadline) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady_clock::now());
        discovery_options discovery{std::max(left, std::chrono::milliseconds(1)),
                                    options_.allow_loopback_http};
        if (issuer.empty()) {
            auto info = ::tokenvault::oauth::discover(*transport_, options_.resource, discovery,
                                                      options_.cache, options_.www_authenticate);
            if (!info) return info.error();
            return std::move(info->server);
        }
        return fetch_authorization_server_metadata(*transport_, issuer, discovery, options_.cache);
    }

    static result<void> check_login_support(const authorization_server_metadata& server) {
        const auto lists = [](const std::vector<std::string>& values, std::string_view wanted) {
            return std::find(values.begin(), values.end(), wanted) != values.end();
        };
        if (server.authorization_endpoint.empty())
            return error{errc::server_unsupported,
                         "authorization server '" + server.issuer + "' has no authorization_endpoint"};
        if (!lists(server.code_challenge_methods_supported, "S256"))
            return error{errc::server_unsupported,
                         "authorization server '" + server.issuer +
                             "' does not list S256 in code_challenge_methods_supported"};
        if (!server.response_types_supported.empty() && !lists(server.response_types_supported, "code"))
            return error{errc::server_unsupported,
                         "authorization server '" + server.issuer + "' does not offer response_type code"};
        return {};
    }

    // A dynamic registration is reused while its secret is valid.
    static bool reusable(const client_registration& client) {
        return !client.client_id.empty() &&
               (!client.client_secret_expires_at ||
                *client.client_secret_expires_at > clock::now() + std::chrono::minutes(1));
    }

    // The listener: the configured port, else the port of the stored registration, else a random one.
    result<loopback_listener> open_listener(const std::optional<client_record>& previous) {
        if (options_.redirect_port != 0) return loopback_listener::open(options_.redirect_port);
        if (previous && !previous->client.redirect_uris.empty()) {
            auto parts = detail::split_url(previous->client.redirect_uris.front(), "redirect_uri");
            if (parts) {
                const auto colon = parts->authority.rfind(':');
                const auto port =
                    colon == std::string::npos ? 0 : std::atoi(parts->authority.c_str() + colon + 1);
                if (port > 0 && port < 65536)
                    if (auto listener = loopback_listener::open(static_cast<std::uint16_t>(port)))
                        return listener;
            }
        }
        return loopback_listener::open(0);
    }

    // RFC 7591: a native public client when the server allows it, else a confidential one.
    result<client_registration> register_client(const authorization_server_metadata& server,
                                                const std::string& redirect_uri) {
        if (server.registration_endpoint.empty())
            return error{errc::server_unsupported,
                         "authorization server '" + server.issuer +
                             "' offers no dynamic client registration: pre-register a "
                             "client and pass it in provider_options::client"};
        const auto& methods = server.token_endpoint_auth_methods_supported;
        const auto offers = [&](std::string_view m) {
            return std::find(methods.begin(), methods.end(), m) != methods.end();
        };
        const client_auth method = methods.empty() || offers("none") ? client_auth::none
                                   : offers("client_secret_basic")   ? client_auth::client_secret_basic
                                                                     : client_auth::client_secret_post;
        nlohmann::json request = {
            {"client_name", options_.client_name},
            {"redirect_uris", {redirect_uri}},
            {"grant_types", {"authorization_code", "refresh_token"}},
            {"response_types", {"code"}},
            {"token_endpoint_auth_method", std::string(to_string(method))},
            {"application_type", "native"},
        };
        http_request post;
        post.method = http_method::post;
        post.url = server.registration_endpoint;
        post.content_type = "application/json";
        post.body = secret_text(request.dump());
        post.deadline = detail::deadline_after(options_.http_timeout);
        post.max_response_bytes = document_limits::max_document;
        auto response = transport_->send(post);
        if (!response) {
            if (response.error() == errc::provider_unavailable) return response.error();
            return error{errc::registration_failed,
                         "POST " + server.registration_endpoint + ": " + response.error().message()};
        }
        const std::string_view body(response->body.data(), response->body.size());
        if (response->status < 200 || response->status > 299) {
            const auto code = detail::error_code_of(body);
            return error{errc::registration_failed, "POST " + server.registration_endpoint + ": HTTP " +
                                                        std::to_string(response->status) +
                                                        (code.empty() ? "" : " '" + code + "'")};
        }
        auto registered = parse_registration_response(body);
        if (!registered)
            return error{errc::registration_failed,
                         "POST " + server.registration_endpoint + ": " + registered.error().message()};
        if (registered->redirect_uris.empty()) registered->redirect_uris.push_back(redirect_uri);
        return registered;
    }

    std::string requested_scope(const server_info& info) const {
        const auto join = [](const std::vector<std::string>& scopes) {
            std::string out;
            for (const auto& s : scopes) {
                if (!out.empty()) out += ' ';
                out += s;
            }
            return out;
        };
        if (!options_.scopes.empty()) return join(options_.scopes);
        if (!info.scope_hint.empty()) return info.scope_hint;
        return join(info.resource.scopes_supported);
    }

    // name=value&... with every name and value percent-encoded by the transport.
    secret_text encode(const std::vector<std::pair<std::string_view, std::string_view>>& pairs) {
        secret_text out;
        for (const auto& [name, value] : pairs) {
            if (!out.empty()) out += '&';
            out += transport_->escape(name);
            out += '=';
            out += transport_->escape(value);
        }
        return out;
    }

    // POSTs a form with the client's authentication to `url`.
    result<http_response> post_form(const std::string& url,
                                    std::vector<std::pair<std::string_view, std::string_view>> form,
                                    const client_registration& client, steady_clock::time_point deadline,
                                    std::size_t max_response) {
        http_request request;
        request.method = http_method::post;
        request.url = url;
        request.content_type = "application/x-www-form-urlencoded";
        request.deadline = deadline;
        request.max_response_bytes = max_response;
        const std::string_view secret =
            client.client_secret ? client.client_secret->reveal() : std::string_view{};
        switch (client.auth) {
        case client_auth::none: form.emplace_back("client_id", client.client_id); break;
        case client_auth::client_secret_post:
            form.emplace_back("client_id", client.client_id);
            form.emplace_back("client_secret", secret);
            break;
        case client_auth::client_secret_basic: {
            // RFC 6749 2.3.1: the id and the secret are form-encoded before Base64.
            secret_text pair = transport_->escape(client.client_id);
            pair += ':';
            pair += transport_->escape(secret);
            constexpr int variant = sodium_base64_VARIANT_ORIGINAL;
            secret_text encoded(sodium_base64_ENCODED_LEN(pair.size(), variant), '\0');
            sodium_bin2base64(encoded.data(), encoded.size(),
                              reinterpret_cast<const unsigned char*>(pair.data()), pair.size(), variant);
            secret_text header = "Basic ";
            header += encoded.c_str();
            request.authorization = secret_string{std::string_view(header.data(), header.size())};
            break;
        }
        }
        request.body = encode(form);
        return transport_->send(request);
    }

    // Fills what a token response leaves out: the issuer and the client it was issued to.
    static void complete(token& t, const client_record& client) {
        if (t.issuer.empty()) t.issuer = client.issuer;
        if (t.client_id.empty()) t.client_id = client.client.client_id;
        if (!t.client_secret && client.client.client_secret) t.client_secret = client.client.client_secret;
    }

    Transport* transport_;
    provider_options options_;
    registration_slot slot_;
    std::optional<client_record> record_;  // the client record, read once
};

/// A provider for credential `id` of `store`: the resource is the credential's, the client record is kept
/// next to it in the same store.
template <class Transport, class Store>
[[nodiscard]] provider<Transport> make_provider(Transport& transport, Store& store, const credential_id& id,
                                                provider_options options = {}) {
    if (options.resource.empty()) options.resource = id.resource();
    return provider<Transport>(transport, std::move(options), registration_slot(store, id));
}

}  // namespace tokenvault::oauth
