// tokenvault/credential_id.hpp: the identity of a stored credential.
//
// A credential is identified by the canonical URL of the protected resource plus an optional account
// (profile) name; a user-chosen server label is not identity, so renaming a server never orphans its
// tokens. The canonical form and the hash are a file-format contract: see docs/FORMAT.md.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include <sodium.h>

#include "detail/secure_buffer.hpp"
#include "result.hpp"

namespace tokenvault {

/// Identity of a credential: canonical resource URL + optional account; hashable, file-name safe.
class credential_id {
public:
    static constexpr std::size_t max_url_length = 2048;
    static constexpr std::size_t max_account_length = 256;

    /// Parses and canonicalises `resource_url` (see docs/FORMAT.md); `account` may be empty.
    [[nodiscard]] static result<credential_id> parse(std::string_view resource_url, std::string_view account = {}) {
        auto canonical = canonicalize(resource_url);
        if (!canonical) return canonical.error();
        if (account.size() > max_account_length) return error{errc::too_large, "credential_id: account"};
        for (const char c : account)
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
                return error{errc::invalid_argument, "credential_id: account contains a control character"};
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

    friend bool operator==(const credential_id& a, const credential_id& b) noexcept { return a.hash_ == b.hash_; }
    friend bool operator<(const credential_id& a, const credential_id& b) noexcept { return a.hash_ < b.hash_; }

    /// Returns the canonical form of an http(s) URL, or errc::invalid_url saying what is wrong.
    [[nodiscard]] static result<std::string> canonicalize(std::string_view url) {
        if (url.empty()) return error{errc::invalid_url, "credential_id: empty URL"};
        if (url.size() > max_url_length) return error{errc::too_large, "credential_id: URL longer than 2048 bytes"};
        for (const char c : url) {
            const auto u = static_cast<unsigned char>(c);
            if (u <= 0x20 || u == 0x7f)
                return error{errc::invalid_url, "credential_id: URL contains a space or control character"};
        }
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

        std::string_view host = authority;
        std::string_view port;
        if (!host.empty() && host.front() == '[') {  // IPv6 literal
            const auto close = host.find(']');
            if (close == std::string_view::npos) return error{errc::invalid_url, "credential_id: unterminated IPv6 host"};
            port = host.substr(close + 1);
            host = host.substr(0, close + 1);
            if (!port.empty() && port.front() != ':') return error{errc::invalid_url, "credential_id: bad port"};
            if (!port.empty()) port.remove_prefix(1);
        } else if (const auto colon = host.rfind(':'); colon != std::string_view::npos) {
            port = host.substr(colon + 1);
            host = host.substr(0, colon);
        }
        if (host.empty()) return error{errc::invalid_url, "credential_id: URL has no host"};
        for (const char c : host) {
            const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                            c == '.' || c == '_' || c == '[' || c == ']' || c == ':' || c == '%';
            if (!ok) return error{errc::invalid_url, "credential_id: host contains an invalid character"};
        }
        std::string canonical = scheme + "://" + lower(host);
        if (!port.empty()) {
            if (port.size() > 5) return error{errc::invalid_url, "credential_id: port out of range"};
            std::uint32_t value = 0;
            for (const char c : port) {
                if (c < '0' || c > '9') return error{errc::invalid_url, "credential_id: port is not a number"};
                value = value * 10 + static_cast<std::uint32_t>(c - '0');
            }
            if (value == 0 || value > 65535) return error{errc::invalid_url, "credential_id: port out of range"};
            const bool default_port = (scheme == "https" && value == 443) || (scheme == "http" && value == 80);
            if (!default_port) canonical += ":" + std::to_string(value);
        }
        const auto fragment = rest.find('#');
        if (fragment != std::string_view::npos) rest = rest.substr(0, fragment);
        if (rest.empty() || rest.front() == '?') canonical += '/';
        canonical += rest;
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
            crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char*>(part.data()), part.size());
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
