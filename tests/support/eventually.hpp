// tests/support/eventually.hpp: waiting for what a call that timed out does later, on its own thread.
//
// `tvtest::eventually(done)` polls `done()` every millisecond for up to 10 s and says whether it came to
// hold. For effects that are certain but not synchronous (an abandoned lock wait giving the lock back, a
// keychain call that timed out landing), never for speed: the deadline only stops a broken test.
// `tvtest::lock_waits_given_back()` is the common case: every lock wait of this process that timed out (or
// stopped early) has had its helper give the lock back, so the next acquisition finds it free.
#pragma once

#include <chrono>
#include <thread>

#include "tokenvault/platform/lock.hpp"

namespace tvtest {

/// Waits (up to 10 s) until `done()` holds; false when it never did.
template <class Condition>
bool eventually(Condition done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

/// Waits (up to 10 s) until no abandoned lock wait of this process is still queued or holds the lock.
inline bool lock_waits_given_back() {
    return eventually([] { return tokenvault::detail::queued_lock::abandoned_waits().load() == 0; });
}

}  // namespace tvtest
