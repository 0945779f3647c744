// tests/unit/test_hostile_input.cpp: one rule for every value that enters a store, from any door.
//
// Accepted => storable => read back equal: checked as properties over generated times, URLs and token
// endpoint answers, and on the inputs that used to make a whole store unreadable: a refresh answered with
// "2200-12-31T23:59:60Z", offsets and years the clock cannot hold, mcp-remote and Codex files with odd
// dates or ids, JSON nested 60,000 deep, a last_generation of 2^64-1. Where a second process is the victim,
// the test runs real processes: the one that meets the odd value, and another whose list, put and logout
// must go on working.
#include <doctest/doctest.h>

#include <tokenvault/backend/keyring_bundle.hpp>
#include <tokenvault/backend/sealed_file.hpp>
#include <tokenvault/cipher/xchacha20poly1305.hpp>
#include <tokenvault/companion.hpp>
#include <tokenvault/diagnostics/callback.hpp>
#include <tokenvault/json.hpp>
#include <tokenvault/keyring/file.hpp>
#include <tokenvault/keyring/memory.hpp>
#include <tokenvault/lifecycle.hpp>
#include <tokenvault/locking/process.hpp>
#include <tokenvault/locking/threads.hpp>
#include <tokenvault/migration/codex.hpp>
#include <tokenvault/migration/keyring_items.hpp>
#include <tokenvault/migration/mcp_remote.hpp>
#include <tokenvault/migration/none.hpp>
#include <tokenvault/presets.hpp>
#include <tokenvault/store.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "support/forked.hpp"
#include "support/legacy.hpp"
#include "support/memory_keyring.hpp"
#include "support/oauth_test_server.hpp"
#include "support/sealed_text.hpp"
#include "support/temp_dir.hpp"
#include "support/tokens.hpp"

namespace test_hostile_input {  // unity builds put several test files in one translation unit

namespace tv = tokenvault;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

/// Replaces item `account` of the keyring::memory service of the store with options `o`.
void set_item(const tv::store_options& o, const std::string& account, const std::string& text) {
    auto c = tvtest::control_of(o);
    const std::lock_guard lock(c->mutex);
    c->items.insert_or_assign(account, tv::detail::secure_buffer::copy_of(text));
}

std::mt19937_64& rng() {
    static std::mt19937_64 engine(0x7465737473656564u);  // fixed: a failure reproduces
    return engine;
}
std::size_t pick(std::size_t n) { return static_cast<std::size_t>(rng()() % n); }
template <class T, std::size_t N>
const T& one_of(const T (&items)[N]) {
    return items[pick(N)];
}

/// A token as it goes into a bundle, through the bundle writer and reader: what a store serves later.
tv::result<tv::token> through_a_bundle(const tv::token& t) {
    tv::bundle b;
    const auto id = tvtest::id_for(1);
    b.entries.emplace(id.hash(), tv::entry{id, t, 1, tv::clock::now(), {}});
    b.last_generation = 1;
    auto text = tv::serialize_bundle(b);
    if (!text) return text.error();
    auto back = tv::parse_bundle(text->view());
    if (!back) return back.error();
    if (!back->unreadable.empty()) return back->unreadable.begin()->second.why;
    return back->entries.at(id.hash()).token;
}

/// Text of an RFC 3339 time put together from plausible and implausible pieces.
std::string generated_time_text() {
    static const char* years[] = {"0000", "0001", "1677", "1678", "1969", "1970", "2026", "2199",
                                  "2200", "2201", "2262", "2263", "9999", "20x6", "202"};
    static const char* months[] = {"01", "02", "12", "13", "00", "1"};
    static const char* days[] = {"01", "28", "29", "30", "31", "32", "00"};
    static const char* hours[] = {"00", "12", "23", "24"};
    static const char* minutes[] = {"00", "59", "60"};
    static const char* seconds[] = {"00", "59", "60", "61"};
    static const char* fractions[] = {"", "", ".5", ".000000001", ".999999999", ".1234567891234", "."};
    static const char* zones[] = {"Z",      "z",      "+00:00", "-00:00", "+23:59",
                                  "-23:59", "+24:00", "+01:60", "+5:00",  ""};
    static const char* separators[] = {"T", "t", " ", "_"};
    return std::string(one_of(years)) + "-" + one_of(months) + "-" + one_of(days) + one_of(separators) +
           one_of(hours) + ":" + one_of(minutes) + ":" + one_of(seconds) + one_of(fractions) + one_of(zones);
}

}  // namespace

