// tokenvault/oauth/metadata.hpp: the documents of OAuth discovery, and the URLs they live at.
//
// RFC 9728 protected resource metadata (what an MCP server says about itself), RFC 8414 authorization
// server metadata (also read from OpenID Connect discovery), and the WWW-Authenticate challenge of a 401
// (RFC 9110 11.6.1; RFC 9728 5.1 adds `resource_metadata`). Parsers here read hostile input: bounded, typed
// errors, no recursion (see document.hpp). The well-known URL builders follow the MCP authorization spec:
// path-inserted first, then the root, and for an issuer with a path the OpenID forms as well.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../result.hpp"
#include "document.hpp"

namespace tokenvault::oauth {

/// RFC 9728 protected resource metadata (the fields an OAuth client uses).
struct protected_resource_metadata {
    std::string resource;                            ///< the resource identifier (required)
    std::vector<std::string> authorization_servers;  ///< issuer identifiers of its authorization servers
    std::vector<std::string> scopes_supported;       ///< scopes the resource understands
    friend bool operator==(const protected_resource_metadata&, const protected_resource_metadata&) = default;
};

/// RFC 8414 authorization server metadata (the fields an OAuth client uses).
struct authorization_server_metadata {
    std::string issuer;  ///< the issuer identifier (required, checked against the one asked for)
    std::string authorization_endpoint;  ///< required for the authorization code flow
    std::string token_endpoint;          ///< required
    std::string registration_endpoint;   ///< RFC 7591 dynamic registration, when offered
    std::string revocation_endpoint;     ///< RFC 7009 revocation, when offered
    std::vector<std::string> response_types_supported;
    std::vector<std::string> grant_types_supported;
    std::vector<std::string> code_challenge_methods_supported;  ///< must list S256
    std::vector<std::string> token_endpoint_auth_methods_supported;
    std::vector<std::string> scopes_supported;
    bool authorization_response_iss_parameter_supported = false;  ///< RFC 9207: the redirect carries `iss`
    friend bool operator==(const authorization_server_metadata&,
                           const authorization_server_metadata&) = default;
};

/// One challenge of a WWW-Authenticate header: a scheme with a token68 or parameters.
struct auth_challenge {
    std::string scheme;  ///< lower-cased, e.g. "bearer"
    std::string token68;
    std::vector<std::pair<std::string, std::string>> params;  ///< names lower-cased, values unquoted
    /// The value of parameter `name` (lower case), if present.
    [[nodiscard]] std::optional<std::string_view> param(std::string_view name) const {
        for (const auto& [key, value] : params)
            if (key == name) return std::string_view(value);
        return std::nullopt;
    }
    friend bool operator==(const auth_challenge&, const auth_challenge&) = default;
};

/// The parts of an absolute http(s) URL.
struct url_parts {
    std::string scheme;     ///< "http" or "https", lower case
    std::string authority;  ///< host[:port] as written
    std::string host;       ///< lower case; an IPv6 literal keeps its brackets
    std::string path;       ///< empty or starting with '/'
    std::string query;      ///< without the '?'
};

namespace detail {

inline constexpr std::size_t max_url_length = 2048;

/// Splits an absolute http(s) URL; refuses user info, fragments, spaces and control characters.
[[nodiscard]] inline result<url_parts> split_url(std::string_view url, std::string_view what) {
    const auto bad = [&](const char* why) {
        return error{errc::invalid_url, std::string(what) + ": " + why};
    };
    if (url.size() > max_url_length) return bad("URL longer than 2048 bytes");
    for (const char c : url)
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
            return bad("URL contains a space or control character");
    const auto scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos) return bad("not an absolute URL");
    url_parts parts;
    for (const char c : url.substr(0, scheme_end))
        parts.scheme += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    if (parts.scheme != "https" && parts.scheme != "http") return bad("scheme must be https");
    std::string_view rest = url.substr(scheme_end + 3);
    if (rest.find('#') != std::string_view::npos) return bad("URL must not have a fragment");
    const auto authority_end = rest.find_first_of("/?");
    parts.authority = std::string(rest.substr(0, authority_end));
    rest = authority_end == std::string_view::npos ? std::string_view{} : rest.substr(authority_end);
    if (parts.authority.empty()) return bad("URL has no host");
    if (parts.authority.find('@') != std::string::npos) return bad("URL must not contain user info");
    std::string_view host = parts.authority;
    if (host.front() == '[') {
        const auto close = host.find(']');
        if (close == std::string_view::npos) return bad("unterminated IPv6 host");
        if (close + 1 < host.size() && host[close + 1] != ':') return bad("bad port");
        host = host.substr(0, close + 1);
    } else if (const auto colon = host.find(':'); colon != std::string_view::npos) {
        const auto port = host.substr(colon + 1);
        if (port.empty() || port.size() > 5) return bad("bad port");
        for (const char c : port)
            if (c < '0' || c > '9') return bad("bad port");
        host = host.substr(0, colon);
    }
    if (host.empty()) return bad("URL has no host");
    for (const char c : host) parts.host += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    const auto query = rest.find('?');
    parts.path = std::string(rest.substr(0, query));
    if (query != std::string_view::npos) parts.query = std::string(rest.substr(query + 1));
    return parts;
}

/// Whether `host` (lower case) is a loopback address or name.
[[nodiscard]] inline bool is_loopback_host(std::string_view host) noexcept {
    return host == "localhost" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

/// Checks an endpoint URL: https, or http on a loopback host when `allow_loopback_http`.
[[nodiscard]] inline result<url_parts> check_endpoint(std::string_view url, std::string_view what,
                                                      bool allow_loopback_http) {
    auto parts = split_url(url, what);
    if (!parts) return parts.error();
    if (parts->scheme == "http" && !(allow_loopback_http && is_loopback_host(parts->host)))
        return error{errc::invalid_url,
                     std::string(what) + ": must be an https URL (http only on a loopback host)"};
    return parts;
}

/// Removes one trailing '/' from a path ("/" becomes "").
[[nodiscard]] inline std::string_view trim_slash(std::string_view path) noexcept {
    if (!path.empty() && path.back() == '/') path.remove_suffix(1);
    return path;
}

}  // namespace detail

/// Where the protected resource metadata of `resource_url` may live: path-inserted, then the root.
[[nodiscard]] inline result<std::vector<std::string>> protected_resource_metadata_urls(
    std::string_view resource_url) {
    auto parts = detail::split_url(resource_url, "resource URL");
    if (!parts) return parts.error();
    const std::string origin = parts->scheme + "://" + parts->authority;
    const std::string_view path = detail::trim_slash(parts->path);
    std::vector<std::string> urls;
    if (!path.empty()) urls.push_back(origin + "/.well-known/oauth-protected-resource" + std::string(path));
    urls.push_back(origin + "/.well-known/oauth-protected-resource");
    return urls;
}

/// Where the metadata of authorization server `issuer` may live, in the order the MCP spec tries them:
/// RFC 8414 path-inserted, OpenID path-inserted, OpenID path-appended (an issuer without a path: RFC 8414,
/// then OpenID).
[[nodiscard]] inline result<std::vector<std::string>> authorization_server_metadata_urls(
    std::string_view issuer) {
    auto parts = detail::split_url(issuer, "issuer");
    if (!parts) return parts.error();
    if (!parts->query.empty())
        return error{errc::invalid_url, "issuer: an issuer identifier has no query (RFC 8414)"};
    const std::string origin = parts->scheme + "://" + parts->authority;
    const std::string path(detail::trim_slash(parts->path));
    if (path.empty())
        return std::vector<std::string>{origin + "/.well-known/oauth-authorization-server",
                                        origin + "/.well-known/openid-configuration"};
    return std::vector<std::string>{origin + "/.well-known/oauth-authorization-server" + path,
                                    origin + "/.well-known/openid-configuration" + path,
                                    origin + path + "/.well-known/openid-configuration"};
}

/// Parses RFC 9728 protected resource metadata; `resource` is required.
[[nodiscard]] inline result<protected_resource_metadata> parse_protected_resource_metadata(
    std::string_view text) {
    static constexpr std::string_view what = "protected resource metadata";
    protected_resource_metadata out;
    TOKENVAULT_TRY(detail::read_object(text, what, [&](std::string_view key, auto& cursor) -> result<bool> {
        if (key == "resource") {
            auto value = detail::read_text(cursor, what, key, detail::max_url_length);
            if (!value) return value.error();
            out.resource = std::move(*value);
        } else if (key == "authorization_servers" || key == "scopes_supported") {
            auto values = detail::read_text_array(cursor, what, key);
            if (!values) return values.error();
            (key == "authorization_servers" ? out.authorization_servers : out.scopes_supported) =
                std::move(*values);
        } else {
            return false;
        }
        return true;
    }));
    if (out.resource.empty()) return error{errc::missing_field, std::string(what) + ": field 'resource'"};
    return out;
}

/// Parses RFC 8414 authorization server metadata (or OpenID provider metadata); `issuer` is required.
[[nodiscard]] inline result<authorization_server_metadata> parse_authorization_server_metadata(
    std::string_view text) {
    static constexpr std::string_view what = "authorization server metadata";
    authorization_server_metadata out;
    const std::pair<std::string_view, std::string authorization_server_metadata::*> texts[] = {
        {"issuer", &authorization_server_metadata::issuer},
        {"authorization_endpoint", &authorization_server_metadata::authorization_endpoint},
        {"token_endpoint", &authorization_server_metadata::token_endpoint},
        {"registration_endpoint", &authorization_server_metadata::registration_endpoint},
        {"revocation_endpoint", &authorization_server_metadata::revocation_endpoint},
    };
    const std::pair<std::string_view, std::vector<std::string> authorization_server_metadata::*> lists[] = {
        {"response_types_supported", &authorization_server_metadata::response_types_supported},
        {"grant_types_supported", &authorization_server_metadata::grant_types_supported},
        {"code_challenge_methods_supported",
         &authorization_server_metadata::code_challenge_methods_supported},
        {"token_endpoint_auth_methods_supported",
         &authorization_server_metadata::token_endpoint_auth_methods_supported},
        {"scopes_supported", &authorization_server_metadata::scopes_supported},
    };
    TOKENVAULT_TRY(detail::read_object(text, what, [&](std::string_view key, auto& cursor) -> result<bool> {
        for (const auto& [name, field] : texts) {
            if (key != name) continue;
            auto value = detail::read_text(cursor, what, key, detail::max_url_length);
            if (!value) return value.error();
            out.*field = std::move(*value);
            return true;
        }
        for (const auto& [name, field] : lists) {
            if (key != name) continue;
            auto values = detail::read_text_array(cursor, what, key);
            if (!values) return values.error();
            out.*field = std::move(*values);
            return true;
        }
        if (key == "authorization_response_iss_parameter_supported") {
            auto value = detail::read_bool(cursor, what, key);
            if (!value) return value.error();
            out.authorization_response_iss_parameter_supported = *value;
            return true;
        }
        return false;
    }));
    if (out.issuer.empty()) return error{errc::missing_field, std::string(what) + ": field 'issuer'"};
    return out;
}

namespace detail {

/// RFC 9110 tchar.
[[nodiscard]] constexpr bool is_tchar(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

/// RFC 9110 token68 characters (without the trailing '=').
[[nodiscard]] constexpr bool is_token68_char(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("-._~+/").find(c) != std::string_view::npos;
}

[[nodiscard]] inline std::string lower_ascii(std::string_view text) {
    std::string out(text);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

/// A cursor over a header value.
struct header_cursor {
    std::string_view text;
    std::size_t pos = 0;

    [[nodiscard]] bool done() const noexcept { return pos >= text.size(); }
    [[nodiscard]] char peek() const noexcept { return done() ? '\0' : text[pos]; }
    void skip_space() noexcept {
        while (!done() && (text[pos] == ' ' || text[pos] == '\t')) ++pos;
    }
    [[nodiscard]] std::string_view token() noexcept {
        const std::size_t start = pos;
        while (!done() && is_tchar(text[pos])) ++pos;
        return text.substr(start, pos - start);
    }
};

}  // namespace detail

/// Limits of a WWW-Authenticate header.
struct challenge_limits {
    static constexpr std::size_t max_header = 8 * 1024;  ///< bytes of the whole header value
    static constexpr std::size_t max_challenges = 16;
    static constexpr std::size_t max_params = 32;  ///< per challenge
};

/// Parses a WWW-Authenticate header value (RFC 9110 11.6.1) into its challenges.
[[nodiscard]] inline result<std::vector<auth_challenge>> parse_www_authenticate(std::string_view header) {
    static constexpr std::string_view what = "WWW-Authenticate";
    const auto bad = [](std::string why) {
        return error{errc::invalid_argument, std::string(what) + ": " + why};
    };
    if (header.size() > challenge_limits::max_header)
        return error{errc::too_large, "WWW-Authenticate: longer than 8 KiB"};
    detail::header_cursor in{header};
    std::vector<auth_challenge> out;
    const auto skip_separators = [&] {
        for (;;) {
            in.skip_space();
            if (in.peek() != ',') return;
            ++in.pos;
        }
    };
    // After a ',' inside a challenge: whether what follows is a parameter (name BWS '=') of this challenge.
    const auto param_follows = [&] {
        detail::header_cursor probe = in;
        probe.skip_space();
        if (probe.token().empty()) return false;
        probe.skip_space();
        return probe.peek() == '=';
    };
    for (;;) {
        skip_separators();
        if (in.done()) break;
        const auto scheme = in.token();
        if (scheme.empty()) return bad("expected an authentication scheme at byte " + std::to_string(in.pos));
        if (out.size() == challenge_limits::max_challenges)
            return error{errc::too_large, "WWW-Authenticate: too many challenges"};
        auth_challenge challenge;
        challenge.scheme = detail::lower_ascii(scheme);
        const bool spaced = in.peek() == ' ' || in.peek() == '\t';
        in.skip_space();
        if (spaced && !in.done() && in.peek() != ',') {
            // token68, or the first parameter: "name=" or "name==" at the end or before ',' is a token68.
            const std::size_t start = in.pos;
            const auto name = in.token();
            detail::header_cursor after = in;
            after.skip_space();
            bool is_param = !name.empty() && after.peek() == '=';
            if (is_param && after.pos == in.pos) {
                detail::header_cursor value = after;
                std::size_t equals = 0;
                while (value.peek() == '=') ++value.pos, ++equals;
                value.skip_space();
                if (equals > 1 || value.done() || value.peek() == ',') is_param = false;
            }
            if (!is_param) {
                in.pos = start;
                while (!in.done() && detail::is_token68_char(in.peek())) ++in.pos;
                while (in.peek() == '=') ++in.pos;
                challenge.token68 = std::string(header.substr(start, in.pos - start));
                if (challenge.token68.empty() || challenge.token68.front() == '=')
                    return bad("malformed token68 at byte " + std::to_string(start));
                in.skip_space();
                if (!in.done() && in.peek() != ',')
                    return bad("unexpected character at byte " + std::to_string(in.pos));
            } else {
                in.pos = start;
                for (;;) {
                    in.skip_space();
                    const auto param_name = in.token();
                    if (param_name.empty())
                        return bad("expected a parameter name at byte " + std::to_string(in.pos));
                    in.skip_space();
                    if (in.peek() != '=') return bad("expected '=' at byte " + std::to_string(in.pos));
                    ++in.pos;
                    in.skip_space();
                    std::string value;
                    if (in.peek() == '"') {
                        ++in.pos;
                        for (;;) {
                            if (in.done()) return bad("unterminated quoted string");
                            char c = in.text[in.pos++];
                            if (c == '"') break;
                            if (c == '\\') {
                                if (in.done()) return bad("unterminated quoted string");
                                c = in.text[in.pos++];
                            }
                            if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f)
                                return bad("control character in a quoted string");
                            value += c;
                        }
                    } else {
                        const auto token = in.token();
                        if (token.empty())
                            return bad("expected a parameter value at byte " + std::to_string(in.pos));
                        value = std::string(token);
                    }
                    if (challenge.params.size() == challenge_limits::max_params)
                        return error{errc::too_large, "WWW-Authenticate: too many parameters"};
                    auto lowered = detail::lower_ascii(param_name);
                    if (challenge.param(lowered)) return bad("parameter '" + lowered + "' appears twice");
                    challenge.params.emplace_back(std::move(lowered), std::move(value));
                    in.skip_space();
                    if (in.done()) break;
                    if (in.peek() != ',') return bad("expected ',' at byte " + std::to_string(in.pos));
                    // ',' then either another parameter of this challenge, or the next challenge.
                    detail::header_cursor save = in;
                    ++in.pos;
                    while (true) {
                        in.skip_space();
                        if (in.peek() != ',') break;
                        ++in.pos;
                    }
                    if (in.done()) break;
                    if (!param_follows()) {
                        in = save;
                        break;
                    }
                }
            }
        } else if (!in.done() && in.peek() != ',') {
            return bad("unexpected character at byte " + std::to_string(in.pos));
        }
        out.push_back(std::move(challenge));
    }
    return out;
}

/// Writes challenges back as a header value (the parser's inverse: parameters quoted, names lower case).
[[nodiscard]] inline std::string format_www_authenticate(const std::vector<auth_challenge>& challenges) {
    std::string out;
    for (const auto& challenge : challenges) {
        if (!out.empty()) out += ", ";
        out += challenge.scheme;
        if (!challenge.token68.empty()) {
            out += ' ';
            out += challenge.token68;
            continue;
        }
        bool first = true;
        for (const auto& [name, value] : challenge.params) {
            out += first ? " " : ", ";
            first = false;
            out += name;
            out += "=\"";
            for (const char c : value) {
                if (c == '"' || c == '\\') out += '\\';
                out += c;
            }
            out += '"';
        }
    }
    return out;
}

/// The Bearer challenge of a WWW-Authenticate header, if it has one (and the header parses).
[[nodiscard]] inline std::optional<auth_challenge> bearer_challenge(std::string_view header) {
    auto challenges = parse_www_authenticate(header);
    if (!challenges) return std::nullopt;
    for (auto& challenge : *challenges)
        if (challenge.scheme == "bearer") return std::move(challenge);
    return std::nullopt;
}

}  // namespace tokenvault::oauth
