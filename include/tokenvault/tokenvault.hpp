// tokenvault/tokenvault.hpp: the umbrella header: the core and every portable policy.
//
// Platform keyrings that need an SDK (libsecret, libkeyutils, Security.framework, wincred) are not
// included: include tokenvault/keyring/secret_service.hpp or keyring/keyctl.hpp yourself.
#pragma once

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
#include "entry.hpp"
#include "error.hpp"
#include "json.hpp"
#include "keyring/file.hpp"
#include "keyring/first_available.hpp"
#include "keyring/memory.hpp"
#include "locking/none.hpp"
#include "locking/process.hpp"
#include "locking/threads.hpp"
#include "migration/none.hpp"
#include "options.hpp"
#include "presets.hpp"
#include "result.hpp"
#include "store.hpp"
#include "store_with.hpp"
#include "token.hpp"
