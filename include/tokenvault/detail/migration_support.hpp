// tokenvault/detail/migration_support.hpp: what every migration source shares.
//
// The import ledger (which legacy items a bundle already took in, so a logged-out credential is never
// resurrected from a source that could not be deleted), the one import rule (the current store wins,
// then the first source that offers a credential), reading other tools' files without changing them,
// and the mapping of legacy token JSON (read by the one token reader, token_json.hpp, with a hook for the
// legacy fields). Nothing here logs or reports a secret.
#pragma once

#include <sodium.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

#include "../diagnostics/events.hpp"
#include "../entry.hpp"
#include "../error.hpp"
#include "../platform/platform.hpp"
#include "../result.hpp"
#include "../token_json.hpp"
#include "json_cursor.hpp"
#include "json_value.hpp"
#include "secure_buffer.hpp"

namespace tokenvault::detail {

/// The top-level bundle field that holds the import ledger: {"<source>": {"<credential hash>":
/// "<fingerprint>"}}.
inline constexpr std::string_view ledger_field = "migrations";

/// A short, secret-free fingerprint of legacy bytes: BLAKE2b-128 (hex) under a domain-separation prefix.
template <class = void>
[[nodiscard]] inline std::string fingerprint(std::span<const std::byte> bytes) {
    static constexpr std::string_view domain = "tokenvault/migration/fingerprint/v1\n";
    crypto_generichash_state state;
    std::array<unsigned char, 16> digest{};
    (void)ensure_sodium();
    crypto_generichash_init(&state, nullptr, 0, digest.size());
    crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(domain.data()), domain.size());
    crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
    crypto_generichash_final(&state, digest.data(), digest.size());
    sodium_memzero(&state, sizeof state);
    std::array<char, 33> hex{};
    sodium_bin2hex(hex.data(), hex.size(), digest.data(), digest.size());
    return std::string(hex.data(), 32);
}

/// The fingerprint of a string's bytes.
template <class = void>
[[nodiscard]] inline std::string fingerprint(std::string_view text) {
    return fingerprint(std::as_bytes(std::span<const char>(text.data(), text.size())));
}

/// The fingerprint the ledger of `b` holds for (`source`, `credential_hash`), if any.
template <class = void>
[[nodiscard]] inline std::optional<std::string> ledger_lookup(const bundle& b, std::string_view source,
                                                              const std::string& credential_hash) {
    const auto all = b.extra.find(ledger_field);
    if (all == b.extra.end() || !all->is_object()) return std::nullopt;
    const auto of_source = all->find(source);
    if (of_source == all->end() || !of_source->is_object()) return std::nullopt;
    const auto found = of_source->find(credential_hash);
    if (found == of_source->end() || !found->is_string()) return std::nullopt;
    return found->get<std::string>();
}

/// Records (`source`, `credential_hash`) -> `print` in the ledger of `b` (repairing a malformed ledger).
template <class = void>
inline void ledger_record(bundle& b, std::string_view source, const std::string& credential_hash,
                          const std::string& print) {
    if (!b.extra.is_object()) b.extra = extra_json::object();
    auto& all = b.extra[ledger_field];
    if (!all.is_object()) all = extra_json::object();
    auto& of_source = all[source];
    if (!of_source.is_object()) of_source = extra_json::object();
    of_source[credential_hash] = extra_json::string_t(print.data(), print.size());
}

/// Drops the whole ledger of `source` from `b`; true when there was one (then `b` must be saved). A deleting
/// source calls it once it finds no legacy data left: nothing remains that the ledger could protect.
template <class = void>
inline bool ledger_forget(bundle& b, std::string_view source) {
    const auto all = b.extra.find(ledger_field);
    if (all == b.extra.end() || !all->is_object()) return false;
    const auto of_source = all->find(source);
    if (of_source == all->end()) return false;
    all->erase(of_source);
    if (all->empty()) b.extra.erase(all);
    return true;
}

/// How a source treats its ledger: importers take each credential once; deleting sources take each version
/// once.
enum class ledger_rule : std::uint8_t {
    once_per_credential,  ///< never import a credential this source already offered (the original stays in
                          ///< place)
    once_per_version,  ///< import again only if the legacy item changed since (it is deleted after the save)
};

/// What happened to one legacy credential offered to a bundle.
enum class offer_outcome : std::uint8_t {
    imported,          ///< added to the bundle
    superseded,        ///< the bundle already held the credential: the current store wins
    already_imported,  ///< the ledger says this source already handed it over
};

