// tests/unit/test_json.cpp: JSON mapping of tokens and bundles, including every kind of bad input.
#include <doctest/doctest.h>

#include <tokenvault/json.hpp>

#include <string>

#include "../support/tokens.hpp"

using namespace tokenvault;
using nlohmann::json;

namespace {
result<token> parse_token(std::string_view text, token_json_options options = {}) {
    auto doc = json::parse(text, nullptr, false);
    if (doc.is_discarded()) return error{errc::malformed_json, "test"};
    return token_from_json(doc, options);
}
}  // namespace

TEST_CASE("a token round-trips through JSON with unknown fields preserved") {
    const auto t = tvtest::sample_token("json");
    auto doc = token_to_json(t);
    CHECK(doc.at("expires_at").get<std::string>().back() == 'Z');
    auto back = token_from_json(doc);
    REQUIRE(back.has_value());
    CHECK(*back == t);
    CHECK(back->extra.at("custom_field") == "kept");
    detail::scrub(doc);
    CHECK(doc.at("access_token").get<std::string>().empty());
}

TEST_CASE("expiry is accepted as RFC 3339, unix seconds, unix milliseconds and expires_in") {
    using namespace std::chrono;
    const auto expected = clock::time_point{seconds{1795392000}};  // 2026-11-23T00:00:00Z
    CHECK(parse_token(R"({"access_token":"a","expires_at":"2026-11-23T00:00:00Z"})")->expires_at == expected);
    CHECK(parse_token(R"({"access_token":"a","expires_at":"2026-11-23T01:00:00+01:00"})")->expires_at == expected);
    CHECK(parse_token(R"({"access_token":"a","expires_at":1795392000})")->expires_at == expected);
    CHECK(parse_token(R"({"access_token":"a","expires_at":1795392000000})")->expires_at == expected);
    CHECK(parse_token(R"({"access_token":"a","expires_in":3600})", {expected - hours{1}})->expires_at == expected);
    CHECK_FALSE(parse_token(R"({"access_token":"a"})")->expires_at.has_value());  // unknown, not expired
    const auto fractional = parse_token(R"({"access_token":"a","expires_at":"2026-11-23T00:00:00.250Z"})");
    CHECK(fractional->expires_at == expected + milliseconds{250});
    CHECK(detail::format_rfc3339(*fractional->expires_at) == "2026-11-23T00:00:00.25Z");
}

TEST_CASE("scope strings and scope arrays both map to scopes") {
    CHECK(parse_token(R"({"access_token":"a","scope":"read  write"})")->scopes ==
          std::vector<std::string>{"read", "write"});
    CHECK(parse_token(R"({"access_token":"a","scopes":["x"]})")->scopes == std::vector<std::string>{"x"});
}

TEST_CASE("bad token JSON gives a typed error naming the field") {
    struct bad_case {
        const char* json;
        errc code;
        const char* mentions;
    };
    const bad_case cases[] = {
        {R"([1,2])", errc::wrong_type, "object"},
        {R"({})", errc::missing_field, "access_token"},
        {R"({"access_token":""})", errc::missing_field, "access_token"},
        {R"({"access_token":42})", errc::wrong_type, "access_token"},
        {R"({"access_token":"a","refresh_token":{}})", errc::wrong_type, "refresh_token"},
        {R"({"access_token":"a","expires_at":"tomorrow"})", errc::wrong_type, "expires_at"},
        {R"({"access_token":"a","expires_at":"2026-13-01T00:00:00Z"})", errc::wrong_type, "expires_at"},
        {R"({"access_token":"a","expires_at":-5})", errc::value_out_of_range, "expires_at"},
        {R"({"access_token":"a","expires_at":true})", errc::wrong_type, "expires_at"},
        {R"({"access_token":"a","expires_in":-1})", errc::value_out_of_range, "expires_in"},
        {R"({"access_token":"a","expires_in":"soon"})", errc::wrong_type, "expires_in"},
        {R"({"access_token":"a","expires_in":60})", errc::missing_field, "issued_at"},
        {R"({"access_token":"a","scopes":"read"})", errc::wrong_type, "scopes"},
        {R"({"access_token":"a","scopes":[1]})", errc::wrong_type, "scopes"},
        {R"({"access_token":"a","scope":7})", errc::wrong_type, "scope"},
        {R"({"access_token":"a\u0000b"})", errc::invalid_argument, "access_token"},
        {R"({"access_token":"a","token_type":"Bea\u0000rer"})", errc::invalid_argument, "token_type"},
        {R"({"access_token":"a","issuer":5})", errc::wrong_type, "issuer"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.json);
        auto r = parse_token(c.json);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.code() == c.code);
        CHECK(r.error().message().find(c.mentions) != std::string::npos);
    }
}

