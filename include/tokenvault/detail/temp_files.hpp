// tokenvault/detail/temp_files.hpp: removing the temp files that writers killed mid-write left behind.
//
// The durable atomic write (posix_file.hpp) writes `<dir>/.<name>.tmp-<16 hex>` and renames it over
// `<dir>/<name>`; a writer killed before the rename leaves the temp file, which may hold a secret (the file
// keyring's passphrase). Every component that writes such files calls `remove_stale_temp_files` while it
// holds the lock all writers of those files take, so no live writer's temp file can be removed.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace tokenvault::detail {

/// The temp-file name prefix of the atomic write for a target named `name`: ".<name>.tmp-".
template <class = void>
[[nodiscard]] inline std::string temp_file_prefix(std::string_view name) {
    std::string prefix = ".";
    prefix.append(name);
    prefix.append(".tmp-");
    return prefix;
}

/// The target name of an atomic write's temp file named `name` (".<target>.tmp-<16 hex>"), or "" when
/// `name` is not such a temp file name.
template <class = void>
[[nodiscard]] inline std::string_view temp_file_target(std::string_view name) noexcept {
    constexpr std::string_view marker = ".tmp-";
    constexpr std::size_t hex_digits = 16;
    if (name.size() < 1 + 1 + marker.size() + hex_digits || name.front() != '.') return {};
    const auto suffix = name.substr(name.size() - hex_digits);
    for (const char c : suffix)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return {};
    const auto rest = name.substr(0, name.size() - hex_digits);
    if (rest.size() < 1 + 1 + marker.size() || rest.substr(rest.size() - marker.size()) != marker) return {};
    return rest.substr(1, rest.size() - 1 - marker.size());
}

/// Removes the regular files (never a symlink's target, never a directory) in `directory` that are temp
/// files of an atomic write whose target name satisfies `is_target(std::string_view)`. Call it holding the
/// lock every writer of those targets holds. Best effort: returns how many were removed.
template <class IsTarget>
std::size_t remove_stale_temp_files(const std::filesystem::path& directory, IsTarget&& is_target) noexcept {
    std::size_t removed = 0;
    try {
        std::error_code ec;
        for (std::filesystem::directory_iterator it(directory, ec), end; !ec && it != end; it.increment(ec)) {
            const auto name = it->path().filename().string();
            const auto target = temp_file_target(name);
            if (target.empty() || !is_target(target)) continue;
            std::error_code type_ec;
            if (it->symlink_status(type_ec).type() != std::filesystem::file_type::regular || type_ec)
                continue;
            std::error_code remove_ec;
            if (std::filesystem::remove(it->path(), remove_ec) && !remove_ec) ++removed;
        }
    } catch (...) {  // NOLINT(bugprone-empty-catch): best effort; the next writer tries again
    }
    return removed;
}

}  // namespace tokenvault::detail
