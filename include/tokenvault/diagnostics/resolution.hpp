// tokenvault/diagnostics/resolution.hpp: how a backend reports the keyring tier it resolved.
//
// A backend that opens a keyring calls `report_store_resolved(ctx.diagnostics, file, "sealed_file",
// keyring)` once, right after the keyring opened: it names the keyring chain, says whether the tier was
// chosen by a fallback chain (automatic) or configured (explicit), and why (the first tier that failed
// and its low-cardinality reason). With a disabled diagnostics policy (diagnostics::none) it is empty.
#pragma once

#include <filesystem>
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

/// A short, stable word for why a keyring tier did not open ("unavailable", "locked", "timeout", ...).
template <class = void>
[[nodiscard]] inline std::string_view short_reason(std::error_code code) noexcept {
    if (code.category() != error_category()) return "error";
    switch (static_cast<errc>(code.value())) {
    case errc::keyring_unavailable: return "unavailable";
    case errc::keyring_locked: return "locked";
    case errc::keyring_denied: return "denied";
    case errc::keyring_timeout: return "timeout";
    case errc::volatile_collection_refused: return "volatile_refused";
    case errc::insecure_permissions:
    case errc::wrong_owner:
    case errc::symlink_refused: return "unsafe_files";
    case errc::read_only_store: return "read_only";
    case errc::corrupt_file: return "corrupt";
    case errc::damaged_key: return "damaged_key";
    default: return "error";
    }
}

/// Why keyring `k` resolved to its tier: "preferred" (the first tier opened), "<tier>:<short_reason>"
/// (the first tier that failed before it), or "configured" for a keyring that is not a fallback chain.
template <class K>
[[nodiscard]] std::string resolution_reason(const K& k) {
    if constexpr (resolves_automatically<K>) {
        const auto& attempts = k.resolution();
        if (attempts.empty() || attempts.front().opened) return "preferred";
        return std::string(attempts.front().tier) + ":" + std::string(short_reason(attempts.front().reason));
    } else {
        return "configured";
    }
}

/// Reports that the store at `store_file` opened `keyring` (once, right after it opened). `reason`
/// overrides the computed one (e.g. "file_header" when a file's header named the tier); `moved` marks
/// a deliberate move of the data into this tier (a re-seal or a migration), which is never drift.
template <class Diagnostics, class K>
void report_store_resolved(Diagnostics& diagnostics, const std::filesystem::path& store_file,
                           std::string_view backend, const K& keyring, std::string_view reason = {},
                           bool moved = false) noexcept {
    if constexpr (std::remove_cvref_t<Diagnostics>::enabled) {
        try {
            const std::string directory = store_file.parent_path().string();
            const std::string store = store_file.filename().string();
            const std::string chain = std::string(backend) + "/" + keyring::chain_name<K>();
            const std::string why = reason.empty() ? resolution_reason(keyring) : std::string(reason);
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
