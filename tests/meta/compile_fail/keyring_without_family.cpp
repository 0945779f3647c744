// expect: Keyring needs `using policy_family = tokenvault::family::keyring;`
// A keyring names its family like every policy, so that a store can tell it from a backend.
#include <tokenvault/backend/sealed_file.hpp>
#include <tokenvault/keyring/file.hpp>

struct untagged_keyring {
    static constexpr std::string_view tier = "untagged";
    static constexpr bool persistent = true;
    static constexpr std::size_t max_item_size = 1024;
    tokenvault::keyring::file inner;
    static tokenvault::result<std::optional<untagged_keyring>> open(const tokenvault::keyring_options&) {
        return std::optional<untagged_keyring>{};
    }
    std::string_view tier_name() const { return tier; }
    tokenvault::result<std::optional<tokenvault::detail::secure_buffer>> read(std::string_view a) {
        return inner.read(a);
    }
    tokenvault::result<void> write(std::string_view a, std::span<const std::byte> s) {
        return inner.write(a, s);
    }
    tokenvault::result<bool> erase(std::string_view a) { return inner.erase(a); }
};

int main() {
    tokenvault::store_options options;
    tokenvault::backend::sealed_file<untagged_keyring> file(options);
    return file.lock_path() ? 0 : 1;
}
