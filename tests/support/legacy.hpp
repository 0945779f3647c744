// tests/support/legacy.hpp: legacy token stores for the migration tests (legacy keyring layouts, mcp-remote
// and Codex files), event capture, and a fingerprint of files to prove importers never change them.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>

#include <tokenvault/detail/secure_buffer.hpp>
#include <tokenvault/diagnostics/events.hpp>
#include <tokenvault/keyring/concept.hpp>

#include <nlohmann/json.hpp>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <variant>
#include <vector>

namespace tvtest {

/// A docker-agent style legacy token (RFC 3339 expiry, "scope" string, "auth_server"); secrets contain `tag`.
inline nlohmann::json legacy_token(const std::string& tag,
                                   const std::string& expires_at = "2031-02-03T04:05:06Z") {
    return nlohmann::json{{"access_token", "legacy-at-" + tag},
                          {"token_type", "Bearer"},
                          {"refresh_token", "legacy-rt-" + tag},
                          {"expires_at", expires_at},
                          {"scope", "read write"},
                          {"client_id", "client-" + tag},
                          {"auth_server", "https://auth.example.com"}};
}

/// Writes `text` into item `account` of keyring `k`.
template <class K>
void write_item(K& k, std::string_view account, std::string_view text) {
    auto written = k.write(account, std::as_bytes(std::span<const char>(text.data(), text.size())));
    if (!written) throw std::runtime_error("write_item: " + written.error().message());
}

/// The text of item `account` of keyring `k`, or "" when absent.
template <class K>
std::string read_item(K& k, std::string_view account) {
    auto item = k.read(account);
    if (!item) throw std::runtime_error("read_item: " + item.error().message());
    return *item ? std::string((*item)->view()) : std::string{};
}

/// Whether item `account` exists in keyring `k`.
template <class K>
bool has_item(K& k, std::string_view account) {
    auto item = k.read(account);
    if (!item) throw std::runtime_error("has_item: " + item.error().message());
    return item->has_value();
}

/// Every events::migration among `events`.
inline std::vector<tokenvault::events::migration> migration_events(
    const std::vector<tokenvault::events::any>& events) {
    std::vector<tokenvault::events::migration> out;
    for (const auto& e : events)
        if (const auto* m = std::get_if<tokenvault::events::migration>(&e)) out.push_back(*m);
    return out;
}

/// Number of skipped items reported for `source` with failure `code` (any failure when code is empty).
inline std::size_t skips(const std::vector<tokenvault::events::any>& events, std::string_view source,
                         std::error_code code = {}) {
    std::size_t n = 0;
    for (const auto& m : migration_events(events))
        if (m.source == source && m.skipped == 1 && m.migrated == 0 && m.failure &&
            (!code || m.failure == code))
            ++n;
    return n;
}

/// Number of step failures (migrated = skipped = 0) reported for `source`.
inline std::size_t failures(const std::vector<tokenvault::events::any>& events, std::string_view source) {
    std::size_t n = 0;
    for (const auto& m : migration_events(events))
        if (m.source == source && m.skipped == 0 && m.migrated == 0 && m.failure) ++n;
    return n;
}

/// Sum of `migrated` over the summary events of `source`.
inline std::size_t migrated(const std::vector<tokenvault::events::any>& events, std::string_view source) {
    std::size_t n = 0;
    for (const auto& m : migration_events(events))
        if (m.source == source && !m.failure) n += m.migrated;
    return n;
}

/// Writes `text` to `path` (creating parents) with mode `mode`.
inline void write_file(const std::filesystem::path& path, std::string_view text, int mode = 0600) {
    std::filesystem::create_directories(path.parent_path());
    {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out << text;
    }
    std::filesystem::permissions(path, static_cast<std::filesystem::perms>(mode));
}

/// Sets the modification time of `path` to `seconds` since the epoch.
inline void set_mtime(const std::filesystem::path& path, long seconds) {
    const struct timespec times[2] = {{seconds, 0}, {seconds, 0}};
    if (::utimensat(AT_FDCWD, path.c_str(), times, 0) != 0) throw std::runtime_error("utimensat failed");
}

/// Content, mode and modification time of a file: equal before and after means untouched.
struct file_state {
    std::string content;
    unsigned mode = 0;
    long long mtime_ns = 0;
    long long ctime_ns = 0;
    friend bool operator==(const file_state&, const file_state&) = default;
};

/// The state of `path` now.
inline file_state state_of(const std::filesystem::path& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) throw std::runtime_error("lstat failed: " + path.string());
    std::ifstream in(path, std::ios::binary);
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return file_state{content, static_cast<unsigned>(st.st_mode),
                      st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec,
                      st.st_ctim.tv_sec * 1'000'000'000LL + st.st_ctim.tv_nsec};
}

}  // namespace tvtest
