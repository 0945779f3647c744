// expect: Backend needs `result<void> save(Context&, const bundle&)`
// A backend without save() names the missing member and the header to read.
#include <tokenvault/tokenvault.hpp>

struct broken_backend {
    using policy_family = tokenvault::family::backend;
    static constexpr bool persistent = false, shared = false, uses_cipher = false;
    explicit broken_backend(const tokenvault::store_options&) {}
    std::optional<std::filesystem::path> lock_path() const { return {}; }
    template <class C>
    tokenvault::result<tokenvault::bundle> load(C&) {
        return tokenvault::bundle{};
    }
    template <class C>
    tokenvault::result<bool> changed(C&) {
        return false;
    }
};

int main() {
    tokenvault::token_store<broken_backend> store;
    (void)store;
}
