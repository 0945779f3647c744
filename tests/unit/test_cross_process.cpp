// tests/unit/test_cross_process.cpp: the cross-process claims, with real processes on every OS.
//
// Children are this test binary started again in a role (tests/support/process.hpp: posix_spawn on
// POSIX, CreateProcessW on Windows), each with its own presets::embedded store over one directory.
// Covered: two writers racing on one store lose no write; a 16-process refresh stampede makes exactly
// one refresh (three rounds); a process killed while holding the store lock, or the credential lock in
// the middle of a refresh, does not block the next one; waiters of the store lock are served in arrival
// order and a process that releases the lock cannot take it back ahead of them (Linux: /proc/locks shows
// when a waiter has joined the queue); a waiter that gave up steps aside.
#include <doctest/doctest.h>

#include <tokenvault/lifecycle.hpp>
#include <tokenvault/platform/platform.hpp>
#include <tokenvault/presets.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/lifecycle_helpers.hpp"
#include "support/oauth_test_server.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/tokens.hpp"

namespace test_cross_process {  // unity builds put several test files in one translation unit

namespace fs = std::filesystem;
namespace tv = tokenvault;
using namespace std::chrono_literals;

namespace {

const std::string canary = "CANARYx7Qe";
using store_type = tv::presets::embedded;

/// The store options every process uses for the store in `dir`.
tv::store_options options_for(const fs::path& dir) {
    tv::store_options o;
    o.app_name = "tv-cross-process";
    o.directory = dir / "store";
    o.lock_timeout = 30s;
    return o;
}

/// "ok <access token>" or "err <code>".
std::string report(const tv::result<tv::token>& r) {
    if (r) return "ok " + std::string(r->access_token.reveal());
    return "err " + std::to_string(r.code().value()) + " " + r.error().message();
}

/// The whole content of `p` ("" when absent).
[[maybe_unused]] std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

// ------------------------------------------------------------------------------------------------------
// Roles (each runs in a child process; arguments are strings; answers are lines on stdout)

/// writer <dir> <first> <count>: waits for "go", then puts ids first..first+count-1; prints "done".
TVTEST_ROLE(writer) {
    store_type store(options_for(args.at(0)));
    const int first = std::stoi(args.at(1));
    const int count = std::stoi(args.at(2));
    tvtest::send_line("ready");
    if (tvtest::receive_line() != "go") return 2;
    for (int i = first; i < first + count; ++i) {
        auto put = store.put(tvtest::id_for(i), tvtest::sample_token("w" + std::to_string(i)));
        if (!put) {
            tvtest::send_line("err " + put.error().message());
            return 3;
        }
    }
    tvtest::send_line("done");
    return 0;
}

/// refresher <dir>: for every "go", runs get_access_token once and prints its result; stops at "quit".
TVTEST_ROLE(refresher) {
    store_type store(options_for(args.at(0)));
    tv::credential_manager<store_type> manager(store, {.lock_timeout = 60s});
    tvtest::oauth_test_server server(args.at(0), canary);
    server.on_request = [](std::string_view what) { tvtest::send_line("in-" + std::string(what)); };
    tvtest::send_line("ready");
    for (;;) {
        const auto command = tvtest::receive_line();
        if (command != "go") return 0;
        tvtest::send_line(report(manager.get_access_token(tvtest::id_for(1), server)));
    }
}

/// store_lock_holder <dir>: takes the store lock, prints "held", and keeps it until killed.
TVTEST_ROLE(store_lock_holder) {
    tv::locking::process lock;
    tv::locking::wait_report report;
    auto guard = lock.lock_store(args.at(0), 10s, report);
    tvtest::send_line(guard ? "held" : "err " + guard.error().message());
    for (;;) std::this_thread::sleep_for(1h);
}

/// queue_member <lock file> <name> <order file>: prints "waiting", takes the lock, appends its name to
/// the order file while holding it, holds it 50 ms, prints "served".
TVTEST_ROLE(queue_member) {
    tvtest::send_line("waiting");
    auto lock = tv::platform::file_lock::acquire(args.at(0), 30s);
    if (!lock) return 2;
    std::ofstream(args.at(2), std::ios::app) << args.at(1) << ' ';
    std::this_thread::sleep_for(50ms);
    lock->release();
    tvtest::send_line("served");
    return 0;
}

/// releasing_holder <lock file> <order file>: takes the lock, prints "held"; at "release" releases it and
/// at once takes it again, appending "again" to the order file while holding it the second time.
TVTEST_ROLE(releasing_holder) {
    auto lock = tv::platform::file_lock::acquire(args.at(0), 10s);
    tvtest::send_line(lock ? "held" : "error");
    if (!lock || tvtest::receive_line() != "release") return 2;
    lock->release();
    auto again = tv::platform::file_lock::acquire(args.at(0), 30s);
    if (!again) return 3;
    std::ofstream(args.at(1), std::ios::app) << "again ";
    again->release();
    tvtest::send_line("done");
    return 0;
}

// ------------------------------------------------------------------------------------------------------

TEST_SUITE("unit") {
    TEST_CASE("two processes writing one store at the same time lose no write") {
        tvtest::temp_dir dir;
        constexpr int each = 40;
        auto a = tvtest::child::start("writer", {dir.path().string(), "0", std::to_string(each)});
        auto b =
            tvtest::child::start("writer", {dir.path().string(), std::to_string(each), std::to_string(each)});
        REQUIRE(a.receive() == "ready");
        REQUIRE(b.receive() == "ready");
        a.send("go");
        b.send("go");
        CHECK(a.receive(120s) == "done");
        CHECK(b.receive(120s) == "done");
        CHECK(a.wait() == 0);
        CHECK(b.wait() == 0);

        store_type reader(options_for(dir.path()));
        auto listed = reader.list();
        REQUIRE(listed);
        CHECK(listed->size() == 2 * each);
        for (int i = 0; i < 2 * each; ++i) {
            auto got = reader.get(tvtest::id_for(i));
            REQUIRE(got);
            REQUIRE(got->has_value());
            CHECK((*got)->access_token == tvtest::sample_token("w" + std::to_string(i)).access_token);
        }
    }

    TEST_CASE("stampede: 16 processes need a token after expiry; one refresh, all get it, 3 rounds") {
        tvtest::temp_dir dir;
        tvtest::oauth_test_server server(dir.path(), canary);
        store_type store(options_for(dir.path()));
        tv::credential_manager<store_type> manager(store);
        const auto id = tvtest::id_for(1);
        REQUIRE(manager.login(id, server));
        server.configure({.request_ms = 50});

        constexpr int processes = 16;
        std::vector<tvtest::child> children;
        for (int i = 0; i < processes; ++i)
            children.push_back(tvtest::child::start("refresher", {dir.path().string()}));
        for (auto& c : children) REQUIRE(c.receive(120s) == "ready");

        for (int round = 0; round < 3; ++round) {
            CAPTURE(round);
            auto current = store.get(id);
            REQUIRE(current);
            REQUIRE(current->has_value());
            REQUIRE(store.put(id, tvtest::expired_copy(**current)));
            const auto before = server.counts();
            for (auto& c : children) c.send("go");
            std::set<std::string> answers;
            for (auto& c : children) {
                std::optional<std::string> line;
                do {
                    line = c.receive(120s);
                } while (line && line->rfind("in-", 0) == 0);  // "in-refresh" from the one that refreshes
                REQUIRE(line);
                answers.insert(*line);
            }
            const auto after = server.counts();
            CHECK(after.refresh_calls == before.refresh_calls + 1);
            CHECK(after.reuse_detected == 0);
            CHECK(after.authorize_calls == 1);
            REQUIRE(answers.size() == 1);
            auto stored = store.get_entry(id);
            REQUIRE(stored);
            REQUIRE(stored->has_value());
            CHECK(*answers.begin() == "ok " + std::string((*stored)->token.access_token.reveal()));
            if (after.refresh_calls != before.refresh_calls + 1) break;
        }
        for (auto& c : children) c.send("quit");
        for (auto& c : children) CHECK(c.wait() == 0);
    }

    TEST_CASE("a process killed while it holds the store lock does not block the next one") {
        tvtest::temp_dir dir;
        const auto lock_path = options_for(dir.path()).directory / "tokens.sealed.lock";
        auto holder = tvtest::child::start("store_lock_holder", {lock_path.string()});
        REQUIRE(holder.receive() == "held");

        tv::locking::process lock;
        tv::locking::wait_report report;
        CHECK(lock.lock_store(lock_path, 200ms, report).code() ==
              tv::make_error_code(tv::errc::lock_timeout));
        CHECK(report.contended);

        CHECK(holder.kill() == tvtest::killed_exit_code);
        auto taken = lock.lock_store(lock_path, 10s, report);
        REQUIRE(taken);
        CHECK(taken->held());
        taken->release();

        store_type store(options_for(dir.path()));  // and the store itself works
        CHECK(store.put(tvtest::id_for(3), tvtest::sample_token("after")));
    }

    TEST_CASE("a process killed in the middle of a refresh does not block the next one") {
        tvtest::temp_dir dir;
        tvtest::oauth_test_server server(dir.path(), canary);
        store_type store(options_for(dir.path()));
        tv::credential_manager<store_type> manager(store, {.lock_timeout = 20s});
        const auto id = tvtest::id_for(1);
        REQUIRE(manager.login(id, server));
        auto current = store.get(id);
        REQUIRE(current);
        REQUIRE(store.put(id, tvtest::expired_copy(**current)));
        server.configure({.request_ms = 60000});

        auto child = tvtest::child::start("refresher", {dir.path().string()});
        REQUIRE(child.receive(120s) == "ready");
        child.send("go");
        REQUIRE(child.receive(120s) == "in-refresh");  // it holds the credential lock now
        CHECK(child.kill() == tvtest::killed_exit_code);

        server.configure({});
        auto got = manager.get_access_token(id, server);
        REQUIRE(got);
        CHECK(server.counts().rotations == 1);
        CHECK(server.counts().reuse_detected == 0);
    }

#if defined(__linux__)
    // Linux's /proc/locks lists the blocked requests of the queue, so these tests know when a waiter has
    // joined it instead of guessing with sleeps. (Windows orders its lock waiters first come, first served;
    // wine does not, so there is nothing to test under wine.)

    /// The OFD locks on the inode of `p` listed in /proc/locks: blocked requests ("->") or granted ones.
    int queue_entries(const fs::path& p, bool blocked) {
        const auto identity = tv::platform::stat_identity(p);
        if (!identity || !*identity) return 0;
        const auto ino = std::to_string((*identity)->ino);
        std::ifstream locks("/proc/locks");
        int count = 0;
        for (std::string line; std::getline(locks, line);) {
            if (line.find("OFDLCK") == std::string::npos) continue;
            if ((line.find("->") != std::string::npos) != blocked) continue;
            std::istringstream fields(line);
            for (std::string field; fields >> field;) {
                const auto colon = field.rfind(':');
                if (std::count(field.begin(), field.end(), ':') == 2 && field.substr(colon + 1) == ino)
                    ++count;
            }
        }
        return count;
    }

    /// Waits until the queue of `p` has a head (a granted OFD lock) and `blocked` waiters behind it; false
    /// after 60 s.
    bool wait_for_queue(const fs::path& p, int blocked) {
        for (int i = 0; i < 60000; ++i) {
            if (queue_entries(p, false) == 1 && queue_entries(p, true) == blocked) return true;
            std::this_thread::sleep_for(1ms);
        }
        return false;
    }

    TEST_CASE("the store lock serves waiters in arrival order, and its holder cannot take it back first") {
        tvtest::temp_dir dir;
        const auto lock_path = dir / "store.lock";
        const auto order = dir / "order";
        auto holder = tvtest::child::start("releasing_holder", {lock_path.string(), order.string()});
        REQUIRE(holder.receive() == "held");

        std::vector<tvtest::child> waiters;
        const std::vector<std::string> names{"first", "second", "third", "fourth"};
        for (std::size_t i = 0; i < names.size(); ++i) {
            waiters.push_back(
                tvtest::child::start("queue_member", {lock_path.string(), names[i], order.string()}));
            REQUIRE(waiters.back().receive() == "waiting");
            // The first waiter is the head of the queue (it waits on the lock itself); the others queue
            // behind it.
            REQUIRE(wait_for_queue(lock_path, static_cast<int>(i)));
        }
        holder.send("release");
        CHECK(holder.receive() == "done");
        for (auto& w : waiters) CHECK(w.receive() == "served");
        // The waiters in the order they came. The holder queues again behind the head at least: it may
        // only slip in where the head has just handed the queue on and the next waiter is still waking up.
        std::istringstream served(read_text(order));
        std::vector<std::string> sequence{std::istream_iterator<std::string>(served), {}};
        std::vector<std::string> waiters_served;
        for (const auto& name : sequence)
            if (name != "again") waiters_served.push_back(name);
        CHECK(waiters_served == names);
        REQUIRE(sequence.size() == names.size() + 1);
        CHECK(sequence.front() == "first");
        CHECK(holder.wait() == 0);
        for (auto& w : waiters) CHECK(w.wait() == 0);
    }

    TEST_CASE("a waiter that gave up steps aside when its turn comes") {
        tvtest::temp_dir dir;
        const auto lock_path = dir / "store.lock";
        auto holder = tvtest::child::start("store_lock_holder", {lock_path.string()});
        REQUIRE(holder.receive() == "held");

        std::optional<tv::result<tv::platform::file_lock>> head_result;
        std::thread head([&] { head_result.emplace(tv::platform::file_lock::acquire(lock_path, 30s)); });
        REQUIRE(
            wait_for_queue(lock_path, 0));  // the head waits on the lock; the next waiter queues behind it
        tv::platform::lock_wait wait;
        auto gave_up = tv::platform::file_lock::acquire(lock_path, 300ms, &wait);
        CHECK(gave_up.code() == tv::make_error_code(tv::errc::lock_timeout));
        CHECK(wait.contended);
        CHECK(queue_entries(lock_path, true) == 1);  // its helper is still queued

        CHECK(holder.kill() == tvtest::killed_exit_code);
        head.join();
        REQUIRE(head_result);
        REQUIRE(*head_result);
        // The helper reaches the head and leaves at once: the queue empties by itself.
        bool empty = false;
        for (int i = 0; i < 60000 && !empty; ++i) {
            empty = queue_entries(lock_path, false) == 0 && queue_entries(lock_path, true) == 0;
            if (!empty) std::this_thread::sleep_for(1ms);
        }
        CHECK(empty);
        head_result->value().release();
        tv::platform::lock_wait next_wait;
        auto next = tv::platform::file_lock::acquire(lock_path, 10s, &next_wait);
        CHECK(next);
        CHECK_FALSE(next_wait.contended);
    }
#endif

}  // TEST_SUITE

}  // namespace test_cross_process
