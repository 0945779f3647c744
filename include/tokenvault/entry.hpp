// tokenvault/entry.hpp: a stored credential (`entry`), its secret-free summary (`entry_info`), and the
// `bundle` of entries that a backend persists as one unit.
//
// Every write of an entry bumps its generation; compare-and-swap and erase_if compare it, so a caller
// changes an entry only if nobody else changed it since the caller read it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "credential_id.hpp"
#include "token.hpp"

namespace tokenvault {

/// A stored credential: identity, token, generation and time of the last write.
struct entry {
    credential_id id;                                  ///< whose credential this is
    ::tokenvault::token token;                         ///< the credential itself
    std::uint64_t generation = 0;                      ///< bumped on every write of this entry
    clock::time_point updated_at{};                    ///< time of the last write
    nlohmann::json extra = nlohmann::json::object();   ///< unknown entry fields, preserved
};

/// What `list()` returns for an entry: identity and metadata, never a secret.
struct entry_info {
    credential_id id;                          ///< whose credential this is
    std::optional<clock::time_point> expires_at;  ///< token expiry, if known
    std::uint64_t generation = 0;              ///< the entry's generation
    clock::time_point updated_at{};            ///< time of the last write
    bool has_refresh_token = false;            ///< whether a silent refresh is possible
    std::vector<std::string> scopes;           ///< granted scopes
    std::string issuer;                        ///< authorization server
};

/// Name and version of the plaintext bundle format (docs/FORMAT.md).
inline constexpr std::string_view bundle_format_name = "tokenvault-bundle";
inline constexpr std::int64_t bundle_format_version = 1;

/// The unit a backend persists: all entries, keyed by credential hash.
struct bundle {
    std::unordered_map<std::string, entry> entries;     ///< keyed by `credential_id::hash()`
    std::uint64_t last_generation = 0;  ///< the last generation handed out; never reused in a bundle
    nlohmann::json extra = nlohmann::json::object();    ///< unknown top-level fields, preserved
};

/// The secret-free summary of an entry.
[[nodiscard]] inline entry_info summarize(const entry& e) {
    return entry_info{e.id,         e.token.expires_at,     e.generation,  e.updated_at,
                      e.token.refresh_token.has_value(), e.token.scopes, e.token.issuer};
}

}  // namespace tokenvault
