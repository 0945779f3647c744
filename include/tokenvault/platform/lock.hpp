// tokenvault/platform/lock.hpp: platform::file_lock, the cross-process lock on a lock file, with a deadline.
//
// The lock is an OS lock on the lock file (flock, LockFileEx on byte 0). Waiters line up in a queue, a
// second lock on the same file that the OS keeps apart from the first (an OFD record lock on Linux, byte 1
// on Windows): the waiter at the head of the queue is next, and only it waits for the lock itself. Each
// waiter waits on a helper thread, in the OS's own queue and then, at its head, blocked on the lock, so it
// takes the lock the moment its holder lets go and passes the head to the next waiter at once; a process
// that just released the lock cannot take it again ahead of those already waiting. Uncontended, an
// acquisition enters and leaves the queue without waiting or starting a thread. A wait that times out
// leaves its helper behind: the helper releases what it gets at once. At most `max_abandoned_waits` such
// helpers exist per process; past that, or when no thread can be started, a waiter polls instead (the head
// every 20-200 us). Where the OS offers no independent queue lock (network file systems, Darwin), waiters
// poll the lock itself, as older versions did; every version excludes every other through the lock itself.
// A waiter may also give up early, when a `stop_waiting` it passed says the lock is no longer needed
// (asked at growing intervals while it waits on a helper thread): the store's group commit does, once
// another process has saved its change.
// The OS primitives are in posix_lock.hpp and win32_lock.hpp.
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
using platform::wait_in_queue;
using platform::wait_lock;

using steady = std::chrono::steady_clock;

/// Helpers of timed-out waits still queued in this process (they step aside when they reach the head).
[[nodiscard]] inline std::atomic<int>& abandoned_waits() noexcept {
    static std::atomic<int> count{0};
    return count;
}

/// Past this many abandoned helpers, waiters poll the queue instead of starting another thread.
inline constexpr int max_abandoned_waits = 8;

/// One wait for the lock handed to a helper thread: it waits in the OS queue (unless already at its head),
/// then, at the head, blocks on the lock itself, so it takes the lock the moment its holder lets go, and
/// leaves the queue for the next waiter. The helper alone uses the two handles until it reports; then
/// whoever comes second (the waiter, or the helper of an abandoned wait) owns them.
struct queued_wait {
    enum class state { waiting, granted, failed, abandoned };
    queued_wait(native_file q, native_file l, std::filesystem::path p, lock_mode m, bool head)
        : queue(std::move(q)), lock(std::move(l)), path(std::move(p)), mode(m), at_head(head) {}

    std::mutex mutex;
    std::condition_variable reported;
    native_file queue;
    native_file lock;
    std::filesystem::path path;
    lock_mode mode;
    bool at_head;
    state now = state::waiting;
    std::optional<error> failure;

    [[nodiscard]] bool abandoned() {
        const std::lock_guard guard(mutex);
        return now == state::abandoned;
    }
    // The helper of an abandoned wait is done: closing the handles gives back a lock taken for it, and it
    // no longer counts as abandoned. Called with `mutex` held.
    void drop_abandoned() noexcept {
        queue.reset();
        lock.reset();
        abandoned_waits().fetch_sub(1, std::memory_order_relaxed);
    }

