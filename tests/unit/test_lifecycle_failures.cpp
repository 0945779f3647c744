// tests/unit/test_lifecycle_failures.cpp: what the credential manager does when a refresh fails.
//
// The failure record (a companion entry of the store): the same error for every caller within its TTL
// without a provider call, only for the credential state it was made for, gone after a success; a revoked
// grant ends in errc::grant_revoked; logout with a provider's revoke hook (best effort); shared_manager with
// lifecycle options. The provider is tests/support/oauth_test_server.hpp; tests/oauth/ repeats the important
// cases against a real authorization server and real processes.
#include <doctest/doctest.h>

#include <tokenvault/companion.hpp>
#include <tokenvault/lifecycle.hpp>
#include <tokenvault/presets.hpp>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "support/oauth_test_server.hpp"
#include "support/temp_dir.hpp"
#include "support/tokens.hpp"

namespace test_lifecycle_failures {  // unity builds put several test files in one translation unit

namespace tv = tokenvault;
using namespace std::chrono_literals;

namespace {

using store_type = tv::presets::memory_mt;

struct failing_world {
    tvtest::temp_dir dir;
    tvtest::oauth_test_server server{dir.path(), "CANARYf3"};
    store_type store;
    tv::credential_id id = tvtest::id_for(7);

    tv::token log_in() {
        auto t = server.authorize();
        REQUIRE(t);
        REQUIRE(store.put(id, *t));
        return *t;
    }
    void expire() {
        REQUIRE(
            store.update(id, [](std::optional<tv::token>& t) { t->expires_at = tv::clock::now() - 1min; }));
    }
    bool record_present() {
        return store.get(tv::companion_id(id, tv::companion_role::refresh_failure).value())
            .value()
            .has_value();
    }
};

tv::lifecycle_options with_ttl(std::chrono::milliseconds ttl) {
    tv::lifecycle_options o;
    o.refresh_failure_ttl = ttl;
    return o;
}

}  // namespace

TEST_CASE("a failed refresh is remembered: the same error without another call, until it lapses") {
    failing_world w;
    tv::credential_manager manager{w.store, with_ttl(300ms)};
    w.log_in();
    w.expire();
    w.server.configure({.refresh_mode = "unavailable"});
    auto first = manager.get_access_token(w.id, w.server);
    REQUIRE_FALSE(first);
    CHECK(first.error() == tv::errc::provider_unavailable);
    CHECK(w.server.counts().refresh_calls == 1);
    CHECK(w.record_present());

    auto second = manager.get_access_token(w.id, w.server);
    REQUIRE_FALSE(second);
    CHECK(second.error().code == first.error().code);
    CHECK(second.error().context.find(first.error().context) == 0);
    CHECK(second.error().context.find("failed moments ago") != std::string::npos);
    CHECK(w.server.counts().refresh_calls == 1);   // no second call
    CHECK(w.store.get(w.id).value().has_value());  // the credential is kept

    // After the TTL the next caller tries again; a success removes the record.
    std::this_thread::sleep_for(400ms);
    w.server.configure({});
    auto later = manager.get_access_token(w.id, w.server);
    REQUIRE(later);
    CHECK(w.server.counts().refresh_calls == 2);
    CHECK_FALSE(w.record_present());
}

TEST_CASE("the record applies only to the credential state it was made for") {
    failing_world w;
    tv::credential_manager manager{w.store, with_ttl(10s)};
    w.log_in();
    w.expire();
    w.server.configure({.refresh_mode = "unavailable"});
    REQUIRE_FALSE(manager.get_access_token(w.id, w.server));
    w.server.configure({});

    // Someone else wrote the credential (a new generation): the record does not apply to it.
    w.log_in();
    w.expire();
    auto fresh = manager.get_access_token(w.id, w.server);
    REQUIRE_MESSAGE(fresh, fresh.error().message());
    CHECK(w.server.counts().refresh_calls == 2);

    // A TTL of zero never records.
    tv::credential_manager unremembering{w.store, with_ttl(0ms)};
    w.expire();
    w.server.configure({.refresh_mode = "unavailable"});
    REQUIRE_FALSE(unremembering.get_access_token(w.id, w.server));
    REQUIRE_FALSE(unremembering.get_access_token(w.id, w.server));
    CHECK(w.server.counts().refresh_calls == 4);
}

TEST_CASE("a revoked grant with no new login is grant_revoked, for this caller and the next") {
    failing_world w;
    tv::credential_manager manager{w.store};
    w.log_in();
    w.expire();
    w.server.configure({.refresh_mode = "invalid_grant", .authorize_mode = "not_logged_in"});
    auto revoked = manager.get_access_token(w.id, w.server);
    REQUIRE_FALSE(revoked);
    CHECK(revoked.error() == tv::errc::grant_revoked);
    CHECK(revoked.error().message().find("log in again") != std::string::npos);
    CHECK(revoked.error().message().find("invalid_grant") != std::string::npos);
    CHECK_FALSE(w.store.get(w.id).value().has_value());

    const auto calls = w.server.counts();
    auto again = manager.get_access_token(w.id, w.server);
    REQUIRE_FALSE(again);
    CHECK(again.error() == tv::errc::grant_revoked);
    CHECK(w.server.counts().authorize_calls == calls.authorize_calls);

    // A login clears it.
    w.server.configure({});
    REQUIRE(manager.login(w.id, w.server));
    CHECK_FALSE(w.record_present());
    CHECK(manager.get_access_token(w.id, w.server));
}

/// A provider that revokes, and records what it was asked to revoke and whether the local logout came first.
struct revoking {
    static constexpr tv::provider_traits traits{.revokes = true};
    tvtest::oauth_test_server* server;
    store_type* store;
    tv::credential_id id;
    std::vector<std::string> revoked;
    bool fail = false;
    bool local_gone = false;
    tv::refresh_result refresh(const tv::token& t) { return server->refresh(t); }
    tv::result<tv::token> authorize() { return server->authorize(); }
    tv::result<void> revoke(const tv::token& t) {
        local_gone = !store->get(id).value().has_value();
        revoked.emplace_back(t.access_token.reveal());
        if (fail) return tv::error{tv::errc::provider_unavailable, "revocation endpoint down"};
        return {};
    }
};

TEST_CASE("logout with a provider that revokes: after the local logout, best effort") {
    failing_world w;
    tv::credential_manager manager{w.store};
    const auto stored = w.log_in();
    revoking provider{&w.server, &w.store, w.id, {}};
    static_assert(tv::token_revoker<decltype(provider)>);
    auto out = manager.logout(w.id, provider);
    REQUIRE(out);
    CHECK(*out);
    REQUIRE(provider.revoked.size() == 1);
    CHECK(provider.revoked[0] == stored.access_token.reveal());
    CHECK(provider.local_gone);  // the store was already empty when the server was told

    w.log_in();
    provider.fail = true;
    auto failed = manager.logout(w.id, provider);
    REQUIRE(failed);  // a failed revocation does not fail the logout
    CHECK(*failed);
    CHECK_FALSE(w.store.get(w.id).value().has_value());

    // Nothing stored: nothing to revoke.
    auto none = manager.logout(w.id, provider);
    REQUIRE(none);
    CHECK_FALSE(*none);
    CHECK(provider.revoked.size() == 2);

    // A provider without revoke() logs out locally.
    w.log_in();
    auto plain = manager.logout(w.id, w.server);
    REQUIRE(plain);
    CHECK(*plain);
}

TEST_CASE("shared_manager: one per store location and lifecycle options") {
    tvtest::temp_dir dir;
    tv::store_options options;
    options.directory = dir.path();
    tv::lifecycle_options short_skew;
    short_skew.expiry_skew = 5s;
    auto& defaults = tv::shared_manager<tv::presets::embedded>(options);
    auto& skewed = tv::shared_manager<tv::presets::embedded>(options, short_skew);
    CHECK(&defaults != &skewed);
    CHECK(&skewed == &tv::shared_manager<tv::presets::embedded>(options, short_skew));
    CHECK(&defaults == &tv::shared_manager<tv::presets::embedded>(options, tv::lifecycle_options{}));
    // Each keeps its own options: a token 30 s from expiry is fresh under a 5 s skew, not under the default.
    auto soon = tvtest::sample_token("soon");
    soon.expires_at = tv::clock::now() + 30s;
    CHECK(skewed.fresh(soon));
    CHECK_FALSE(defaults.fresh(soon));
    CHECK(&skewed.store() == &defaults.store());  // one store, one cache
}

}  // namespace test_lifecycle_failures
