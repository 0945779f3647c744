// expect: two policies of the same family
// Naming two policies of one family is ambiguous and refused.
#include <tokenvault/tokenvault.hpp>

int main() {
    tokenvault::store_with<tokenvault::locking::none, tokenvault::locking::threads> store;
    (void)store;
}
