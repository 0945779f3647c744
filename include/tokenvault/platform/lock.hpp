// tokenvault/platform/lock.hpp: platform::file_lock, the cross-process lock on a lock file, with a deadline.
//
// The lock is an OS lock on the lock file (flock, LockFileEx on byte 0). Waiters line up in a queue, a
// second lock on the same file that the OS keeps apart from the first (an OFD record lock on Linux, byte 1
// on Windows): only the waiter at the head of the queue waits for the lock itself, and it lets the next
// waiter to the head the moment it has the lock, so a process that just released the lock cannot take it
// again ahead of those already waiting. Both waits are the OS's own blocking waits, run on a helper thread
// that the waiter watches with its deadline: the head is woken when the holder lets go, not at its next
// poll. Uncontended, an acquisition enters and leaves the queue without waiting or starting a thread.
// A wait that times out leaves its helper behind: one still queued steps aside when it reaches the head;
// one already at the head has the queue let go for it at once, and lets go of the lock the moment the
// holder hands it over. At most `max_abandoned_waits` such helpers exist per process; past that, or when
// no thread can be started, a waiter polls the queue and then the lock instead (every 20 us to 1 ms).
// Where the OS offers no independent queue lock (network file systems, Darwin), waiters poll the lock
// itself, as older versions did; every version excludes every other through the lock itself. The OS
// primitives are in posix_lock.hpp and win32_lock.hpp.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>

#include "../error.hpp"
#include "../result.hpp"
#include "common.hpp"

#if defined(_WIN32)
#include "win32_lock.hpp"
#else
#include "posix_lock.hpp"
#endif

namespace tokenvault::platform {}  // namespace tokenvault::platform

namespace tokenvault::detail::queued_lock {

using platform::leave_queue;
using platform::lock_mode;
using platform::native_file;
using platform::try_lock;
using platform::try_queue;
using platform::unlock;
using platform::wait_for_lock;
using platform::wait_in_queue;

using steady = std::chrono::steady_clock;

/// Helpers of timed-out waits of this process that are still waiting (see the top of this file).
[[nodiscard]] inline std::atomic<int>& abandoned_waits() noexcept {
    static std::atomic<int> count{0};
    return count;
}

/// Past this many abandoned helpers, waiters poll instead of starting another thread.
inline constexpr int max_abandoned_waits = 8;

/// One contended acquisition handed to a helper thread: wait in the OS queue for the head (unless already
/// there), then in the OS's own wait for the lock, then leave the queue. The helper alone uses the two
/// handles until it reports; then whoever comes second (the waiter, or the helper of an abandoned wait)
/// owns them.
struct queued_wait {
    enum class state { waiting, granted, failed, abandoned };
    queued_wait(native_file l, native_file q, bool head, lock_mode m, std::filesystem::path p)
        : lock(std::move(l)), queue(std::move(q)), at_head(head), mode(m), path(std::move(p)) {}

    std::mutex mutex;
    std::condition_variable reported;
    native_file lock;
    native_file queue;
    bool at_head;
    lock_mode mode;
    std::filesystem::path path;
    state now = state::waiting;
    std::optional<error> failure;

    /// The helper thread's body: reach the head, take the lock, let the next waiter to the head, report.
    /// A wait abandoned before the head steps aside there; one abandoned at the head has had the queue let
    /// go for it (by the waiter), and lets go of the lock the moment it gets it.
    static void run(const std::shared_ptr<queued_wait>& self) noexcept {
        result<void> got{};
        if (!self->at_head) {
            got = wait_in_queue(self->queue, self->path);
            const std::lock_guard guard(self->mutex);
            if (got && self->now == state::abandoned) {
                leave_queue(self->queue);
                self->finish_abandoned(false);
                return;
            }
            if (got) self->at_head = true;
        }
        if (got) {
            got = wait_for_lock(self->lock, self->path, self->mode);
            leave_queue(self->queue);
        }
        const std::lock_guard guard(self->mutex);
        if (self->now == state::abandoned) {
            self->finish_abandoned(got.has_value());
            return;
        }
        if (got) {
            self->now = state::granted;
        } else {
            self->now = state::failed;
            self->failure = got.error();
        }
        self->reported.notify_all();
    }

