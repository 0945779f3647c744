// expect: exactly when its traits say persist_failed_hook = true
// A migration with a persist_failed() hook its traits do not declare would never be called by the store:
// refused.
#include <tokenvault/tokenvault.hpp>

struct unheard_migration {
    using policy_family = tokenvault::family::migration;
    static constexpr bool enabled = true;
    explicit unheard_migration(const tokenvault::store_options&) {}
    template <class C>
    tokenvault::result<bool> import_into(C&, tokenvault::bundle&) {
        return false;
    }
    template <class C>
    tokenvault::result<void> after_persist(C&) {
        return {};
    }
    template <class C>
    void persist_failed(C&, const tokenvault::error&) {}
};

int main() {
    tokenvault::store_with<unheard_migration> store;
    (void)store;
}
