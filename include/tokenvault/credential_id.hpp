// tokenvault/credential_id.hpp: the identity of a stored credential.
//
// A credential is identified by the canonical URL of the protected resource plus an optional account
// (profile) name; a user-chosen server label is not identity, so renaming a server never orphans its
// tokens. The canonical form and the hash are a file-format contract: see docs/FORMAT.md. A canonical
// form is a fixed point: it parses again to itself (and so to the same hash), which is why input that
// could not round-trip (a ':' in an unbracketed host, an empty port, a port with leading zeros, invalid
// UTF-8) is refused rather than rewritten.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <sodium.h>

#include "detail/secure_buffer.hpp"
#include "detail/text_checks.hpp"
#include "result.hpp"

namespace tokenvault {

/// Identity of a credential: canonical resource URL + optional account; hashable, file-name safe.
class credential_id {
public:
    static constexpr std::size_t max_url_length = 2048;
    static constexpr std::size_t max_account_length = 256;

    /// Parses and canonicalises `resource_url` (see docs/FORMAT.md); `account` may be empty.
    [[nodiscard]] static result<credential_id> parse(std::string_view resource_url,
                                                     std::string_view account = {}) {
        auto canonical = canonicalize(resource_url);
        if (!canonical) return canonical.error();
        if (account.size() > max_account_length) return error{errc::too_large, "credential_id: account"};
        if (detail::has_control_or_nul(account))
            return error{errc::invalid_argument, "credential_id: account contains a control character"};
        if (!detail::valid_utf8(account))
            return error{errc::invalid_argument, "credential_id: account is not valid UTF-8"};
        credential_id id;
        id.resource_ = std::move(*canonical);
        id.account_ = std::string(account);
        TOKENVAULT_TRY(id.compute_hash());
        return id;
    }

    /// The canonical resource URL.
    [[nodiscard]] const std::string& resource() const noexcept { return resource_; }
    /// The account or profile name; empty when none.
    [[nodiscard]] const std::string& account() const noexcept { return account_; }
    /// SHA-256 (lower-case hex) of the identity: safe as a file name, keyring account or map key.
    [[nodiscard]] const std::string& hash() const noexcept { return hash_; }

    friend bool operator==(const credential_id& a, const credential_id& b) noexcept {
        return a.hash_ == b.hash_;
    }
    friend bool operator<(const credential_id& a, const credential_id& b) noexcept {
        return a.hash_ < b.hash_;
    }