    /// The waiter's timeout (under `mutex`): the helper goes on alone, and a queue it heads is let go now so
    /// the waiters behind it need not wait for the lock's holder.
    void abandon() noexcept {
        now = state::abandoned;
        abandoned_waits().fetch_add(1, std::memory_order_relaxed);
        if (at_head) leave_queue(queue);
    }

private:
    /// The end of an abandoned helper (under `mutex`): lets go of what it got.
    void finish_abandoned(bool locked) noexcept {
        if (locked) unlock(lock);
        lock.reset();
        queue.reset();
        abandoned_waits().fetch_sub(1, std::memory_order_relaxed);
    }
};

/// Sleeps for `backoff` (capped by the deadline) and doubles it up to `cap`; false once the deadline passed.
[[nodiscard]] inline bool back_off(std::chrono::nanoseconds& backoff, std::chrono::nanoseconds cap,
                                   steady::time_point deadline) {
    const auto now = steady::now();
    if (now >= deadline) return false;
    std::this_thread::sleep_for(std::min<std::chrono::nanoseconds>(backoff, deadline - now));
    backoff = std::min(backoff * 2, cap);
    return true;
}

/// Non-blocking `attempt`s until one succeeds (true), fails, or the deadline passes (false).
template <class Attempt>
[[nodiscard]] result<bool> poll(Attempt attempt, std::chrono::nanoseconds first, std::chrono::nanoseconds cap,
                                steady::time_point deadline) {
    auto backoff = first;
    for (;;) {
        if (!back_off(backoff, cap, deadline)) return false;
        auto taken = attempt();
        if (!taken || *taken) return taken;
    }
}

/// The contended path without a helper thread: poll for the head (unless there), then for the lock.
[[nodiscard]] inline result<bool> poll_through_queue(const native_file& lock, const native_file& queue,
                                                     bool at_head, lock_mode mode,
                                                     const std::filesystem::path& path,
                                                     steady::time_point deadline) {
    if (!at_head) {
        auto head = poll([&] { return try_queue(queue, path); }, std::chrono::microseconds(50),
                         std::chrono::milliseconds(1), deadline);
        if (!head || !*head) return head;
    }
    auto taken = poll([&] { return try_lock(lock, path, mode); }, std::chrono::microseconds(20),
                      std::chrono::microseconds(200), deadline);
    leave_queue(queue);
    return taken;
}

/// Waits for the lock behind those already queued (on a helper thread when one can be had); true when
/// `lock` holds it, false on timeout. `queue` is spent either way.
[[nodiscard]] inline result<bool> wait_through_queue(native_file& lock, native_file& queue, bool at_head,
                                                     lock_mode mode, const std::filesystem::path& path,
                                                     steady::time_point deadline) {
    using state = queued_wait::state;
    if (steady::now() >= deadline) {
        if (at_head) leave_queue(queue);
        return false;
    }
    if (abandoned_waits().load(std::memory_order_relaxed) < max_abandoned_waits) {
        auto shared = std::make_shared<queued_wait>(std::move(lock), std::move(queue), at_head, mode, path);
        bool started = false;
        try {
            std::thread([shared] { queued_wait::run(shared); }).detach();
            started = true;
        } catch (const std::system_error&) {  // no thread to be had: poll instead
            lock = std::move(shared->lock);
            queue = std::move(shared->queue);
        }
        if (started) {
            std::unique_lock guard(shared->mutex);
            shared->reported.wait_until(guard, deadline, [&] { return shared->now != state::waiting; });
            if (shared->now == state::granted) {
                lock = std::move(shared->lock);
                return true;
            }
            if (shared->now == state::failed) return *shared->failure;
            shared->abandon();
            return false;
        }
    }
    return poll_through_queue(lock, queue, at_head, mode, path, deadline);
}

}  // namespace tokenvault::detail::queued_lock

namespace tokenvault::platform {

/// A cross-process lock (exclusive, or shared among readers) on a lock file, released on destruction.
class file_lock {
public:
    /// An empty (not held) lock.
    file_lock() noexcept = default;

    /// Takes the lock at `lock_path`, waiting up to `timeout` (errc::lock_timeout); reports the wait in
    /// `*wait`.
    [[nodiscard]] static result<file_lock> acquire(const std::filesystem::path& lock_path,
                                                   std::chrono::milliseconds timeout,
                                                   lock_wait* wait = nullptr,
                                                   lock_mode mode = lock_mode::exclusive) {
        using steady = detail::queued_lock::steady;
        const auto start = steady::now();
        const auto deadline = start + timeout;
        lock_wait local;
        lock_wait& report = wait != nullptr ? *wait : local;
        report = lock_wait{};
        const auto finish = [&](result<bool> taken, native_file& main) -> result<file_lock> {
            report.waited = steady::now() - start;
            if (!taken) return taken.error();
            if (!*taken) return error{errc::lock_timeout, lock_path.string()};
            return file_lock(std::move(main));
        };

        auto main = open_lock_file(lock_path);
        if (!main) return main.error();
        auto queue = open_lock_queue(lock_path);
        if (!queue) return queue.error();
        if (!*queue) {  // no independent queue lock here: poll the lock itself
            auto taken = try_lock(*main, lock_path, mode);
            if (taken && !*taken) {
                report.contended = true;
                taken = detail::queued_lock::poll([&] { return try_lock(*main, lock_path, mode); },
                                                  std::chrono::microseconds(50), std::chrono::milliseconds(1),
                                                  deadline);
            }
            return finish(std::move(taken), *main);
        }

        // Join the queue: at its head at once when nobody waits, else behind those who do. At the head,
        // take the lock when its holder lets go, then let the next waiter to the head.
        auto head = try_queue(**queue, lock_path);
        if (!head) return head.error();
        if (*head) {
            auto taken = try_lock(*main, lock_path, mode);
            if (!taken || *taken) {
                leave_queue(**queue);
                return finish(std::move(taken), *main);
            }
        }
        report.contended = true;
        return finish(
            detail::queued_lock::wait_through_queue(*main, **queue, *head, mode, lock_path, deadline), *main);
    }

    file_lock(file_lock&&) noexcept = default;
    file_lock& operator=(file_lock&& other) noexcept {
        if (this != &other) file_ = std::move(other.file_);  // moving the handle releases ours first
        return *this;
    }
    file_lock(const file_lock&) = delete;
    file_lock& operator=(const file_lock&) = delete;
    ~file_lock() = default;

    /// Releases the lock by closing the handle (a forked child still holding a copy keeps it until it exits).
    void release() noexcept { file_.reset(); }
    /// Whether this object holds the lock.
    [[nodiscard]] bool held() const noexcept { return file_.valid(); }

private:
    explicit file_lock(native_file file) noexcept : file_(std::move(file)) {}
    native_file file_;
};

}  // namespace tokenvault::platform
