// expect: declare max_messages_per_key in the cipher's traits
// An optional member declared outside the family's traits would be read by nobody: refused, not ignored.
#include <tokenvault/tokenvault.hpp>

struct counted_cipher : tokenvault::cipher::xchacha20poly1305 {
    static constexpr std::uint64_t max_messages_per_key = 1000;
};

int main() {
    tokenvault::token_store<tokenvault::backend::memory, counted_cipher> store;
    (void)store;
}
