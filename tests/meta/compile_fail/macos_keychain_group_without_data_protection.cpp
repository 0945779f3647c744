// expect: an access group applies to the data protection keychain only
// Apple applies kSecAttrAccessGroup to the data protection keychain only: a keychain location that names
// a group for the file-based keychain would silently store items elsewhere than its author meant.
#include <tokenvault/keyring/macos_keychain.hpp>

#include <string_view>

struct team_group_in_file_keychain {
    static constexpr std::string_view tier = "macos_keychain_team";
    static constexpr bool data_protection_keychain = false;
    static constexpr std::string_view access_group = "TEAMID1234.com.example.tokens";
};

int main() {
    auto opened = tokenvault::keyring::basic_macos_keychain<team_group_in_file_keychain>::open({});
    return opened ? 0 : 1;
}
