// expect: K never rewrites an item
// keyring_bundle rewrites its one item on every save; the macOS keychain never rewrites an item (that would
// reset its access list): the data key belongs there, behind backend::sealed_file, not the whole bundle.
#include <tokenvault/backend/keyring_bundle.hpp>
#include <tokenvault/keyring/macos_keychain.hpp>

int main() {
    return static_cast<int>(sizeof(tokenvault::backend::keyring_bundle<tokenvault::keyring::macos_keychain>));
}
