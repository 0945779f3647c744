// tests/unit/test_group_commit.cpp: group commit, with real processes on every OS.
//
// A writer that finds the store lock taken posts its change for the lock's holder; the holder saves every
// posted change with its own in one durable replacement and records each outcome in the bundle, where the
// waiter reads it. Covered: four waiting writers are saved by one replacement, each with its own
// generation; compare-and-swap increments from 6 processes lose none and apply none twice, erases say
// whether they removed a token; a waiter whose wait times out withdraws its change (nothing is saved); a
// holder that died after claiming changes it never saved leaves them to their posters, who apply them;
// an intent file that does not open (forged, another key, garbage) is never applied. The intent text's
// reader and writer are tested here too (and fuzzed: tests/fuzz/fuzz_intent.cpp).
#include <doctest/doctest.h>

#include <tokenvault/backend/sealed_file.hpp>
#include <tokenvault/diagnostics/counters.hpp>
#include <tokenvault/keyring/file.hpp>
#include <tokenvault/locking/process.hpp>
#include <tokenvault/platform/platform.hpp>
#include <tokenvault/store.hpp>

#include <chrono>
#include <filesystem>
#include <initializer_list>
#include <set>
#include <string>
#include <vector>

#include "support/eventually.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/tokens.hpp"

namespace test_group_commit {  // unity builds put several test files in one translation unit

namespace fs = std::filesystem;
namespace tv = tokenvault;
using namespace std::chrono_literals;

namespace {

using store_type = tv::token_store<tv::backend::sealed_file<tv::keyring::file>, tv::cipher::xchacha20poly1305,
                                   tv::locking::process, tv::migration::none, tv::diagnostics::counters>;

tv::store_options options_for(const fs::path& dir, std::chrono::milliseconds timeout = 60s) {
    tv::store_options o;
    o.app_name = "tv-group-commit";
    o.directory = dir / "store";
    o.lock_timeout = timeout;
    return o;
}

/// The files in the store directory whose names contain `marker`.
std::size_t files_with(const fs::path& dir, const std::string& marker) {
    std::size_t n = 0;
    for (const auto& e : fs::directory_iterator(dir / "store"))
        if (e.path().filename().string().find(marker) != std::string::npos) ++n;
    return n;
}

std::uint64_t seal_counter(const fs::path& dir) {
    store_type s(options_for(dir));
    REQUIRE(s.list());
    return s.backend().status().seal_counter;
}

/// Writers (role handing_writer) of the store in `dir` for ids `ids`, each loaded and ready.
std::vector<tvtest::child> start_writers(const fs::path& dir, std::initializer_list<int> ids,
                                         const std::string& timeout_ms = "60000") {
    std::vector<tvtest::child> children;
    for (const int i : ids)
        children.push_back(
            tvtest::child::start("handing_writer", {dir.string(), std::to_string(i), timeout_ms}));
    for (auto& c : children) REQUIRE(c.receive(60s) == "ready");
    return children;
}

/// Takes the store lock of the store in `dir`, runs `tell()` (the writers' commands) and returns the held
/// lock once `intents` changes are posted: the writers wait for it, their changes handed over.
template <class Tell>
tv::locking::process::store_guard lock_while_posting(const fs::path& dir, std::size_t intents, Tell&& tell) {
    tv::locking::process lock;
    tv::locking::wait_report report;
    auto held = lock.lock_store(dir / "store" / "tokens.sealed.lock", 10s, report);
    REQUIRE(held);
    tell();
    REQUIRE(tvtest::eventually([&] { return files_with(dir, ".intent-") == intents; }));
    return std::move(*held);
}

tv::token counter_token(std::uint64_t value) {
    auto t = tvtest::sample_token("counter");
    t.access_token = tv::secret_string(std::to_string(value));
    return t;
}

}  // namespace

// ------------------------------------------------------------------------------------------------------
// Roles

/// handing_writer <dir> <n> <timeout ms>: loads the store, prints "ready"; at "put" puts id n, at "erase"
/// erases it; prints "ok <generation or erased flag> handed <changes it saved for others>" or "err <code>".
TVTEST_ROLE(handing_writer) {
    store_type store(options_for(args.at(0), std::chrono::milliseconds(std::stoi(args.at(2)))));
    const int n = std::stoi(args.at(1));
    if (!store.list()) return 2;  // loaded: the data key is held, so a wait can hand the change over
    tvtest::send_line("ready");
    const auto command = tvtest::receive_line();
    std::string answer;
    if (command == "put") {
        auto put = store.put(tvtest::id_for(n), tvtest::sample_token("gc" + std::to_string(n)));
        answer = put ? "ok " + std::to_string(*put) : "err " + std::to_string(put.code().value());
    } else if (command == "erase") {
        auto erased = store.erase(tvtest::id_for(n));
        answer = erased ? "ok " + std::to_string(*erased) : "err " + std::to_string(erased.code().value());
    } else {
        return 3;
    }
    tvtest::send_line(answer + " handed " + std::to_string(store.diagnostics().read().handed_over));
    return 0;
}

/// incrementer <dir> <count>: at "go", adds 1 to the counter token `count` times by compare-and-swap
/// (retrying on conflict); prints "done <conflicts> handed <changes it saved for others>".
TVTEST_ROLE(incrementer) {
    store_type store(options_for(args.at(0)));
    const int count = std::stoi(args.at(1));
    if (!store.list()) return 2;
    tvtest::send_line("ready");
    if (tvtest::receive_line() != "go") return 3;
    int conflicts = 0;
    for (int done = 0; done < count;) {
        auto current = store.get_entry(tvtest::id_for(0));
        if (!current || !*current) return 4;
        const auto value = std::stoull(std::string((*current)->token.access_token.reveal()));
        auto swapped =
            store.compare_and_swap(tvtest::id_for(0), (*current)->generation, counter_token(value + 1));
        if (swapped) {
            ++done;
        } else if (swapped.error() == tv::errc::conflict) {
            ++conflicts;
        } else {
            tvtest::send_line("err " + swapped.error().message());
            return 5;
        }
    }
    tvtest::send_line("done " + std::to_string(conflicts) + " handed " +
                      std::to_string(store.diagnostics().read().handed_over));
    return 0;
}

// ------------------------------------------------------------------------------------------------------

TEST_SUITE("unit") {
    TEST_CASE("group commit: four writers waiting for the lock are saved by one replacement of the file") {
        tvtest::temp_dir dir;
        store_type store(options_for(dir.path()));
        REQUIRE(store.put(tvtest::id_for(99), tvtest::sample_token("first")));
        constexpr int writers = 4;
        auto children = start_writers(dir.path(), {0, 1, 2, 3});

        // Hold the store lock, let the four writers post their changes and wait, then let go.
        const auto before = store.backend().status().seal_counter;
        lock_while_posting(dir.path(), writers, [&] {
            for (auto& c : children) c.send("put");
        }).release();

        std::set<std::uint64_t> generations;
        std::uint64_t handed = 0;
        for (auto& c : children) {
            const auto line = c.receive(60s);
            REQUIRE(line);
            CAPTURE(*line);
            REQUIRE(line->rfind("ok ", 0) == 0);
            generations.insert(std::stoull(line->substr(3)));
            handed += std::stoull(line->substr(line->find("handed ") + 7));
        }
        for (auto& c : children) CHECK(c.wait() == 0);
        CHECK(generations.size() == writers);           // each its own generation
        CHECK(handed == writers - 1);                   // the first to take the lock saved the other three
        CHECK(seal_counter(dir.path()) == before + 1);  // in one replacement of the file
        CHECK(files_with(dir.path(), ".intent-") == 0);
        CHECK(files_with(dir.path(), ".claimed-") == 0);
        for (int i = 0; i < writers; ++i) {
            auto got = store.get_entry(tvtest::id_for(i));
            REQUIRE(got);
            REQUIRE(got->has_value());
            CHECK((*got)->token.access_token == tvtest::sample_token("gc" + std::to_string(i)).access_token);
            CHECK(generations.count((*got)->generation) == 1);
        }

        // Erases hand over too, and say whether they removed a token.
        children = start_writers(dir.path(), {0, 7});
        lock_while_posting(dir.path(), 2, [&] {
            for (auto& c : children) c.send("erase");
        }).release();
        CHECK(children[0].receive(60s).value_or("").rfind("ok 1 ", 0) == 0);  // id 0 was there
        CHECK(children[1].receive(60s).value_or("").rfind("ok 0 ", 0) == 0);  // id 7 never was
        auto gone = store.get(tvtest::id_for(0));
        REQUIRE(gone);
        CHECK_FALSE(gone->has_value());

        // The outcome records go with the next save, once their posters have read them.
        REQUIRE(store.put(tvtest::id_for(98), tvtest::sample_token("later")));
        CHECK(files_with(dir.path(), ".claimed-") == 0);
    }

    TEST_CASE("group commit: a copy of an applied intent put back is not applied again") {
        tvtest::temp_dir dir;
        store_type store(options_for(dir.path()));
        REQUIRE(store.put(tvtest::id_for(99), tvtest::sample_token("first")));
        constexpr int writers = 3;
        auto children = start_writers(dir.path(), {0, 1, 2});
        auto held = lock_while_posting(dir.path(), writers, [&] {
            for (auto& c : children) c.send("put");
        });
        const auto copies = dir.path() / "copies";
        fs::create_directory(copies);
        for (const auto& e : fs::directory_iterator(dir.path() / "store"))
            if (e.path().filename().string().find(".intent-") != std::string::npos)
                fs::copy_file(e.path(), copies / e.path().filename());
        held.release();
        for (auto& c : children) REQUIRE(c.receive(60s).value_or("").rfind("ok ", 0) == 0);
        for (auto& c : children) CHECK(c.wait() == 0);
        std::vector<std::uint64_t> generations;
        for (int i = 0; i < writers; ++i)
            generations.push_back((*store.get_entry(tvtest::id_for(i)))->generation);

        // Put all three back: the two the first writer saved for the others have outcomes recorded and are
        // not applied again; the first writer's own (it applied it itself: no outcome) is, once.
        for (const auto& e : fs::directory_iterator(copies))
            fs::copy_file(e.path(), dir.path() / "store" / e.path().filename());
        store_type holder(options_for(dir.path()));  // its first write looks for intents, as a contended one
        REQUIRE(holder.put(tvtest::id_for(98), tvtest::sample_token("holder")));
        CHECK(holder.diagnostics().read().handed_over == 1);
        int unchanged = 0;
        for (int i = 0; i < writers; ++i)
            if ((*store.get_entry(tvtest::id_for(i)))->generation == generations[static_cast<std::size_t>(i)])
                ++unchanged;
        CHECK(unchanged == writers - 1);
    }

    TEST_CASE("group commit: compare-and-swap increments from 6 processes; none lost, none applied twice") {
        tvtest::temp_dir dir;
        store_type store(options_for(dir.path()));
        REQUIRE(store.put(tvtest::id_for(0), counter_token(0)));
        constexpr int processes = 6;
        constexpr int each = 25;
        std::vector<tvtest::child> children;
        for (int i = 0; i < processes; ++i)
            children.push_back(
                tvtest::child::start("incrementer", {dir.path().string(), std::to_string(each)}));
        for (auto& c : children) REQUIRE(c.receive(60s) == "ready");
        for (auto& c : children) c.send("go");
        std::uint64_t handed = 0;
        for (auto& c : children) {
            const auto line = c.receive(120s);
            REQUIRE(line);
            CAPTURE(*line);
            REQUIRE(line->rfind("done ", 0) == 0);
            handed += std::stoull(line->substr(line->find("handed ") + 7));
        }
        for (auto& c : children) CHECK(c.wait() == 0);
        auto final_value = store.get(tvtest::id_for(0));
        REQUIRE(final_value);
        REQUIRE(final_value->has_value());
        CHECK((*final_value)->access_token.reveal() == std::to_string(processes * each));
        // Each try, successful or not, is one change; waiting writers had theirs saved by another process.
        CHECK(handed > 0);
        MESSAGE("compare-and-swaps saved by another process (conflicts included): " << handed);
    }

    TEST_CASE("group commit: a waiter whose wait times out withdraws its change; nothing of it is saved") {
        tvtest::temp_dir dir;
        store_type store(options_for(dir.path()));
        REQUIRE(store.put(tvtest::id_for(99), tvtest::sample_token("first")));
        auto writers = start_writers(dir.path(), {5}, "300");
        auto& writer = writers.front();
        tv::locking::process lock;
        tv::locking::wait_report report;
        auto held = lock.lock_store(*store.backend().lock_path(), 10s, report);
        REQUIRE(held);
        writer.send("put");
        const auto line = writer.receive(60s);
        REQUIRE(line);
        CHECK(line->rfind("err " + std::to_string(tv::make_error_code(tv::errc::lock_timeout).value()), 0) ==
              0);
        CHECK(writer.wait() == 0);
        CHECK(files_with(dir.path(), ".intent-") == 0);  // withdrawn
        held->release();
        store_type holder(options_for(dir.path()));  // its first write looks for intents, as a contended one
        REQUIRE(holder.put(tvtest::id_for(98), tvtest::sample_token("holder")));
        CHECK(holder.diagnostics().read().handed_over == 0);  // nothing to find
        auto got = store.get(tvtest::id_for(5));
        REQUIRE(got);
        CHECK_FALSE(got->has_value());
    }

    TEST_CASE(
        "group commit: changes claimed by a holder that died before saving are applied by their posters") {
        tvtest::temp_dir dir;
        store_type store(options_for(dir.path()));
        REQUIRE(store.put(tvtest::id_for(99), tvtest::sample_token("first")));
        auto writers = start_writers(dir.path(), {6});
        auto& writer = writers.front();
        auto held = lock_while_posting(dir.path(), 1, [&] { writer.send("put"); });
        // What a holder killed between claiming and saving leaves: the intent claimed, no outcome saved.
        for (const auto& e : fs::directory_iterator(dir.path() / "store")) {
            auto name = e.path().filename().string();
            if (const auto at = name.find(".intent-"); at != std::string::npos) {
                name.replace(at, 8, ".claimed-");
                fs::rename(e.path(), e.path().parent_path() / name);
            }
        }
        held.release();
        const auto line = writer.receive(60s);
        REQUIRE(line);
        CHECK(line->rfind("ok ", 0) == 0);
        CHECK(line->find(" handed 0") != std::string::npos);
        CHECK(files_with(dir.path(), ".claimed-") == 0);
        auto got = store.get(tvtest::id_for(6));
        REQUIRE(got);
        REQUIRE(got->has_value());
        CHECK((*got)->access_token == tvtest::sample_token("gc6").access_token);
    }

    TEST_CASE("group commit: an intent file that does not open is never applied") {
        tvtest::temp_dir dir;
        store_type store(options_for(dir.path()));
        REQUIRE(store.put(tvtest::id_for(99), tvtest::sample_token("first")));
        const auto store_dir = dir.path() / "store";
        const std::string prefix = ".tokens.sealed.intent-";
        const std::string garbage = "TVINTENT1 not really";
        REQUIRE(tv::platform::create_private_file(store_dir / (prefix + "0000000000000001"),
                                                  std::as_bytes(std::span(garbage.data(), garbage.size()))));

        // A real intent of another store (another data key), copied here; and, in that other store, the
        // same intent under another name (its name is sealed in).
        tvtest::temp_dir other;
        store_type foreign(options_for(other.path()));
        REQUIRE(foreign.put(tvtest::id_for(99), tvtest::sample_token("other")));
        auto writers = start_writers(other.path(), {5});
        auto& writer = writers.front();
        auto held = lock_while_posting(other.path(), 1, [&] { writer.send("put"); });
        CHECK(writer.kill() == tvtest::killed_exit_code);
        for (const auto& e : fs::directory_iterator(other.path() / "store")) {
            if (e.path().filename().string().find(".intent-") == std::string::npos) continue;
            fs::copy_file(e.path(), store_dir / (prefix + "0000000000000002"));
            fs::rename(e.path(), e.path().parent_path() / (prefix + "0000000000000003"));
        }
        held.release();

        // A store's first write looks for intents, as a contended write does.
        const auto counter = store.backend().status().seal_counter;
        store_type holder(options_for(dir.path()));
        REQUIRE(holder.put(tvtest::id_for(98), tvtest::sample_token("holder")));
        CHECK(holder.diagnostics().read().handed_over == 0);
        CHECK(holder.backend().status().seal_counter == counter + 1);
        CHECK(files_with(dir.path(), ".intent-") == 2);  // left alone until stale

        store_type foreign_holder(options_for(other.path()));
        REQUIRE(foreign_holder.put(tvtest::id_for(98), tvtest::sample_token("holder")));
        CHECK(foreign_holder.diagnostics().read().handed_over == 0);
        auto got = foreign_holder.get(tvtest::id_for(5));
        REQUIRE(got);
        CHECK_FALSE(got->has_value());

        // Files nobody will settle go once stale: 10 minutes after their deadline or, when they do not open,
        // after their last write.
        const auto claimed = store_dir / ".tokens.sealed.claimed-0000000000000004";
        REQUIRE(tv::platform::create_private_file(claimed,
                                                  std::as_bytes(std::span(garbage.data(), garbage.size()))));
        const auto long_ago = fs::file_time_type::clock::now() - 11min;
        fs::last_write_time(claimed, long_ago);
        fs::last_write_time(store_dir / (prefix + "0000000000000001"), long_ago);
        store_type cleaner(options_for(dir.path()));
        REQUIRE(cleaner.put(tvtest::id_for(97), tvtest::sample_token("holder")));
        CHECK_FALSE(fs::exists(claimed));
        CHECK_FALSE(fs::exists(store_dir / (prefix + "0000000000000001")));
        CHECK(fs::exists(store_dir / (prefix + "0000000000000002")));  // recent: left to its writer
    }

    TEST_CASE(
        "intent text: what the reader accepts, the writer writes back equal; the reader refuses the rest") {
        using tv::detail::intent;
        using tv::detail::intent_kind;
        const intent put{intent_kind::put, tvtest::id_for(3), tvtest::sample_token("p"), 0, 1700000000000};
        auto text = tv::detail::write_intent_text(put);
        REQUIRE(text);
        auto back = tv::detail::read_intent_text(std::string_view(text->data(), text->size()));
        REQUIRE(back);
        CHECK(back->kind == intent_kind::put);
        CHECK(back->id.hash() == put.id.hash());
        CHECK(*back->value == *put.value);
        CHECK(back->deadline_ms == put.deadline_ms);

        const intent cas{intent_kind::erase_if, tvtest::id_for(4), std::nullopt, 17, 5};
        text = tv::detail::write_intent_text(cas);
        REQUIRE(text);
        back = tv::detail::read_intent_text(std::string_view(text->data(), text->size()));
        REQUIRE(back);
        CHECK(back->kind == intent_kind::erase_if);
        CHECK(back->expected_generation == 17);
        CHECK_FALSE(back->value);

        const auto refused = [](std::string_view t) { return tv::detail::read_intent_text(t).code(); };
        const std::string head =
            R"({"format":"tokenvault-intent","version":1,"kind":"erase","resource":"https://a.example/mcp",)";
        CHECK(refused(head + R"("expected_generation":0,"deadline_ms":1})") == std::error_code{});
        CHECK(refused(head + R"("expected_generation":0,"deadline_ms":1,"extra":1})") ==
              tv::make_error_code(tv::errc::invalid_argument));
        CHECK(refused(head + R"("expected_generation":9223372036854775808,"deadline_ms":1})") ==
              tv::make_error_code(tv::errc::value_out_of_range));
        CHECK(refused(head + R"("expected_generation":0,"deadline_ms":9007199254740993})") ==
              tv::make_error_code(tv::errc::value_out_of_range));
        CHECK(refused(head + R"("expected_generation":0})") == tv::make_error_code(tv::errc::missing_field));
        CHECK(refused(head + R"("expected_generation":0,"expected_generation":1,"deadline_ms":1})") ==
              tv::make_error_code(tv::errc::invalid_argument));
        CHECK(refused(R"({"format":"tokenvault-intent","version":2})") ==
              tv::make_error_code(tv::errc::unsupported_format_version));
        CHECK(refused(head + R"("expected_generation":0,"deadline_ms":1,"token":{"access_token":"a"}})") ==
              tv::make_error_code(tv::errc::invalid_argument));  // an erase carries no token
        CHECK(refused(std::string(70, '[')) != std::error_code{});
    }
}

}  // namespace test_group_commit