/// Offers a legacy token to `b` following the precedence rule; records the offer in the ledger.
/// `changed` becomes true when `b` (entries or ledger) changed and must be saved.
template <class = void>
[[nodiscard]] inline offer_outcome offer(bundle& b, std::string_view source, ledger_rule rule,
                                         const credential_id& id, token&& value, const std::string& print,
                                         bool& changed) {
    const auto recorded = ledger_lookup(b, source, id.hash());
    if (recorded && (rule == ledger_rule::once_per_credential || *recorded == print))
        return offer_outcome::already_imported;
    ledger_record(b, source, id.hash(), print);
    changed = true;
    if (b.entries.find(id.hash()) != b.entries.end()) return offer_outcome::superseded;
    const auto generation = ++b.last_generation;
    b.entries.emplace(id.hash(), entry{id, std::move(value), generation, clock::now(), extra_json::object()});
    return offer_outcome::imported;
}

/// Reports one skipped legacy item (`why`: what was wrong with it; never its content).
template <class Context>
void report_skipped(Context& ctx, std::string_view source, std::error_code why) {
    ctx.diagnostics.on(events::migration{source, 0, 1, why});
}

/// Reports a failed step of a migration (opening a source, deleting an item, a failed save).
template <class Context>
void report_failure(Context& ctx, std::string_view source, std::error_code why) {
    ctx.diagnostics.on(events::migration{source, 0, 0, why});
}

/// A file of another tool, read without changing it: its bytes and the identity (mtime) they belong to.
using foreign_file = platform::foreign_file;

/// Reads a regular file of another tool: not through a symlink, owned by us, at most `max_size` bytes.
/// Group/world-readable files are accepted (other tools write them so); nothing about the file changes.
/// nullopt when absent (platform::read_foreign_file).
template <class = void>
[[nodiscard]] inline result<std::optional<foreign_file>> read_foreign_file(const std::filesystem::path& p,
                                                                           std::size_t max_size) {
    return platform::read_foreign_file(p, max_size);
}

/// The modification time recorded in `identity` as a clock time point (saturated at the clock's range).
template <class = void>
[[nodiscard]] inline clock::time_point modification_time(const platform::file_identity& identity) {
    return platform::epoch_ns_to_time_point<clock>(identity.mtime_ns);
}

/// Latest expiry accepted from another tool, in unix milliseconds (2200-01-01).
inline constexpr std::uint64_t max_expiry_ms = static_cast<std::uint64_t>(latest_time_seconds) * 1000;

/// Reads the JSON value at `in` (at most 64 levels deep) into wiped memory and returns its text as
/// nlohmann::json's dump() writes it: the form fingerprints of legacy entries have always been taken of.
template <class = void>
[[nodiscard]] inline result<secret_text> normalized_json_text(json_cursor& in, std::string_view what) {
    extra_json value;
    if (!read_json_value(in, value, max_json_depth)) return json_read_error(in, what);
    return value.dump();
}

/// Reads a token written by an older layout (docker-agent style) at `in`, by the token schema plus: an
/// RFC 3339 "expires_at" in the year 0000 or 0001 (Go's zero time) means "unknown"; "auth_server" is
/// the issuer when there is none; "expires_in" counts only from a known `issued_at`.
template <class = void>
[[nodiscard]] inline result<token> read_legacy_token(
    json_cursor& in, std::optional<clock::time_point> issued_at = std::nullopt) {
    using kind = json_cursor::kind;
    bool expiry_given = false;
    bool has_expires_in = false;  // a flag, not std::optional<double>: see read_token
    double expires_in = 0;
    std::optional<std::string> auth_server;
    const auto legacy_fields = [&](std::string_view key, json_cursor& c, token& t) -> result<bool> {
        if (key == "expires_at") {
            expiry_given = true;
            if (c.peek() != kind::string) return false;  // numbers and null: the schema's rule
            std::string_view text;
            if (!c.string(text)) return json_read_error(c, "legacy token");
            if (text.size() >= 5 && (text.substr(0, 5) == "0000-" || text.substr(0, 5) == "0001-")) {
                expiry_given = false;  // Go's zero time.Time: no expiry recorded
                t.expires_at.reset();
                return true;
            }
            time_text_problem problem = time_text_problem::none;
            t.expires_at = parse_rfc3339(text, &problem);
            if (!t.expires_at)
                return time_field_error("expires_at", problem == time_text_problem::out_of_range);
            return true;
        }
        if (key == "expires_in") {
            has_expires_in = false;
            if (!issued_at) {  // nothing to count from: ignored, whatever it holds
                std::string_view ignored;
                return c.skip(ignored, max_member_depth) ? result<bool>{true}
                                                         : json_read_error(c, "legacy token");
            }
            if (c.peek() == kind::null)
                return c.null() ? result<bool>{true} : json_read_error(c, "legacy token");
            if (c.peek() != kind::number) {
                if (c.peek() == kind::invalid) return not_json(c, "legacy token");
                return error{errc::wrong_type, "token: field 'expires_in' must be a number"};
            }
            json_number n;
            if (!c.number(n)) return json_read_error(c, "legacy token");
            expires_in = n.as_double();
            has_expires_in = true;
            return true;
        }
        if (key == "auth_server") {
            auth_server.reset();
            if (c.peek() == kind::string) {
                std::string_view text;
                if (!c.string(text)) return json_read_error(c, "legacy token");
                auth_server.emplace(text);
                return true;
            }
            std::string_view ignored;
            return c.skip(ignored, max_member_depth) ? result<bool>{true}
                                                     : json_read_error(c, "legacy token");
        }
        return false;
    };
    auto t = read_token(in, token_json_options{}, legacy_fields);
    if (!t) return t;
    if (!expiry_given && has_expires_in && issued_at) {
        t->expires_at = time_after(*issued_at, expires_in);
        if (!t->expires_at)
            return error{errc::value_out_of_range, "token: field 'expires_in' is out of range"};
    }
    if (t->issuer.empty() && auth_server) t->issuer = std::move(*auth_server);
    TOKENVAULT_TRY(validate(*t));
    return t;
}

