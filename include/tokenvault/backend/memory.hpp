// tokenvault/backend/memory.hpp: backend::memory, tokens that live as long as the store object.
//
// The store's own cache is the whole truth: nothing is read or written anywhere, no cipher is used.
#pragma once

#include "concept.hpp"

namespace tokenvault::backend {

/// Process-local storage: the store's cache is all there is.
struct memory {
    using policy_family = family::backend;
    static constexpr bool persistent = false;
    static constexpr bool shared = false;
    static constexpr bool uses_cipher = false;

    memory() = default;
    explicit memory(const store_options&) noexcept {}

    [[nodiscard]] std::optional<std::filesystem::path> lock_path() const { return std::nullopt; }
    template <class Context>
    [[nodiscard]] result<bundle> load(Context&) {
        return bundle{};
    }
    template <class Context>
    [[nodiscard]] result<bool> changed(Context&) noexcept {
        return false;
    }
    template <class Context>
    [[nodiscard]] result<void> save(Context&, const bundle&) noexcept {
        return {};
    }
};

static_assert(check<memory>());

}  // namespace tokenvault::backend
