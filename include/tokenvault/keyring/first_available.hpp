// tokenvault/keyring/first_available.hpp: keyring::first_available<K...>, a fallback chain of keyrings.
//
// open() tries each K in order and keeps the first that opens; a K that answers "not available here"
// (nullopt) or fails falls through to the next, and every attempt is recorded (tier, reason code: no
// secret) for diagnostics via resolution(); a K whose traits say ends_chain (keyring::macos_keychain after
// the user denied access) ends the chain with its error instead. The chosen keyring lives in a
// std::variant<K...>: no virtual calls. open_tier() opens exactly one named tier, for files whose header
// names the tier of their key. Its traits say chooses_tier (tokenvault/keyring/concept.hpp): backends and
// diagnostics read them.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "../detail/secure_buffer.hpp"
#include "../error.hpp"
#include "../result.hpp"
#include "concept.hpp"

namespace tokenvault::keyring {

/// The first of K... that opens; falls through on "not available here" and on errors.
template <class... K>
class first_available {
    static_assert(sizeof...(K) > 0, "tokenvault: keyring::first_available<K...> needs at least one keyring");
    static_assert((check<K>() && ...));  // names what a tier misses (tokenvault/keyring/concept.hpp)

public:
    using policy_family = family::keyring;
    /// A fallback chain (it lists accounts when every tier does; volatile tiers count as accepted only
    /// when each is: persistent or named allow_volatile).
    static constexpr keyring::traits traits{.lists_accounts = (traits_of<K>.lists_accounts && ...),
                                            .chooses_tier = true,
                                            .volatile_accepted = (accepted_key_holder<K> && ...),
                                            .ends_chain = (traits_of<K>.ends_chain || ...),
                                            .add_only = (traits_of<K>.add_only || ...)};
    /// The tier name recorded in file headers and resolution logs.
    static constexpr std::string_view tier = "first_available";
    /// Whether items survive a reboot.
    static constexpr bool persistent = (K::persistent && ...);
    /// The largest item accepted.
    static constexpr std::size_t max_item_size = std::min({static_cast<std::size_t>(K::max_item_size)...});

    /// Opens the first K that opens; errc::keyring_unavailable (context lists the tiers tried) if none does.
    [[nodiscard]] static result<std::optional<first_available>> open(const keyring_options& options) {
        std::vector<tier_attempt> attempts;
        attempts.reserve(sizeof...(K));
        std::string tried;
        auto opened = open_from<0>(options, attempts, tried);
        if (!opened) return opened.error();
        if (!*opened)
            return error{errc::keyring_unavailable,
                         "keyring::first_available: no keyring opened; tried " + tried};
        return opened;
    }

    /// Opens exactly the tier named `name`; nullopt when it is not available now.
    [[nodiscard]] static result<std::optional<first_available>> open_tier(const keyring_options& options,
                                                                          std::string_view name) {
        if (!contains_tier(name))
            return error{errc::invalid_argument, "keyring::first_available: this chain has no tier named \"" +
                                                     std::string(name) + "\""};
        std::vector<tier_attempt> attempts;
        return open_named<0>(options, name, attempts);
    }

    /// Whether an error of open() ends an enclosing chain: when it ended this one.
    [[nodiscard]] static bool ends_chain(const error& e) requires(traits_of<K>.ends_chain || ...) {
        return (keyring::ends_chain<K>(e) || ...);
    }

    /// Whether `name` is the tier of one of K... (or of a chain among them).
    [[nodiscard]] static constexpr bool contains_tier(std::string_view name) noexcept {
        return (matches<K>(name) || ...);
    }

    /// "first_available(<chain name of each K>,...)", as resolution logs record it.
    [[nodiscard]] static std::string chain_name() {
        std::string out = "first_available(";
        bool first = true;
        ((out += (first ? "" : ","), out += keyring::chain_name<K>(), first = false), ...);
        return out + ")";
    }