/// A whole legacy item's text as one legacy token (nothing may follow it).
template <class = void>
[[nodiscard]] inline result<token> parse_legacy_token(std::string_view text) {
    json_cursor in(text);
    auto t = read_legacy_token(in);
    if (!t) {
        if (in.failed()) return t;
        std::string_view ignored;
        json_cursor whole(text);
        if (!whole.skip(ignored) || !whole.finish()) return json_read_error(whole, "legacy token");
        return t;
    }
    if (!in.finish()) return json_read_error(in, "legacy token");
    return t;
}

/// Errors that concern the whole keyring, not one item: stop touching it for this start (no prompt storms).
template <class = void>
[[nodiscard]] inline bool keyring_wide(std::error_code code) noexcept {
    return code == make_error_code(errc::keyring_denied) || code == make_error_code(errc::keyring_locked) ||
           code == make_error_code(errc::keyring_timeout) ||
           code == make_error_code(errc::keyring_unavailable) ||
           code == make_error_code(errc::key_unavailable);
}

/// Opens keyring K for `Layout` into `slot` (once); false when K is not available here.
template <class K, class Layout, class Context>
[[nodiscard]] result<bool> open_legacy_keyring(Context& ctx, std::string_view source,
                                               std::optional<K>& slot) {
    if (slot) return true;
    auto opened = K::open(Layout::keyring(ctx.options));
    if (!opened) {
        report_failure(ctx, source, opened.code());
        return opened.error();
    }
    if (!*opened) return false;
    slot.emplace(std::move(**opened));
    return true;
}

/// Reads one legacy item, reporting the keyring read.
template <class K, class Context>
[[nodiscard]] result<std::optional<secure_buffer>> read_legacy_item(Context& ctx, K& keyring,
                                                                    std::string_view account) {
    auto item = keyring.read(account);
    ctx.diagnostics.on(events::keyring_read{keyring.tier_name(), item && item->has_value(), item.code()});
    return item;
}

/// Deletes one legacy item, reporting the keyring write.
template <class K, class Context>
[[nodiscard]] result<bool> erase_legacy_item(Context& ctx, K& keyring, std::string_view account) {
    auto erased = keyring.erase(account);
    ctx.diagnostics.on(events::keyring_write{keyring.tier_name(), true, erased.code()});
    return erased;
}

/// Deletes `account` only if it still holds the bytes fingerprinted `print` at import (an older version of
/// the application may have rewritten it since: then it stays for the next start). True when it is gone.
/// For the few items whose rewrite would hide data (the bundle item, the per-item index).
template <class K, class Context>
[[nodiscard]] result<bool> erase_legacy_if_unchanged(Context& ctx, K& keyring, std::string_view account,
                                                     const std::string& print) {
    auto now = read_legacy_item(ctx, keyring, account);
    if (!now) return now.error();
    if (!*now) return true;
    if (fingerprint((*now)->bytes()) != print) return false;
    auto erased = erase_legacy_item(ctx, keyring, account);
    if (!erased) return erased.error();
    return true;
}

}  // namespace tokenvault::detail
