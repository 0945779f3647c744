// expect: name keyring::allow_volatile<K> explicitly
// keyring::memory forgets the data key when the process exits, and with it every sealed token: a
// persistent sealed_file refuses it as key holder unless the program names keyring::allow_volatile.
#include <tokenvault/backend/sealed_file.hpp>
#include <tokenvault/keyring/memory.hpp>

int main() {
    tokenvault::store_options options;
    tokenvault::backend::sealed_file<tokenvault::keyring::memory> file(options);
    return file.lock_path() ? 0 : 1;
}