TEST_CASE("times: whatever parses lies in 1970-2200 and formats back to itself (property)") {
    using namespace std::chrono;
    std::size_t accepted = 0;
    for (int i = 0; i < 200000; ++i) {
        const auto text = generated_time_text();
        CAPTURE(text);
        tv::detail::time_text_problem problem{};
        const auto tp = tv::detail::parse_rfc3339(text, &problem);
        if (!tp) {
            CHECK(problem != tv::detail::time_text_problem::none);
            continue;
        }
        ++accepted;
        REQUIRE(tv::detail::storable_time(*tp));
        REQUIRE(tv::detail::parse_rfc3339(tv::detail::format_rfc3339(*tp)) == tp);
    }
    CHECK(accepted > 1000);
    // Every storable time point, to the nanosecond, round-trips through its text.
    for (int i = 0; i < 100000; ++i) {
        const auto ns = static_cast<std::int64_t>(
            rng()() % (static_cast<std::uint64_t>(tv::detail::latest_time_seconds) * 1'000'000'000u));
        const tv::clock::time_point tp{duration_cast<tv::clock::duration>(nanoseconds{ns})};
        REQUIRE(tv::detail::parse_rfc3339(tv::detail::format_rfc3339(tp)) == tp);
    }
    // Unix numbers: accepted means storable.
    for (const double n :
         {-1.0, -0.0, 0.0, 1e11 - 1, 1e11, 7258118400.0, 7258118400.5, 7258118400000.0, 7258118400001.0,
          1e300, -1e300, std::nan(""), std::numeric_limits<double>::infinity()}) {
        CAPTURE(n);
        if (const auto tp = tv::detail::time_from_unix_number(n)) CHECK(tv::detail::storable_time(*tp));
    }
    // expires_in from any issue time: accepted means storable (no overflow near the clock's ends).
    for (const auto issued :
         {tv::clock::time_point::min(), tv::clock::time_point{}, tv::clock::now(),
          tv::clock::time_point{seconds{tv::detail::latest_time_seconds}}, tv::clock::time_point::max()}) {
        for (const double in : {0.0, 1.0, 3600.0, 1e9, 1e9 + 1, -1.0})
            if (const auto tp = tv::detail::time_after(issued, in)) CHECK(tv::detail::storable_time(*tp));
    }
}

TEST_CASE("credential ids: every canonical form is a fixed point of parse, with the same hash (property)") {
    CHECK(tv::credential_id::parse("https://mcp.example.com:x:443/mcp").code() == tv::errc::invalid_url);
    CHECK(tv::credential_id::parse("https://h:04:/").code() == tv::errc::invalid_url);
    CHECK(tv::credential_id::parse("https://h:/").code() == tv::errc::invalid_url);
    CHECK(tv::credential_id::parse("https://h:0443/").code() == tv::errc::invalid_url);
    CHECK(tv::credential_id::parse("https://[::1]:8443/mcp")->resource() == "https://[::1]:8443/mcp");
    CHECK(tv::credential_id::parse("https://[FE80::1%25eth0]/")->resource() == "https://[fe80::1%25eth0]/");
    CHECK(tv::credential_id::parse("https://[::1]x/").code() == tv::errc::invalid_url);
    CHECK(tv::credential_id::parse("https://[]/").code() == tv::errc::invalid_url);
    CHECK(tv::credential_id::parse("https://a[b]/").code() == tv::errc::invalid_url);
    CHECK(tv::credential_id::parse("https://h/\xff").code() == tv::errc::invalid_url);
    CHECK(tv::credential_id::parse("https://h/", "\xc3").code() == tv::errc::invalid_argument);
    CHECK(tv::credential_id::parse("https://" + std::string(2040, 'a')).code() == tv::errc::too_large);

    static const char* schemes[] = {"https://", "HTTP://", "http://", "ftp://", "https:/", ""};
    static const char* hosts[] = {"mcp.example.com",
                                  "MCP.Example.COM",
                                  "h",
                                  "[::1]",
                                  "[FE80::1%25en0]",
                                  "[::1",
                                  "a:b",
                                  "x_y-z.",
                                  "",
                                  "%41",
                                  "user@h",
                                  "[]",
                                  "h]",
                                  "ünï"};
    static const char* ports[] = {"",      "",       ":",      ":0", ":04", ":443",  ":80",
                                  ":8080", ":65535", ":65536", ":x", "::",  ":443:", ":00443"};
    static const char* paths[] = {"",     "/",  "/mcp", "?q=1", "#frag", "/a?b#c",
                                  "/%7E", "/ü", "//",   "/a b", "/\x01"};
    std::size_t accepted = 0;
    for (int i = 0; i < 100000; ++i) {
        std::string url = std::string(one_of(schemes)) + one_of(hosts) + one_of(ports) + one_of(paths);
        if (pick(8) == 0 && !url.empty()) url[pick(url.size())] = static_cast<char>(rng()());  // a stray byte
        const std::string account = pick(4) == 0 ? std::string("acct-") + one_of(hosts) : "";
        CAPTURE(url);
        const auto id = tv::credential_id::parse(url, account);
        if (!id) continue;
        ++accepted;
        const auto again = tv::credential_id::parse(id->resource(), id->account());
        REQUIRE(again.has_value());
        CHECK(again->resource() == id->resource());
        CHECK(again->hash() == id->hash());
    }
    CHECK(accepted > 5000);
}

TEST_CASE("token endpoint answers: accepted means storable and read back equal (property)") {
    static const char* expiries[] = {R"("expires_at":"2200-12-31T23:59:60Z")",
                                     R"("expires_at":"2200-12-31T23:59:59-23:59")",
                                     R"("expires_at":"1969-12-31T23:59:59Z")",
                                     R"("expires_at":"0001-01-01T00:00:00Z")",
                                     R"("expires_at":"1600-06-01T00:00:00Z")",
                                     R"("expires_at":"2199-12-31T23:59:60Z")",
                                     R"("expires_at":"2200-01-01T00:00:00Z")",
                                     R"("expires_at":"2199-12-31T23:00:00-00:59")",
                                     R"("expires_at":"2030-01-01T00:00:00.123456789+05:30")",
                                     R"("expires_at":7258118400)",
                                     R"("expires_at":7258118400001)",
                                     R"("expires_at":-1)",
                                     R"("expires_at":1e15)",
                                     R"("expires_at":null)",
                                     R"("expires_in":3600)",
                                     R"("expires_in":1e9)",
                                     R"("expires_in":1e10)",
                                     R"("expires_in":-5)",
                                     R"("expires_in":0.5)",
                                     R"("expires_in":"60")",
                                     ""};
    static const char* others[] = {
        R"("refresh_token":"r")",
        R"("refresh_token":"")",
        R"("scope":"a b  c")",
        R"("scopes":["a","b c"])",
        R"("token_type":"DPoP")",
        R"("issuer":"https://i.example")",
        R"("id_token":"x.y.z")",
        R"("client_secret":"\u00e9")",
        R"("x-unknown":{"a":[1,2.5,-3,true,null,"s"]})",
        R"("deep":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]])",
        R"("deeper":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]])",
        R"("n":1e308)",
        R"("w":-0.0)"};
    const tv::clock::time_point issue_times[] = {tv::clock::now(), tv::clock::time_point{},
                                                 tv::clock::time_point{std::chrono::seconds{7258118000}},
                                                 tv::clock::time_point::max()};
    std::size_t accepted = 0;
    for (int i = 0; i < 20000; ++i) {
        std::string body = R"({"access_token":"at-)" + std::to_string(i) + "\"";
        for (int k = 0, n = static_cast<int>(pick(4)); k < n; ++k) body += std::string(",") + one_of(others);
        if (const std::string e = one_of(expiries); !e.empty()) body += "," + e;
        body += "}";
        CAPTURE(body);
        const auto issued = one_of(issue_times);
        auto answer = tv::read_token_response(body, issued);
        if (answer.outcome() != tv::refresh_outcome::refreshed) {
            CHECK(answer.failure().code == tv::errc::provider_invalid_response);
            continue;
        }
        ++accepted;
        const auto& t = answer.issued();
        REQUIRE(tv::validate(t).has_value());
        auto stored = through_a_bundle(t);
        REQUIRE(stored.has_value());
        CHECK(*stored == t);
        auto text = tv::serialize_token(t);
        REQUIRE(text.has_value());
        CHECK(tv::parse_token(text->view()).value() == t);
    }
    CHECK(accepted > 2000);
}

TEST_CASE("the token endpoint examples: odd expiries are refused with a clear error, never stored") {
    const auto now = tv::clock::now();
    for (const char* expiry : {"2200-12-31T23:59:60Z", "2200-12-31T23:59:59-23:59", "1969-12-31T23:59:59Z",
                               "1677-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:60+23:59"}) {
        CAPTURE(expiry);
        const std::string body = std::string(R"({"access_token":"new","expires_at":")") + expiry + "\"}";
        const auto answer = tv::read_token_response(body, now);
        REQUIRE(answer.outcome() == tv::refresh_outcome::failed);
        CHECK(answer.failure().code == tv::errc::provider_invalid_response);
        CHECK(answer.failure().message().find("out of range") != std::string::npos);
        CHECK(answer.failure().message().find("new") == std::string::npos);
    }
    // Inside the range, the same forms are accepted exactly.
    const auto leap =
        tv::read_token_response(R"({"access_token":"new","expires_at":"2199-12-31T23:59:60Z"})", now);
    REQUIRE(leap.outcome() == tv::refresh_outcome::refreshed);
    CHECK(tv::detail::format_rfc3339(*const_cast<tv::refresh_result&>(leap).issued().expires_at) ==
          "2200-01-01T00:00:00Z");
}

TEST_CASE("JSON nested 60,000 deep is refused at every door, without recursion") {
    const std::string deep = std::string(60000, '[') + std::string(60000, ']');  // 120 KB, under 256 KiB
    const auto now = tv::clock::now();
    for (const std::string& body :
         {R"({"access_token":"a","x":)" + deep + "}", R"({"error":"invalid_grant","x":)" + deep + "}",
          R"({"error":)" + deep + "}", deep, std::string(60000, '[')}) {
        const auto answer = tv::read_token_response(body, now);
        REQUIRE(answer.outcome() == tv::refresh_outcome::failed);
        CHECK(answer.failure().code == tv::errc::provider_invalid_response);
    }
    CHECK(tv::parse_token(R"({"access_token":"a","x":)" + deep + "}").code() == tv::errc::too_large);
    CHECK(tv::detail::parse_legacy_token(R"({"access_token":"a","x":)" + deep + "}").code() ==
          tv::errc::too_large);
    // A token whose unknown field was built (not parsed) that deep is refused before it is written.
    tv::token built = tvtest::sample_token("deep");
    tv::extra_json nested = tv::extra_json::array();
    for (int i = 0; i < 1000; ++i) nested = tv::extra_json::array({std::move(nested)});
    built.extra["x"] = std::move(nested);
    CHECK(tv::validate(built).code() == tv::errc::invalid_argument);
}

// ---------------------------------------------------------------------------------------------------
// Importers: the same rule for files of other tools.
namespace {

const std::string server_a = "https://mcp.example.com/sse";
const std::string server_b = "https://b.example.com/mcp";

struct import_mcp_remote : tv::migration::mcp_remote_config {
    static fs::path base_directory(const tv::store_options& o) {
        return o.directory.parent_path() / "mcp-auth";
    }
    static std::vector<tv::migration::mcp_remote_server> servers(const tv::store_options&) {
        return {{server_a, {}, {}}, {server_b, {}, {}}};
    }
};
struct import_codex : tv::migration::codex_config {
    static fs::path home(const tv::store_options& o) { return o.directory.parent_path() / "codex-home"; }
};

template <class M>
using import_store = tv::token_store<tv::backend::memory, tv::cipher::xchacha20poly1305, tv::locking::threads,
                                     M, tv::diagnostics::callback>;

struct import_world {
    tvtest::temp_dir dir{true};
    tv::store_options options;
    std::vector<tv::events::any> events;
    import_world() { options.directory = dir.path() / "store"; }
    fs::path mcp_file(const std::string& url) const {
        return dir.path() / "mcp-auth" / "mcp-remote-0.1.37" / (tv::detail::md5_hex(url) + "_tokens.json");
    }
    fs::path codex_file() const { return dir.path() / "codex-home" / ".credentials.json"; }
    /// Imports with migration M into a fresh memory store; the entries it then holds.
    template <class M>
    std::vector<tv::entry> imported() {
        import_store<M> s(options);
        s.diagnostics().set([this](const tv::events::any& e) { events.push_back(e); });
        std::vector<tv::entry> out;
        auto listed = s.list();
        REQUIRE(listed.has_value());
        for (const auto& info : *listed) out.push_back(s.get_entry(info.id).value().value());
        return out;
    }
};

/// Every imported entry survives the bundle round trip unchanged.
void check_storable(const std::vector<tv::entry>& entries) {
    for (const auto& e : entries) {
        auto back = through_a_bundle(e.token);
        REQUIRE(back.has_value());
        CHECK(*back == e.token);
    }
}

}  // namespace

TEST_CASE("mcp-remote: dates are validated whole, and expires_in never counts from a future mtime") {
    import_world w;
    const std::vector<std::string> bad = {
        R"({"access_token":"a","expires_at":"2200-12-31T23:59:60Z"})",
        R"({"access_token":"a","expires_at":"2026-02-30T00:00:00Z"})",
        R"({"access_token":"a","expires_at":"2026-01-01T25:00:00Z"})",
        R"({"access_token":"a","expires_at":"1600-01-01T00:00:00Z"})",
        R"({"access_token":"a","expires_at":"2026x01-01T00:00:00Z"})",
        R"({"access_token":"a","expires_in":1e10})",
        R"({"access_token":"a","x":)" + std::string(60000, '[') + std::string(60000, ']') + "}"};
    for (const auto& text : bad) {
        CAPTURE(text);
        w.events.clear();
        tvtest::write_file(w.mcp_file(server_a), text);
        CHECK(w.imported<tv::migration::from_mcp_remote<import_mcp_remote>>().empty());
        CHECK(tvtest::skips(w.events, "mcp_remote") == 1);
    }
    // Only expires_in, in a file dated in 2199: the expiry counts from now, not from the file's date.
    tvtest::write_file(w.mcp_file(server_a), R"({"access_token":"a","expires_in":3600})");
    tvtest::set_mtime(w.mcp_file(server_a), 7258000000);
    const auto before = tv::clock::now();
    const auto got = w.imported<tv::migration::from_mcp_remote<import_mcp_remote>>();
    REQUIRE(got.size() == 1);
    REQUIRE(got[0].token.expires_at.has_value());
    CHECK(*got[0].token.expires_at >= before + 3600s);
    CHECK(*got[0].token.expires_at <= tv::clock::now() + 3600s);
    check_storable(got);
}

TEST_CASE("Codex: an entry whose server_url or expiry is odd is skipped, the others import storable") {
    import_world w;
    const std::string deep = std::string(60000, '[') + std::string(60000, ']');
    tvtest::write_file(w.codex_file(), R"({
      "a": {"server_name":"a","server_url":"https://mcp.example.com:x:443/mcp","access_token":"t1"},
      "b": {"server_name":"b","server_url":"https://h:04:/","access_token":"t2"},
      "c": {"server_name":"c","server_url":"https://c.example.com/","access_token":"t3","expires_at":18446744073709551615},
      "d": {"server_name":"d","server_url":"https://d.example.com/","access_token":"t4","expires_at":-1},
      "e": {"server_name":"e","server_url":"https://e.example.com/","access_token":"t5","x":)" +
                                           deep + R"(},
      "f": {"server_name":"f","server_url":"https://f.example.com/","access_token":"t6","expires_at":1795392000000,
            "scopes":["a"],"extra":{"k":[1,2]}}
    })");
    const auto got = w.imported<tv::migration::from_codex<import_codex>>();
    REQUIRE(got.size() == 2);
    check_storable(got);
    std::vector<std::string> urls;
    for (const auto& e : got) urls.push_back(e.id.resource());
    std::sort(urls.begin(), urls.end());
    CHECK(urls == std::vector<std::string>{"https://c.example.com/", "https://f.example.com/"});
    CHECK(tvtest::skips(w.events, "codex", make_error_code(tv::errc::invalid_url)) == 2);
    CHECK(tvtest::skips(w.events, "codex", make_error_code(tv::errc::wrong_type)) == 1);
    CHECK(tvtest::skips(w.events, "codex", make_error_code(tv::errc::too_large)) == 1);
    // The whole file nested that deep: refused as a file, nothing imported, no crash.
    import_world deep_file;
    tvtest::write_file(deep_file.codex_file(), "{\"a\":" + deep + "}");
    CHECK(deep_file.imported<tv::migration::from_codex<import_codex>>().empty());
}

