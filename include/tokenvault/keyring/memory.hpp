// tokenvault/keyring/memory.hpp: keyring::memory, a process-local keyring.
//
// Items live in a process-wide table keyed by service, so every store of one process that names the
// same service sees the same items, as it would with an OS keyring. Nothing survives the process: as the
// key holder of a persistent file it must be named `keyring::allow_volatile<keyring::memory>`.
// Tests use its counters and its fault injection (`memory::control`).
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "../detail/secure_buffer.hpp"
#include "../result.hpp"
#include "concept.hpp"

namespace tokenvault::keyring {

/// A process-local keyring: a shared in-memory table per service.
template <class = void>
class basic_memory {
public:
    using policy_family = family::keyring;
    /// Lists the accounts of its service (list_accounts).
    static constexpr keyring::traits traits{.lists_accounts = true};
    static constexpr std::string_view tier = "memory";
    static constexpr bool persistent = false;
    static constexpr std::size_t max_item_size = std::size_t{64} << 20;

    /// Per-service state: items, call counters and injected faults (for tests).
    struct control {
        std::mutex mutex;
        std::map<std::string, detail::secure_buffer, std::less<>> items;
        std::size_t reads = 0;
        std::size_t writes = 0;
        std::size_t erases = 0;
        std::optional<errc> fail_reads;   ///< every read fails with this code while set
        std::optional<errc> fail_writes;  ///< every write fails with this code while set
        std::optional<errc> fail_erases;  ///< every erase fails with this code while set
        bool unavailable = false;         ///< open() answers "not available here"
    };

    /// The control block of `service` (created on first use; lives until the process ends).
    [[nodiscard]] static std::shared_ptr<control> control_for(std::string_view service) {
        static std::mutex registry_mutex;
        static std::map<std::string, std::shared_ptr<control>, std::less<>> registry;
        const std::lock_guard lock(registry_mutex);
        auto found = registry.find(service);
        if (found == registry.end())
            found = registry.emplace(std::string(service), std::make_shared<control>()).first;
        return found->second;
    }

    [[nodiscard]] static result<std::optional<basic_memory>> open(const keyring_options& options) {
        auto state = control_for(options.service);
        {
            const std::lock_guard lock(state->mutex);
            if (state->unavailable) return std::optional<basic_memory>{};
        }
        return std::optional<basic_memory>{basic_memory{std::move(state)}};
    }

    [[nodiscard]] std::string_view tier_name() const noexcept { return tier; }

    [[nodiscard]] result<std::optional<detail::secure_buffer>> read(std::string_view account) {
        const std::lock_guard lock(state_->mutex);
        ++state_->reads;
        if (state_->fail_reads) return error{*state_->fail_reads, "keyring::memory"};
        auto found = state_->items.find(account);
        if (found == state_->items.end()) return std::optional<detail::secure_buffer>{};
        return std::optional<detail::secure_buffer>{detail::secure_buffer::copy_of(found->second.bytes())};
    }

    [[nodiscard]] result<void> write(std::string_view account, std::span<const std::byte> secret) {
        const std::lock_guard lock(state_->mutex);
        ++state_->writes;
        if (state_->fail_writes) return error{*state_->fail_writes, "keyring::memory"};
        if (secret.size() > max_item_size) return error{errc::keyring_item_too_large, "keyring::memory"};
        state_->items.insert_or_assign(std::string(account), detail::secure_buffer::copy_of(secret));
        return {};
    }

    /// The accounts of this service that start with `prefix`, sorted (the optional enumeration of
    /// keyring/concept.hpp; a read: fails while `fail_reads` is set).
    [[nodiscard]] result<std::vector<std::string>> list_accounts(std::string_view prefix) {
        const std::lock_guard lock(state_->mutex);
        if (state_->fail_reads) return error{*state_->fail_reads, "keyring::memory: list"};
        std::vector<std::string> out;
        for (auto it = state_->items.lower_bound(prefix); it != state_->items.end(); ++it) {
            if (it->first.compare(0, prefix.size(), prefix) != 0) break;
            out.push_back(it->first);
        }
        return out;
    }

    [[nodiscard]] result<bool> erase(std::string_view account) {
        const std::lock_guard lock(state_->mutex);
        ++state_->erases;
        if (state_->fail_erases) return error{*state_->fail_erases, "keyring::memory"};
        auto found = state_->items.find(account);
        if (found == state_->items.end()) return false;
        state_->items.erase(found);
        return true;
    }

private:
    explicit basic_memory(std::shared_ptr<control> state) : state_(std::move(state)) {}
    std::shared_ptr<control> state_;
};

/// keyring::memory: a class template only so that its members are compiled where they are used.
using memory = basic_memory<>;

static_assert(check<memory>() && enumerable_keyring<memory>);

}  // namespace tokenvault::keyring
