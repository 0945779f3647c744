// tests/unit/test_diagnostics.cpp: the diagnostics policies: none compiles away, counters and callback
// see every event type (including store_resolved and login), and no sink ever sees a secret.
#include <doctest/doctest.h>

#include <tokenvault/backend/memory.hpp>
#include <tokenvault/diagnostics/callback.hpp>
#include <tokenvault/diagnostics/counters.hpp>
#include <tokenvault/diagnostics/none.hpp>
#include <tokenvault/diagnostics/resolution.hpp>
#include <tokenvault/diagnostics/resolution_log.hpp>
#include <tokenvault/keyring/file.hpp>
#include <tokenvault/keyring/first_available.hpp>
#include <tokenvault/keyring/memory.hpp>
#include <tokenvault/presets.hpp>
#include <tokenvault/store.hpp>

#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "support/temp_dir.hpp"
#include "support/tokens.hpp"

namespace test_diagnostics {  // unity builds put several test files in one translation unit

using namespace tokenvault;

namespace {

/// Whether `D::on` accepts every alternative of events::any without throwing.
template <class D, class Variant>
struct handles_all;
template <class D, class... E>
struct handles_all<D, std::variant<E...>> {
    static constexpr bool value = (noexcept(std::declval<D&>().on(std::declval<const E&>())) && ...);
};

template <class D>
using memory_store =
    token_store<backend::memory, cipher::xchacha20poly1305, locking::none, migration::none, D>;

/// A diagnostics policy with no state that is not diagnostics::none (to compare sizes with).
struct stateless {
    using policy_family = family::diagnostics;
    static constexpr bool enabled = false;
    template <class E>
    void on(const E&) const noexcept {}
};

}  // namespace

TEST_CASE(
    "diagnostics::none compiles away: no state, no code that can fail, no space beyond an empty member") {
    static_assert(std::is_empty_v<diagnostics::none>);
    static_assert(std::is_trivially_copyable_v<diagnostics::none>);
    static_assert(!diagnostics::none::enabled);
    static_assert(handles_all<diagnostics::none, events::any>::value);
    static_assert(handles_all<diagnostics::counters, events::any>::value);
    static_assert(handles_all<diagnostics::callback, events::any>::value);
    static_assert(handles_all<diagnostics::resolution_log<diagnostics::counters>, events::any>::value);
    // Size check of the memory store: none costs what any stateless policy costs (one empty member),
    // while counters add their atomics.
    static_assert(sizeof(memory_store<diagnostics::none>) == sizeof(memory_store<stateless>));
    static_assert(sizeof(memory_store<diagnostics::counters>) >= sizeof(memory_store<diagnostics::none>) +
                                                                     sizeof(diagnostics::counters) -
                                                                     alignof(std::max_align_t));
    MESSAGE("memory store: " << sizeof(memory_store<diagnostics::none>) << " bytes with none, "
                             << sizeof(memory_store<diagnostics::counters>) << " with counters");
    // report_store_resolved with a disabled policy does nothing (not even build its strings).
    diagnostics::none none;
    keyring_options o;
    o.service = "tv-diag-none";
    auto k = keyring::memory::open(o);
    REQUIRE(k.has_value());
    diagnostics::report_store_resolved(none, "/nowhere/tokens.sealed", "sealed_file", **k);
    CHECK(true);
}

TEST_CASE("counters and callback see store resolutions and logins") {
    diagnostics::counters counts;
    counts.on(events::store_resolved{});
    counts.on(events::login{});
    counts.on(events::login{});
    CHECK(counts.read().resolutions == 1);
    CHECK(counts.read().logins == 2);

    std::vector<events::any> seen;
    diagnostics::callback cb([&](const events::any& e) { seen.push_back(e); });
    cb.on(events::store_resolved{"/d",
                                 "tokens.sealed",
                                 {},
                                 events::store_mode::explicit_tier,
                                 "b",
                                 "file",
                                 events::resolution_reason{events::resolution_cause::configured, {}, {}}});
    cb.on(events::login{"abc"});
    REQUIRE(seen.size() == 2);
    CHECK(std::holds_alternative<events::store_resolved>(seen[0]));
    CHECK(std::get<events::store_resolved>(seen[0]).mode == events::store_mode::explicit_tier);
    CHECK(events::to_string(events::store_mode::automatic) == "automatic");
    CHECK(events::to_string(events::store_mode::explicit_tier) == "explicit");
}

TEST_CASE(
    "event enums spell their values as docs/DIAGNOSTICS.md lists them (the resolution log writes them)") {
    using events::to_string;
    CHECK(to_string(events::lock_kind::store) == "store");
    CHECK(to_string(events::lock_kind::credential) == "credential");

    using op = events::operation_kind;
    std::string ops;
    for (const auto o : {op::put, op::erase, op::update, op::compare_and_swap, op::erase_if})
        ops += std::string(to_string(o)) + " ";
    CHECK(ops == "put erase update compare_and_swap erase_if ");

    using r = events::refresh_outcome;
    std::string outcomes;
    for (const auto o : {r::refreshed, r::adopted, r::rejected, r::transient_failure, r::invalid_response,
                         r::discarded, r::failed_recently, r::revoked, r::revoke_failed})
        outcomes += std::string(to_string(o)) + " ";
    CHECK(outcomes ==
          "refreshed adopted rejected transient_failure invalid_response discarded failed_recently revoked "
          "revoke_failed ");

    using f = events::tier_failure;
    std::string failures;
    for (const auto o : {f::none, f::unavailable, f::locked, f::denied, f::timeout, f::volatile_refused,
                         f::unsafe_files, f::read_only, f::corrupt, f::damaged_key, f::error})
        failures += std::string(to_string(o)) + " ";
    CHECK(
        failures ==
        "none unavailable locked denied timeout volatile_refused unsafe_files read_only corrupt damaged_key "
        "error ");

    // The resolution log's reason text: the cause, or "<failed tier>:<failure>" for a fallback.
    using c = events::resolution_cause;
    CHECK(to_string(events::resolution_reason{c::preferred, {}, {}}) == "preferred");
    CHECK(to_string(events::resolution_reason{c::configured, {}, {}}) == "configured");
    CHECK(to_string(events::resolution_reason{c::file_header, {}, {}}) == "file_header");
    CHECK(to_string(events::resolution_reason{c::fallback, "secret_service", f::unavailable}) ==
          "secret_service:unavailable");
    static_assert(to_string(c::fallback) == "fallback");
    static_assert(to_string(r::revoke_failed) == "revoke_failed");
}

TEST_CASE("report_store_resolved names the chain, the mode and the reason") {
    using chain = keyring::first_available<keyring::memory, keyring::file>;
    CHECK(keyring::chain_name<chain>() == "first_available(memory,file)");
    CHECK(keyring::chain_name<keyring::allow_volatile<keyring::memory>>() == "memory");
    static_assert(diagnostics::resolves_automatically<chain>);
    static_assert(!diagnostics::resolves_automatically<keyring::file>);
    CHECK(diagnostics::tier_failure_of(make_error_code(errc::keyring_locked)) ==
          events::tier_failure::locked);
    CHECK(diagnostics::tier_failure_of(make_error_code(errc::keyring_timeout)) ==
          events::tier_failure::timeout);
    CHECK(diagnostics::tier_failure_of(std::make_error_code(std::errc::io_error)) ==
          events::tier_failure::error);

    tvtest::temp_dir dir;
    keyring_options o;
    o.service = tvtest::unique_name("tv-diag");
    o.directory = dir.path() / "keyring";
    auto control = keyring::memory::control_for(o.service);
    std::vector<events::store_resolved> seen;
    std::vector<std::string> texts;
    diagnostics::callback cb([&](const events::any& e) {
        if (const auto* r = std::get_if<events::store_resolved>(&e)) {
            seen.push_back(*r);
            texts.push_back(std::string(r->backend) + "|" + std::string(r->tier) + "|" +
                            events::to_string(r->reason) + "|" + std::string(r->directory) + "|" +
                            std::string(r->store));
        }
    });
    {
        auto opened = chain::open(o);
        REQUIRE(opened.has_value());
        diagnostics::report_store_resolved(cb, dir.path() / "tokens.sealed", "sealed_file", **opened);
    }
    {
        const std::lock_guard lock(control->mutex);
        control->unavailable = true;
    }
    {
        auto opened = chain::open(o);
        REQUIRE(opened.has_value());
        diagnostics::report_store_resolved(cb, dir.path() / "tokens.sealed", "sealed_file", **opened, {},
                                           true);
    }
    REQUIRE(seen.size() == 2);
    CHECK(texts[0] == "sealed_file/first_available(memory,file)|memory|preferred|" + dir.path().string() +
                          "|tokens.sealed");
    CHECK(texts[1] == "sealed_file/first_available(memory,file)|file|memory:unavailable|" +
                          dir.path().string() + "|tokens.sealed");
    CHECK(seen[1].moved);
    CHECK(seen[1].reason.cause == events::resolution_cause::fallback);
    CHECK(seen[1].reason.failed_tier == "memory");
    CHECK(seen[1].reason.failure == events::tier_failure::unavailable);
    CHECK(seen[0].mode == events::store_mode::automatic);
}

TEST_CASE(
    "no diagnostics sink sees a secret: counters, callback and the resolution log over the embedded store") {
    tvtest::temp_dir dir;
    store_options o;
    o.app_name = tvtest::unique_name("tv-diag-canary");
    o.directory = dir.path();
    const std::string canary = "CANARY-diag-51d0e";
    std::string text;
    {
        token_store<presets::embedded::backend_type, cipher::xchacha20poly1305, locking::process,
                    migration::none, diagnostics::resolution_log<diagnostics::callback>>
            store(o);
        store.diagnostics().inner().set([&](const events::any& any) {
            std::visit(
                [&](const auto& e) {
                    if constexpr (requires { e.tier; }) text += std::string(e.tier) + " ";
                    if constexpr (requires { e.credential; }) text += std::string(e.credential) + " ";
                    if constexpr (requires { e.failure; }) text += e.failure.message() + " ";
                    if constexpr (requires { e.backend; })
                        text += std::string(e.backend) + events::to_string(e.reason);
                    if constexpr (requires { e.original; }) text += e.original + e.moved_to;
                },
                any);
        });
        auto t = tvtest::sample_token(canary);
        t.client_secret = secret_string{canary + "-secret"};
        t.id_token = secret_string{canary + "-id"};
        REQUIRE(store.put(tvtest::id_for(1), t).has_value());
        REQUIRE(store.get(tvtest::id_for(1)).has_value());
        REQUIRE(store.erase(tvtest::id_for(1)).has_value());
        CHECK(store.diagnostics().drifts() == 0);
    }
    token_store<presets::embedded::backend_type, cipher::xchacha20poly1305, locking::process, migration::none,
                diagnostics::counters>
        counted(o);
    REQUIRE(counted.put(tvtest::id_for(2), tvtest::sample_token(canary)).has_value());
    CHECK(counted.diagnostics().read().resolutions == 1);
    CHECK(counted.diagnostics().read().file_writes == 1);
    CHECK_FALSE(text.empty());
    CHECK(text.find("CANARY") == std::string::npos);
    auto log = diagnostics::read_resolution_log(dir.path());
    REQUIRE(log.has_value());
    REQUIRE(log->has_value());
    CHECK((*log)->credentials.size() == 1);
    CHECK_FALSE((*log)->credentials.begin()->second.present);  // logged out, the record survives
    CHECK(diagnostics::serialize_resolution_log(**log).find("CANARY") == std::string::npos);
}

}  // namespace test_diagnostics
