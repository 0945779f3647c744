// expect: token_store's backend slot got a keyring
// A keyring holds a backend's data key; it is not a backend itself.
#include <tokenvault/tokenvault.hpp>

int main() {
    tokenvault::token_store<tokenvault::keyring::file> store;
    (void)store;
}