TEST_CASE("a 100 MB token is refused without being stored") {
    json doc = {{"access_token", std::string(100u << 20, 'x')}};
    auto r = token_from_json(doc);
    CHECK(r.code() == errc::too_large);
    const std::string huge_bundle(65u << 20, ' ');
    CHECK(parse_bundle(huge_bundle).code() == errc::too_large);
}

TEST_CASE("a bundle round-trips, and malformed bundles are refused whole") {
    bundle b;
    const auto id = tvtest::id_for(7);
    b.entries.emplace(id.hash(), entry{id, tvtest::sample_token("b"), 3, clock::now(), {{"future_field", 1}}});
    b.last_generation = 3;
    b.extra["written_by"] = "a future version";
    auto text = serialize_bundle(b);
    REQUIRE(text.has_value());
    auto back = parse_bundle(text->view());
    REQUIRE(back.has_value());
    REQUIRE(back->entries.size() == 1);
    const auto& e = back->entries.at(id.hash());
    CHECK(e.token == tvtest::sample_token("b"));
    CHECK(e.generation == 3);
    CHECK(e.extra.at("future_field") == 1);
    CHECK(back->extra.at("written_by") == "a future version");
    CHECK(back->last_generation == 3);

    CHECK(parse_bundle("{not json").code() == errc::malformed_json);
    CHECK(parse_bundle("[]").code() == errc::wrong_type);
    CHECK(parse_bundle(R"({"format":"other","version":1,"entries":{}})").code() == errc::wrong_type);
    CHECK(parse_bundle(R"({"format":"tokenvault-bundle","entries":{}})").code() == errc::missing_field);
    CHECK(parse_bundle(R"({"format":"tokenvault-bundle","version":99,"entries":{}})").code() ==
          errc::unsupported_format_version);
    CHECK(parse_bundle(R"({"format":"tokenvault-bundle","version":1})").code() == errc::missing_field);
    const std::string wrong_key = R"({"format":"tokenvault-bundle","version":1,"entries":{"abc":{"resource":"https://a.example/","generation":1,"token":{"access_token":"x"}}}})";
    CHECK(parse_bundle(wrong_key).code() == errc::corrupt_file);
    const std::string bad_url = R"({"format":"tokenvault-bundle","version":1,"entries":{"abc":{"resource":"not a url","generation":1,"token":{"access_token":"x"}}}})";
    CHECK(parse_bundle(bad_url).code() == errc::invalid_url);
}

TEST_CASE("the bundle writer escapes every string and refuses invalid UTF-8") {
    bundle b;
    const auto id = tvtest::id_for(8);
    token t = tvtest::sample_token("esc");
    t.issuer = "quote\" backslash\\ unicode \xc3\xa9 \xf0\x9f\x94\x91";
    t.extra["weird key \"\\"] = {{"nested", "a\nb"}, {"n", 1.5}};
    b.entries.emplace(id.hash(), entry{id, t, 1, clock::now(), {}});
    auto text = serialize_bundle(b);
    REQUIRE(text.has_value());
    CHECK(nlohmann::json::accept(text->view()));
    auto back = parse_bundle(text->view());
    REQUIRE(back.has_value());
    CHECK(back->entries.at(id.hash()).token == t);

    for (const char* bad : {"\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xff"}) {
        CAPTURE(std::string(bad).size());
        token invalid = tvtest::sample_token("utf8");
        invalid.issuer = std::string("x") + bad;
        CHECK(validate(invalid).code() == errc::invalid_argument);
        bundle with_bad;
        with_bad.entries.emplace(id.hash(), entry{id, invalid, 1, clock::now(), {}});
        CHECK(serialize_bundle(with_bad).code() == errc::invalid_argument);
    }
}

TEST_CASE("expiries that would overflow the clock are refused, not wrapped") {
    CHECK(parse_token(R"({"access_token":"a","expires_at":999999999999999})").code() == errc::value_out_of_range);
    CHECK(parse_token(R"({"access_token":"a","expires_at":9000000000})").code() == errc::value_out_of_range);
    CHECK(parse_token(R"({"access_token":"a","expires_at":"9999-01-01T00:00:00Z"})").code() == errc::wrong_type);
    CHECK(parse_token(R"({"access_token":"a","expires_in":1e12})", {clock::now()}).code() == errc::value_out_of_range);
    CHECK(parse_token(R"({"access_token":"a","expires_at":"2199-12-31T23:59:59Z"})").has_value());
}

