// expect: Cipher needs `static constexpr std::string_view name`
// A cipher with every member but its name names the missing member.
#include <tokenvault/tokenvault.hpp>

struct nameless_cipher {
    using policy_family = tokenvault::family::cipher;
    static constexpr std::uint8_t id = 9;
    static constexpr std::size_t key_size = 32, nonce_size = 24, tag_size = 16;
    static constexpr bool writes_plaintext = false;
    static tokenvault::result<void> available() { return {}; }
    static tokenvault::result<void> seal(std::span<const std::byte>, std::span<const std::byte>,
                                         std::span<const std::byte>, std::span<const std::byte>,
                                         std::span<std::byte>) {
        return {};
    }
    static tokenvault::result<void> open(std::span<const std::byte>, std::span<const std::byte>,
                                         std::span<const std::byte>, std::span<const std::byte>,
                                         std::span<std::byte>) {
        return {};
    }
};

int main() {
    tokenvault::token_store<tokenvault::backend::memory, nameless_cipher> store;
    (void)store;
}
