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