// ---------------------------------------------------------------------------------------------------
// Counters that cannot be handed out: last_generation at 2^64-1.
TEST_CASE(
    "a last_generation of 2^64-1 is refused clearly: no generation 0, no compare_and_swap on a present "
    "entry") {
    using bundle_store =
        tv::token_store<tv::backend::keyring_bundle<tv::keyring::memory>, tv::cipher::xchacha20poly1305,
                        tv::locking::process, tv::migration::none, tv::diagnostics::none>;
    tvtest::temp_dir dir(true);
    auto o = tvtest::fresh_store_options(dir, "tv-hostile-gen-");
    const auto id = tvtest::id_for(1);
    {
        bundle_store s(o);
        REQUIRE(s.put(id, tvtest::sample_token("present")));
    }
    // The stored bundle, edited: last_generation = 2^64 - 1.
    auto text = tvtest::item_of(o, "bundle");
    const auto at = text.find("\"last_generation\":");
    REQUIRE(at != std::string::npos);
    const auto end = text.find(',', at);
    text.replace(at, end - at, "\"last_generation\":18446744073709551615");
    set_item(o, "bundle", text);
    bundle_store s(o);
    const auto put = s.put(tvtest::id_for(2), tvtest::sample_token("other"));
    REQUIRE_FALSE(put.has_value());
    CHECK(put.code() == tv::errc::value_out_of_range);
    CHECK(put.error().message().find("2^63") != std::string::npos);
    const auto swapped = s.compare_and_swap(id, 0, tvtest::sample_token("intruder"));
    REQUIRE_FALSE(swapped.has_value());
    CHECK(tvtest::item_of(o, "bundle") == text);  // left unchanged

    // At 2^63 - 1 the bundle loads; the next write would need 2^63, and is refused the same way.
    text.replace(text.find("18446744073709551615"), 20, "9223372036854775807");
    set_item(o, "bundle", text);
    bundle_store fresh(o);
    REQUIRE(fresh.get(id)->has_value());
    CHECK(fresh.put(tvtest::id_for(2), tvtest::sample_token("other")).code() == tv::errc::value_out_of_range);
    CHECK(fresh.compare_and_swap(id, 0, tvtest::sample_token("intruder")).code() == tv::errc::conflict);
    CHECK(fresh.get(id)->value() == tvtest::sample_token("present"));
}

