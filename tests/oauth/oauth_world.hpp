// tests/oauth/oauth_world.hpp: what every OAuth test needs around the real server.
//
// tests/oauth/run_with_oauth_server.sh starts oidc-provider and the protected resource on 127.0.0.1 and
// exports their URLs. `oauth_world` is a fresh sealed store in a temp dir, a libcurl transport, its own
// discovery cache, the control calls of the server (faults, counts, the test browser) and a provider whose
// browser hook asks the server's test browser to log in (as a user would in a real browser).
#pragma once

#include <doctest/doctest.h>

#include <tokenvault/companion.hpp>
#include <tokenvault/lifecycle.hpp>
#include <tokenvault/oauth/curl.hpp>
#include <tokenvault/oauth/provider.hpp>
#include <tokenvault/presets.hpp>

#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "support/temp_dir.hpp"

namespace tvtest {

namespace tv = tokenvault;

/// The URL in environment variable `name` (set by run_with_oauth_server.sh).
inline std::string oauth_env(const char* name) {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0')
        throw std::runtime_error(std::string(name) +
                                 " is not set: run the OAuth tests through "
                                 "tests/oauth/run_with_oauth_server.sh (meson test --suite oauth)");
    return value;
}

/// A sealed store, a transport and the control of the running test server.
struct oauth_world {
    using store_type = tv::presets::embedded;

    std::string as = oauth_env("TOKENVAULT_OAUTH_AS");
    std::string rs = oauth_env("TOKENVAULT_OAUTH_RS");
    std::string resource = rs + "/mcp";
    temp_dir dir;
    tv::store_options options = [this] {
        tv::store_options o;
        o.directory = dir.path() / "store";
        return o;
    }();
    store_type store{options};
    tv::oauth::curl_transport http;
    tv::oauth::discovery_cache cache{std::chrono::minutes(10)};
    tv::credential_id id = tv::credential_id::parse(resource).value();

    oauth_world() { control("POST", "/control/reset", "{}"); }

    /// A control call to the test server; its JSON answer.
    nlohmann::json control(std::string_view method, std::string_view path, const std::string& body = {}) {
        tv::oauth::http_request request;
        request.method = method == "POST" ? tv::oauth::http_method::post : tv::oauth::http_method::get;
        request.url = rs + std::string(path);
        request.content_type = "application/json";
        request.body = tv::oauth::secret_text(body);
        request.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        auto response = http.send(request);
        if (!response)
            throw std::runtime_error("control " + std::string(path) + ": " + response.error().message());
        return nlohmann::json::parse(std::string(response->body.data(), response->body.size()));
    }
    /// Sets fault modes: token (normal | error500 | hang | down | huge | deep), metadata (normal |
    /// wrong_issuer | no_pkce | huge | deep), prm (normal | huge | deep | wrong_resource).
    void set_modes(const nlohmann::json& modes) { control("POST", "/control/mode", modes.dump()); }
    /// How often the server saw something (grant_refresh_token, registration, revocations, ...).
    int count(const std::string& what) { return control("GET", "/control/counts").value(what, 0); }

    /// A browser hook: the server's test browser logs in as `user`; `tamper` alters the final redirect
    /// (state | iss | drop_iss), `deny` cancels at the consent page.
    std::function<tv::result<void>(std::string_view)> browser(std::string tamper = {}, bool deny = false,
                                                              std::string user = "alice") {
        return [this, tamper, deny, user](std::string_view url) -> tv::result<void> {
            nlohmann::json request = {
                {"url", std::string(url)}, {"tamper", tamper}, {"deny", deny}, {"user", user}};
            control("POST", "/control/browse", request.dump());
            return {};
        };
    }

    /// Provider options for this world's resource: test browser, own cache, short timeouts.
    tv::oauth::provider_options provider_options() {
        tv::oauth::provider_options o;
        o.resource = resource;
        o.open_browser = browser();
        o.cache = &cache;
        o.http_timeout = std::chrono::seconds(5);
        o.login_timeout = std::chrono::seconds(20);
        return o;
    }
    /// A provider keeping its client record next to this world's credential.
    tv::oauth::provider<tv::oauth::curl_transport> provider(tv::oauth::provider_options o) {
        return tv::oauth::make_provider(http, store, id, std::move(o));
    }
    tv::oauth::provider<tv::oauth::curl_transport> provider() { return provider(provider_options()); }

    /// The status the protected resource answers to `access_token`.
    int call_resource(const tv::secret_string& access_token, const std::string& path = "/mcp") {
        tv::oauth::http_request request;
        request.url = rs + path;
        request.authorization = tv::secret_string{"Bearer " + std::string(access_token.reveal())};
        request.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        auto response = http.send(request);
        if (!response) throw std::runtime_error("resource: " + response.error().message());
        return response->status;
    }

    /// Makes the stored token look expired (the next get_access_token refreshes).
    void expire_stored() {
        auto updated = store.update(id, [](std::optional<tv::token>& t) {
            REQUIRE(t.has_value());
            t->expires_at = tv::clock::now() - std::chrono::minutes(1);
        });
        REQUIRE(updated);
    }
};

/// Whether `text` contains any secret of `t`.
inline bool leaks(std::string_view text, const tv::token& t) {
    const auto has = [&](std::string_view secret) {
        return secret.size() >= 8 && text.find(secret) != std::string_view::npos;
    };
    return has(t.access_token.reveal()) || (t.refresh_token && has(t.refresh_token->reveal())) ||
           (t.client_secret && has(t.client_secret->reveal()));
}

}  // namespace tvtest
