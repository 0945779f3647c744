// tests/oauth/test_oauth_login.cpp: discovery, registration, login, refresh and logout against a real server.
//
// The server is oidc-provider on 127.0.0.1 (rotation on, PKCE required, resource indicators, RFC 9207),
// the resource a small node server answering 401 with resource_metadata; the login pages are driven over
// HTTP by the server's test browser. Nothing here makes a token by hand.
#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "oauth/oauth_world.hpp"

namespace tv = tokenvault;
using namespace std::chrono_literals;

TEST_CASE("discovery starts at the 401 of the resource and checks the issuer") {
    tvtest::oauth_world w;
    auto info = tv::oauth::discover(w.http, w.resource, {}, &w.cache);
    REQUIRE_MESSAGE(info, info.error().message());
    CHECK(info->resource.resource == w.resource);
    CHECK(info->server.issuer == w.as);
    CHECK(info->scope_hint == "mcp");
    CHECK(info->server.token_endpoint.rfind(w.as, 0) == 0);
    CHECK(info->server.authorization_response_iss_parameter_supported);
    const int fetched = w.count("resource_metadata");
    CHECK(fetched == 1);

    // Cached: no second fetch.
    auto again = tv::oauth::discover(w.http, w.resource, {}, &w.cache);
    REQUIRE(again);
    CHECK(w.count("resource_metadata") == fetched);

    // Without resource_metadata in the challenge, the well-known URL of the resource is used.
    auto plain = tv::oauth::discover(w.http, w.rs + "/plain/mcp", {}, &w.cache);
    REQUIRE_MESSAGE(plain, plain.error().message());
    CHECK(plain->resource.resource == w.rs + "/plain/mcp");
    CHECK(plain->server.issuer == w.as);

    // Metadata that names another resource is refused.
    w.set_modes({{"prm", "wrong_resource"}});
    tv::oauth::discovery_cache fresh;
    auto wrong = tv::oauth::discover(w.http, w.resource, {}, &fresh);
    REQUIRE_FALSE(wrong);
    CHECK(wrong.error() == tv::errc::discovery_failed);
}

TEST_CASE("login: dynamic registration once, PKCE, resource indicator; the token opens the resource") {
    tvtest::oauth_world w;
    tv::credential_manager manager{w.store};
    auto provider = w.provider();
    auto token = manager.login(w.id, provider);
    REQUIRE_MESSAGE(token, token.error().message());
    CHECK(token->refresh_token.has_value());
    CHECK(token->issuer == w.as);
    CHECK_FALSE(token->client_id.empty());
    CHECK(w.call_resource(token->access_token) == 200);
    CHECK(w.count("registration") == 1);
    CHECK(w.count("grant_authorization_code") == 1);

    // The registration is kept sealed in the same store, next to the credential.
    const auto record_id = tv::companion_id(w.id, tv::companion_role::oauth_client).value();
    auto stored = w.store.get(record_id);
    REQUIRE(stored);
    REQUIRE(stored->has_value());
    auto record = tv::oauth::record_from_token(**stored);
    REQUIRE(record);
    CHECK(record->client.client_id == token->client_id);
    CHECK(record->issuer == w.as);
    CHECK(record->resource == w.resource);
    CHECK(record->dynamic);

    // Another provider (another process would do the same) reuses it: no second registration.
    tv::oauth::registration_slot slot(w.store, w.id);
    tv::oauth::provider<tv::oauth::curl_transport> second(w.http, w.provider_options(), slot);
    auto again = manager.login(w.id, second);
    REQUIRE_MESSAGE(again, again.error().message());
    CHECK(again->client_id == token->client_id);
    CHECK(w.count("registration") == 1);
    CHECK(w.count("grant_authorization_code") == 2);
    CHECK(w.call_resource(again->access_token) == 200);
}