TEST_CASE(
    "an unreadable entry survives every write of others and no-op updates; a put replaces it, an erase "
    "removes it") {
    using bundle_store =
        tv::token_store<tv::backend::keyring_bundle<tv::keyring::memory>, tv::cipher::xchacha20poly1305,
                        tv::locking::process, tv::migration::none, tv::diagnostics::callback>;
    tvtest::temp_dir dir(true);
    auto o = tvtest::fresh_store_options(dir, "tv-hostile-iso-");
    const auto odd = tvtest::id_for(1), other = tvtest::id_for(2);
    const std::string odd_entry =
        R"({"resource":")" + odd.resource() +
        R"(","generation":5,"token":{"access_token":"x","expires_at":"2201-01-01T00:00:00Z"},"future":[1]})";
    const auto seed = [&] {
        set_item(o, "bundle",
                 R"({"format":"tokenvault-bundle","version":1,"last_generation":5,"entries":{")" +
                     odd.hash() + R"(":)" + odd_entry + "}}");
    };
    seed();
    std::vector<std::string> reports;
    bundle_store s(o);
    s.diagnostics().set([&](const tv::events::any& e) {
        if (const auto* u = std::get_if<tv::events::entry_unreadable>(&e)) {
            reports.push_back(std::string(u->credential));
            CHECK(u->reason == make_error_code(tv::errc::value_out_of_range));
        }
    });
    CHECK(s.list()->empty());
    CHECK(reports == std::vector<std::string>{odd.hash()});
    CHECK_FALSE(s.get(odd)->has_value());
    const auto put = s.put(other, tvtest::sample_token("other"));
    REQUIRE(put.has_value());
    CHECK(*put == 6);  // the unreadable entry's generation still counts
    REQUIRE(s.update(odd, [](std::optional<tv::token>&) {}));  // sees "absent", changes nothing
    CHECK(tvtest::item_of(o, "bundle").find(odd_entry) != std::string::npos);
    REQUIRE(s.erase(other));
    CHECK(tvtest::item_of(o, "bundle").find(odd_entry) != std::string::npos);
    REQUIRE(s.erase(odd));  // a logout removes it
    CHECK(tvtest::item_of(o, "bundle").find(odd.hash()) == std::string::npos);

    seed();
    bundle_store again(o);
    REQUIRE(again.compare_and_swap(odd, 0, tvtest::sample_token("login")));  // a login replaces it
    CHECK(again.get(odd)->value() == tvtest::sample_token("login"));
    CHECK(tvtest::item_of(o, "bundle").find("2201") == std::string::npos);
}

