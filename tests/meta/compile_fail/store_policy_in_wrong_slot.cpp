// expect: token_store's cipher slot got a locking policy
// token_store takes its policies in a fixed order: a locking policy given second lands in the cipher slot.
#include <tokenvault/tokenvault.hpp>

int main() {
    tokenvault::token_store<tokenvault::backend::memory, tokenvault::locking::none> store;
    (void)store;
}
