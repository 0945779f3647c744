// tests/unit/test_oauth_documents.cpp: the OAuth parsers and URL builders, on hostile and valid input.
//
// Protected resource and authorization server metadata (types, duplicates, size and nesting caps), the
// WWW-Authenticate parser, well-known URLs, RFC 7591 registration responses and the client record, the
// redirect request line, query and authorization response. The real-server behaviour is in tests/oauth/.
#include <doctest/doctest.h>

#include <tokenvault/oauth/discovery.hpp>
#include <tokenvault/oauth/loopback.hpp>
#include <tokenvault/oauth/metadata.hpp>
#include <tokenvault/oauth/pkce.hpp>
#include <tokenvault/oauth/registration.hpp>
#include <tokenvault/token_json.hpp>

#include <string>
#include <vector>

namespace test_oauth_documents {  // unity builds put several test files in one translation unit

namespace tv = tokenvault;
namespace oauth = tokenvault::oauth;

namespace {

std::string nested(int depth) { return std::string(depth, '[') + std::string(depth, ']'); }

/// Test-side percent-decoding (the library takes it from the transport).
tv::result<oauth::secret_text> decode(std::string_view text) {
    oauth::secret_text out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size()) {
            out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
            i += 2;
        } else {
            out += text[i];
        }
    }
    return out;
}

}  // namespace

TEST_CASE("protected resource metadata: fields, types, duplicates, caps") {
    auto ok = oauth::parse_protected_resource_metadata(
        R"({"resource":"https://mcp.example.com/mcp","authorization_servers":["https://as.example.com"],)"
        R"("scopes_supported":["mcp"],"bearer_methods_supported":["header"],"extra":{"a":[1,2,{"b":null}]}})");
    REQUIRE(ok);
    CHECK(ok->resource == "https://mcp.example.com/mcp");
    CHECK(ok->authorization_servers == std::vector<std::string>{"https://as.example.com"});
    CHECK(ok->scopes_supported == std::vector<std::string>{"mcp"});

    CHECK(oauth::parse_protected_resource_metadata(R"({"authorization_servers":[]})").error() ==
          tv::errc::missing_field);
    CHECK(oauth::parse_protected_resource_metadata(R"({"resource":7})").error() == tv::errc::wrong_type);
    CHECK(
        oauth::parse_protected_resource_metadata(R"({"resource":"a","authorization_servers":[1]})").error() ==
        tv::errc::wrong_type);
    CHECK(oauth::parse_protected_resource_metadata(R"({"resource":"a","resource":"b"})").error() ==
          tv::errc::invalid_argument);
    CHECK(oauth::parse_protected_resource_metadata(R"({"resource":"a\u0000b"})").error() ==
          tv::errc::invalid_argument);
    CHECK(oauth::parse_protected_resource_metadata("[]").error() == tv::errc::malformed_json);
    CHECK(oauth::parse_protected_resource_metadata(R"({"resource":"a",})").error() ==
          tv::errc::malformed_json);
    CHECK(oauth::parse_protected_resource_metadata(R"({"resource":"a"} x)").error() ==
          tv::errc::malformed_json);

    // Nesting: 64 levels in all are read (and skipped), 65 are refused without recursion; far deeper too.
    CHECK(oauth::parse_protected_resource_metadata(R"({"resource":"a","x":)" + nested(63) + "}"));
    auto deep = oauth::parse_protected_resource_metadata(R"({"resource":"a","x":)" + nested(64) + "}");
    REQUIRE_FALSE(deep);
    CHECK(deep.error() == tv::errc::too_large);
    CHECK(deep.error().context.find("nested deeper than 64") != std::string::npos);
    CHECK(oauth::parse_protected_resource_metadata(nested(100000)).error() == tv::errc::too_large);
    // Brackets inside strings do not count.
    CHECK(oauth::parse_protected_resource_metadata(R"({"resource":")" + std::string(100, '[') + R"("})"));

    const std::string big = R"({"resource":"a","x":")" + std::string(300 * 1024, 'x') + R"("})";
    CHECK(oauth::parse_protected_resource_metadata(big).error() == tv::errc::too_large);
    std::string many = R"({"resource":"a","authorization_servers":[)";
    for (int i = 0; i < 300; ++i) many += std::string(i ? "," : "") + "\"s\"";
    CHECK(oauth::parse_protected_resource_metadata(many + "]}").error() == tv::errc::too_large);
}

