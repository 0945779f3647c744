// expect: store_with<...> takes policies only
// store_with accepts policies (types naming their policy_family) only.
#include <tokenvault/tokenvault.hpp>

int main() {
    tokenvault::store_with<int> store;
    (void)store;
}
