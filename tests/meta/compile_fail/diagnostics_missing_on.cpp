// expect: Diagnostics needs `on(const Event&)`
// A diagnostics policy must accept every event type.
#include <tokenvault/tokenvault.hpp>

struct broken_diagnostics {
    using policy_family = tokenvault::family::diagnostics;
    static constexpr bool enabled = true;
    void on(const tokenvault::events::keyring_read&) {}
};

int main() {
    tokenvault::store_with<broken_diagnostics> store;
    (void)store;
}
