// expect: the legacy bundle must win over per-item entries
// Precedence of the legacy keyring layouts: a chain must drain the legacy bundle before the per-item entries.
#include <tokenvault/keyring/memory.hpp>
#include <tokenvault/migration/chain.hpp>

int main() {
    using namespace tokenvault;
    using wrong = migration::chain<migration::from_keyring_items<keyring::memory>,
                                   migration::from_keyring_bundle<keyring::memory>>;
    wrong m{store_options{}};
    (void)m;
}
