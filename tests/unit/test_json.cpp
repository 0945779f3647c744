// tests/unit/test_json.cpp: the token schema (one reader, one writer) and the bundle format, including every
// kind of bad input, per-entry isolation, and the bundle reader held to a document parse.
#include <doctest/doctest.h>

#include <tokenvault/json.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "../support/tokens.hpp"

namespace test_json {  // unity builds put several test files in one translation unit

using namespace tokenvault;
using nlohmann::json;

namespace {

std::string text_of(const detail::secure_buffer& b) { return std::string(b.view()); }

const std::string header = R"({"format":"tokenvault-bundle","version":1,)";

/// A bundle whose entries object is `entries` (raw JSON members).
std::string bundle_with(const std::string& entries, const std::string& top = R"("last_generation":9,)") {
    return header + top + R"("entries":{)" + entries + "}}";
}

/// A stored entry of credential `n` with the given token JSON.
std::string entry_text(int n, const std::string& token_text, std::uint64_t generation = 2) {
    return "\"" + tvtest::id_for(n).hash() + R"(":{"resource":")" + tvtest::id_for(n).resource() +
           R"(","generation":)" + std::to_string(generation) + R"(,"token":)" + token_text + "}";
}

}  // namespace

TEST_CASE("a token round-trips through the one writer and the one reader, unknown fields kept") {
    const auto t = tvtest::sample_token("json");
    auto text = serialize_token(t);
    REQUIRE(text.has_value());
    const auto doc = json::parse(text->view());
    CHECK(doc.at("expires_at").get<std::string>().back() == 'Z');
    CHECK(doc.at("custom_field") == "kept");
    auto back = parse_token(text->view());
    REQUIRE(back.has_value());
    CHECK(*back == t);
    CHECK(back->extra.at("custom_field") == "kept");
}

TEST_CASE("expiry is accepted as RFC 3339, unix seconds, unix milliseconds and expires_in") {
    using namespace std::chrono;
    const auto expected = clock::time_point{seconds{1795392000}};  // 2026-11-23T00:00:00Z
    CHECK(parse_token(R"({"access_token":"a","expires_at":"2026-11-23T00:00:00Z"})")->expires_at == expected);
    CHECK(parse_token(R"({"access_token":"a","expires_at":"2026-11-23T01:00:00+01:00"})")->expires_at ==
          expected);
    CHECK(parse_token(R"({"access_token":"a","expires_at":1795392000})")->expires_at == expected);
    CHECK(parse_token(R"({"access_token":"a","expires_at":1795392000000})")->expires_at == expected);
    CHECK(parse_token(R"({"access_token":"a","expires_in":3600})", {expected - hours{1}})->expires_at ==
          expected);
    CHECK_FALSE(parse_token(R"({"access_token":"a"})")->expires_at.has_value());  // unknown, not expired
    const auto fractional = parse_token(R"({"access_token":"a","expires_at":"2026-11-23T00:00:00.250Z"})");
    CHECK(fractional->expires_at == expected + milliseconds{250});
    CHECK(detail::format_rfc3339(*fractional->expires_at) == "2026-11-23T00:00:00.25Z");
    // A leap second reads as the next second; an offset is applied to the time point.
    CHECK(parse_token(R"({"access_token":"a","expires_at":"2026-11-22T23:59:60Z"})")->expires_at == expected);
    CHECK(parse_token(R"({"access_token":"a","expires_at":"2026-11-22T00:00:00-23:59"})")->expires_at ==
          expected - minutes{1});
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
        {R"({"access_token":"a",)", errc::malformed_json, "JSON"},
        {R"({})", errc::missing_field, "access_token"},
        {R"({"access_token":""})", errc::missing_field, "access_token"},
        {R"({"access_token":42})", errc::wrong_type, "access_token"},
        {R"({"access_token":"a","refresh_token":{}})", errc::wrong_type, "refresh_token"},
        {R"({"access_token":"a","expires_at":"tomorrow"})", errc::wrong_type, "expires_at"},
        {R"({"access_token":"a","expires_at":"2026-13-01T00:00:00Z"})", errc::wrong_type, "expires_at"},
        {R"({"access_token":"a","expires_at":"2026-11-01T00:00:00+24:00"})", errc::wrong_type, "expires_at"},
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
    const std::string huge = R"({"access_token":")" + std::string(100u << 20, 'x') + "\"}";
    CHECK(parse_token(huge).code() == errc::too_large);
    const std::string big_secret = R"({"access_token":")" + std::string(33u << 10, 'x') + "\"}";
    CHECK(parse_token(big_secret).code() == errc::too_large);
    const std::string huge_bundle(65u << 20, ' ');
    CHECK(parse_bundle(huge_bundle).code() == errc::too_large);
}