TEST_CASE("refresh rotates the refresh token; presenting a rotated one revokes the grant") {
    tvtest::oauth_world w;
    tv::credential_manager manager{w.store};
    auto provider = w.provider();
    auto first = manager.login(w.id, provider);
    REQUIRE_MESSAGE(first, first.error().message());

    w.expire_stored();
    auto refreshed = manager.get_access_token(w.id, provider);
    REQUIRE_MESSAGE(refreshed, refreshed.error().message());
    CHECK(w.count("grant_refresh_token") == 1);
    CHECK_FALSE(refreshed->access_token == first->access_token);
    REQUIRE(refreshed->refresh_token);
    CHECK_FALSE(*refreshed->refresh_token == *first->refresh_token);  // rotated
    CHECK(refreshed->issuer == w.as);
    CHECK(w.call_resource(refreshed->access_token) == 200);

    // A valid token is served from the store: no request.
    auto cached = manager.get_access_token(w.id, provider);
    REQUIRE(cached);
    CHECK(cached->access_token == refreshed->access_token);
    CHECK(w.count("token_requests") == 2);

    // What a naive client does: present the rotated refresh token again. The server revokes the grant,
    // so even the newest token stops working.
    auto replay = provider.refresh(*first);
    CHECK(replay.outcome() == tv::refresh_outcome::rejected);
    CHECK(w.count("grant_revoked") >= 1);
    CHECK(w.call_resource(refreshed->access_token) == 401);
}

TEST_CASE("pre-registered confidential clients: client_secret_basic and client_secret_post") {
    for (const auto& [client_id, secret, method] :
         {std::tuple{"pre-basic", "pre-basic-secret-CANARYb7", tv::oauth::client_auth::client_secret_basic},
          std::tuple{"pre-post", "pre-post-secret-CANARYp9", tv::oauth::client_auth::client_secret_post}}) {
        CAPTURE(client_id);
        tvtest::oauth_world w;
        tv::credential_manager manager{w.store};
        auto options = w.provider_options();
        tv::oauth::client_registration client;
        client.client_id = client_id;
        client.client_secret = tv::secret_string{secret};
        client.auth = method;
        options.client = client;
        auto provider = w.provider(options);
        auto token = manager.login(w.id, provider);
        REQUIRE_MESSAGE(token, token.error().message());
        CHECK(token->client_id == client_id);
        CHECK(w.count("registration") == 0);
        w.expire_stored();
        auto refreshed = manager.get_access_token(w.id, provider);
        REQUIRE_MESSAGE(refreshed, refreshed.error().message());
        CHECK(w.count("grant_refresh_token") == 1);
        CHECK(w.call_resource(refreshed->access_token) == 200);

        // A wrong secret is a client error, not a dead grant: the credential is kept.
        auto wrong_options = w.provider_options();
        client.client_secret = tv::secret_string{"not-the-secret"};
        wrong_options.client = client;
        auto wrong = w.provider(wrong_options);
        w.expire_stored();
        auto refused = manager.get_access_token(w.id, wrong);
        REQUIRE_FALSE(refused);
        CHECK(refused.error() == tv::errc::provider_rejected);
        CHECK(refused.error().message().find(secret) == std::string::npos);
        CHECK(w.store.get(w.id).value().has_value());
    }
}

TEST_CASE("logout revokes the tokens at the server; the local logout does not wait for it") {
    tvtest::oauth_world w;
    tv::credential_manager manager{w.store};
    auto provider = w.provider();
    auto token = manager.login(w.id, provider);
    REQUIRE_MESSAGE(token, token.error().message());
    CHECK(w.call_resource(token->access_token) == 200);

    auto out = manager.logout(w.id, provider);
    REQUIRE(out);
    CHECK(*out);
    CHECK_FALSE(w.store.get(w.id).value().has_value());
    CHECK(w.count("revocations") == 2);                  // refresh token, then access token
    CHECK(w.call_resource(token->access_token) == 401);  // the server refuses the access token
    auto refresh = provider.refresh(*token);             // and the refresh token
    CHECK(refresh.outcome() == tv::refresh_outcome::rejected);

    // A revocation endpoint that hangs costs at most revoke_timeout and never blocks the local logout.
    auto again = manager.login(w.id, provider);
    REQUIRE_MESSAGE(again, again.error().message());
    w.set_modes({{"revocation", "hang"}});
    auto options = w.provider_options();
    options.revoke_timeout = 500ms;
    auto slow = w.provider(options);
    auto gone = manager.logout(w.id, slow);
    REQUIRE(gone);
    CHECK(*gone);
    CHECK_FALSE(w.store.get(w.id).value().has_value());
    w.set_modes({{"revocation", "normal"}});
}

namespace {

/// A login whose final redirect the test browser alters with `tamper`; its error.
tv::error login_with_tampered_redirect(tvtest::oauth_world& w, const std::string& tamper) {
    tv::credential_manager manager{w.store};
    auto options = w.provider_options();
    options.open_browser = w.browser(tamper);
    auto provider = w.provider(options);
    auto token = manager.login(w.id, provider);
    REQUIRE_FALSE(token);
    return token.error();
}

}  // namespace

