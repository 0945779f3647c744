// expect: Locking needs lock_store(path, timeout, wait_report&)
// A locking policy without the cross-process part names the missing member.
#include <tokenvault/tokenvault.hpp>

struct broken_locking {
    using policy_family = tokenvault::family::locking;
    static constexpr bool thread_safe = false, cross_process = false;
    using shared_guard = tokenvault::locking::no_guard;
    using exclusive_guard = tokenvault::locking::no_guard;
    using store_guard = tokenvault::locking::no_guard;
    shared_guard lock_shared() { return {}; }
    exclusive_guard lock_exclusive() { return {}; }
};

int main() {
    tokenvault::store_with<broken_locking> store;
    (void)store;
}