TEST_CASE("a bundle round-trips, and a bundle whose own fields are wrong is refused whole") {
    bundle b;
    const auto id = tvtest::id_for(7);
    b.entries.emplace(id.hash(),
                      entry{id, tvtest::sample_token("b"), 3, clock::now(), {{"future_field", 1}}});
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
    CHECK(back->unreadable.empty());

    CHECK(parse_bundle("{not json").code() == errc::malformed_json);
    CHECK(parse_bundle("[]").code() == errc::wrong_type);
    CHECK(parse_bundle(R"({"format":"other","version":1,"entries":{}})").code() == errc::wrong_type);
    CHECK(parse_bundle(R"({"format":"tokenvault-bundle","entries":{}})").code() == errc::missing_field);
    CHECK(parse_bundle(R"({"format":"tokenvault-bundle","version":99,"entries":{}})").code() ==
          errc::unsupported_format_version);
    CHECK(parse_bundle(R"({"format":"tokenvault-bundle","version":1})").code() == errc::missing_field);
    // Text that is not JSON inside one entry is framing: the whole bundle is refused.
    CHECK(parse_bundle(bundle_with(entry_text(1, R"({"access_token":"a"})") + R"(,"x":{"a":})")).code() ==
          errc::malformed_json);
}

TEST_CASE("an entry that breaks the schema is isolated: kept verbatim, never served, the others load") {
    const std::string good = entry_text(1, R"({"access_token":"good"})", 4);
    struct bad_case {
        std::string entry;
        errc code;
    };
    const std::string h2 = tvtest::id_for(2).hash();
    const bad_case cases[] = {
        {entry_text(2, R"({"access_token":"a","expires_at":"2201-01-01T00:00:00Z"})"),
         errc::value_out_of_range},
        {entry_text(2, R"({"access_token":"a","expires_at":"1969-12-31T23:59:59Z"})"),
         errc::value_out_of_range},
        {entry_text(2, R"({"access_token":"a","new_kind_of_expiry":{"x":1},"expires_at":{"in":5}})"),
         errc::wrong_type},
        {entry_text(2, R"({"access_token":""})"), errc::missing_field},
        {entry_text(2, R"({"access_token":"a"})", 0), errc::value_out_of_range},
        {entry_text(2, R"({"access_token":"a"})", std::uint64_t{1} << 63), errc::value_out_of_range},
        {"\"" + h2 +
             R"(":{"resource":"https://mcp.example.com:x:443/mcp","generation":1,"token":{"access_token":"a"}})",
         errc::invalid_url},
        {"\"" + h2 +
             R"(":{"resource":"https://other.example.com/","generation":1,"token":{"access_token":"a"}})",
         errc::invalid_argument},
        {"\"" + h2 + R"(":[1,2,3])", errc::wrong_type},
        {"\"" + h2 + R"(":{"resource":"https://mcp2.example.com/mcp","generation":1})", errc::missing_field},
        {entry_text(2, R"({"access_token":"a","deep":)" + std::string(64, '[') + std::string(64, ']') + "}"),
         errc::too_large},
    };
    for (const auto& c : cases) {
        CAPTURE(c.entry);
        const auto text = bundle_with(good + "," + c.entry);
        auto parsed = parse_bundle(text);
        REQUIRE(parsed.has_value());
        CHECK(parsed->entries.size() == 1);
        CHECK(parsed->entries.at(tvtest::id_for(1).hash()).token.access_token.reveal() == "good");
        REQUIRE(parsed->unreadable.size() == 1);
        const auto& kept = parsed->unreadable.begin()->second;
        CHECK(kept.why == c.code);
        CHECK(kept.why.message().find("good") == std::string::npos);
        // Written back byte for byte, and read back the same way.
        auto again = serialize_bundle(*parsed);
        REQUIRE(again.has_value());
        CHECK(text_of(*again).find(std::string(kept.text.data(), kept.text.size())) != std::string::npos);
        auto reread = parse_bundle(again->view());
        REQUIRE(reread.has_value());
        CHECK(reread->unreadable.size() == 1);
        CHECK(reread->unreadable.begin()->second.text == kept.text);
        CHECK(reread->entries.size() == 1);
    }
    // 63 levels inside a token are kept: the limit counts the token object as level 1.
    const auto deepest =
        entry_text(2, R"({"access_token":"a","deep":)" + std::string(63, '[') + std::string(63, ']') + "}");
    CHECK(parse_bundle(bundle_with(good + "," + deepest))->entries.size() == 2);
}

