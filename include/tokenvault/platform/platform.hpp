// tokenvault/platform/platform.hpp: the platform layer, the one place where tokenvault meets the OS.
//
// Everything else calls these functions (namespace tokenvault::platform) and never an OS header. Each OS
// implements the same set; the implementation is picked at compile time (Win32 on _WIN32, else POSIX).
//   files:   read_private_file, read_foreign_file, write_file_atomically (durable atomic replace),
//            replace_file (the same, leaving the directory flush to the caller),
//            stat_identity (change checks), quarantine_file, remove_file, inspect_path, and for
//            short-lived hand-over files create_private_file, rename_file, remove_file_unflushed
//   folders: ensure_private_directory, check_private_directory, ensure_store_directory and
//            check_store_directory (plus the parent rule), sync_directory
//   locks:   file_lock (lock.hpp) over open_lock_file, try_lock, wait_for_lock, unlock
//   system:  current_process_id, user_config_root (the default store directory's base), stdin_is_terminal
// Private means: POSIX 0700 directories and 0600 files of the current user, never a symlink; Windows an
// owner-only protected DACL, the current user as owner, never a reparse point. Paths are
// std::filesystem::path throughout (wide on Windows). Errors are values; contexts name paths, never data.
#pragma once

#include "common.hpp"

#include "system.hpp"

#if defined(_WIN32)
#include "win32_file.hpp"
#else
#include "posix_file.hpp"
#endif

#include "lock.hpp"  // the lock primitives of this OS (win32_lock.hpp, posix_lock.hpp), then file_lock
