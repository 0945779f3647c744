// tokenvault/detail/refresh_failure_record.hpp: a failed refresh, remembered in the store for every process.
//
// When a refresh fails, credential_manager records it in a companion entry (companion.hpp) of the same store,
// so that every waiter and every process returns the same failure at once, for `refresh_failure_ttl`,
// instead of calling a failing endpoint again. The record is a token whose type marks it, expiring when the
// record does, whose extra fields say what failed (code, context) and for which state of the credential
// (`failed`: that generation; `revoked`: the grant is gone and the credential erased). A success removes it.
// Recording is best effort: a failure to record only costs the waiters a call of their own.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "../companion.hpp"
#include "../credential_id.hpp"
#include "../entry.hpp"
#include "../error.hpp"
#include "../token.hpp"
#include "lock_order.hpp"

namespace tokenvault::detail {

/// The refresh failure records of the credentials of one store (see the top of this header).
template <class Store>
class refresh_failure_record {
public:
    /// Records in `store` that live for `ttl` (zero or less: nothing is recorded).
    refresh_failure_record(Store& store, std::chrono::milliseconds ttl) noexcept
        : store_(&store), ttl_(ttl) {}

    /// The id of the record of credential `id`; nullopt when failures are not recorded.
    [[nodiscard]] std::optional<credential_id> id_of(const credential_id& id) const {
        if (ttl_ <= std::chrono::milliseconds::zero()) return std::nullopt;
        auto note = companion_id(id, companion_role::refresh_failure);
        if (!note) return std::nullopt;
        return std::move(*note);
    }

    /// Records that a refresh of generation `generation` failed with `why` (`revoked`: the grant is gone and
    /// the credential erased).
    void remember(const credential_id& id, const error& why, bool revoked, std::uint64_t generation) {
        const auto note_id = id_of(id);
        if (!note_id) return;
        token note;
        note.access_token = secret_string{"refresh-failure"};
        note.token_type = std::string(record_type);
        note.expires_at = clock::now() + std::chrono::duration_cast<clock::duration>(ttl_);
        const bool ours = &why.code.category() == &tokenvault::error_category();
        note.extra =
            nlohmann::json{{"outcome", revoked ? "revoked" : "failed"},
                           {"generation", generation},
                           {"code", ours ? why.code.value() : static_cast<int>(errc::provider_unavailable)},
                           {"context", why.context.substr(0, 1024)}};
        if (!ours) note.extra["context"] = why.message().substr(0, 1024);
        (void)store_call([&] { return store_->put(*note_id, note); });
    }

    /// The failure a waiter should return for credential state `current` (nullopt: absent), if a fresh
    /// record (`note_id`: id_of the credential) applies to exactly that state.
    [[nodiscard]] std::optional<error> recent(const std::optional<credential_id>& note_id,
                                              const std::optional<entry>& current) {
        if (!note_id) return std::nullopt;
        auto note = store_call([&] { return store_->get(*note_id); });
        if (!note || !*note) return std::nullopt;
        const token& t = **note;
        if (t.token_type != record_type || !t.expires_at || *t.expires_at <= clock::now() ||
            !t.extra.is_object())
            return std::nullopt;
        const auto outcome = t.extra.value("outcome", std::string{});
        const auto generation = t.extra.value("generation", std::uint64_t{0});
        const bool applies = outcome == "revoked"
                                 ? !current.has_value()
                                 : outcome == "failed" && current && current->generation == generation;
        if (!applies) return std::nullopt;
        const int code = t.extra.value("code", static_cast<int>(errc::provider_unavailable));
        const bool known = code > 0;
        const auto left =
            std::chrono::duration_cast<std::chrono::seconds>(*t.expires_at - clock::now()).count() + 1;
        return error{known ? static_cast<errc>(code) : errc::provider_unavailable,
                     t.extra.value("context", std::string{}) +
                         " (remembered from a refresh that failed moments "
                         "ago; the next attempt is in " +
                         std::to_string(left) + " s)"};
    }

    /// Removes the record of credential `id` after a success (a cache read when there is none).
    void clear(const credential_id& id) {
        const auto note_id = id_of(id);
        if (!note_id) return;
        auto note = store_call([&] { return store_->get(*note_id); });
        if (note && *note) (void)store_call([&] { return store_->erase(*note_id); });
    }

private:
    static constexpr std::string_view record_type = "tokenvault-refresh-failure";

    // Runs one store call, marked for the lock order checker.
    template <class Fn>
    static auto store_call(Fn&& fn) {
        const lock_order::store_scope in_store;
        return fn();
    }

    Store* store_;
    std::chrono::milliseconds ttl_;
};

}  // namespace tokenvault::detail