// ---------------------------------------------------------------------------------------------------
// parse_bundle reads with its own strict cursor (detail/json_cursor.hpp). These tests hold it to the
// behaviour of a document parse: nlohmann::json::parse of the whole text, then token_from_json per entry.
namespace {

result<bundle> reference_parse_bundle(std::string_view text) {
    auto doc = json::parse(text, nullptr, false);
    const detail::scrub_on_exit scrub_doc{doc};
    if (doc.is_discarded()) return error{errc::malformed_json, "reference"};
    if (!doc.is_object()) return error{errc::wrong_type, "reference"};
    const auto format = doc.find("format");
    if (format == doc.end() || !format->is_string() || *format != bundle_format_name)
        return error{errc::wrong_type, "reference"};
    const auto version = doc.find("version");
    if (version == doc.end() || !version->is_number_integer()) return error{errc::missing_field, "reference"};
    if (version->is_number_unsigned() ? version->get<std::uint64_t>() > 1 : version->get<std::int64_t>() > 1)
        return error{errc::unsupported_format_version, "reference"};
    const auto entries = doc.find("entries");
    if (entries == doc.end() || !entries->is_object()) return error{errc::missing_field, "reference"};
    bundle out;
    if (const auto c = doc.find("last_generation"); c != doc.end()) {
        if (!c->is_number_unsigned()) return error{errc::wrong_type, "reference"};
        out.last_generation = c->get<std::uint64_t>();
    }
    for (auto it = entries->begin(); it != entries->end(); ++it) {
        const auto& item = it.value();
        if (!item.is_object()) return error{errc::wrong_type, "reference"};
        const auto resource = item.find("resource");
        if (resource == item.end() || !resource->is_string()) return error{errc::missing_field, "reference"};
        std::string account;
        if (const auto a = item.find("account"); a != item.end()) {
            if (!a->is_string()) return error{errc::wrong_type, "reference"};
            account = a->get<std::string>();
        }
        auto id = credential_id::parse(resource->get_ref<const std::string&>(), account);
        if (!id) return id.error();
        if (id->hash() != it.key()) return error{errc::corrupt_file, "reference"};
        const auto generation = item.find("generation");
        if (generation == item.end() || !generation->is_number_unsigned()) return error{errc::missing_field, "reference"};
        const auto token_doc = item.find("token");
        if (token_doc == item.end()) return error{errc::missing_field, "reference"};
        auto tok = token_from_json(*token_doc);
        if (!tok) return tok.error();
        clock::time_point updated{};
        if (const auto u = item.find("updated_at"); u != item.end()) {
            auto parsed = detail::expiry_field(*u, "updated_at");
            if (!parsed) return parsed.error();
            if (*parsed) updated = **parsed;
        }
        json extra = json::object();
        for (auto f = item.begin(); f != item.end(); ++f)
            if (f.key() != "resource" && f.key() != "account" && f.key() != "generation" && f.key() != "updated_at" &&
                f.key() != "token")
                extra[f.key()] = f.value();
        out.last_generation = std::max(out.last_generation, generation->get<std::uint64_t>());
        out.entries.emplace(it.key(), entry{std::move(*id), std::move(*tok), generation->get<std::uint64_t>(), updated,
                                            std::move(extra)});
    }
    for (auto it = doc.begin(); it != doc.end(); ++it)
        if (it.key() != "format" && it.key() != "version" && it.key() != "last_generation" && it.key() != "entries")
            out.extra[it.key()] = it.value();
    return out;
}

bool same_bundle(const bundle& a, const bundle& b) {
    if (a.last_generation != b.last_generation || a.extra != b.extra || a.entries.size() != b.entries.size())
        return false;
    for (const auto& [hash, e] : a.entries) {
        const auto found = b.entries.find(hash);
        if (found == b.entries.end()) return false;
        const auto& f = found->second;
        if (!(e.id == f.id) || !(e.token == f.token) || e.token.extra != f.token.extra || e.generation != f.generation ||
            e.updated_at != f.updated_at || e.extra != f.extra)
            return false;
    }
    return true;
}

/// Both parsers accept `text` with the same result, or both refuse it (with the same code when `same_code`).
void check_agrees(const std::string& text, bool same_code) {
    const auto ours = parse_bundle(text);
    const auto theirs = reference_parse_bundle(text);
    CAPTURE(text);
    REQUIRE(ours.has_value() == theirs.has_value());
    if (ours && theirs) {
        CHECK(same_bundle(*ours, *theirs));
    } else if (same_code) {
        CHECK(ours.error().code == theirs.error().code);
    }
}

std::string small_bundle_text() {
    bundle b;
    const auto id = tvtest::id_for(3);
    token t = tvtest::sample_token("mut");
    t.issuer = "https://issuer.example/\u00e9\"\\";
    t.extra["nested"] = {{"a", json::array({1, -2, 3.5, true, nullptr, "x\ny"})}};
    b.entries.emplace(id.hash(), entry{id, t, 7, clock::now(), {{"note", {{"k", 1}}}}});
    b.last_generation = 9;
    b.extra["top"] = json::array();
    return std::string(serialize_bundle(b)->view());
}

}  // namespace

