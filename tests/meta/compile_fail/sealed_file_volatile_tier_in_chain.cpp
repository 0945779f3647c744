// expect: name keyring::allow_volatile<K> explicitly
// A fallback chain is an acceptable key holder only when each of its tiers is: an unwrapped volatile
// tier (here keyring::memory) in first_available<...> is refused like the tier on its own.
#include <tokenvault/backend/sealed_file.hpp>
#include <tokenvault/keyring/file.hpp>
#include <tokenvault/keyring/first_available.hpp>
#include <tokenvault/keyring/memory.hpp>

int main() {
    using chain =
        tokenvault::keyring::first_available<tokenvault::keyring::memory, tokenvault::keyring::file>;
    tokenvault::store_options options;
    tokenvault::backend::sealed_file<chain> file(options);
    return file.lock_path() ? 0 : 1;
}
