// tokenvault/tokenvault.hpp: the umbrella header: the core and every portable policy.
//
// Platform keyrings that need a library beyond the OS (libsecret, libkeyutils, Security.framework) are not
// included: include tokenvault/keyring/secret_service.hpp or keyring/keyctl.hpp yourself. On Windows the
// Windows keyrings (Credential Manager, DPAPI) and presets::desktop are included: they need only system
// libraries (link advapi32, crypt32, shell32 and ole32).
#pragma once

// The families' contracts first: a policy that misses a piece is reported from them.
#include "backend/concept.hpp"
#include "cipher/concept.hpp"
#include "diagnostics/concept.hpp"
#include "keyring/concept.hpp"
#include "locking/concept.hpp"
#include "migration/concept.hpp"
#include "provider/concept.hpp"

#include "backend/keyring_bundle.hpp"
#include "backend/memory.hpp"
#include "backend/sealed_file.hpp"
#include "cipher/aes256gcm.hpp"
#include "cipher/none.hpp"
#include "cipher/xchacha20poly1305.hpp"
#include "credential_id.hpp"
#include "diagnostics/callback.hpp"
#include "diagnostics/counters.hpp"
#include "diagnostics/none.hpp"
#include "diagnostics/resolution.hpp"
#include "diagnostics/resolution_log.hpp"
#include "entry.hpp"
#include "error.hpp"
#include "json.hpp"
#include "keyring/file.hpp"
#include "keyring/first_available.hpp"
#include "keyring/foreign.hpp"
#include "keyring/memory.hpp"
#include "lifecycle.hpp"
#include "locking/none.hpp"
#include "locking/process.hpp"
#include "locking/threads.hpp"
#include "migration/chain.hpp"
#include "migration/claude_code.hpp"
#include "migration/codex.hpp"
#include "migration/codex_keyring.hpp"
#include "migration/keyring_bundle.hpp"
#include "migration/keyring_items.hpp"
#include "migration/mcp_remote.hpp"
#include "migration/mcp_remote_discovery.hpp"
#include "migration/none.hpp"
#include "migration/opencode.hpp"
#include "options.hpp"
#include "presets.hpp"
#include "result.hpp"
#include "store.hpp"
#include "store_with.hpp"
#include "token.hpp"
#include "token_json.hpp"

#if defined(_WIN32)
#include "keyring/dpapi.hpp"
#include "keyring/wincred.hpp"
#include "presets_desktop_windows.hpp"
#endif
