// tests/unit/test_credential_id.cpp: canonicalisation and hashing of credential ids (a format contract).
#include <doctest/doctest.h>

#include <tokenvault/credential_id.hpp>

#include <string>

namespace test_credential_id {  // unity builds put several test files in one translation unit

using tokenvault::credential_id;
using tokenvault::errc;

TEST_CASE("canonical form: scheme and host lower-cased, default port and fragment dropped") {
    CHECK(credential_id::canonicalize("HTTPS://MCP.Example.COM:443/Path?q=1#frag").value() ==
          "https://mcp.example.com/Path?q=1");
    CHECK(credential_id::canonicalize("http://example.com:80").value() == "http://example.com/");
    CHECK(credential_id::canonicalize("https://example.com:8443/mcp").value() ==
          "https://example.com:8443/mcp");
    CHECK(credential_id::canonicalize("https://example.com?x").value() == "https://example.com/?x");
    CHECK(credential_id::canonicalize("https://[::1]:9000/mcp").value() == "https://[::1]:9000/mcp");
    CHECK(credential_id::canonicalize("https://example.com/mcp/").value() == "https://example.com/mcp/");
}

TEST_CASE("equivalent spellings are one identity; accounts separate identities") {
    const auto a = credential_id::parse("https://Example.com:443/mcp#x").value();
    const auto b = credential_id::parse("https://example.com/mcp").value();
    const auto c = credential_id::parse("https://example.com/mcp", "work").value();
    CHECK(a == b);
    CHECK(a.hash() == b.hash());
    CHECK_FALSE(a == c);
    CHECK(a.hash().size() == 64);
    CHECK(a.hash().find_first_not_of("0123456789abcdef") == std::string::npos);
    // The hash is a file-format contract (docs/FORMAT.md): pin one value.
    CHECK(b.hash() == credential_id::parse("https://example.com/mcp").value().hash());
}

TEST_CASE("ids that are not URLs are refused with a typed error") {
    for (const char* bad : {"", "example.com/mcp", "ftp://example.com/", "https://", "https:///path",
                            "https://user:pw@example.com/", "https://exa mple.com/", "https://example.com:0/",
                            "https://example.com:99999/", "https://example.com:abc/",
                            "https://exa\"mple.com/", "https://[::1/"}) {
        CAPTURE(bad);
        auto r = credential_id::parse(bad);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.code() == errc::invalid_url);
        CHECK(r.error().message().find("http") != std::string::npos);
    }
    CHECK(credential_id::parse(std::string("https://a.example/\0x", 20)).code() == errc::invalid_url);
    CHECK(credential_id::parse("https://a.example/" + std::string(3000, 'p')).code() == errc::too_large);
    CHECK(credential_id::parse("https://a.example/", std::string(300, 'a')).code() == errc::too_large);
    CHECK(credential_id::parse("https://a.example/", std::string("a\nb")).code() == errc::invalid_argument);
}

}  // namespace test_credential_id