TEST_CASE("authorization server metadata") {
    auto ok = oauth::parse_authorization_server_metadata(
        R"({"issuer":"https://as.example.com","authorization_endpoint":"https://as.example.com/auth",)"
        R"("token_endpoint":"https://as.example.com/token","code_challenge_methods_supported":["plain","S256"],)"
        R"("authorization_response_iss_parameter_supported":true,"jwks_uri":"https://as.example.com/jwks"})");
    REQUIRE(ok);
    CHECK(ok->issuer == "https://as.example.com");
    CHECK(ok->code_challenge_methods_supported.size() == 2);
    CHECK(ok->authorization_response_iss_parameter_supported);
    CHECK(oauth::parse_authorization_server_metadata(R"({"token_endpoint":"x"})").error() ==
          tv::errc::missing_field);
    CHECK(oauth::parse_authorization_server_metadata(
              R"({"issuer":"a","authorization_response_iss_parameter_supported":"yes"})")
              .error() == tv::errc::wrong_type);

    // The issuer check and the endpoint rules.
    CHECK(tokenvault::detail::check_server_metadata(*ok, "https://as.example.com", true));
    CHECK(tokenvault::detail::check_server_metadata(*ok, "https://as.example.com/", true).error() ==
          tv::errc::issuer_mismatch);
    auto plain_http = *ok;
    plain_http.token_endpoint = "http://as.example.com/token";
    CHECK(tokenvault::detail::check_server_metadata(plain_http, "https://as.example.com", true).error() ==
          tv::errc::discovery_failed);
    plain_http.token_endpoint = "http://127.0.0.1:8080/token";
    CHECK(tokenvault::detail::check_server_metadata(plain_http, "https://as.example.com", true));
    CHECK_FALSE(tokenvault::detail::check_server_metadata(plain_http, "https://as.example.com", false));
}

TEST_CASE("well-known URLs and the resource check") {
    CHECK(oauth::protected_resource_metadata_urls("https://mcp.example.com/v1/mcp").value() ==
          std::vector<std::string>{"https://mcp.example.com/.well-known/oauth-protected-resource/v1/mcp",
                                   "https://mcp.example.com/.well-known/oauth-protected-resource"});
    CHECK(oauth::protected_resource_metadata_urls("https://mcp.example.com/").value() ==
          std::vector<std::string>{"https://mcp.example.com/.well-known/oauth-protected-resource"});
    CHECK(oauth::authorization_server_metadata_urls("https://as.example.com").value() ==
          std::vector<std::string>{"https://as.example.com/.well-known/oauth-authorization-server",
                                   "https://as.example.com/.well-known/openid-configuration"});
    CHECK(oauth::authorization_server_metadata_urls("https://as.example.com/tenant1").value() ==
          std::vector<std::string>{"https://as.example.com/.well-known/oauth-authorization-server/tenant1",
                                   "https://as.example.com/.well-known/openid-configuration/tenant1",
                                   "https://as.example.com/tenant1/.well-known/openid-configuration"});
    CHECK(oauth::authorization_server_metadata_urls("https://as.example.com/?q=1").error() ==
          tv::errc::invalid_url);
    CHECK(tokenvault::detail::split_url("https://user@host/", "x").error() == tv::errc::invalid_url);
    CHECK(tokenvault::detail::split_url("https://host/#frag", "x").error() == tv::errc::invalid_url);
    CHECK(tokenvault::detail::split_url("ftp://host/", "x").error() == tv::errc::invalid_url);

    CHECK(tokenvault::detail::resource_covers("https://mcp.example.com/mcp",
                                              "https://MCP.example.com:443/mcp"));
    CHECK(tokenvault::detail::resource_covers("https://mcp.example.com", "https://mcp.example.com/mcp"));
    CHECK(tokenvault::detail::resource_covers("https://mcp.example.com/", "https://mcp.example.com/mcp"));
    CHECK_FALSE(
        tokenvault::detail::resource_covers("https://mcp.example.com/m", "https://mcp.example.com/mcp"));
    CHECK_FALSE(
        tokenvault::detail::resource_covers("https://evil.example.com", "https://mcp.example.com/mcp"));
    CHECK_FALSE(
        tokenvault::detail::resource_covers("http://mcp.example.com/mcp", "https://mcp.example.com/mcp"));
}

TEST_CASE("WWW-Authenticate: challenges, parameters, token68, and malformed headers") {
    auto parsed = oauth::parse_www_authenticate(
        R"(Basic realm="x", Bearer realm="mcp", resource_metadata="https://h/.well-known/oauth-protected-resource", )"
        R"(scope="a b", error=invalid_token, Negotiate abc==, DPoP algs="ES256 PS256")");
    REQUIRE(parsed);
    REQUIRE(parsed->size() == 4);
    CHECK((*parsed)[1].scheme == "bearer");
    CHECK((*parsed)[1].param("resource_metadata") == "https://h/.well-known/oauth-protected-resource");
    CHECK((*parsed)[1].param("scope") == "a b");
    CHECK((*parsed)[1].param("error") == "invalid_token");
    CHECK((*parsed)[2].token68 == "abc==");
    CHECK((*parsed)[3].param("algs") == "ES256 PS256");
    auto bearer = oauth::bearer_challenge(R"(bearer Resource_Metadata="u\"v\\w")");
    REQUIRE(bearer);
    CHECK(bearer->param("resource_metadata") == R"(u"v\w)");
    CHECK(oauth::bearer_challenge("Basic realm=x") == std::nullopt);
    CHECK(oauth::parse_www_authenticate("Bearer").value().size() == 1);
    CHECK(oauth::parse_www_authenticate("Bearer realm=").value()[0].token68 ==
          "realm=");  // a token68, not a parameter

    for (const char* bad : {R"(Bearer realm="open)", R"(Bearer realm="x" y)", "Bearer a=b c", "=x",
                            R"(Bearer a="x)"
                            "\x01"
                            R"(")",
                            "Bearer a=b, a=c"}) {
        CAPTURE(bad);
        CHECK_FALSE(oauth::parse_www_authenticate(bad));
    }
    CHECK(oauth::parse_www_authenticate(std::string(9000, 'a')).error() == tv::errc::too_large);

    const auto written = oauth::format_www_authenticate(*parsed);
    CHECK(oauth::parse_www_authenticate(written).value() == *parsed);
}

