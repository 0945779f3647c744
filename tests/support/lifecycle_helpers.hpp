// tests/support/lifecycle_helpers.hpp: shared pieces of the credential lifecycle tests.
//
// An event recorder that renders every string field of every event (to search it for canaries), a store
// wrapper that injects interleavings (a hook before the authoritative reread, a stale cache that never
// notices other writers), and small token helpers.
#pragma once

#include <tokenvault/diagnostics/events.hpp>
#include <tokenvault/lifecycle.hpp>

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace tvtest {

/// Every string and enum field of an event, space separated (events must never carry a secret).
inline std::string render_event(const tokenvault::events::any& event) {
    return std::visit(
        [](const auto& e) {
            std::string out = "event";
            const auto add = [&](const auto& field) {
                out += ' ';
                if constexpr (std::is_convertible_v<decltype(field), std::string_view>)
                    out += std::string_view(field);
                else if constexpr (std::is_enum_v<std::remove_cvref_t<decltype(field)>> ||
                                   std::is_same_v<std::remove_cvref_t<decltype(field)>,
                                                  tokenvault::events::resolution_reason>)
                    out += tokenvault::events::to_string(field);
                else
                    out += field.message();  // an error_code
            };
            if constexpr (requires { e.credential; }) add(e.credential);
            if constexpr (requires { e.outcome; }) add(e.outcome);
            if constexpr (requires { e.lock; }) add(e.lock);
            if constexpr (requires { e.operation; }) add(e.operation);
            if constexpr (requires { e.tier; }) add(e.tier);
            if constexpr (requires { e.original; }) add(e.original);
            if constexpr (requires { e.moved_to; }) add(e.moved_to);
            if constexpr (requires { e.previous; }) add(e.previous);
            if constexpr (requires { e.current; }) add(e.current);
            if constexpr (requires { e.reason; }) add(e.reason);
            if constexpr (requires { e.source; }) add(e.source);
            if constexpr (requires { e.directory; }) add(e.directory);
            if constexpr (requires { e.backend; }) add(e.backend);
            if constexpr (requires { e.failure.message(); }) add(e.failure.message());
            return out;
        },
        event);
}

/// Collects rendered events from a diagnostics::callback store (thread-safe).
class event_recorder {
public:
    /// The function to hand to diagnostics::callback::set.
    [[nodiscard]] std::function<void(const tokenvault::events::any&)> sink() {
        return [this](const tokenvault::events::any& e) {
            const std::lock_guard guard(mutex_);
            lines_.push_back(render_event(e));
        };
    }
    /// Everything recorded so far.
    [[nodiscard]] std::vector<std::string> lines() const {
        const std::lock_guard guard(mutex_);
        return lines_;
    }
    /// How many recorded lines contain `text`.
    [[nodiscard]] int count(const std::string& text) const {
        const std::lock_guard guard(mutex_);
        int n = 0;
        for (const auto& line : lines_)
            if (line.find(text) != std::string::npos) ++n;
        return n;
    }

private:
    mutable std::mutex mutex_;
    std::vector<std::string> lines_;
};

/// A store that forwards to `Inner` and can inject interleavings; models tokenvault::lifecycle_store.
template <class Inner>
class hooked_store {
public:
    using locking_type = typename Inner::locking_type;

    explicit hooked_store(Inner& inner) : inner_(&inner) {}

    /// Runs once, just before the manager's authoritative reread.
    std::function<void()> before_reload;
    /// Runs after every get() and with_token().
    std::function<void()> after_get;
    /// When set, get() and with_token() serve this token: a cache that misses other processes' writes.
    std::optional<tokenvault::token> stale;
    /// How many times get_entry/reload were called (the authoritative path).
    int rereads = 0;

    [[nodiscard]] tokenvault::result<std::optional<tokenvault::token>> get(
        const tokenvault::credential_id& id) {
        if (stale) return std::optional<tokenvault::token>{*stale};
        auto got = inner_->get(id);
        if (after_get) after_get();
        return got;
    }
    /// As get(): `fn` sees the stale token when one is set, else the inner store's; after_get runs after.
    template <class Fn>
    [[nodiscard]] auto with_token(const tokenvault::credential_id& id, Fn&& fn)
        -> std::invoke_result_t<Fn&, const tokenvault::token*> {
        if (stale) return fn(&*stale);
        auto seen = inner_->with_token(id, fn);
        if (after_get) after_get();
        return seen;
    }
    [[nodiscard]] tokenvault::result<std::optional<tokenvault::entry>> get_entry(
        const tokenvault::credential_id& id) {
        return inner_->get_entry(id);
    }
    [[nodiscard]] tokenvault::result<std::uint64_t> put(const tokenvault::credential_id& id,
                                                        const tokenvault::token& t) {
        return inner_->put(id, t);
    }
    [[nodiscard]] tokenvault::result<bool> erase(const tokenvault::credential_id& id) {
        return inner_->erase(id);
    }
    [[nodiscard]] tokenvault::result<std::uint64_t> compare_and_swap(const tokenvault::credential_id& id,
                                                                     std::uint64_t generation,
                                                                     const tokenvault::token& t) {
        return inner_->compare_and_swap(id, generation, t);
    }
    [[nodiscard]] tokenvault::result<bool> erase_if(const tokenvault::credential_id& id,
                                                    std::uint64_t generation) {
        return inner_->erase_if(id, generation);
    }
    [[nodiscard]] tokenvault::result<void> reload() {
        ++rereads;
        if (before_reload) std::exchange(before_reload, nullptr)();
        return inner_->reload();
    }
    [[nodiscard]] const tokenvault::store_options& options() const noexcept { return inner_->options(); }
    [[nodiscard]] auto& diagnostics() noexcept { return inner_->diagnostics(); }

private:
    Inner* inner_;
};

/// `t` with an expiry one minute in the past.
inline tokenvault::token expired_copy(tokenvault::token t) {
    t.expires_at = tokenvault::clock::now() - std::chrono::minutes(1);
    return t;
}

/// The access token text of a result, or "error <message>".
inline std::string describe(const tokenvault::result<tokenvault::token>& r) {
    return r ? std::string(r->access_token.reveal()) : "error " + r.error().message();
}

}  // namespace tvtest
