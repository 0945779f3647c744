// expect: exactly when its traits say forget_hook = true
// A migration with a forget() hook its traits do not declare would never be called by logout: refused.
#include <tokenvault/tokenvault.hpp>

struct forgetful_migration {
    using policy_family = tokenvault::family::migration;
    static constexpr bool enabled = true;
    explicit forgetful_migration(const tokenvault::store_options&) {}
    template <class C>
    tokenvault::result<bool> import_into(C&, tokenvault::bundle&) {
        return false;
    }
    template <class C>
    tokenvault::result<void> after_persist(C&) {
        return {};
    }
    template <class C>
    tokenvault::result<bool> forget(C&, const tokenvault::credential_id&) {
        return false;
    }
};

int main() {
    tokenvault::store_with<forgetful_migration> store;
    (void)store;
}
