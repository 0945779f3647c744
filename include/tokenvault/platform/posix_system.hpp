// tokenvault/platform/posix_system.hpp: who and where tokenvault runs, on POSIX.
//
// The current process, the base directory of per-user configuration (on Apple platforms
// ~/Library/Application Support; elsewhere $XDG_CONFIG_HOME, else ~/.config; the home directory from $HOME,
// else from the user database: never a path relative to the working directory), and whether standard
// input is a terminal. Included through platform.hpp only.
#pragma once

#include <pwd.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "../error.hpp"
#include "../result.hpp"

namespace tokenvault::platform {

/// Identifies a process of this machine.
using process_id = std::uint64_t;

/// The id of the calling process (a forked child gets its own).
[[nodiscard]] inline process_id current_process_id() noexcept { return static_cast<process_id>(::getpid()); }

/// Closes a file descriptor (a socket, say) that its owner no longer needs; errors are not reported.
inline void close_descriptor(int fd) noexcept { (void)::close(fd); }

/// The home directory of the effective user in the user database (getpwuid_r); empty when there is none.
template <class = void>
[[nodiscard]] inline std::filesystem::path user_database_home() {
    const long hint = ::sysconf(_SC_GETPW_R_SIZE_MAX);
    std::vector<char> buffer(hint > 0 ? static_cast<std::size_t>(hint) : std::size_t{16384});
    struct passwd entry {};
    struct passwd* found = nullptr;
    for (;;) {
        const int rc = ::getpwuid_r(::geteuid(), &entry, buffer.data(), buffer.size(), &found);
        if (rc == ERANGE && buffer.size() < (std::size_t{1} << 20)) {
            buffer.resize(buffer.size() * 2);
            continue;
        }
        if (rc != 0 || found == nullptr || found->pw_dir == nullptr || found->pw_dir[0] != '/') return {};
        return std::filesystem::path(found->pw_dir);
    }
}

/// Where an OS keeps per-user application data.
enum class directory_convention {
    xdg,    ///< the XDG base directories: $XDG_CONFIG_HOME, else ~/.config (Linux, the BSDs)
    apple,  ///< ~/Library/Application Support (macOS; in a sandboxed app, its container's)
};

/// The convention of this platform (a compile-time constant; tests name the other one explicitly).
#if defined(__APPLE__)
inline constexpr directory_convention native_directory_convention = directory_convention::apple;
#else
inline constexpr directory_convention native_directory_convention = directory_convention::xdg;
#endif

/// Where per-user configuration lives. xdg: $XDG_CONFIG_HOME if absolute, else $HOME/.config if $HOME is
/// absolute, else <home from the user database>/.config. apple: $HOME/Library/Application Support if
/// $HOME is absolute, else <home from the user database>/Library/Application Support (XDG_CONFIG_HOME is
/// not a macOS convention and is ignored there). errc::invalid_argument when no home directory is known.
template <directory_convention Convention = native_directory_convention>
[[nodiscard]] inline result<std::filesystem::path> user_config_root() {
    static constexpr bool apple = Convention == directory_convention::apple;
    const auto below_home = [](std::filesystem::path home) {
        return apple ? std::move(home) / "Library" / "Application Support" : std::move(home) / ".config";
    };
    if constexpr (!apple) {
        if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg != nullptr && *xdg == '/')
            return std::filesystem::path(xdg);
    }
    if (const char* home = std::getenv("HOME"); home != nullptr && *home == '/')
        return below_home(std::filesystem::path(home));
    if (auto home = user_database_home(); !home.empty()) return below_home(std::move(home));
    return error{
        errc::invalid_argument,
        std::string(apple ? "no default store directory: HOME is not an absolute path"
                          : "no default store directory: neither XDG_CONFIG_HOME nor HOME is an absolute "
                            "path") +
            ", and the user database has no home directory for uid " + std::to_string(::geteuid()) +
            ": set HOME, or set store_options::directory"};
}

/// Whether standard input is a terminal (a person could answer a question).
[[nodiscard]] inline bool stdin_is_terminal() noexcept { return ::isatty(STDIN_FILENO) != 0; }

}  // namespace tokenvault::platform