TEST_CASE("registration responses and the client record") {
    auto client = oauth::parse_registration_response(
        R"({"client_id":"c1","client_secret":"s3cret","client_secret_expires_at":0,)"
        R"("redirect_uris":["http://127.0.0.1:5555/callback"],"client_id_issued_at":1})");
    REQUIRE(client);
    CHECK(client->auth == oauth::client_auth::client_secret_basic);  // RFC 7591: the default with a secret
    CHECK_FALSE(client->client_secret_expires_at);
    auto pub = oauth::parse_registration_response(R"({"client_id":"p","token_endpoint_auth_method":"none"})");
    REQUIRE(pub);
    CHECK(pub->auth == oauth::client_auth::none);
    CHECK(oauth::parse_registration_response(
              R"({"client_id":"p","token_endpoint_auth_method":"private_key_jwt"})")
              .error() == tv::errc::value_out_of_range);
    CHECK(oauth::parse_registration_response(
              R"({"client_id":"p","token_endpoint_auth_method":"client_secret_post"})")
              .error() == tv::errc::missing_field);
    CHECK(oauth::parse_registration_response(R"({"client_secret":"x"})").error() == tv::errc::missing_field);
    CHECK(oauth::parse_registration_response(R"({"client_id":"p","client_secret_expires_at":-1})").error() ==
          tv::errc::value_out_of_range);

    const auto written = oauth::format_registration_response(*client);
    CHECK(oauth::parse_registration_response(std::string_view(written.data(), written.size())).value() ==
          *client);

    oauth::client_record record{*client, "https://as.example.com", "https://mcp.example.com/mcp", true};
    const auto stored = oauth::record_to_token(record);
    CHECK(tv::validate(stored));
    CHECK(oauth::record_from_token(stored).value() == record);
    tv::token other;
    other.access_token = tv::secret_string{"at"};
    CHECK(oauth::record_from_token(other).error() == tv::errc::wrong_type);
}

TEST_CASE("the redirect: request line, query, authorization response") {
    auto target = oauth::parse_request_line(
        "GET /callback?code=a%2Fb&state=s+1&iss=x#frag HTTP/1.1\r\nHost: h\r\n\r\n");
    REQUIRE(target);
    CHECK(target->method == "GET");
    CHECK(target->path == "/callback");
    CHECK(target->query == "code=a%2Fb&state=s+1&iss=x");
    for (const char* bad :
         {"GET /x", "GET http://h/x HTTP/1.1", "GET /x HTTP/2", " /x HTTP/1.1", "GET /\x01 HTTP/1.1"}) {
        CAPTURE(bad);
        CHECK_FALSE(oauth::parse_request_line(bad));
    }

    auto parameters = oauth::parse_query(target->query, decode);
    REQUIRE(parameters);
    REQUIRE(parameters->size() == 3);
    CHECK((*parameters)[0].value == oauth::secret_text("a/b"));
    CHECK((*parameters)[1].value == oauth::secret_text("s 1"));
    auto response = oauth::read_authorization_response(*parameters);
    REQUIRE(response);
    CHECK(response->code->reveal() == "a/b");
    CHECK(response->iss == "x");

    CHECK_FALSE(oauth::read_authorization_response(oauth::parse_query("code=a&code=b", decode).value()));
    CHECK_FALSE(oauth::read_authorization_response(oauth::parse_query("state=a%0Ab", decode).value()));
    auto denied =
        oauth::read_authorization_response(oauth::parse_query("error=access_denied&state=x", decode).value());
    REQUIRE(denied);
    CHECK(denied->error == "access_denied");
    auto odd = oauth::read_authorization_response(oauth::parse_query("error=%3Cscript%3E", decode).value());
    REQUIRE(odd);
    CHECK(odd->error == "invalid");  // never repeated into a message
    CHECK(oauth::parse_query(std::string(17000, 'a'), decode).error() == tv::errc::too_large);
    std::string many;
    for (int i = 0; i < 70; ++i) many += "a=b&";
    CHECK(oauth::parse_query(many, decode).error() == tv::errc::too_large);
}

TEST_CASE("PKCE S256 (RFC 7636 appendix B) and random state") {
    CHECK(oauth::pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") ==
          "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    auto pair = oauth::make_pkce();
    REQUIRE(pair);
    CHECK(pair->verifier.size() == 43);
    CHECK(pair->challenge == oauth::pkce_challenge(pair->verifier.reveal()));
    CHECK_FALSE(oauth::random_url_token().value() == oauth::random_url_token().value());
}

}  // namespace test_oauth_documents