TEST_CASE("a forged state is refused") {
    tvtest::oauth_world w;
    CHECK(login_with_tampered_redirect(w, "state") == tv::errc::state_mismatch);
    CHECK_FALSE(w.store.get(w.id).value().has_value());
    CHECK(w.count("grant_authorization_code") == 0);  // the code was never exchanged
}

TEST_CASE("the issuer is checked: in the metadata and in the redirect (RFC 9207)") {
    SUBCASE("metadata naming another issuer") {
        tvtest::oauth_world w;
        w.set_modes({{"metadata", "wrong_issuer"}});
        CHECK(login_with_tampered_redirect(w, {}) == tv::errc::issuer_mismatch);
        CHECK(w.count("registration") == 0);
    }
    SUBCASE("a redirect from another issuer") {
        tvtest::oauth_world w;
        CHECK(login_with_tampered_redirect(w, "iss") == tv::errc::issuer_mismatch);
        CHECK(w.count("grant_authorization_code") == 0);
    }
    SUBCASE("a redirect without the iss its server promises") {
        tvtest::oauth_world w;
        CHECK(login_with_tampered_redirect(w, "drop_iss") == tv::errc::issuer_mismatch);
    }
}

TEST_CASE("a server without PKCE S256 is refused before anything is sent") {
    tvtest::oauth_world w;
    w.set_modes({{"metadata", "no_pkce"}});
    tv::credential_manager manager{w.store};
    auto provider = w.provider();
    auto token = manager.login(w.id, provider);
    REQUIRE_FALSE(token);
    CHECK(token.error() == tv::errc::server_unsupported);
    CHECK(token.error().message().find("S256") != std::string::npos);
    CHECK(w.count("registration") == 0);
}

TEST_CASE("oversized and deeply nested documents are refused with a typed error") {
    for (const char* mode : {"huge", "deep"}) {
        CAPTURE(mode);
        {
            tvtest::oauth_world w;
            w.set_modes({{"prm", mode}});
            auto info = tv::oauth::discover(w.http, w.resource, {}, &w.cache);
            REQUIRE_FALSE(info);
            CHECK(info.error() == tv::errc::discovery_failed);
            CHECK(info.error().message().find(std::string(mode) == "huge"
                                                  ? "larger than"
                                                  : "nested deeper than 64") != std::string::npos);
        }
        {
            tvtest::oauth_world w;
            w.set_modes({{"metadata", mode}});
            auto info = tv::oauth::discover(w.http, w.resource, {}, &w.cache);
            REQUIRE_FALSE(info);
            CHECK(info.error() == tv::errc::discovery_failed);
        }
        {
            tvtest::oauth_world w;
            tv::credential_manager manager{w.store};
            auto provider = w.provider();
            REQUIRE(manager.login(w.id, provider));
            w.set_modes({{"token", mode}});
            w.expire_stored();
            auto refreshed = manager.get_access_token(w.id, provider);
            REQUIRE_FALSE(refreshed);
            CHECK(refreshed.error() == tv::errc::provider_invalid_response);
            CHECK(w.store.get(w.id).value().has_value());  // the credential is kept
        }
    }
}

TEST_CASE("a declined consent, and a provider that may not log in") {
    tvtest::oauth_world w;
    tv::credential_manager manager{w.store};
    auto options = w.provider_options();
    options.open_browser = w.browser({}, true);
    auto declined = w.provider(options);
    auto token = manager.login(w.id, declined);
    REQUIRE_FALSE(token);
    CHECK(token.error() == tv::errc::login_denied);
    CHECK(token.error().message().find("access_denied") != std::string::npos);

    auto quiet_options = w.provider_options();
    quiet_options.interactive = false;
    auto quiet = w.provider(quiet_options);
    auto none = manager.get_access_token(w.id, quiet);
    REQUIRE_FALSE(none);
    CHECK(none.error() == tv::errc::not_logged_in);
    CHECK(none.error().message().find("tvctl login") != std::string::npos);
}

TEST_CASE("a login nobody finishes times out") {
    tvtest::oauth_world w;
    tv::credential_manager manager{w.store};
    auto options = w.provider_options();
    options.open_browser = [](std::string_view) -> tv::result<void> { return {}; };  // nobody opens it
    options.login_timeout = 300ms;
    auto provider = w.provider(options);
    auto token = manager.login(w.id, provider);
    REQUIRE_FALSE(token);
    CHECK(token.error() == tv::errc::login_timeout);
}