TEST_CASE("a readable entry replaces an unreadable one with its key, and unreadable generations count") {
    const auto id = tvtest::id_for(2);
    const auto text =
        bundle_with(entry_text(2, R"({"access_token":"a","expires_at":"2300-01-01T00:00:00Z"})", 41), "");
    auto b = parse_bundle(text);
    REQUIRE(b.has_value());
    CHECK(b->last_generation == 41);  // no generation is handed out twice, even around an unreadable entry
    REQUIRE(b->unreadable.count(id.hash()) == 1);
    b->entries.emplace(id.hash(), entry{id, tvtest::sample_token("new"), 42, clock::now(), {}});
    b->last_generation = 42;
    auto written = serialize_bundle(*b);
    REQUIRE(written.has_value());
    const auto back = parse_bundle(written->view());
    REQUIRE(back.has_value());
    CHECK(back->unreadable.empty());
    CHECK(back->entries.at(id.hash()).token == tvtest::sample_token("new"));
}

TEST_CASE("last_generation at or above 2^63 is refused on read and on write") {
    for (const char* value : {"9223372036854775808", "18446744073709551615"}) {
        const auto r = parse_bundle(bundle_with("", std::string(R"("last_generation":)") + value + ","));
        CHECK(r.code() == errc::value_out_of_range);
        CHECK(r.error().message().find("2^63") != std::string::npos);
    }
    CHECK(parse_bundle(bundle_with("", R"("last_generation":9223372036854775807,)")).has_value());
    bundle b;
    b.last_generation = std::uint64_t{1} << 63;
    CHECK(serialize_bundle(b).code() == errc::value_out_of_range);
    const auto id = tvtest::id_for(1);
    bundle zero;
    zero.entries.emplace(id.hash(), entry{id, tvtest::sample_token("z"), 0, clock::now(), {}});
    CHECK(serialize_bundle(zero).code() == errc::value_out_of_range);  // generation 0 means "absent"
}

