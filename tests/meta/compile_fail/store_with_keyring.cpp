// expect: store_with<...> got a keyring
// store_with names store policies; a keyring goes inside a backend.
#include <tokenvault/tokenvault.hpp>

int main() {
    tokenvault::store_with<tokenvault::keyring::file, tokenvault::locking::process> store;
    (void)store;
}
