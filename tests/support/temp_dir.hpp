// tests/support/temp_dir.hpp: a fresh private directory per test, removed afterwards.
#pragma once

#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>

#if defined(_WIN32)
#include <process.h>
#else
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace tvtest {

/// The id of this process (for names no other process uses).
inline unsigned long process_number() {
#if defined(_WIN32)
    return static_cast<unsigned long>(::_getpid());
#else
    return static_cast<unsigned long>(::getpid());
#endif
}

/// A unique directory under $TMPDIR (mkdtemp; on Windows the user's temp folder), removed recursively on
/// destruction.
class temp_dir {
public:
    /// A directory under $TMPDIR (else /tmp); `prefer_memory_fs` puts it on /dev/shm when that exists, for
    /// tests about semantics rather than durability, where fsync on a slow disk only costs time.
    explicit temp_dir([[maybe_unused]] bool prefer_memory_fs = false) {
#if defined(_WIN32)
        std::random_device random;
        const auto base = std::filesystem::temp_directory_path();
        for (int attempt = 0; attempt < 100 && path_.empty(); ++attempt) {
            auto candidate = base / ("tokenvault-test-" + std::to_string(random()));
            std::error_code ec;
            if (std::filesystem::create_directory(candidate, ec)) path_ = candidate;
        }
        if (path_.empty()) throw std::runtime_error("no temp directory");
#else
        const char* base = std::getenv("TMPDIR");
        std::string root = base != nullptr && *base != '\0' ? base : "/tmp";
        if (prefer_memory_fs && std::filesystem::is_directory("/dev/shm")) root = "/dev/shm";
        std::string pattern = root + "/tokenvault-test-XXXXXX";
        if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = pattern;
#endif
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    ~temp_dir() {
        std::error_code ignored;
        std::filesystem::permissions(path_, std::filesystem::perms::owner_all, ignored);
#if !defined(_WIN32)
        // give back what a test made read-only (or unreadable) below it, so that the removal can descend
        std::error_code ec;
        for (auto it = std::filesystem::recursive_directory_iterator(path_, ec);
             !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
            if (it->is_directory(ec) && !it->is_symlink(ec)) ::chmod(it->path().c_str(), 0700);
        }
#endif
        std::filesystem::remove_all(path_, ignored);
    }
    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
    /// The path `relative` inside the directory.
    [[nodiscard]] std::filesystem::path operator/(const std::filesystem::path& relative) const {
        return path_ / relative;
    }

private:
    std::filesystem::path path_;
};

/// A name no other test of this process uses (for keyring services).
inline std::string unique_name(const std::string& prefix) {
    static std::atomic<unsigned> counter{0};
    return prefix + "-" + std::to_string(process_number()) + "-" + std::to_string(counter.fetch_add(1));
}

}  // namespace tvtest
