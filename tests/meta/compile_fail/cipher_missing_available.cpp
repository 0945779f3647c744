// expect: Cipher needs `static result<void> available()`
// A cipher without the run-time availability check names the missing member.
#include <tokenvault/tokenvault.hpp>

struct broken_cipher : tokenvault::cipher::xchacha20poly1305 {
    static void available() {}
};

int main() {
    tokenvault::token_store<tokenvault::backend::memory, broken_cipher> store;
    (void)store;
}
