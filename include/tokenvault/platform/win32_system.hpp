// tokenvault/platform/win32_system.hpp: who and where tokenvault runs, on Windows.
//
// The current process, the base directory of per-user data (the LocalAppData known folder, i.e.
// %LOCALAPPDATA%: per machine, not roaming, as token stores should be), and whether standard input is a
// console. Included through platform.hpp only.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "../error.hpp"
#include "../result.hpp"
#include "win32_api.hpp"

namespace tokenvault::platform {

/// Identifies a process of this machine.
using process_id = std::uint64_t;

/// The id of the calling process.
[[nodiscard]] inline process_id current_process_id() noexcept { return ::GetCurrentProcessId(); }

/// Where per-user, per-machine application data lives: the LocalAppData known folder; errc::invalid_argument
/// when Windows cannot say (no user profile loaded).
template <class = void>
[[nodiscard]] inline result<std::filesystem::path> user_config_root() {
    // FOLDERID_LocalAppData, spelled out so that no uuid library is needed.
    static constexpr GUID local_app_data = {
        0xF1B32785, 0x6FBA, 0x4FCF, {0x9D, 0x55, 0x7B, 0x8E, 0x7F, 0x15, 0x70, 0x91}};
    PWSTR found = nullptr;
    const HRESULT rc = ::SHGetKnownFolderPath(local_app_data, KF_FLAG_DEFAULT, nullptr, &found);
    std::filesystem::path root;
    if (SUCCEEDED(rc) && found != nullptr) root = std::filesystem::path(found);
    ::CoTaskMemFree(found);
    if (root.empty() || !root.is_absolute())
        return error{
            errc::invalid_argument,
            "no default store directory: Windows names no LocalAppData folder for this user (HRESULT " +
                std::to_string(static_cast<unsigned long>(rc)) + "): set store_options::directory"};
    return root;
}

/// Whether standard input is a console (a person could answer a question).
[[nodiscard]] inline bool stdin_is_terminal() noexcept {
    DWORD mode = 0;
    return ::GetConsoleMode(::GetStdHandle(STD_INPUT_HANDLE), &mode) != 0;
}

}  // namespace tokenvault::platform
