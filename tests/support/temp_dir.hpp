// tests/support/temp_dir.hpp: a fresh private directory per test, removed afterwards.
#pragma once

#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace tvtest {

/// A unique directory under $TMPDIR (mkdtemp), removed recursively on destruction.
class temp_dir {
public:
    /// A directory under $TMPDIR (else /tmp); `prefer_memory_fs` puts it on /dev/shm when that exists, for
    /// tests about semantics rather than durability, where fsync on a slow disk only costs time.
    explicit temp_dir(bool prefer_memory_fs = false) {
        const char* base = std::getenv("TMPDIR");
        std::string root = base != nullptr && *base != '\0' ? base : "/tmp";
        if (prefer_memory_fs && std::filesystem::is_directory("/dev/shm")) root = "/dev/shm";
        std::string pattern = root + "/tokenvault-test-XXXXXX";
        if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = pattern;
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    ~temp_dir() {
        std::error_code ignored;
        std::filesystem::permissions(path_, std::filesystem::perms::owner_all, ignored);
        std::filesystem::remove_all(path_, ignored);
    }
    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

private:
    std::filesystem::path path_;
};

/// A name no other test of this process uses (for keyring services).
inline std::string unique_name(const std::string& prefix) {
    static std::atomic<unsigned> counter{0};
    return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
}

}  // namespace tvtest