// ---------------------------------------------------------------------------------------------------
// Real processes: the one that meets the odd value, and the others.
namespace {

using shared_store = tv::presets::embedded;

/// The data key of the presets::embedded store at `o` (held by keyring::file).
std::string data_key_of(const tv::store_options& o) {
    auto ring = tv::keyring::file::open(o.keyring());
    REQUIRE(ring.has_value());
    REQUIRE(ring->has_value());
    auto key = (*ring)->read("data-key");
    REQUIRE(key.has_value());
    REQUIRE(key->has_value());
    return std::string((*key)->view());
}

/// Runs list, put of another credential and logout of a third in a separate process: 0 when all worked.
int victim_process(const tv::store_options& o) {
    return tvtest::run_in_child([&] {
        shared_store s(o);
        tv::credential_manager<shared_store> m(s);
        auto listed = s.list();
        if (!listed) return 10;
        if (!s.put(tvtest::id_for(20), tvtest::sample_token("victim-put"))) return 11;
        auto out = m.logout(tvtest::id_for(3));
        if (!out || !*out) return 12;
        if (!s.get(tvtest::id_for(20))->has_value()) return 13;
        return 0;
    });
}

}  // namespace

TEST_CASE("processes: a refresh answered with 23:59:60 in 2200 is refused, and every process goes on") {
    tvtest::temp_dir dir;
    tvtest::oauth_test_server server(dir.path(), "CANARYhost");
    tv::store_options o;
    o.directory = dir.path() / "store";
    const auto id = tvtest::id_for(1);
    {
        shared_store s(o);
        tv::credential_manager<shared_store> m(s);
        REQUIRE(m.login(id, server));
        REQUIRE(s.put(tvtest::id_for(3), tvtest::sample_token("three")));
        auto t = s.get(id)->value();
        t.expires_at = tv::clock::now() - 1min;
        REQUIRE(s.put(id, t));
    }
    tvtest::server_config odd;
    odd.extra_fields = R"({"expires_at":"2200-12-31T23:59:60Z"})";
    server.configure(odd);
    // Process 1 refreshes and meets the odd answer.
    const int refresher = tvtest::run_in_child([&] {
        shared_store s(o);
        tv::credential_manager<shared_store> m(s);
        auto got = m.get_access_token(id, server);
        if (got) return 20;  // must not be accepted
        if (got.code() != make_error_code(tv::errc::provider_invalid_response)) return 21;
        return s.get(id)->has_value() ? 0 : 22;  // the stored credential was kept
    });
    CHECK(refresher == 0);
    CHECK(server.counts().refresh_calls == 1);
    // Process 2: list, put and logout work.
    CHECK(victim_process(o) == 0);
    shared_store s(o);
    // The credentials: 1 and 20 (3 was logged out); the failed refresh also left its short-lived record
    // (a companion entry, tokenvault:refresh-failure), which is not a credential.
    auto listed = s.list();
    REQUIRE(listed);
    CHECK(std::count_if(listed->begin(), listed->end(),
                        [](const tv::entry_info& e) { return !tv::is_companion(e.id); }) == 2);
}