TEST_CASE("the bundle writer escapes every string and refuses what the reader would refuse") {
    bundle b;
    const auto id = tvtest::id_for(8);
    token t = tvtest::sample_token("esc");
    t.issuer = "quote\" backslash\\ unicode \xc3\xa9 \xf0\x9f\x94\x91";
    t.extra["weird key \"\\"] = {{"nested", "a\nb"}, {"n", 1.5}, {"whole", 2.0}, {"neg", -3}, {"big", 1e300}};
    b.entries.emplace(id.hash(), entry{id, t, 1, clock::now(), {}});
    auto text = serialize_bundle(b);
    REQUIRE(text.has_value());
    CHECK(nlohmann::json::accept(text->view()));
    auto back = parse_bundle(text->view());
    REQUIRE(back.has_value());
    CHECK(back->entries.at(id.hash()).token == t);
    CHECK(back->entries.at(id.hash()).token.extra.at("weird key \"\\").at("whole").is_number_float());

    for (const char* bad : {"\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xff"}) {
        CAPTURE(std::string(bad).size());
        token invalid = tvtest::sample_token("utf8");
        invalid.issuer = std::string("x") + bad;
        CHECK(validate(invalid).code() == errc::invalid_argument);
        bundle with_bad;
        with_bad.entries.emplace(id.hash(), entry{id, invalid, 1, clock::now(), {}});
        CHECK(serialize_bundle(with_bad).code() == errc::invalid_argument);
    }
    // Values an unknown field cannot carry through JSON text.
    for (int which = 0; which < 4; ++which) {
        CAPTURE(which);
        token odd = tvtest::sample_token("odd");
        extra_json deep = extra_json::array();
        for (int i = 0; i < 70; ++i) deep = extra_json::array({deep});
        switch (which) {
        case 0: odd.extra["x"] = std::numeric_limits<double>::infinity(); break;
        case 1: odd.extra["x"] = std::nan(""); break;
        case 2: odd.extra["x"] = deep; break;
        default: odd.extra[std::string("bad\xff")] = 1; break;
        }
        CHECK(validate(odd).code() == errc::invalid_argument);
        bundle with_odd;
        with_odd.entries.emplace(id.hash(), entry{id, odd, 1, clock::now(), {}});
        CHECK_FALSE(serialize_bundle(with_odd).has_value());
    }
    // An update time the reader would refuse (a clock beyond 2200).
    bundle late;
    late.entries.emplace(id.hash(),
                         entry{id, t, 1, clock::time_point{std::chrono::seconds{9'000'000'000}}, {}});
    CHECK(serialize_bundle(late).code() == errc::value_out_of_range);
}

TEST_CASE("expiries that would overflow the clock are refused, not wrapped") {
    CHECK(parse_token(R"({"access_token":"a","expires_at":999999999999999})").code() ==
          errc::value_out_of_range);
    CHECK(parse_token(R"({"access_token":"a","expires_at":9000000000})").code() == errc::value_out_of_range);
    CHECK(parse_token(R"({"access_token":"a","expires_at":"9999-01-01T00:00:00Z"})").code() ==
          errc::value_out_of_range);
    CHECK(parse_token(R"({"access_token":"a","expires_at":"0001-01-01T00:00:00Z"})").code() ==
          errc::value_out_of_range);
    CHECK(parse_token(R"({"access_token":"a","expires_in":1e12})", {clock::now()}).code() ==
          errc::value_out_of_range);
    CHECK(parse_token(R"({"access_token":"a","expires_at":"2199-12-31T23:59:59Z"})").has_value());
    CHECK(parse_token(R"({"access_token":"a","expires_at":"2200-01-01T00:00:00Z"})").has_value());
    CHECK(parse_token(R"({"access_token":"a","expires_at":"2200-01-01T00:00:00.000000001Z"})").code() ==
          errc::value_out_of_range);
    token far = tvtest::sample_token("far");
    far.expires_at = clock::time_point{std::chrono::seconds{8'000'000'000}};
    CHECK(validate(far).code() == errc::value_out_of_range);
}

// ---------------------------------------------------------------------------------------------------
// parse_bundle reads with its own strict cursor (detail/json_cursor.hpp). These tests hold it to an
// independent reading of the same rules: nlohmann::json::parse of the whole text, then the schema applied
// to the document, entry by entry, with an entry that breaks it set aside as unreadable.
namespace {

/// Nesting of arrays and objects in `v` (a scalar: 0), walked without recursion.
std::size_t depth_of(const json& v) {
    std::size_t deepest = 0;
    std::vector<std::pair<const json*, std::size_t>> todo{{&v, v.is_structured() ? 1 : 0}};
    while (!todo.empty()) {
        auto [node, depth] = todo.back();
        todo.pop_back();
        deepest = std::max(deepest, depth);
        if (node->is_structured())
            for (const auto& child : *node)
                todo.emplace_back(&child, child.is_structured() ? depth + 1 : depth);
    }
    return deepest;
}

extra_json to_extra(const json& v) { return extra_json::parse(v.dump()); }

result<std::optional<clock::time_point>> reference_time(const json& v, const std::string& name) {
    if (v.is_null()) return std::optional<clock::time_point>{};
    if (v.is_string()) {
        detail::time_text_problem problem{};
        auto tp = detail::parse_rfc3339(v.get<std::string>(), &problem);
        if (!tp)
            return error{problem == detail::time_text_problem::out_of_range ? errc::value_out_of_range
                                                                            : errc::wrong_type,
                         name};
        return std::optional<clock::time_point>{*tp};
    }
    if (v.is_number()) {
        auto tp = detail::time_from_unix_number(v.get<double>());
        if (!tp) return error{errc::value_out_of_range, name};
        return std::optional<clock::time_point>{*tp};
    }
    return error{errc::wrong_type, name};
}

result<token> reference_token(const json& doc) {
    if (!doc.is_object()) return error{errc::wrong_type, "reference"};
    token t;
    const auto text = [&](const char* name, std::size_t limit) -> result<std::optional<std::string>> {
        const auto f = doc.find(name);
        if (f == doc.end() || f->is_null()) return std::optional<std::string>{};
        if (!f->is_string()) return error{errc::wrong_type, name};
        if (f->get_ref<const std::string&>().size() > limit) return error{errc::too_large, name};
        return std::optional<std::string>{f->get<std::string>()};
    };
    auto access = text("access_token", token_limits::max_secret_length);
    if (!access) return access.error();
    if (!*access) return error{errc::missing_field, "access_token"};
    t.access_token = secret_string{**access};
    for (const char* name : {"refresh_token", "client_secret", "id_token"}) {
        auto v = text(name, token_limits::max_secret_length);
        if (!v) return v.error();
        auto& field = std::string_view(name) == "refresh_token"   ? t.refresh_token
                      : std::string_view(name) == "client_secret" ? t.client_secret
                                                                  : t.id_token;
        if (*v && !(std::string_view(name) == "refresh_token" && (*v)->empty())) field = secret_string{**v};
    }
    for (const char* name : {"token_type", "issuer", "client_id"}) {
        auto v = text(name, token_limits::max_text_length);
        if (!v) return v.error();
        auto& field = std::string_view(name) == "token_type" ? t.token_type
                      : std::string_view(name) == "issuer"   ? t.issuer
                                                             : t.client_id;
        field = v->value_or("");
        if (std::string_view(name) == "token_type" && field.empty()) field = "Bearer";
    }
    if (const auto at = doc.find("expires_at"); at != doc.end()) {
        auto tp = reference_time(*at, "expires_at");
        if (!tp) return tp.error();
        t.expires_at = *tp;
    } else if (const auto in = doc.find("expires_in"); in != doc.end() && !in->is_null()) {
        if (!in->is_number()) return error{errc::wrong_type, "expires_in"};
        if (!(in->get<double>() >= 0) || in->get<double>() > 1e9)
            return error{errc::value_out_of_range, "expires_in"};
        return error{errc::missing_field, "issued_at"};  // a stored token has no issue time
    }
    if (const auto in = doc.find("expires_in"); in != doc.end() && !in->is_null() && !in->is_number())
        return error{errc::wrong_type, "expires_in"};
    auto scope =
        text("scope", token_limits::max_text_length * token_limits::max_scopes);  // checked even if unused
    if (!scope) return scope.error();
    if (const auto s = doc.find("scopes"); s != doc.end() && !s->is_null()) {
        if (!s->is_array()) return error{errc::wrong_type, "scopes"};
        for (const auto& one : *s) {
            if (!one.is_string()) return error{errc::wrong_type, "scopes"};
            t.scopes.push_back(one.get<std::string>());
        }
    } else if (*scope) {
        detail::append_scopes(**scope, t.scopes);
    }
    for (auto it = doc.begin(); it != doc.end(); ++it) {
        if (detail::is_token_field(it.key())) continue;
        if (depth_of(it.value()) > detail::max_member_depth) return error{errc::too_large, "depth"};
        t.extra[it.key()] = to_extra(it.value());
    }
    TOKENVAULT_TRY(validate(t));
    return t;
}

result<entry> reference_entry(const std::string& key, const json& item) {
    if (!item.is_object()) return error{errc::wrong_type, "entry"};
    const auto resource = item.find("resource");
    if (resource != item.end() && !resource->is_string()) return error{errc::wrong_type, "resource"};
    std::string account;
    if (const auto a = item.find("account"); a != item.end()) {
        if (!a->is_string()) return error{errc::wrong_type, "account"};
        account = a->get<std::string>();
    }
    const auto generation = item.find("generation");
    if (generation != item.end() && !generation->is_number_unsigned())
        return error{errc::wrong_type, "generation"};
    clock::time_point updated{};
    if (const auto u = item.find("updated_at"); u != item.end()) {
        auto parsed = reference_time(*u, "updated_at");
        if (!parsed) return parsed.error();
        if (*parsed) updated = **parsed;
    }
    std::optional<token> tok;
    if (const auto t = item.find("token"); t != item.end()) {
        auto parsed = reference_token(*t);
        if (!parsed) return parsed.error();
        tok = std::move(*parsed);
    }
    extra_json extra = extra_json::object();
    for (auto f = item.begin(); f != item.end(); ++f) {
        if (f.key() == "resource" || f.key() == "account" || f.key() == "generation" ||
            f.key() == "updated_at" || f.key() == "token")
            continue;
        if (depth_of(f.value()) > detail::max_member_depth) return error{errc::too_large, "depth"};
        extra[f.key()] = to_extra(f.value());
    }
    if (resource == item.end()) return error{errc::missing_field, "resource"};
    auto id = credential_id::parse(resource->get<std::string>(), account);
    if (!id) return id.error();
    if (id->hash() != key) return error{errc::invalid_argument, "key"};
    if (generation == item.end()) return error{errc::missing_field, "generation"};
    const auto g = generation->get<std::uint64_t>();
    if (g == 0 || g >= generation_limit) return error{errc::value_out_of_range, "generation"};
    if (!tok) return error{errc::missing_field, "token"};
    return entry{std::move(*id), std::move(*tok), g, updated, std::move(extra)};
}

result<bundle> reference_parse_bundle(std::string_view text) {
    const auto doc = json::parse(text, nullptr, false);
    if (doc.is_discarded()) return error{errc::malformed_json, "reference"};
    if (!doc.is_object()) return error{errc::wrong_type, "reference"};
    for (auto it = doc.begin(); it != doc.end(); ++it)
        if (it.key() != "format" && it.key() != "version" && it.key() != "last_generation" &&
            it.key() != "entries" && depth_of(it.value()) > detail::max_member_depth)
            return error{errc::too_large, "reference"};
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
        if (out.last_generation >= generation_limit) return error{errc::value_out_of_range, "reference"};
    }
    for (auto it = entries->begin(); it != entries->end(); ++it) {
        auto e = reference_entry(it.key(), it.value());
        std::uint64_t g = 0;
        if (e) {
            g = e->generation;
            out.entries.emplace(it.key(), std::move(*e));
        } else {
            const auto dumped = it.value().dump();
            out.unreadable.emplace(
                it.key(), unreadable_entry{detail::secret_text(dumped.data(), dumped.size()), e.error()});
            if (const auto kept = it.value(); kept.is_object())
                if (const auto f = kept.find("generation"); f != kept.end() && f->is_number_unsigned())
                    g = f->get<std::uint64_t>() < generation_limit ? f->get<std::uint64_t>() : 0;
        }
        out.last_generation = std::max(out.last_generation, g);
    }
    for (auto it = doc.begin(); it != doc.end(); ++it)
        if (it.key() != "format" && it.key() != "version" && it.key() != "last_generation" &&
            it.key() != "entries")
            out.extra[it.key()] = to_extra(it.value());
    return out;
}

bool same_bundle(const bundle& a, const bundle& b) {
    if (a.last_generation != b.last_generation || a.extra != b.extra ||
        a.entries.size() != b.entries.size() || a.unreadable.size() != b.unreadable.size())
        return false;
    for (const auto& [hash, e] : a.entries) {
        const auto found = b.entries.find(hash);
        if (found == b.entries.end()) return false;
        const auto& f = found->second;
        if (!(e.id == f.id) || !(e.token == f.token) || e.token.extra != f.token.extra ||
            e.generation != f.generation || e.updated_at != f.updated_at || e.extra != f.extra)
            return false;
    }
    for (const auto& [key, u] : a.unreadable) {
        const auto found = b.unreadable.find(key);
        if (found == b.unreadable.end()) return false;
        // The same JSON value (ours is the text as stored, the reference's a re-serialization).
        if (json::parse(u.text) != json::parse(found->second.text)) return false;
    }
    return true;
}

/// Both readers accept `text` with the same result, or both refuse it (with the same code when
/// `same_code`; then also the same reasons for unreadable entries).
void check_agrees(const std::string& text, bool same_code) {
    const auto ours = parse_bundle(text);
    const auto theirs = reference_parse_bundle(text);
    CAPTURE(text);
    REQUIRE(ours.has_value() == theirs.has_value());
    if (ours && theirs) {
        CHECK(same_bundle(*ours, *theirs));
        if (same_code)
            for (const auto& [key, u] : ours->unreadable)
                CHECK(u.why.code == theirs->unreadable.at(key).why.code);
    } else if (same_code) {
        CHECK(ours.error().code == theirs.error().code);
    }
}

std::string small_bundle_text() {
    bundle b;
    const auto id = tvtest::id_for(3);
    token t = tvtest::sample_token("mut");
    t.issuer = "https://issuer.example/\u00e9\"\\";
    t.extra["nested"] = {{"a", extra_json::array({1, -2, 3.5, true, nullptr, "x\ny"})}};
    b.entries.emplace(id.hash(), entry{id, t, 7, clock::now(), {{"note", {{"k", 1}}}}});
    b.last_generation = 9;
    b.extra["top"] = extra_json::array();
    return std::string(serialize_bundle(b)->view());
}

}  // namespace

TEST_CASE("parse_bundle reads what a document parse reads, in every layout") {
    const auto text = small_bundle_text();
    check_agrees(text, true);
    const auto doc = json::parse(text);
    check_agrees(doc.dump(2), true);              // indented
    check_agrees(doc.dump(-1, ' ', true), true);  // \u escapes for everything
    json reordered = json::object();              // entries before the header
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
    const std::string prefix = R"({"format":"tokenvault-bundle","version":1,"entries":{")" +
                               tvtest::id_for(1).hash() +
                               R"(":{"resource":"https://mcp1.example.com/mcp","generation":2,"token":)";
    for (const char* token_text :
         {R"({"access_token":"a"})",
          R"({"access_token":"a","token_type":null,"refresh_token":""})",
          R"({"access_token":"a\u0000b"})",
          R"({"access_token":"\ud83d\udd11","scope":"a  b c"})",
          R"({"access_token":"a","scopes":null,"scope":"x y"})",
          R"({"access_token":"a","scopes":["x"],"scope":"y"})",
          R"({"access_token":"a","expires_at":null,"expires_in":5})",
          R"({"access_token":"a","expires_in":5})",
          R"({"access_token":"a","expires_in":null})",
          R"({"access_token":"a","expires_at":1795392000.5})",
          R"({"access_token":"a","expires_at":-1})",
          R"({"access_token":"a","expires_at":1e400})",
          R"({"access_token":"a","expires_at":-1e-400})",
          R"({"access_token":"a","expires_at":"2026-11-23T01:00:00.25+01:00"})",
          R"({"access_token":"a","issuer":5})",
          R"({"access_token":"a","expires_at":"2200-12-31T23:59:60Z"})",
          R"({"access_token":"a","expires_at":"1600-01-01T00:00:00Z"})",
          R"({"access_token":null})",
          R"({"token_type":"Bearer"})",
          R"({"access_token":"a","scopes":[1]})",
          R"({"access_token":"a","client_secret":"","id_token":null,"custom":{"deep":[[[[]]]]}})",
          R"([])",
          "null",
          R"({"access_token":"a","extra":-0,"big":18446744073709551616,"neg":-9223372036854775809})"}) {
        check_agrees(prefix + token_text + "}}}", true);
    }
    for (const char* entry_tail :
         {R"(,"generation":-1)", R"(,"generation":1.0)", R"(,"generation":"1")", R"(,"generation":0)",
          R"(,"generation":9223372036854775808)", R"(,"account":5)", R"(,"account":"alice")",
          R"(,"updated_at":true)", R"(,"updated_at":1795392000)", R"(,"updated_at":"2201-01-01T00:00:00Z")",
          R"(,"resource":null)", R"(,"kept":{"a":[]})"}) {
        check_agrees(prefix + R"({"access_token":"a"})" + entry_tail + "}}}", true);
    }
    for (const char* top :
         {R"({"format":"tokenvault-bundle","version":1,"entries":{},"last_generation":-1})",
          R"({"format":"tokenvault-bundle","version":1,"entries":{},"last_generation":18446744073709551615})",
          R"({"format":"tokenvault-bundle","version":1.0,"entries":{}})",
          R"({"format":"tokenvault-bundle","version":-3,"entries":{}})",
          R"({"format":"tokenvault-bundle","version":1,"entries":[]})", R"({})", R"("text")",
          R"({"format":"tokenvault-bundle","version":1,"entries":{"a":5}})"}) {
        check_agrees(top, true);
    }
    // Depth: 63 levels below an object are kept, 64 are not (the token, the entry, the bundle alike).
    for (const std::size_t levels : {std::size_t{63}, std::size_t{64}}) {
        const std::string deep = std::string(levels, '[') + std::string(levels, ']');
        check_agrees(prefix + R"({"access_token":"a","deep":)" + deep + "}}}}", true);
        check_agrees(prefix + R"({"access_token":"a"},"deep":)" + deep + "}}}", true);
        check_agrees(R"({"format":"tokenvault-bundle","version":1,"entries":{},"deep":)" + deep + "}", true);
    }
}

TEST_CASE("parse_bundle refuses and isolates exactly what a document parse does, on every damaged text") {
    // Every one-byte deletion, replacement and truncation of a small bundle: both readers agree on
    // accepting or refusing, on the content when they accept, and on which entries they set aside.
    const auto text = small_bundle_text();
    static constexpr char replacements[] = {'"', '\\', '{', '}',    '[',    ']',    ',',    ':', '0', '-',
                                            'e', 'x',  ' ', '\x01', '\x7f', '\xc3', '\xff', 'u', 'n'};
    std::size_t isolated = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        check_agrees(text.substr(0, i), false);
        check_agrees(text.substr(0, i) + text.substr(i + 1), false);
        for (const char r : replacements) {
            std::string changed = text;
            changed[i] = r;
            check_agrees(changed, false);
            if (auto b = parse_bundle(changed); b && !b->unreadable.empty()) ++isolated;
        }
    }
    CHECK(isolated > 100);  // the isolation rule is exercised, not only whole refusals
}

TEST_CASE("the bundle reader never recurses: deep values are refused or skipped iteratively") {
    const std::string deep = std::string(100000, '[') + std::string(100000, ']');
    const std::string text = R"({"format":"tokenvault-bundle","version":1,"entries":{},"deep":)" + deep + "}";
    CHECK(parse_bundle(text).code() == errc::too_large);
    CHECK(parse_bundle(R"({"format":"tokenvault-bundle","version":1,"entries":{},"deep":)" +
                       std::string(100000, '['))
              .code() == errc::malformed_json);
    // Inside an entry: isolated, and its text written back as it was.
    const auto inside = bundle_with(entry_text(1, R"({"access_token":"a","deep":)" + deep + "}"));
    auto parsed = parse_bundle(inside);
    REQUIRE(parsed.has_value());
    CHECK(parsed->unreadable.size() == 1);
    CHECK(parsed->unreadable.begin()->second.why == errc::too_large);
    auto again = serialize_bundle(*parsed);
    REQUIRE(again.has_value());
    CHECK(again->size() > 200000);
}

namespace {

// A bundle of `n` entries as the store writes them: tvtest::id_for(i) holds sample_token("v<i>"),
// generation i + 1.
bundle numbered_bundle(int n) {
    bundle b;
    for (int i = 0; i < n; ++i) {
        const auto id = tvtest::id_for(i);
        b.entries.emplace(id.hash(), entry{id,
                                           tvtest::sample_token("v" + std::to_string(i)),
                                           static_cast<std::uint64_t>(i + 1),
                                           clock::now(),
                                           {}});
    }
    b.last_generation = static_cast<std::uint64_t>(n);
    return b;
}

}  // namespace

TEST_CASE("a bundle is written again by copying the text of entries that did not change") {
    bundle b = numbered_bundle(3);
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
    CHECK(
        parse_bundle(std::string_view(fresh->text.data(), fresh->text.size()))->entries.at(untouched).token ==
        tvtest::sample_token("not-a-store-write"));
    CHECK(detail::parse_bundle_text("{not json", record).code() == errc::malformed_json);
    CHECK(record.entries.empty());
    CHECK(record.text.empty());
}

TEST_CASE("a re-read takes over the held entries whose text is unchanged, and parses every other one") {
    const bundle b = numbered_bundle(4);
    auto first = detail::write_bundle_text(b);
    REQUIRE(first.has_value());
    detail::bundle_text record;
    auto held = detail::parse_bundle_text(std::string_view(first->text.data(), first->text.size()), record);
    REQUIRE(held.has_value());

    // Another writer's version: entry 1 written again (new generation), entry 2 edited by hand with its
    // generation unchanged, entry 3 removed, entry 4 added; entry 0 untouched.
    bundle next = *held;
    const auto h0 = tvtest::id_for(0).hash(), h1 = tvtest::id_for(1).hash(), h2 = tvtest::id_for(2).hash(),
               h3 = tvtest::id_for(3).hash(), h4 = tvtest::id_for(4).hash();
    next.entries.at(h1).token = tvtest::sample_token("new");
    next.entries.at(h1).generation = ++next.last_generation;
    next.entries.at(h1).updated_at += std::chrono::seconds(1);
    next.entries.erase(h3);
    next.entries.emplace(
        h4, entry{tvtest::id_for(4), tvtest::sample_token("v4"), ++next.last_generation, clock::now(), {}});
    auto written = detail::write_bundle_text(next, &record);
    REQUIRE(written.has_value());
    std::string text(written->text.data(), written->text.size());
    const std::string old_value = R"("access_token":"at-v2")";
    const auto at = text.find(old_value);
    REQUIRE(at != std::string::npos);
    text.replace(at, old_value.size(), R"("access_token":"hand-edit")");

    // The held bundle is marked: an entry taken over keeps the mark, an entry parsed again does not.
    // (No store write alters an entry without a new generation: the mark only shows which path ran.)
    bundle marked = *held;
    for (auto& [hash, e] : marked.entries) e.token.token_type = "Marked";
    const detail::reusable_entries reuse{record, marked};
    detail::bundle_text fresh_record;
    auto reread =
        detail::parse_owned_bundle_text(detail::secret_text(text.data(), text.size()), fresh_record, &reuse);
    REQUIRE(reread.has_value());
    auto plain = parse_bundle(text);
    REQUIRE(plain.has_value());
    REQUIRE(reread->entries.size() == 4);
    CHECK(reread->entries.at(h0).token.token_type == "Marked");  // unchanged text: taken over
    CHECK(plain->entries.at(h0).token.token_type == "Bearer");
    CHECK(reread->entries.at(h1).token == tvtest::sample_token("new"));        // new generation: parsed
    CHECK(reread->entries.at(h2).token.access_token.reveal() == "hand-edit");  // same generation, new bytes
    CHECK(reread->entries.at(h4).token == tvtest::sample_token("v4"));
    CHECK(reread->entries.count(h3) == 0);
    CHECK(reread->last_generation == plain->last_generation);
    // The new record describes the new text, and serves the next write.
    for (const auto& [hash, e] : reread->entries) {
        const auto span = fresh_record.find(hash, e);
        REQUIRE(span.has_value());
        CHECK(json::parse(*span).at("generation") == e.generation);
    }

    // An entry whose held generation no longer matches the record is parsed, whatever its bytes.
    marked.entries.at(h0).generation = 99;
    detail::bundle_text other_record;
    auto strict =
        detail::parse_owned_bundle_text(detail::secret_text(text.data(), text.size()), other_record, &reuse);
    REQUIRE(strict.has_value());
    CHECK(strict->entries.at(h0).token.token_type == "Bearer");
    CHECK(strict->entries.at(h2).token.token_type == "Bearer");
    // A text that does not parse leaves the record empty, reuse or not.
    CHECK(
        detail::parse_owned_bundle_text(detail::secret_text("{\"entries\":{"), other_record, &reuse).code() ==
        errc::malformed_json);
    CHECK(other_record.entries.empty());
}

}  // namespace test_json
