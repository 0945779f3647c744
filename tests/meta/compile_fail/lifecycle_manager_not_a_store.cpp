// expect: credential_manager<Store> needs a tokenvault::token_store
// A manager over something that is not a store says what it needs.
#include <tokenvault/lifecycle.hpp>

struct not_a_store {};

int main() {
    not_a_store s;
    tokenvault::credential_manager<not_a_store> manager(s);
    (void)manager;
}