TEST_CASE(
    "processes: an unreadable entry under a valid seal is kept, reported, and never blocks the others") {
    tvtest::temp_dir dir;
    tv::store_options o;
    o.directory = dir.path() / "store";
    const auto odd = tvtest::id_for(1);
    {
        shared_store s(o);
        REQUIRE(s.put(odd, tvtest::sample_token("odd")));
        REQUIRE(s.put(tvtest::id_for(2), tvtest::sample_token("two")));
        REQUIRE(s.put(tvtest::id_for(3), tvtest::sample_token("three")));
    }
    // What an older build wrote after accepting "2200-12-31T23:59:60Z": the entry of `odd` says 2201.
    const auto file = o.directory / o.file_name;
    const auto key = data_key_of(o);
    auto plain = tvtest::sealed_plaintext(file, key);
    const auto at = plain.find("2030-01-01T00:00:00Z", plain.find(odd.hash()));
    REQUIRE(at != std::string::npos);
    plain.replace(at, 20, "2201-01-01T00:00:00Z");
    tvtest::reseal_plaintext(file, key, plain);
    const auto entry_begin = plain.find('{', plain.find(odd.hash()));
    const auto kept_text = plain.substr(entry_begin, plain.find("}}", entry_begin) + 2 - entry_begin);

    // Another process: list, put and logout of the others work.
    CHECK(victim_process(o) == 0);

    // The entry is still there, byte for byte; it is reported with its hash and why, and never served.
    std::vector<std::string> reported;
    using watched_store =
        tv::token_store<tv::backend::sealed_file<tv::keyring::file>, tv::cipher::xchacha20poly1305,
                        tv::locking::process, tv::migration::none, tv::diagnostics::callback>;
    watched_store w(o);
    w.diagnostics().set([&](const tv::events::any& e) {
        if (const auto* u = std::get_if<tv::events::entry_unreadable>(&e))
            reported.push_back(std::string(u->credential) + " " + std::string(u->detail));
    });
    CHECK_FALSE(w.get(odd)->has_value());
    REQUIRE(reported.size() == 1);
    CHECK(reported[0].find(odd.hash()) == 0);
    CHECK(reported[0].find("expires_at") != std::string::npos);
    CHECK(reported[0].find("odd") == std::string::npos);  // no token text
    CHECK(tvtest::sealed_plaintext(file, key).find(kept_text) != std::string::npos);
    CHECK(w.list()->size() == 2);  // "two" and the victim's put; "three" was logged out

    // A login of that credential replaces it; a logout would have removed it.
    REQUIRE(w.put(odd, tvtest::sample_token("again")));
    CHECK(tvtest::sealed_plaintext(file, key).find(kept_text) == std::string::npos);
    shared_store after(o);
    CHECK(after.get(odd)->value() == tvtest::sample_token("again"));
}

}  // namespace test_hostile_input
