// benchmarks/bench_lifecycle.cpp: the credential manager's refresh stampede and its fast path.
//
// refresh_stampede_16: 16 forked processes (each its own presets::embedded store over one directory)
// need a token at the same moment after expiry, over 30 rounds; value = the most provider refresh calls
// in one round (must be 1), baseline 1. refresh_stampede_wait: the p99 wait of the 15 losers per round,
// baseline = the median duration of the winner's provider call (the test server sleeps 50 ms); target
// ratio <= 1.1. valid_token_fast_path: get_access_token of a valid cached token against the store's own
// cached get (embedded store; _memory: presets::memory_mt); target ratio <= 1.2: no lock on the fast path.
#include <stdlib.h>

#include <tokenvault/lifecycle.hpp>
#include <tokenvault/presets.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "../tests/support/forked.hpp"
#include "../tests/support/oauth_test_server.hpp"
#include "bench_common.hpp"

namespace tv = tokenvault;
using namespace std::chrono_literals;

namespace {

constexpr int processes = 16;
constexpr int rounds = 30;
constexpr int provider_latency_ms = 50;

/// A private scratch directory, removed at exit.
struct scratch {
    std::filesystem::path path;
    scratch() {
        const char* base = std::getenv("TMPDIR");
        std::string pattern =
            std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/tv-bench-XXXXXX";
        if (::mkdtemp(pattern.data()) == nullptr) std::abort();
        path = pattern;
    }
    ~scratch() {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
    }
};

/// The test server, timing each refresh call it makes for this process.
struct timed_provider {
    tvtest::oauth_test_server server;
    std::chrono::nanoseconds last_refresh{0};
    tv::refresh_result refresh(const tv::token& t) {
        const auto start = std::chrono::steady_clock::now();
        auto out = server.refresh(t);
        last_refresh = std::chrono::steady_clock::now() - start;
        return out;
    }
    tv::result<tv::token> authorize() { return server.authorize(); }
};

double percentile(std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    if (v.empty()) return 0;
    const auto rank = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(rank, v.size() - 1)];
}

