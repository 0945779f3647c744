// expect: needs locking::process
// A sealed file is shared by every process of the user: locking::threads would lose their updates.
#include <tokenvault/backend/sealed_file.hpp>
#include <tokenvault/keyring/file.hpp>
#include <tokenvault/locking/threads.hpp>
#include <tokenvault/migration/none.hpp>
#include <tokenvault/store.hpp>

int main() {
    tokenvault::token_store<tokenvault::backend::sealed_file<tokenvault::keyring::file>,
                            tokenvault::cipher::xchacha20poly1305, tokenvault::locking::threads>
        store;
    return store.options().app_name.empty() ? 1 : 0;
}
