// tokenvault/platform/system.hpp: who and where tokenvault runs (the light part of the platform layer).
//
// current_process_id, user_config_root (the base of the default store directory) and stdin_is_terminal,
// for headers that need only these (options.hpp); platform.hpp includes it with the rest.
#pragma once

#include "common.hpp"  // before the #if: both implementations use it

#if defined(_WIN32)
#include "win32_system.hpp"
#else
#include "posix_system.hpp"
#endif
