// tokenvault/presets.hpp: named policy combinations, like spdlog's _mt / _st sinks.
//
// Pick the one whose name says what you need; each is an ordinary token_store type.
#pragma once

#include "backend/memory.hpp"
#include "cipher/xchacha20poly1305.hpp"
#include "diagnostics/none.hpp"
#include "locking/none.hpp"
#include "locking/threads.hpp"
#include "migration/none.hpp"
#include "store.hpp"

namespace tokenvault::presets {

/// Tokens in memory for one thread: tests, short-lived tools.
using memory_st = token_store<backend::memory, cipher::xchacha20poly1305, locking::none>;
/// Tokens in memory shared by the threads of one process.
using memory_mt = token_store<backend::memory, cipher::xchacha20poly1305, locking::threads>;

}  // namespace tokenvault::presets