void stampede() {
    scratch dir;
    tv::store_options options;
    options.directory = dir.path / "store";
    const auto id = tv::credential_id::parse("https://mcp.example.com/mcp").value();
    tvtest::oauth_test_server server(dir.path, "BENCH");
    tv::presets::embedded store(options);
    tv::credential_manager<tv::presets::embedded> manager(store);
    if (!manager.login(id, server)) std::abort();
    server.configure({.request_ms = provider_latency_ms});

    tvtest::line_pipe results;
    std::vector<std::unique_ptr<tvtest::line_pipe>> go;
    for (int i = 0; i < processes; ++i) go.push_back(std::make_unique<tvtest::line_pipe>());
    std::vector<tvtest::forked_child> children;
    children.reserve(processes);
    for (int i = 0; i < processes; ++i) {
        children.emplace_back([&, i] {
            tv::presets::embedded own(options);
            tv::credential_manager<tv::presets::embedded> m(own, {.lock_timeout = 10s});
            timed_provider provider{tvtest::oauth_test_server(dir.path, "BENCH")};
            for (;;) {
                const auto command = go[static_cast<std::size_t>(i)]->receive(60s);
                if (!command || *command != "go") return 0;
                provider.last_refresh = 0ns;
                const auto start = std::chrono::steady_clock::now();
                const auto got = m.get_access_token(id, provider);
                const auto waited = std::chrono::steady_clock::now() - start;
                const auto end = std::chrono::steady_clock::now().time_since_epoch();
                results.send(std::to_string(got ? 1 : 0) + " " + std::to_string(waited.count()) + " " +
                             std::to_string(provider.last_refresh.count()) + " " +
                             std::to_string(end.count()));
            }
        });
    }

    int most_calls = 0;
    std::vector<double> loser_waits_ms, provider_ms, winner_ms, loser_lag_ms;
    for (int round = 0; round < rounds; ++round) {
        auto current = store.get(id);
        if (!current || !*current) std::abort();
        auto expired = **current;
        expired.expires_at = tv::clock::now() - 1min;
        if (!store.put(id, expired)) std::abort();
        const int before = server.counts().refresh_calls;
        for (auto& pipe : go) pipe->send("go");
        long long winner_end = 0;
        std::vector<long long> loser_ends;
        for (int i = 0; i < processes; ++i) {
            const auto line = results.receive(60s);
            if (!line) std::abort();
            int ok = 0;
            long long waited = 0, refresh = 0, end = 0;
            if (std::sscanf(line->c_str(), "%d %lld %lld %lld", &ok, &waited, &refresh, &end) != 4 || ok != 1)
                std::abort();
            if (refresh > 0) {
                provider_ms.push_back(static_cast<double>(refresh) / 1e6);
                winner_ms.push_back(static_cast<double>(waited) / 1e6);
                winner_end = end;
            } else {
                loser_waits_ms.push_back(static_cast<double>(waited) / 1e6);
                loser_ends.push_back(end);
            }
        }
        for (const auto end : loser_ends) loser_lag_ms.push_back(static_cast<double>(end - winner_end) / 1e6);
        most_calls = std::max(most_calls, server.counts().refresh_calls - before);
    }
    for (auto& pipe : go) pipe->send("quit");
    for (auto& child : children) (void)child.wait();

    if (std::getenv("TV_BENCH_DETAIL") != nullptr) {
        std::fprintf(stderr,
                     "losers: p50 %.2f p90 %.2f p99 %.2f max %.2f; winner totals: p50 %.2f max %.2f; "
                     "provider p50 %.2f\n",
                     percentile(loser_waits_ms, 0.5), percentile(loser_waits_ms, 0.9),
                     percentile(loser_waits_ms, 0.99), percentile(loser_waits_ms, 1.0),
                     percentile(winner_ms, 0.5), percentile(winner_ms, 1.0), percentile(provider_ms, 0.5));
        std::fprintf(stderr, "loser end - winner end: p50 %.2f p90 %.2f p99 %.2f\n",
                     percentile(loser_lag_ms, 0.5), percentile(loser_lag_ms, 0.9),
                     percentile(loser_lag_ms, 0.99));
    }
    tvbench::report("refresh_stampede_16", most_calls, "calls", 1);
    tvbench::report("refresh_stampede_wait", percentile(loser_waits_ms, 0.99), "ms",
                    tvbench::median(provider_ms));
}

template <class Store>
void fast_path(const char* name, const tv::store_options& options) {
    scratch server_dir;
    tvtest::oauth_test_server server(server_dir.path, "BENCH");
    Store store(options);
    tv::credential_manager<Store> manager(store);
    const auto id = tv::credential_id::parse("https://mcp.example.com/mcp").value();
    tv::token t;
    t.access_token = tv::secret_string{"access-token-" + std::string(600, 'a')};
    t.refresh_token = tv::secret_string{"refresh-token-" + std::string(100, 'r')};
    t.expires_at = tv::clock::now() + 1h;
    t.scopes = {"read", "write"};
    t.issuer = "https://auth.example.com";
    t.client_id = "client";
    if (!store.put(id, t)) std::abort();
    const auto subject = [&](int) {
        auto r = manager.get_access_token(id, server);
        tvbench::keep(r);
    };
    const auto baseline = [&](int) {
        auto r = store.get(id);
        tvbench::keep(r);
    };
    const auto [value, base] = tvbench::interleaved(subject, baseline, 31, 20000);
    if (server.counts().refresh_calls != 0) std::abort();
    tvbench::report(name, value, "ns", base);
}

}  // namespace

int main() {
    stampede();
    scratch dir;
    tv::store_options options;
    options.directory = dir.path / "store";
    fast_path<tv::presets::embedded>("valid_token_fast_path", options);
    fast_path<tv::presets::memory_mt>("valid_token_fast_path_memory", options);
    return 0;
}
