// tokenvault/entry.hpp: a stored credential (`entry`), its secret-free summary (`entry_info`), and the
// `bundle` of entries that a backend persists as one unit.
//
// Every write of an entry bumps its generation; compare-and-swap and erase_if compare it, so a caller
// changes an entry only if nobody else changed it since the caller read it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "credential_id.hpp"
#include "detail/secure_buffer.hpp"
#include "result.hpp"
#include "token.hpp"

namespace tokenvault {

/// A stored credential: identity, token, generation and time of the last write.
struct entry {
    credential_id id;                         ///< whose credential this is
    ::tokenvault::token token;                ///< the credential itself
    std::uint64_t generation = 0;             ///< bumped on every write of this entry
    clock::time_point updated_at{};           ///< time of the last write
    extra_json extra = extra_json::object();  ///< unknown entry fields, preserved
};

/// What `list()` returns for an entry: identity and metadata, never a secret.
struct entry_info {
    credential_id id;                             ///< whose credential this is
    std::optional<clock::time_point> expires_at;  ///< token expiry, if known
    std::uint64_t generation = 0;                 ///< the entry's generation
    clock::time_point updated_at{};               ///< time of the last write
    bool has_refresh_token = false;               ///< whether a silent refresh is possible
    std::vector<std::string> scopes;              ///< granted scopes
    std::string issuer;                           ///< authorization server
};

/// Name and version of the plaintext bundle format (docs/FORMAT.md).
inline constexpr std::string_view bundle_format_name = "tokenvault-bundle";
inline constexpr std::int64_t bundle_format_version = 1;

/// Generations and `last_generation` stay below 2^63: a reader refuses anything at or above it, so a counter
/// can never wrap around to 0 ("absent") within a bundle (docs/FORMAT.md).
inline constexpr std::uint64_t generation_limit = std::uint64_t{1} << 63;

/// An entry of a stored bundle that this build cannot read (written by a newer version, a bug or a hand
/// edit): it is never served, and it is written back byte for byte on every save, until a write of its
/// credential replaces it or an erase removes it.
struct unreadable_entry {
    detail::secret_text text;  ///< the entry's JSON value exactly as stored (it may hold secrets)
    error why;                 ///< what is wrong with it; never a secret
};

/// The unit a backend persists: all entries, keyed by credential hash.
struct bundle {
    std::unordered_map<std::string, entry> entries;  ///< keyed by `credential_id::hash()`
    std::uint64_t last_generation = 0;        ///< the last generation handed out; never reused in a bundle
    extra_json extra = extra_json::object();  ///< unknown top-level fields, preserved
    std::map<std::string, unreadable_entry> unreadable;  ///< entries that did not parse, by their key
};

namespace detail {

/// An entry key fit for an event or a message: itself when it looks like a key tokenvault writes (at most
/// 128 bytes of [0-9A-Za-z._-]), else a placeholder (a hand-edited key could hold anything).
[[nodiscard]] inline std::string_view displayable_key(std::string_view key) noexcept {
    if (key.empty() || key.size() > 128) return "<unprintable key>";
    for (const char c : key)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
              c == '_' || c == '-'))
            return "<unprintable key>";
    return key;
}

}  // namespace detail

/// The secret-free summary of an entry.
[[nodiscard]] inline entry_info summarize(const entry& e) {
    return entry_info{
        e.id,           e.token.expires_at, e.generation, e.updated_at, e.token.refresh_token.has_value(),
        e.token.scopes, e.token.issuer};
}

}  // namespace tokenvault
