// tokenvault/detail/credential_lock.hpp: the per-credential lock of the credential manager.
//
// Two layers: an in-process registry of held keys (threads of one process; keyed by lock file path, or by
// store address and credential hash for stores that live in one process), then, for stores that other
// processes share, an OS file lock on `<store dir>/locks/<credential hash>.lock` (0600 / owner-only,
// never deleted, released by the OS when its holder dies; platform/). Acquisition polls with a backoff
// bounded by 1/64 of the time waited so far (0.25 ms to 50 ms), and between attempts runs the caller's
// `poll`, which may end the wait early (another process finished the work this caller was waiting for).
// Registry entries record the owning pid, so a forked child never waits for a lock its parent's threads held
// at fork time.
#pragma once

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>

#include "../error.hpp"
#include "../platform/platform.hpp"
#include "../result.hpp"
#include "lock_order.hpp"

namespace tokenvault::detail {

/// The in-process half of credential locks: which keys are held, and by which process.
class credential_lock_registry {
public:
    /// The registry of this process.
    [[nodiscard]] static credential_lock_registry& instance() {
        static auto* registry = new credential_lock_registry();  // never destroyed: usable during exit
        return *registry;
    }
    /// Marks `key` held by this process; false when a thread of this process holds it.
    [[nodiscard]] bool try_take(const std::string& key) {
        const platform::process_id self = platform::current_process_id();
        const std::lock_guard guard(mutex_);
        auto [it, inserted] = held_.try_emplace(key, self);
        if (inserted) return true;
        if (it->second == self) return false;
        it->second = self;  // left over from the parent of a forked child: not held here
        return true;
    }
    /// Marks `key` free.
    void give_back(const std::string& key) noexcept {
        const std::lock_guard guard(mutex_);
        held_.erase(key);
    }

private:
    credential_lock_registry() = default;
    std::mutex mutex_;
    std::unordered_map<std::string, platform::process_id> held_;
};

/// How a credential lock acquisition went.
struct credential_lock_wait {
    bool contended = false;  ///< the lock was held by another thread or process at the first attempt
    std::chrono::nanoseconds waited{0};  ///< time from the call to acquisition, early end or timeout
};

/// A held credential lock (or an empty one when the wait ended early); released on destruction. Move-only.
class credential_lock {
public:
    credential_lock() noexcept = default;
    credential_lock(credential_lock&& other) noexcept
        : key_(std::move(other.key_)), fd_(std::move(other.fd_)), held_(std::exchange(other.held_, false)) {}
    credential_lock& operator=(credential_lock&& other) noexcept {
        if (this != &other) {
            release();
            key_ = std::move(other.key_);
            fd_ = std::move(other.fd_);
            held_ = std::exchange(other.held_, false);
        }
        return *this;
    }
    credential_lock(const credential_lock&) = delete;
    credential_lock& operator=(const credential_lock&) = delete;
    ~credential_lock() { release(); }

    /// Whether this object holds the lock (false: the wait ended early through the caller's poll).
    [[nodiscard]] bool held() const noexcept { return held_; }

    /// Releases the lock: the file lock first (other processes), then the in-process key.
    void release() noexcept {
        if (!held_) return;
        fd_.reset();
        credential_lock_registry::instance().give_back(key_);
        --lock_order::held().credential;
        held_ = false;
    }

    /// Takes the lock for `key` (and the file lock on `*lock_file` when given) within `timeout`, running
    /// `poll()` between attempts; returns an empty lock as soon as `poll()` returns true.
    template <class Poll>
    [[nodiscard]] static result<credential_lock> acquire(
        std::string key, const std::optional<std::filesystem::path>& lock_file,
        std::chrono::milliseconds timeout, credential_lock_wait& wait, Poll&& poll) {
        using steady = std::chrono::steady_clock;
        lock_order::before_credential_lock();
        const auto start = steady::now();
        const auto deadline = start + timeout;
        wait = credential_lock_wait{};

        platform::native_file fd;
        if (lock_file) {
            TOKENVAULT_TRY(platform::ensure_private_directory(platform::parent_directory_of(*lock_file)));
            auto opened = platform::open_lock_file(*lock_file);
            if (!opened) return opened.error();
            fd = std::move(*opened);
        }
        auto& registry = credential_lock_registry::instance();
        std::chrono::nanoseconds backoff = std::chrono::microseconds(50);
        for (;;) {
            if (registry.try_take(key)) {
                bool taken = true;
                if (lock_file) {
                    auto flocked = platform::try_lock(fd, *lock_file, platform::lock_mode::exclusive);
                    if (!flocked) {
                        registry.give_back(key);
                        return flocked.error();
                    }
                    taken = *flocked;
                }
                if (taken) {
                    wait.waited = steady::now() - start;
                    ++lock_order::held().credential;
                    return credential_lock(std::move(key), std::move(fd));
                }
                registry.give_back(key);
            }
            wait.contended = true;
            if (poll()) {
                wait.waited = steady::now() - start;
                return credential_lock{};
            }
            const auto now = steady::now();
            wait.waited = now - start;
            if (now >= deadline) {
                std::string where =
                    lock_file ? lock_file->string() : std::string("in-process credential lock");
                return error{errc::lock_timeout, std::move(where)};
            }
            // Sleep at most 1/64 of the time waited so far: the extra latency stays under 2% of the wait.
            const std::chrono::nanoseconds cap = std::clamp<std::chrono::nanoseconds>(
                wait.waited / 64, std::chrono::microseconds(250), std::chrono::milliseconds(50));
            backoff = std::min(backoff * 2, cap);
            std::this_thread::sleep_for(std::min<std::chrono::nanoseconds>(backoff, deadline - now));
        }
    }

private:
    credential_lock(std::string key, platform::native_file fd) noexcept
        : key_(std::move(key)), fd_(std::move(fd)), held_(true) {}

    std::string key_;
    platform::native_file fd_;
    bool held_ = false;
};

}  // namespace tokenvault::detail