    /// The tier of the keyring that was chosen (e.g. "secret_service").
    [[nodiscard]] std::string_view tier_name() const {
        return std::visit([](const auto& k) -> std::string_view { return k.tier_name(); }, chosen_);
    }

    /// Every tier tried by open, in order, ending with the chosen one.
    [[nodiscard]] const std::vector<tier_attempt>& resolution() const noexcept { return resolution_; }

    /// Reads from the chosen keyring.
    [[nodiscard]] result<std::optional<detail::secure_buffer>> read(std::string_view account) {
        return std::visit([&](auto& k) { return k.read(account); }, chosen_);
    }

    /// Writes to the chosen keyring.
    [[nodiscard]] result<void> write(std::string_view account, std::span<const std::byte> secret) {
        return std::visit([&](auto& k) { return k.write(account, secret); }, chosen_);
    }

    /// Erases from the chosen keyring.
    [[nodiscard]] result<bool> erase(std::string_view account) {
        return std::visit([&](auto& k) { return k.erase(account); }, chosen_);
    }

    /// Lists accounts in the chosen keyring (only when every K can).
    [[nodiscard]] result<std::vector<std::string>> list_accounts(std::string_view prefix) requires(
        traits_of<K>.lists_accounts&&...) {
        return std::visit([&](auto& k) { return k.list_accounts(prefix); }, chosen_);
    }

private:
    using chain = std::variant<K...>;

    template <std::size_t I>
    using kind = std::variant_alternative_t<I, chain>;

    first_available(chain chosen, std::vector<tier_attempt> attempts)
        : chosen_(std::move(chosen)), resolution_(std::move(attempts)) {}

    template <class One>
    [[nodiscard]] static constexpr bool matches(std::string_view name) noexcept {
        if constexpr (traits_of<One>.chooses_tier) {
            return std::string_view(One::tier) == name || One::contains_tier(name);
        } else {
            return std::string_view(One::tier) == name;
        }
    }

    template <std::size_t I>
    [[nodiscard]] static result<std::optional<first_available>> open_from(const keyring_options& options,
                                                                          std::vector<tier_attempt>& attempts,
                                                                          std::string& tried) {
        if constexpr (I == sizeof...(K)) {
            return std::optional<first_available>{};
        } else {
            using one = kind<I>;
            const std::string_view name = one::tier;
            auto opened = one::open(options);
            if (opened && *opened) {
                attempts.push_back(tier_attempt{name, true, {}});
                return std::optional<first_available>{
                    first_available(chain(std::in_place_index<I>, std::move(**opened)), std::move(attempts))};
            }
            if (!opened && keyring::ends_chain<one>(opened.error())) return opened.error();
            if (!tried.empty()) tried += "; ";
            tried += std::string(name) + ": ";
            if (opened) {
                attempts.push_back(tier_attempt{name, false, make_error_code(errc::keyring_unavailable)});
                tried += "not available here";
            } else {
                attempts.push_back(tier_attempt{name, false, opened.error().code});
                tried += opened.error().message();
            }
            return open_from<I + 1>(options, attempts, tried);
        }
    }

    template <std::size_t I>
    [[nodiscard]] static result<std::optional<first_available>> open_named(
        const keyring_options& options, std::string_view name, std::vector<tier_attempt>& attempts) {
        if constexpr (I == sizeof...(K)) {
            return std::optional<first_available>{};
        } else {
            using one = kind<I>;
            if (!matches<one>(name)) return open_named<I + 1>(options, name, attempts);
            auto opened = [&] {
                if constexpr (traits_of<one>.chooses_tier) {
                    if (std::string_view(one::tier) != name) return one::open_tier(options, name);
                }
                return one::open(options);
            }();
            if (!opened) return opened.error();
            if (!*opened) return std::optional<first_available>{};
            attempts.push_back(tier_attempt{one::tier, true, {}});
            return std::optional<first_available>{
                first_available(chain(std::in_place_index<I>, std::move(**opened)), std::move(attempts))};
        }
    }

    chain chosen_;
    std::vector<tier_attempt> resolution_;
};

}  // namespace tokenvault::keyring
