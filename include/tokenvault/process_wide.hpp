// tokenvault/process_wide.hpp: shared_store and shared_manager, one instance per store location and process.
//
// Components of one process that name the same store location (directory, file name, app name) share one
// store (one cache, one key fetch) and, per set of lifecycle options, one credential manager. Each instance
// is made on first use under a mutex and never destroyed, so static destructors may still use it.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <unordered_map>

#include "credential_manager.hpp"
#include "options.hpp"

namespace tokenvault {

namespace detail {

/// Identifies a store location: directory, file and keyring service.
template <class = void>
[[nodiscard]] inline std::string store_location_key(const store_options& options) {
    std::error_code ignored;
    auto directory = std::filesystem::weakly_canonical(
        std::filesystem::absolute(options.resolved_directory(), ignored), ignored);
    if (directory.empty()) directory = options.resolved_directory();
    return (directory / options.file_name).string() + '\n' + options.app_name;
}

/// The objects of type T made by process_wide, by key; never destroyed (usable from static destructors).
template <class T>
struct process_wide_registry {
    std::mutex mutex;
    std::unordered_map<std::string, std::unique_ptr<T>> objects;

    /// The registry of T.
    [[nodiscard]] static process_wide_registry& instance() {
        static auto* registry = new process_wide_registry();
        return *registry;
    }
};

/// One object of type T per key for the whole process, made by `make()` on first use.
template <class T, class Make>
[[nodiscard]] T& process_wide(const std::string& key, Make&& make) {
    auto& registry = process_wide_registry<T>::instance();
    const std::lock_guard guard(registry.mutex);
    auto& slot = registry.objects[key];
    if (!slot) slot = make();
    return *slot;
}

}  // namespace detail

/// The process-wide store for the location `options` names (directory, file, app): one cache and one key
/// fetch shared by every component; made on the first call, thread-safe, never destroyed. Keep the reference.
template <class Store>
[[nodiscard]] Store& shared_store(const store_options& options = {}) {
    return detail::process_wide<Store>(detail::store_location_key(options),
                                       [&] { return std::make_unique<Store>(options); });
}

/// The process-wide credential manager with `lifecycle` options over `shared_store<Store>(options)`: one per
/// store location and set of lifecycle options.
template <class Store>
[[nodiscard]] credential_manager<Store>& shared_manager(const store_options& options,
                                                        const lifecycle_options& lifecycle) {
    const std::string key = detail::store_location_key(options) + '\n' +
                            std::to_string(lifecycle.expiry_skew.count()) + '/' +
                            std::to_string(lifecycle.lock_timeout.count()) + '/' +
                            std::to_string(lifecycle.refresh_failure_ttl.count());
    return detail::process_wide<credential_manager<Store>>(key, [&] {
        return std::make_unique<credential_manager<Store>>(shared_store<Store>(options), lifecycle);
    });
}

/// The process-wide credential manager (default lifecycle_options) over `shared_store<Store>(options)`.
template <class Store>
[[nodiscard]] credential_manager<Store>& shared_manager(const store_options& options = {}) {
    return shared_manager<Store>(options, lifecycle_options{});
}

}  // namespace tokenvault
