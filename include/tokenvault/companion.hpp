// tokenvault/companion.hpp: entries that travel with a credential in the same store.
//
// Some state belongs next to a credential and must be shared by every process exactly like it: the OAuth
// client registration used to log in (created once, reused by every process), and the short-lived record
// of a refresh that just failed (so that waiters fail fast instead of calling a failing endpoint again).
// Each lives in its own entry of the same store, sealed like the credential, under a companion id: the
// credential's resource URL with the account `tokenvault:<role>` (or `tokenvault:<role>:<account>`).
// Accounts starting with `tokenvault:` are reserved for these entries (docs/FORMAT.md).
#pragma once

#include <string>
#include <string_view>

#include "credential_id.hpp"
#include "result.hpp"

namespace tokenvault {

/// The roles of companion entries.
namespace companion_role {
inline constexpr std::string_view oauth_client = "oauth-client";        ///< the OAuth client of a login
inline constexpr std::string_view refresh_failure = "refresh-failure";  ///< a refresh that just failed
}  // namespace companion_role

/// The id of the companion entry with `role` of credential `id`.
[[nodiscard]] inline result<credential_id> companion_id(const credential_id& id, std::string_view role) {
    std::string account = "tokenvault:";
    account += role;
    if (!id.account().empty()) {
        account += ':';
        account += id.account();
    }
    return credential_id::parse(id.resource(), account);
}

/// Whether `id` is a companion entry rather than a credential (its account starts with `tokenvault:`).
[[nodiscard]] inline bool is_companion(const credential_id& id) noexcept {
    return id.account().rfind("tokenvault:", 0) == 0;
}

}  // namespace tokenvault