    /// Returns the canonical form of an http(s) URL, or errc::invalid_url saying what is wrong.
    [[nodiscard]] static result<std::string> canonicalize(std::string_view url) {
        if (url.empty()) return error{errc::invalid_url, "credential_id: empty URL"};
        if (url.size() > max_url_length)
            return error{errc::too_large, "credential_id: URL longer than 2048 bytes"};
        for (const char c : url) {
            const auto u = static_cast<unsigned char>(c);
            if (u <= 0x20 || u == 0x7f)
                return error{errc::invalid_url, "credential_id: URL contains a space or control character"};
        }
        if (!detail::valid_utf8(url))
            return error{errc::invalid_url, "credential_id: URL is not valid UTF-8"};
        const auto scheme_end = url.find("://");
        if (scheme_end == std::string_view::npos)
            return error{errc::invalid_url, "credential_id: URL has no scheme (expected https://...)"};
        const std::string scheme = lower(url.substr(0, scheme_end));
        if (scheme != "https" && scheme != "http")
            return error{errc::invalid_url, "credential_id: scheme must be http or https"};
        std::string_view rest = url.substr(scheme_end + 3);
        const auto authority_end = rest.find_first_of("/?#");
        const std::string_view authority = rest.substr(0, authority_end);
        rest = authority_end == std::string_view::npos ? std::string_view{} : rest.substr(authority_end);
        if (authority.find('@') != std::string_view::npos)
            return error{errc::invalid_url, "credential_id: URL must not contain user info"};

        // host [":" port], the host a name or a bracketed IPv6 literal.
        std::string_view host = authority;
        std::optional<std::string_view> port;
        bool bracketed = false;
        if (!host.empty() && host.front() == '[') {
            const auto close = host.find(']');
            if (close == std::string_view::npos)
                return error{errc::invalid_url, "credential_id: unterminated IPv6 host"};
            const auto after = host.substr(close + 1);
            host = host.substr(0, close + 1);
            bracketed = true;
            if (!after.empty()) {
                if (after.front() != ':') return error{errc::invalid_url, "credential_id: bad port"};
                port = after.substr(1);
            }
        } else if (const auto colon = host.find(':'); colon != std::string_view::npos) {
            port = host.substr(colon + 1);
            host = host.substr(0, colon);
        }
        if (host.empty() || (bracketed && host.size() == 2))
            return error{errc::invalid_url, "credential_id: URL has no host"};
        const auto inner = bracketed ? host.substr(1, host.size() - 2) : host;
        for (const char c : inner) {
            const bool name_char = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                   (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '%';
            if (!(name_char || (bracketed && c == ':')))
                return error{errc::invalid_url, bracketed
                                                    ? "credential_id: IPv6 host contains an invalid character"
                                                    : "credential_id: host contains an invalid character"};
        }
        std::string canonical = scheme + "://" + lower(host);
        if (port) {
            if (port->empty()) return error{errc::invalid_url, "credential_id: empty port after ':'"};
            if (port->size() > 5 || (port->size() > 1 && port->front() == '0'))
                return error{errc::invalid_url, "credential_id: port must be 1-65535 without leading zeros"};
            std::uint32_t value = 0;
            for (const char c : *port) {
                if (c < '0' || c > '9')
                    return error{errc::invalid_url, "credential_id: port is not a number"};
                value = value * 10 + static_cast<std::uint32_t>(c - '0');
            }
            if (value == 0 || value > 65535)
                return error{errc::invalid_url, "credential_id: port out of range"};
            const bool default_port =
                (scheme == "https" && value == 443) || (scheme == "http" && value == 80);
            if (!default_port) canonical += ":" + std::to_string(value);
        }
        const auto fragment = rest.find('#');
        if (fragment != std::string_view::npos) rest = rest.substr(0, fragment);
        if (rest.empty() || rest.front() == '?') canonical += '/';
        canonical += rest;
        if (canonical.size() > max_url_length)  // "https://host" gains its '/': it must still parse
            return error{errc::too_large, "credential_id: URL longer than 2048 bytes"};
        return canonical;
    }

private:
    credential_id() = default;

    static std::string lower(std::string_view s) {
        std::string out(s);
        for (char& c : out)
            if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        return out;
    }

    result<void> compute_hash() {
        TOKENVAULT_TRY(detail::ensure_sodium());
        static constexpr std::string_view domain = "tokenvault-credential-v1\n";
        crypto_hash_sha256_state state;
        std::array<unsigned char, crypto_hash_sha256_BYTES> digest{};
        const auto feed = [&](std::string_view part) {
            crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char*>(part.data()),
                                      part.size());
        };
        crypto_hash_sha256_init(&state);
        feed(domain);
        feed(resource_);
        feed("\n");
        feed(account_);
        crypto_hash_sha256_final(&state, digest.data());
        std::array<char, crypto_hash_sha256_BYTES * 2 + 1> hex{};
        sodium_bin2hex(hex.data(), hex.size(), digest.data(), digest.size());
        hash_.assign(hex.data(), crypto_hash_sha256_BYTES * 2);
        return {};
    }

    std::string resource_;
    std::string account_;
    std::string hash_;
};

}  // namespace tokenvault

template <>
struct std::hash<tokenvault::credential_id> {
    std::size_t operator()(const tokenvault::credential_id& id) const noexcept {
        return std::hash<std::string>{}(id.hash());
    }
};
