// tests/unit/test_lifecycle_processes.cpp: the credential manager across real processes.
//
// Every process is a fork() of the test runner with its own presets::embedded store (sealed file, key
// file, flock) over one temp directory, and a client of the shared test authorization server (rotation,
// reuse detection, call counts in a lock-protected state file). Covered: a 16-process stampede (50 rounds),
// a stale process, logout during a refresh, invalid_grant against a concurrent winner, a provider that
// times out, SIGKILL of the credential-lock holder (before and after the server rotated), and the store
// lock staying free during a provider call.
#include <doctest/doctest.h>

#include <tokenvault/lifecycle.hpp>
#include <tokenvault/platform/platform.hpp>
#include <tokenvault/presets.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/forked.hpp"
#include "support/lifecycle_helpers.hpp"
#include "support/oauth_test_server.hpp"
#include "support/temp_dir.hpp"
#include "support/tokens.hpp"

namespace test_lifecycle_processes {  // unity builds put several test files in one translation unit

namespace tv = tokenvault;
using namespace std::chrono_literals;

namespace {

const std::string canary = "CANARYp4Xw";
using store_type = tv::presets::embedded;

/// A temp dir holding the server state and the store; the parent's own store and manager.
struct shared_world {
    tvtest::temp_dir dir;
    tvtest::oauth_test_server server{dir.path(), canary};
    tv::store_options options = [this] {
        tv::store_options o;
        o.directory = dir.path() / "store";
        return o;
    }();
    store_type store{options};
    tv::credential_manager<store_type> manager{store};
    tv::credential_id id = tvtest::id_for(1);

