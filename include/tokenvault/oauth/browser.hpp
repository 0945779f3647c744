// tokenvault/oauth/browser.hpp: opening the authorization URL in the user's browser.
//
// The default hook of a login: `xdg-open` (Linux and other Unix desktops) or `open` (macOS), started with
// posix_spawnp and an argument vector (no shell, so nothing in the URL is interpreted), not waited for
// beyond its exit. A program without a desktop passes its own hook (print the URL, or drive a test
// browser).
#pragma once

#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>
#include <string>
#include <string_view>
#include <system_error>

#include "../result.hpp"

extern char** environ;  // NOLINT: POSIX declares it nowhere in a header

namespace tokenvault::oauth {

/// Opens `url` in the default browser: `open` on macOS, `xdg-open` elsewhere.
[[nodiscard]] inline result<void> open_in_browser(std::string_view url) {
#if defined(__APPLE__)
    const char* opener = "open";
#else
    const char* opener = "xdg-open";
#endif
    std::string program = opener;
    std::string argument(url);
    char* argv[] = {program.data(), argument.data(), nullptr};
    pid_t child = 0;
    const int spawned = ::posix_spawnp(&child, opener, nullptr, nullptr, argv, environ);
    if (spawned != 0)
        return error{
            std::error_code(spawned, std::system_category()),
            std::string("opening the browser: cannot run ") + opener + "; open the login URL yourself"};
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return error{errc::invalid_argument,
                     std::string("opening the browser: ") + opener + " failed; open the login URL yourself"};
    return {};
}

}  // namespace tokenvault::oauth
