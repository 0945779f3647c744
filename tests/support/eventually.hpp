// tests/support/eventually.hpp: waiting for what a call that timed out does later, on its own thread.
//
// `tvtest::eventually(done)` polls `done()` every millisecond for up to 10 s and says whether it came to
// hold. For effects that are certain but not synchronous (an abandoned lock wait giving the lock back, a
// keychain call that timed out landing), never for speed: the deadline only stops a broken test.
#pragma once

#include <chrono>
#include <thread>

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

}  // namespace tvtest
