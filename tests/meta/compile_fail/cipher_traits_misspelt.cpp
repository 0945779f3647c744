// expect: max_mesages_per_key
// A misspelt optional member fails to compile instead of silently keeping the default.
#include <tokenvault/tokenvault.hpp>

struct counted_cipher : tokenvault::cipher::xchacha20poly1305 {
    static constexpr tokenvault::cipher::traits traits{.max_mesages_per_key = 1000};
};

int main() {
    tokenvault::token_store<tokenvault::backend::memory, counted_cipher> store;
    (void)store;
}