    tv::token log_in() {
        auto t = manager.login(id, server);
        REQUIRE(t);
        return *t;
    }
    tv::token expire() {
        auto t = store.get(id);
        REQUIRE(t);
        REQUIRE(t->has_value());
        auto old = tvtest::expired_copy(**t);
        REQUIRE(store.put(id, old));
        return old;
    }
    std::optional<tv::entry> stored() {
        auto e = store.get_entry(id);
        REQUIRE(e);
        return *e;
    }
    /// What a child reports for a get_access_token result: "ok <access token>" or "err <code> <message>".
    static std::string report(const tv::result<tv::token>& r) {
        if (r) return "ok " + std::string(r->access_token.reveal());
        return "err " + std::to_string(r.code().value()) + " " + r.error().message();
    }
    static std::string ok(const tv::token& t) { return "ok " + std::string(t.access_token.reveal()); }
    static std::string err(tv::errc c) { return "err " + std::to_string(static_cast<int>(c)); }
};

/// Starts a child that runs get_access_token once in its own store, reporting "in-refresh" (when its
/// provider call starts) and then its result on `lines`.
tvtest::forked_child refresher(shared_world& w, tvtest::line_pipe& lines,
                               tv::lifecycle_options options = {.lock_timeout = 10s}) {
    return tvtest::forked_child([&w, &lines, options] {
        store_type store(w.options);
        tv::credential_manager<store_type> manager(store, options);
        tvtest::oauth_test_server server(w.dir.path(), canary);
        server.on_request = [&](std::string_view what) {
            lines.send(std::string("in-") + std::string(what));
        };
        lines.send(shared_world::report(manager.get_access_token(w.id, server)));
        return 0;
    });
}

bool starts_with(const std::optional<std::string>& line, const std::string& prefix) {
    return line && line->rfind(prefix, 0) == 0;
}

}  // namespace

TEST_SUITE("unit") {
    TEST_CASE("stampede: 16 processes need a token after expiry; one refresh, all get it, 50 rounds") {
        shared_world w;
        w.log_in();
        w.server.configure({.request_ms = 20});
        constexpr int processes = 16;
        constexpr int rounds = 50;

        tvtest::line_pipe results;
        std::vector<std::unique_ptr<tvtest::line_pipe>> go;
        std::vector<tvtest::forked_child> children;
        for (int i = 0; i < processes; ++i) go.push_back(std::make_unique<tvtest::line_pipe>());
        for (int i = 0; i < processes; ++i) {
            children.emplace_back([&, i] {
                store_type store(w.options);
                tv::credential_manager<store_type> manager(store, {.lock_timeout = 10s});
                tvtest::oauth_test_server server(w.dir.path(), canary);
                for (;;) {
                    const auto command = go[static_cast<std::size_t>(i)]->receive(60s);
                    if (!command || *command != "go") return 0;
                    results.send(shared_world::report(manager.get_access_token(w.id, server)));
                }
            });
        }

        for (int round = 0; round < rounds; ++round) {
            CAPTURE(round);
            const auto old = w.expire();
            const auto before = w.server.counts();
            for (auto& pipe : go) pipe->send("go");
            std::set<std::string> answers;
            for (int i = 0; i < processes; ++i) {
                const auto line = results.receive(60s);
                REQUIRE(line);
                answers.insert(*line);
            }
            const auto after = w.server.counts();
            CHECK(after.refresh_calls == before.refresh_calls + 1);
            CHECK(after.rotations == before.rotations + 1);
            CHECK(after.reuse_detected == 0);
            CHECK(after.rejected == 0);
            CHECK(after.authorize_calls == 1);
            REQUIRE(answers.size() == 1);
            const auto now = w.stored();
            REQUIRE(now);
            CHECK(*answers.begin() == shared_world::ok(now->token));
            CHECK_FALSE(now->token.access_token == old.access_token);
            CHECK_FALSE(w.server.revoked(now->token));
            if (after.refresh_calls != before.refresh_calls + 1 || answers.size() != 1) break;
        }
        for (auto& pipe : go) pipe->send("quit");
        for (auto& child : children) CHECK(child.wait() == 0);
    }

    TEST_CASE("a stale process that still holds the old token never replays the old refresh token") {
        shared_world w;
        const auto t0 = w.log_in();

        tvtest::line_pipe lines, go;
        tvtest::forked_child stale([&] {
            store_type store(w.options);
            tv::credential_manager<store_type> manager(store, {.lock_timeout = 10s});
            tvtest::oauth_test_server server(w.dir.path(), canary);
            auto held = manager.get_access_token(w.id, server);  // t0, now cached in this process
            lines.send(shared_world::report(held));
            if (!held || !go.receive()) return 1;
            lines.send(shared_world::report(manager.get_access_token(w.id, server)));
            lines.send(shared_world::report(manager.on_unauthorized(w.id, held->access_token, server)));
            return 0;
        });
        REQUIRE(lines.receive() == shared_world::ok(t0));

        // t0 expires; another process refreshes it (RT0 -> RT1) while the stale one sleeps.
        w.expire();
        auto other = refresher(w, lines);
        CHECK(lines.receive() == "in-refresh");
        const auto refreshed = lines.receive();
        REQUIRE(starts_with(refreshed, "ok "));
        CHECK(other.wait() == 0);
        CHECK(*refreshed != shared_world::ok(t0));

        go.send("go");
        CHECK(lines.receive() == refreshed);  // get_access_token: the other process's token
        CHECK(lines.receive() == refreshed);  // on_unauthorized(t0): adopted, not refreshed
        CHECK(stale.wait() == 0);
        const auto counts = w.server.counts();
        CHECK(counts.refresh_calls == 1);
        CHECK(counts.reuse_detected == 0);
        CHECK_FALSE(w.server.revoked(w.stored()->token));
    }

    TEST_CASE("logout while another process is refreshing: the credential stays logged out") {
        shared_world w;
        w.log_in();
        w.expire();
        w.server.configure({.request_ms = 300});
        tvtest::line_pipe lines;
        auto child = refresher(w, lines);
        REQUIRE(lines.receive() == "in-refresh");

        auto out = w.manager.logout(w.id);  // waits for the refresh that holds the credential lock
        REQUIRE(out);
        CHECK(*out);
        CHECK(starts_with(lines.receive(), "ok "));
        CHECK(child.wait() == 0);
        CHECK_FALSE(w.stored());

        // Every process now sees it logged out; nothing brings it back.
        w.server.configure({.authorize_mode = "not_logged_in"});
        auto after = refresher(w, lines);
        CHECK(starts_with(lines.receive(), "in-authorize"));
        CHECK(starts_with(lines.receive(), shared_world::err(tv::errc::not_logged_in)));
        CHECK(after.wait() == 0);
        CHECK_FALSE(w.stored());
        CHECK(w.server.counts().rotations == 1);
    }

    TEST_CASE("a logout that lands while a process waits for the credential lock: it reports not_logged_in") {
        shared_world w;
        w.log_in();
        w.expire();
        const auto lock_path = w.manager.credential_lock_path(w.id);
        REQUIRE(lock_path);
        tvtest::line_pipe lines, go;
        tvtest::forked_child child([&] {
            store_type store(w.options);
            tvtest::hooked_store<store_type> observed(store);
            bool first = true;
            observed.after_get = [&] {
                if (std::exchange(first, false)) lines.send("read");
            };
            tv::credential_manager<tvtest::hooked_store<store_type>> manager(observed, {.lock_timeout = 10s});
            tvtest::oauth_test_server server(w.dir.path(), canary);
            if (!go.receive()) return 1;
            lines.send(shared_world::report(manager.get_access_token(w.id, server)));
            return 0;
        });
        // Taken after the fork: a child sharing the lock's descriptor would hold it too.
        auto held =
            tv::platform::file_lock::acquire(*lock_path, 1s);  // this process holds the credential lock
        REQUIRE(held);
        go.send("go");
        REQUIRE(lines.receive() == "read");  // the child read the expired token; now it waits for the lock
        std::this_thread::sleep_for(20ms);
        REQUIRE(w.store.erase(w.id));  // the logout this process performs under the lock
        held->release();
        const auto line = lines.receive();
        CAPTURE(line.value_or("(none)"));
        CHECK(starts_with(line, shared_world::err(tv::errc::not_logged_in)));
        CHECK(child.wait() == 0);
        CHECK_FALSE(w.stored());
        CHECK(w.server.counts().authorize_calls == 1);
        CHECK(w.server.counts().refresh_calls == 0);
    }

    TEST_CASE(
        "invalid_grant while a concurrent winner has just written a new token: the winner's token survives") {
        shared_world w;
        w.log_in();
        w.expire();
        w.server.configure({.request_ms = 300});
        tvtest::line_pipe lines;
        auto child = refresher(w, lines);
        REQUIRE(lines.receive() == "in-refresh");

        // While the child's request is on the wire: the grant is revoked, another client logs in afresh and
        // writes its token directly (no credential lock: an older tool, say).
        w.server.revoke_all();
        auto winner = w.server.authorize();
        REQUIRE(winner);
        REQUIRE(w.store.put(w.id, *winner));

        const auto line = lines.receive();
        CAPTURE(line.value_or("(none)"));
        CHECK(line == shared_world::ok(*winner));
        CHECK(child.wait() == 0);
        REQUIRE(w.stored());
        CHECK(w.stored()->token == *winner);
        CHECK(w.server.counts().rejected == 1);
        CHECK(w.server.counts().authorize_calls == 2);  // the first login and the winner's
    }

    TEST_CASE("a provider that times out: the lock is released, the stored credential is unchanged") {
        shared_world w;
        w.log_in();
        w.expire();
        const auto before = w.stored();
        w.server.configure({.request_ms = 200, .refresh_mode = "timeout"});
        tvtest::line_pipe lines, done;
        tvtest::forked_child child([&] {
            store_type store(w.options);
            tv::credential_manager<store_type> manager(store);
            tvtest::oauth_test_server server(w.dir.path(), canary);
            lines.send(shared_world::report(manager.get_access_token(w.id, server)));
            (void)done.receive(30s);  // stay alive while the parent checks the lock
            return 0;
        });
        const auto line = lines.receive();
        CHECK(starts_with(line, shared_world::err(tv::errc::provider_unavailable)));
        CHECK(line->find(canary) == std::string::npos);
        auto lock = tv::platform::file_lock::acquire(*w.manager.credential_lock_path(w.id), 0ms);
        CHECK(lock);  // released although its holder is still alive
        const auto after = w.stored();
        REQUIRE(after);
        CHECK(after->generation == before->generation);
        CHECK(after->token == before->token);
        done.send("done");
        CHECK(child.wait() == 0);
    }

    TEST_CASE("the holder of the credential lock is killed with SIGKILL: the next process proceeds") {
        SUBCASE("killed before the server saw the request: the next process refreshes") {
            shared_world w;
            w.log_in();
            w.expire();
            w.server.configure({.request_ms = 20000});
            tvtest::line_pipe lines;
            auto child = refresher(w, lines);
            REQUIRE(lines.receive() == "in-refresh");
            CHECK(child.kill_now() == 128 + SIGKILL);

            w.server.configure({});
            tv::credential_manager<store_type> next(w.store, {.lock_timeout = 2s});
            const auto start = std::chrono::steady_clock::now();
            auto got = next.get_access_token(w.id, w.server);
            CHECK(std::chrono::steady_clock::now() - start < 2s);  // no wait for a dead holder's lock
            REQUIRE(got);
            CHECK(w.server.counts().rotations == 1);
            CHECK(w.server.counts().reuse_detected == 0);
        }
        SUBCASE(
            "killed after the server rotated: the replay is refused, and the next process logs in again") {
            shared_world w;
            const auto t0 = w.log_in();
            w.expire();
            w.server.configure({.response_ms = 20000});
            tvtest::line_pipe lines;
            auto child = refresher(w, lines);
            REQUIRE(lines.receive() == "in-refresh");
            while (w.server.counts().rotations == 0) std::this_thread::sleep_for(5ms);
            CHECK(child.kill_now() == 128 + SIGKILL);

            w.server.configure({});
            tv::credential_manager<store_type> next(w.store, {.lock_timeout = 2s});
            auto got = next.get_access_token(w.id, w.server);
            REQUIRE(got);  // reuse detected -> invalid_grant -> erased -> authorize
            CHECK(w.server.counts().reuse_detected == 1);
            CHECK(w.server.counts().authorize_calls == 2);
            CHECK(tvtest::oauth_test_server::parse(got->access_token.reveal()).family !=
                  tvtest::oauth_test_server::parse(t0.access_token.reveal()).family);
            CHECK(w.stored()->token == *got);
        }
    }

    TEST_CASE("the store lock is free during a provider call: other processes read and write meanwhile") {
        shared_world w;
        w.log_in();
        const auto expired = w.expire();
        w.server.configure({.request_ms = 1500});
        tvtest::line_pipe lines;
        auto child = refresher(w, lines);
        REQUIRE(lines.receive() == "in-refresh");

        tv::store_options impatient = w.options;
        impatient.lock_timeout = 300ms;  // a store lock held across the provider call would fail these
        store_type other(impatient);
        CHECK(other.put(tvtest::id_for(2), tvtest::sample_token("two")));
        CHECK(other.put(tvtest::id_for(3), tvtest::sample_token("three")));
        CHECK(*other.erase(tvtest::id_for(2)));
        auto listed = other.list();
        REQUIRE(listed);
        CHECK(listed->size() == 2);
        auto same = other.get(w.id);  // the credential being refreshed reads as it was
        REQUIRE(same);
        REQUIRE(same->has_value());
        CHECK((*same)->access_token == expired.access_token);
        CHECK_FALSE(lines.receive(0ms));  // the refresh is still in flight

        CHECK(starts_with(lines.receive(), "ok "));
        CHECK(child.wait() == 0);
        REQUIRE(*other.get(tvtest::id_for(3)));
    }

}  // TEST_SUITE

}  // namespace test_lifecycle_processes
