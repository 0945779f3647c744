// tests/oauth/test_oauth_processes.cpp: the credential lifecycle across real processes, against the real
// authorization server (rotation with reuse detection on).
//
// Every process is a fork() with its own sealed store over one directory and its own libcurl transport.
// Covered: a 16-process stampede over 20 rounds (one refresh per round, counted by the server, no revoked
// grant); a failing (500), unreachable or hanging token endpoint (one request, every waiter fails fast
// with the same error through the failure record in the store); a revoked grant (errc::grant_revoked for
// the holder and every waiter); one dynamic registration for logins from several processes.
#include <doctest/doctest.h>

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "oauth/oauth_world.hpp"
#include "support/forked.hpp"

namespace tv = tokenvault;
using namespace std::chrono_literals;

namespace {

/// A child's view: its own store over the world's directory, its own transport, a non-interactive provider.
struct child_client {
    tvtest::oauth_world::store_type store;
    tv::oauth::curl_transport http;
    tv::oauth::discovery_cache cache;
    tv::credential_manager<tvtest::oauth_world::store_type> manager;
    tv::oauth::provider<tv::oauth::curl_transport> provider;

    child_client(tvtest::oauth_world& w, std::chrono::milliseconds http_timeout = 5s)
        : store(w.options), manager(store), provider(make(w, http_timeout)) {}

    tv::oauth::provider<tv::oauth::curl_transport> make(tvtest::oauth_world& w,
                                                        std::chrono::milliseconds timeout) {
        auto options = w.provider_options();
        options.interactive = false;
        options.cache = &cache;
        options.http_timeout = timeout;
        return tv::oauth::make_provider(http, store, w.id, options);
    }
};

/// Runs `body(client)` in `n` forked processes released together; each reports one line.
template <class Body>
std::vector<std::string> in_processes(tvtest::oauth_world& w, int n, Body body,
                                      std::chrono::milliseconds http_timeout = 5s) {
    tvtest::ready_pipe go;  // one byte per child: a read never takes another child's signal
    tvtest::line_pipe out;  // read by the parent only
    std::vector<tvtest::forked_child> children;
    for (int i = 0; i < n; ++i) {
        children.emplace_back([&, i] {
            child_client client(w, http_timeout);
            out.send("ready");
            if (go.wait() != 'g') return 2;
            out.send(body(client, i));
            return 0;
        });
    }
    for (int i = 0; i < n; ++i) REQUIRE(out.receive(60s) == std::optional<std::string>("ready"));
    for (int i = 0; i < n; ++i) go.signal('g');
    std::vector<std::string> lines;
    for (int i = 0; i < n; ++i) {
        auto line = out.receive(120s);
        REQUIRE(line);
        lines.push_back(*line);
    }
    for (auto& child : children) CHECK(child.wait(60s) == 0);
    return lines;
}

std::string describe(const tv::result<tv::token>& got) {
    if (got) return "ok " + std::string(got->access_token.reveal());
    return "error " + std::to_string(got.error().code.value()) + " " + got.error().context;
}

}  // namespace

TEST_CASE("16 processes x 20 rounds: one refresh per round, counted by the server; the grant survives") {
    tvtest::oauth_world w;
    tv::credential_manager manager{w.store};
    auto provider = w.provider();
    REQUIRE(manager.login(w.id, provider));

    tvtest::ready_pipe go;  // one byte per child and round
    tvtest::line_pipe out;
    constexpr int processes = 16, rounds = 20;
    std::vector<tvtest::forked_child> children;
    for (int i = 0; i < processes; ++i) {
        children.emplace_back([&] {
            child_client client(w);
            for (int round = 0; round < rounds; ++round) {
                if (go.wait() != 'g') return 2;
                out.send(describe(client.manager.get_access_token(w.id, client.provider)));
            }
            return 0;
        });
    }
    for (int round = 0; round < rounds; ++round) {
        CAPTURE(round);
        w.expire_stored();
        const int before = w.count("grant_refresh_token");
        for (int i = 0; i < processes; ++i) go.signal('g');
        std::set<std::string> seen;
        for (int i = 0; i < processes; ++i) {
            auto line = out.receive(120s);
            REQUIRE(line);
            REQUIRE_MESSAGE(line->rfind("ok ", 0) == 0, *line);
            seen.insert(*line);
        }
        CHECK(seen.size() == 1);  // every process got the one refreshed token
        CHECK(w.count("grant_refresh_token") == before + 1);
    }
    for (auto& child : children) CHECK(child.wait(60s) == 0);
    CHECK(w.count("grant_revoked") == 0);
    CHECK(w.count("grant_error_refresh_token") == 0);
    auto final_token = w.store.get(w.id);
    REQUIRE(final_token);
    REQUIRE(final_token->has_value());
    CHECK(w.call_resource((*final_token)->access_token) == 200);
}