    /// The helper thread's body: queue, lock, leave the queue; then hand the lock over or give it back.
    static void run(const std::shared_ptr<queued_wait>& self) noexcept {
        result<void> taken = self->at_head ? result<void>{} : wait_in_queue(self->queue, self->path);
        if (taken && self->abandoned()) {
            leave_queue(self->queue);  // at the head of a wait that timed out: step aside at once
            const std::lock_guard guard(self->mutex);
            self->drop_abandoned();
            return;
        }
        if (taken) {
            taken = wait_lock(self->lock, self->path, self->mode);
            leave_queue(self->queue);
        }
        const std::lock_guard guard(self->mutex);
        if (self->now == state::abandoned) {
            if (taken) platform::unlock(self->lock);  // taken for a wait that timed out: given back at once
            self->drop_abandoned();
            return;
        }
        if (taken) {
            self->now = state::granted;
        } else {
            self->now = state::failed;
            self->failure = taken.error();
        }
        self->reported.notify_all();
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

/// Non-blocking attempts at the lock on `file` until taken or the deadline passes (false).
[[nodiscard]] inline result<bool> poll_lock(const native_file& file, const std::filesystem::path& path,
                                            lock_mode mode, std::chrono::nanoseconds first,
                                            std::chrono::nanoseconds cap, steady::time_point deadline) {
    auto backoff = first;
    for (;;) {
        if (!back_off(backoff, cap, deadline)) return false;
        auto taken = try_lock(file, path, mode);
        if (!taken || *taken) return taken;
    }
}

/// Waits until `lock` is taken through the queue (`at_head`: already at its head), and leaves the queue;
/// false on timeout. Blocks on a helper thread when one can be had, else polls.
[[nodiscard]] inline result<bool> wait_for_lock(native_file& queue, native_file& lock,
                                                const std::filesystem::path& path, lock_mode mode,
                                                bool at_head, steady::time_point deadline,
                                                const platform::stop_waiting* stop = nullptr) {
    using state = queued_wait::state;
    if (steady::now() >= deadline) {
        if (at_head) leave_queue(queue);
        return false;
    }
    if (abandoned_waits().load(std::memory_order_relaxed) < max_abandoned_waits) {
        auto shared = std::make_shared<queued_wait>(std::move(queue), std::move(lock), path, mode, at_head);
        bool started = false;
        try {
            std::thread([shared] { queued_wait::run(shared); }).detach();
            started = true;
        } catch (const std::system_error&) {  // no thread to be had: poll instead
            queue = std::move(shared->queue);
            lock = std::move(shared->lock);
        }
        if (started) {
            std::unique_lock guard(shared->mutex);
            for (auto check_every = stop != nullptr ? stop->first_check : std::chrono::microseconds(0);;) {
                const auto until =
                    stop != nullptr ? std::min(deadline, steady::now() + check_every) : deadline;
                shared->reported.wait_until(guard, until, [&] { return shared->now != state::waiting; });
                if (stop == nullptr || shared->now != state::waiting || steady::now() >= deadline) break;
                guard.unlock();
                const bool give_up = stop->should_stop();
                guard.lock();
                if (give_up && shared->now == state::waiting) {
                    stop->stopped = true;
                    break;
                }
                check_every = std::min(check_every * 2, stop->check_at_most);
            }
            if (shared->now == state::granted) {
                queue = std::move(shared->queue);
                lock = std::move(shared->lock);
                return true;
            }
            if (shared->now == state::failed) return *shared->failure;
            shared->now = state::abandoned;
            abandoned_waits().fetch_add(1, std::memory_order_relaxed);
            return false;
        }
    }
    // Polling: for the head of the queue, then, at the head, for the lock.
    if (!at_head) {
        auto backoff = std::chrono::nanoseconds(std::chrono::microseconds(50));
        for (;;) {
            if (!back_off(backoff, std::chrono::milliseconds(1), deadline)) return false;
            auto head = try_queue(queue, path);
            if (!head) return head.error();
            if (*head) break;
        }
    }
    auto taken = try_lock(lock, path, mode);
    if (taken && !*taken)
        taken = poll_lock(lock, path, mode, std::chrono::microseconds(20), std::chrono::microseconds(200),
                          deadline);
    leave_queue(queue);
    return taken;
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
    /// With `stop`, a waiter that is queued behind others asks `stop->should_stop()` now and then and gives
    /// up as on a timeout (errc::lock_timeout, `stop->stopped` set) when it says so.
    [[nodiscard]] static result<file_lock> acquire(const std::filesystem::path& lock_path,
                                                   std::chrono::milliseconds timeout,
                                                   lock_wait* wait = nullptr,
                                                   lock_mode mode = lock_mode::exclusive,
                                                   const stop_waiting* stop = nullptr) {
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
                taken = detail::queued_lock::poll_lock(*main, lock_path, mode, std::chrono::microseconds(50),
                                                       std::chrono::milliseconds(1), deadline);
            }
            return finish(std::move(taken), *main);
        }

        // Join the queue: at its head at once when nobody waits, else behind those who do. At the head, take
        // the lock now if its holder has let go, else wait for it; then let the next waiter in.
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
        auto taken =
            detail::queued_lock::wait_for_lock(**queue, *main, lock_path, mode, *head, deadline, stop);
        return finish(std::move(taken), *main);
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
