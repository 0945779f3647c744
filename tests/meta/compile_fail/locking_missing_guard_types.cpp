// expect: Locking needs the guard types shared_guard, exclusive_guard and store_guard
// A locking policy without its guard typedefs names them.
#include <tokenvault/tokenvault.hpp>

struct guardless_locking {
    using policy_family = tokenvault::family::locking;
    static constexpr bool thread_safe = false, cross_process = false;
    tokenvault::locking::no_guard lock_shared() { return {}; }
    tokenvault::locking::no_guard lock_exclusive() { return {}; }
    tokenvault::result<tokenvault::locking::no_guard> lock_store(const std::filesystem::path&,
                                                                 std::chrono::milliseconds,
                                                                 tokenvault::locking::wait_report&) {
        return tokenvault::locking::no_guard{};
    }
};

int main() {
    tokenvault::store_with<guardless_locking> store;
    (void)store;
}