TEST_CASE("a failing token endpoint is called once; every waiter returns the same failure at once") {
    for (const std::string mode : {"error500", "down", "hang"}) {
        CAPTURE(mode);
        tvtest::oauth_world w;
        tv::credential_manager manager{w.store};
        auto provider = w.provider();
        REQUIRE(manager.login(w.id, provider));
        const int before = w.count("token_requests");
        w.set_modes({{"token", mode}});
        w.expire_stored();
        auto lines = in_processes(
            w, 8,
            [&](child_client& c, int) { return describe(c.manager.get_access_token(w.id, c.provider)); },
            mode == "hang" ? 1500ms : 5000ms);
        for (const auto& line : lines) {
            CAPTURE(line);
            CHECK(line.rfind("error " + std::to_string(static_cast<int>(tv::errc::provider_unavailable)),
                             0) == 0);
        }
        // One process called; the seven others read its failure. (libcurl sends a request again, once, when
        // the server cuts a reused connection without answering: "down" may count twice.)
        if (mode == "down")
            CHECK(w.count("token_requests") <= before + 2);
        else
            CHECK(w.count("token_requests") == before + 1);
        w.set_modes({{"token", "normal"}});
        // The failure is remembered only briefly, and the credential was kept: a later call refreshes.
        tv::credential_manager quick{w.store, tv::lifecycle_options{60s, 60s, 0ms}};
        auto recovered = quick.get_access_token(w.id, provider);
        REQUIRE_MESSAGE(recovered, recovered.error().message());
        CHECK(w.call_resource(recovered->access_token) == 200);
    }
}

TEST_CASE("a grant the server revoked: grant_revoked for the holder and every waiter") {
    tvtest::oauth_world w;
    tv::credential_manager manager{w.store};
    auto provider = w.provider();
    auto token = manager.login(w.id, provider);
    REQUIRE(token);
    // Someone replays the refresh token outside tokenvault: the server revokes the whole grant.
    REQUIRE(provider.refresh(*token).outcome() == tv::refresh_outcome::refreshed);
    REQUIRE(provider.refresh(*token).outcome() == tv::refresh_outcome::rejected);
    w.expire_stored();
    const int before = w.count("token_requests");
    auto lines = in_processes(w, 6, [&](child_client& c, int) {
        auto got = c.manager.get_access_token(w.id, c.provider);
        return describe(got) + (got ? "" : " | " + got.error().message());
    });
    for (const auto& line : lines) {
        CAPTURE(line);
        CHECK(line.rfind("error " + std::to_string(static_cast<int>(tv::errc::grant_revoked)), 0) == 0);
        CHECK(line.find("log in again") != std::string::npos);
        CHECK_FALSE(tvtest::leaks(line, *token));
    }
    CHECK(w.count("token_requests") == before + 1);
    CHECK_FALSE(w.store.get(w.id).value().has_value());  // the dead credential is gone

    // A new login clears it.
    auto again = manager.login(w.id, provider);
    REQUIRE_MESSAGE(again, again.error().message());
    CHECK(w.call_resource(again->access_token) == 200);
}

TEST_CASE("logins from several processes register one client") {
    tvtest::oauth_world w;
    auto lines = in_processes(w, 4, [&](child_client& c, int) {
        auto options = w.provider_options();
        options.cache = &c.cache;
        auto interactive = tv::oauth::make_provider(c.http, c.store, w.id, options);
        auto got = c.manager.login(w.id, interactive);
        return got ? "ok " + got->client_id : describe(got);
    });
    std::set<std::string> clients(lines.begin(), lines.end());
    REQUIRE(clients.size() == 1);
    CHECK(clients.begin()->rfind("ok ", 0) == 0);
    CHECK(w.count("registration") == 1);
    CHECK(w.count("grant_authorization_code") == 4);
}
