// expect: Migration needs `result<void> after_persist(Context&)`
// A migration policy must say how it deletes legacy data after the new copy is durable.
#include <tokenvault/tokenvault.hpp>

struct broken_migration {
    using policy_family = tokenvault::family::migration;
    static constexpr bool enabled = true;
    explicit broken_migration(const tokenvault::store_options&) {}
    template <class C>
    tokenvault::result<bool> import_into(C&, tokenvault::bundle&) {
        return false;
    }
};

int main() {
    tokenvault::store_with<broken_migration> store;
    (void)store;
}
