// expect: token_store's migration slot got a type that is not a tokenvault policy
// A type that names no policy family is refused in every slot, naming the slot.
#include <tokenvault/tokenvault.hpp>

int main() {
    tokenvault::token_store<tokenvault::backend::memory, tokenvault::cipher::xchacha20poly1305,
                            tokenvault::locking::threads, int>
        store;
    (void)store;
}
