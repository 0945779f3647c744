// tests/fuzz/fuzz_import_codex_keyring.cpp: libFuzzer harness for migration::from_codex_keyring's reader of
// the items Codex keeps in the OS keyring (another program controls their bytes). Every login it accepts
// must survive the bundle round trip (tvfuzz::check_storable).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <tokenvault/migration/codex_keyring.hpp>

#include "fuzz_support.hpp"

namespace fuzz_import_codex_keyring {  // one namespace per harness: see TOKENVAULT_FUZZ_TARGET

namespace {
/// A keyring that holds nothing: the template argument of from_codex_keyring (parse_item reads no keyring).
struct no_keyring {
    using policy_family = tokenvault::family::keyring;
    static constexpr std::string_view tier = "none";
    static constexpr bool persistent = false;
    static constexpr std::size_t max_item_size = 0;
    using buffer = tokenvault::detail::secure_buffer;
    static tokenvault::result<std::optional<no_keyring>> open(const tokenvault::keyring_options&) {
        return std::optional<no_keyring>{};
    }
    [[nodiscard]] std::string_view tier_name() const { return tier; }
    tokenvault::result<std::optional<buffer>> read(std::string_view) { return std::optional<buffer>{}; }
    tokenvault::result<void> write(std::string_view, std::span<const std::byte>) { return {}; }
    tokenvault::result<bool> erase(std::string_view) { return false; }
    tokenvault::result<std::optional<buffer>> read_foreign(std::string_view, std::string_view) {
        return std::optional<buffer>{};
    }
    tokenvault::result<std::vector<std::string>> list_foreign(std::string_view) {
        return std::vector<std::string>{};
    }
};
}  // namespace

TOKENVAULT_FUZZ_TARGET(import_codex_keyring) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto login =
        tokenvault::migration::from_codex_keyring<no_keyring>::parse_item(text, tokenvault::store_options{});
    if (login) tvfuzz::check_storable(login->first, login->second);
    return 0;
}

}  // namespace fuzz_import_codex_keyring
