// tokenvault/diagnostics/resolution.hpp: how a backend reports the keyring tier it resolved.
//
// A backend that opens a keyring calls `report_store_resolved(ctx.diagnostics, file, "sealed_file",
// keyring)` once, right after the keyring opened: it names the keyring chain, says whether the tier was
// chosen by a fallback chain (automatic) or configured (explicit), and why (events::resolution_reason:
// the first tier that failed and an events::tier_failure). With a disabled diagnostics policy
// (diagnostics::none) it is empty.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

#include "../error.hpp"
#include "../keyring/concept.hpp"
#include "events.hpp"

namespace tokenvault::diagnostics {

/// Whether keyring K resolves its tier automatically (a fallback chain: keyring traits chooses_tier)
/// rather than by configuration.
template <class K>
inline constexpr bool resolves_automatically = keyring::traits_of<K>.chooses_tier;

/// Why a keyring tier did not open, as a tier_failure (unavailable, locked, timeout, ...).
template <class = void>
[[nodiscard]] inline events::tier_failure tier_failure_of(std::error_code code) noexcept {
    using events::tier_failure;
    if (code.category() != error_category()) return tier_failure::error;
    switch (static_cast<errc>(code.value())) {
    case errc::keyring_unavailable: return tier_failure::unavailable;
    case errc::keyring_locked: return tier_failure::locked;
    case errc::keyring_denied: return tier_failure::denied;
    case errc::keyring_timeout: return tier_failure::timeout;
    case errc::volatile_collection_refused: return tier_failure::volatile_refused;
    case errc::insecure_permissions:
    case errc::wrong_owner:
    case errc::symlink_refused: return tier_failure::unsafe_files;
    case errc::read_only_store: return tier_failure::read_only;
    case errc::corrupt_file: return tier_failure::corrupt;
    case errc::damaged_key: return tier_failure::damaged_key;
    default: return tier_failure::error;
    }
}

/// Why keyring `k` resolved to its tier: preferred (the first tier opened), fallback (naming the first
/// tier, which failed, and why), or configured for a keyring that is not a fallback chain. The failed
/// tier's name is a static name of the chain: the reason stays valid while `k` lives.
template <class K>
[[nodiscard]] events::resolution_reason resolution_reason_of(const K& k) {
    using events::resolution_cause;
    if constexpr (resolves_automatically<K>) {
        const auto& attempts = k.resolution();
        if (attempts.empty() || attempts.front().opened) return {resolution_cause::preferred, {}, {}};
        return {resolution_cause::fallback, attempts.front().tier, tier_failure_of(attempts.front().reason)};
    } else {
        return {resolution_cause::configured, {}, {}};
    }
}

/// Reports that the store at `store_file` opened `keyring` (once, right after it opened). `cause`
/// overrides the computed reason (file_header when a file's header named the tier); `moved` marks a
/// deliberate move of the data into this tier (a re-seal or a migration), which is never drift.
template <class Diagnostics, class K>
void report_store_resolved(Diagnostics& diagnostics, const std::filesystem::path& store_file,
                           std::string_view backend, const K& keyring,
                           std::optional<events::resolution_cause> cause = std::nullopt,
                           bool moved = false) noexcept {
    if constexpr (std::remove_cvref_t<Diagnostics>::enabled) {
        try {
            const std::string directory = store_file.parent_path().string();
            const std::string store = store_file.filename().string();
            const std::string chain = std::string(backend) + "/" + keyring::chain_name<K>();
            const auto why =
                cause ? events::resolution_reason{*cause, {}, {}} : resolution_reason_of(keyring);
            const std::string tier(keyring.tier_name());
            diagnostics.on(events::store_resolved{
                directory,
                store,
                {},
                resolves_automatically<K> ? events::store_mode::automatic : events::store_mode::explicit_tier,
                chain,
                tier,
                why,
                moved});
        } catch (...) {  // NOLINT(bugprone-empty-catch): reporting must never fail a token operation
        }
    }
}

}  // namespace tokenvault::diagnostics