TEST_CASE("parse_bundle reads what a document parse reads, in every layout") {
    const auto text = small_bundle_text();
    check_agrees(text, true);
    const auto doc = json::parse(text);
    check_agrees(doc.dump(2), true);                                       // indented
    check_agrees(doc.dump(-1, ' ', true), true);                           // \u escapes for everything
    json reordered = json::object();                                       // entries before the header
    reordered["entries"] = doc["entries"];
    std::string moved = reordered.dump();
    moved.pop_back();
    moved += R"(,"version":1,"format":"tokenvault-bundle","last_generation":9,"top":[]})";
    check_agrees(moved, true);
    json future = json::parse(moved);
    future["version"] = 2;  // a newer format is reported as such, whatever its entries look like
    future["entries"] = {{"x", 1}};
    CHECK(parse_bundle(future.dump()).code() == errc::unsupported_format_version);

    // Field forms a stored token may take.
    const std::string prefix = R"({"format":"tokenvault-bundle","version":1,"entries":{")" + tvtest::id_for(1).hash() +
                               R"(":{"resource":"https://mcp1.example.com/mcp","generation":2,"token":)";
    for (const char* token_text :
         {R"({"access_token":"a"})", R"({"access_token":"a","token_type":null,"refresh_token":""})",
          R"({"access_token":"a\u0000b"})", R"({"access_token":"\ud83d\udd11","scope":"a  b c"})",
          R"({"access_token":"a","scopes":null,"scope":"x y"})", R"({"access_token":"a","scopes":["x"],"scope":"y"})",
          R"({"access_token":"a","expires_at":null,"expires_in":5})", R"({"access_token":"a","expires_in":5})",
          R"({"access_token":"a","expires_in":null})", R"({"access_token":"a","expires_at":1795392000.5})",
          R"({"access_token":"a","expires_at":-1})", R"({"access_token":"a","expires_at":1e400})", R"({"access_token":"a","expires_at":-1e-400})",
          R"({"access_token":"a","expires_at":"2026-11-23T01:00:00.25+01:00"})", R"({"access_token":"a","issuer":5})",
          R"({"access_token":null})", R"({"token_type":"Bearer"})", R"({"access_token":"a","scopes":[1]})",
          R"({"access_token":"a","client_secret":"","id_token":null,"custom":{"deep":[[[[]]]]}})", R"([])", "null",
          R"({"access_token":"a","extra":-0,"big":18446744073709551616,"neg":-9223372036854775809})"}) {
        check_agrees(prefix + token_text + "}}}", true);
    }
    for (const char* entry_tail : {R"(,"generation":-1)", R"(,"generation":1.0)", R"(,"generation":"1")",
                                   R"(,"account":5)", R"(,"account":"alice")", R"(,"updated_at":true)",
                                   R"(,"updated_at":1795392000)", R"(,"resource":null)", R"(,"kept":{"a":[]})"}) {
        check_agrees(prefix + R"({"access_token":"a"})" + entry_tail + "}}}", true);
    }
    for (const char* top : {R"({"format":"tokenvault-bundle","version":1,"entries":{},"last_generation":-1})",
                            R"({"format":"tokenvault-bundle","version":1.0,"entries":{}})",
                            R"({"format":"tokenvault-bundle","version":-3,"entries":{}})",
                            R"({"format":"tokenvault-bundle","version":1,"entries":[]})", R"({})", R"("text")",
                            R"({"format":"tokenvault-bundle","version":1,"entries":{"a":5}})"}) {
        check_agrees(top, true);
    }
}

