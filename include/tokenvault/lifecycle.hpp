// tokenvault/lifecycle.hpp: the credential lifecycle: serialized refresh, 401 handling, login and logout.
//
// The header to include for the lifecycle; each part has its own header:
//   provider/concept.hpp         token_provider: where new tokens come from (refresh, authorize, revoke)
//   provider/token_response.hpp  read_token_response: a token endpoint's answer as a provider result
//   credential_manager.hpp       credential_manager<Store>: get_access_token, on_unauthorized, login, logout
//   process_wide.hpp             shared_store, shared_manager: one instance per store location and process
// See docs/LIFECYCLE.md for the decision tree.
#pragma once

#include "credential_manager.hpp"
#include "process_wide.hpp"
#include "provider/concept.hpp"
#include "provider/token_response.hpp"