TEST_CASE("parse_bundle refuses exactly the damaged texts a document parse refuses") {
    // Every one-byte deletion, replacement and truncation of a small bundle: both parsers agree on
    // accepting or refusing, and on the content when they accept.
    const auto text = small_bundle_text();
    static constexpr char replacements[] = {'"', '\\', '{', '}', '[', ']', ',', ':', '0', '-', 'e', 'x', ' ',
                                            '\x01', '\x7f', '\xc3', '\xff', 'u', 'n'};
    for (std::size_t i = 0; i < text.size(); ++i) {
        check_agrees(text.substr(0, i), false);
        check_agrees(text.substr(0, i) + text.substr(i + 1), false);
        for (const char r : replacements) {
            std::string changed = text;
            changed[i] = r;
            check_agrees(changed, false);
        }
    }
}

TEST_CASE("the bundle reader never recurses: deep unknown values are read iteratively") {
    const std::string deep = std::string(100000, '[') + std::string(100000, ']');
    const std::string text = R"({"format":"tokenvault-bundle","version":1,"entries":{},"deep":)" + deep + "}";
    auto parsed = parse_bundle(text);
    REQUIRE(parsed.has_value());
    CHECK(parsed->extra.at("deep").is_array());
    CHECK(parse_bundle(R"({"format":"tokenvault-bundle","version":1,"entries":{},"deep":)" + std::string(100000, '[')).code() ==
          errc::malformed_json);
}

TEST_CASE("a bundle is written again by copying the text of entries that did not change") {
    bundle b;
    for (int i = 0; i < 3; ++i) {
        const auto id = tvtest::id_for(i);
        b.entries.emplace(id.hash(), entry{id, tvtest::sample_token("v" + std::to_string(i)),
                                           static_cast<std::uint64_t>(i + 1), clock::now(), {}});
    }
    b.last_generation = 3;
    auto first = detail::write_bundle_text(b);
    REQUIRE(first.has_value());

    // Read back with positions: every recorded span is exactly its entry's object.
    detail::bundle_text record;
    auto parsed = detail::parse_bundle_text(std::string_view(first->text.data(), first->text.size()), record);
    REQUIRE(parsed.has_value());
    REQUIRE(record.entries.size() == 3);
    for (const auto& [hash, e] : parsed->entries) {
        const auto span = record.find(hash, e);
        REQUIRE(span.has_value());
        const auto object = json::parse(*span);
        CHECK(object.at("generation") == e.generation);
        CHECK(object.at("token").at("access_token") == std::string(e.token.access_token.reveal()));
    }

    // A write changes one entry the way the store does: new generation, new update time.
    const auto changed = tvtest::id_for(1).hash();
    b.entries.at(changed).token = tvtest::sample_token("new");
    b.entries.at(changed).generation = ++b.last_generation;
    b.entries.at(changed).updated_at += std::chrono::seconds(1);
    // An entry altered without a new generation is not a store write: the recorded text is kept,
    // which proves that unchanged entries are copied, not serialized again.
    const auto untouched = tvtest::id_for(2).hash();
    b.entries.at(untouched).token = tvtest::sample_token("not-a-store-write");
    auto second = detail::write_bundle_text(b, &record);
    REQUIRE(second.has_value());
    auto back = parse_bundle(std::string_view(second->text.data(), second->text.size()));
    REQUIRE(back.has_value());
    CHECK(back->entries.at(changed).token == tvtest::sample_token("new"));
    CHECK(back->entries.at(untouched).token == tvtest::sample_token("v2"));
    CHECK(back->entries.at(tvtest::id_for(0).hash()).token == tvtest::sample_token("v0"));
    CHECK(back->last_generation == 4);
    CHECK(second->entries.at(changed).generation == 4);

    // Without a record everything is serialized from the bundle.
    auto fresh = detail::write_bundle_text(b);
    REQUIRE(fresh.has_value());
    CHECK(parse_bundle(std::string_view(fresh->text.data(), fresh->text.size()))->entries.at(untouched).token ==
          tvtest::sample_token("not-a-store-write"));
    CHECK(detail::parse_bundle_text("{not json", record).code() == errc::malformed_json);
    CHECK(record.entries.empty());
    CHECK(record.text.empty());
}
