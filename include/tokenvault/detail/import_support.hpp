// tokenvault/detail/import_support.hpp: what the importers of other clients' logins share beyond
// migration_support.hpp: a depth-capped JSON parse of another program's bytes, reading numbers and
// texts of their entries, and the expiry conventions (unix seconds or milliseconds) they use.
// Input here is attacker-controlled: nothing recurses on its nesting, every size is bounded.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "../error.hpp"
#include "../result.hpp"
#include "../token.hpp"
#include "../token_json.hpp"
#include "json_cursor.hpp"
#include "json_value.hpp"
#include "migration_support.hpp"

namespace tokenvault::detail {

/// Deepest nesting accepted in another program's JSON (their real files nest 4 levels at most).
inline constexpr std::size_t max_foreign_json_depth = 32;

/// Another program's JSON document, held in wiped memory (strings and nodes: detail::zeroing_allocator).
using foreign_json = extra_json;

/// The text of a foreign_json string, as a view.
[[nodiscard]] inline std::string_view text_of(const foreign_json& string_value) {
    const auto& text = string_value.get_ref<const secret_text&>();
    return {text.data(), text.size()};
}

/// The token that the token-schema fields of `fields` describe (access_token, refresh_token, scope, ...),
/// read by the one token reader, through text in wiped memory.
template <class = void>
[[nodiscard]] inline result<token> token_from_fields(const foreign_json& fields) {
    const auto text = fields.dump();
    return parse_token(std::string_view(text.data(), text.size()));
}

/// Parses another program's JSON: malformed_json when it is not JSON, too_large when it nests deeper than
/// max_foreign_json_depth. `what` names the document in errors (never its content). The document's strings
/// and nodes live in wiped memory (foreign_json), so the secrets it holds leave no copy when it is freed.
template <class = void>
[[nodiscard]] inline result<foreign_json> parse_foreign_json(std::string_view text, std::string_view what) {
    // Read by the pull reader straight into wiped memory: no parse buffer keeps a copy of a secret, and
    // text after the document (a NUL byte and junk, say) is refused rather than ignored.
    json_cursor in(text);
    foreign_json doc;
    if (!read_json_value(in, doc, max_foreign_json_depth) || !in.finish()) {
        if (in.too_deep())
            return error{errc::too_large, std::string(what) + ": nested deeper than " +
                                              std::to_string(max_foreign_json_depth) + " levels"};
        return error{errc::malformed_json, std::string(what)};
    }
    return doc;
}

/// The string member `name` of `object`, or "" when absent or not a string.
template <class = void>
[[nodiscard]] inline std::string string_member(const foreign_json& object, const char* name) {
    if (!object.is_object()) return {};
    const auto found = object.find(name);
    if (found == object.end() || !found->is_string()) return {};
    const auto& text = found->get_ref<const secret_text&>();
    return std::string(text.data(), text.size());
}

/// An expiry written by another program as unix milliseconds (Codex, Claude Code) or unix seconds with a
/// fraction (opencode): nullopt for null/absent, and for values past 2200 (Codex saturates an overflowing
/// expiry at u64::MAX: "unknown"); value_out_of_range for negative values, wrong_type for non-numbers.
template <class = void>
[[nodiscard]] inline result<std::optional<clock::time_point>> foreign_expiry(const foreign_json& object,
                                                                             const char* name,
                                                                             bool milliseconds) {
    using out_type = std::optional<clock::time_point>;
    if (!object.is_object()) return out_type{};
    const auto found = object.find(name);
    if (found == object.end() || found->is_null()) return out_type{};
    if (!found->is_number())
        return error{errc::wrong_type, std::string("field '") + name + "' must be a number"};
    const double value = found->get<double>();
    if (!(value >= 0))
        return error{errc::value_out_of_range, std::string("field '") + name + "' is negative"};
    const double ms = milliseconds ? value : value * 1000.0;
    if (ms > static_cast<double>(max_expiry_ms)) return out_type{};
    std::chrono::milliseconds whole{static_cast<std::int64_t>(ms)};
    if (found->is_number_unsigned() && milliseconds)  // exact for integers beyond 2^53 as well
        whole = std::chrono::milliseconds{static_cast<std::int64_t>(found->get<std::uint64_t>())};
    return out_type{clock::time_point{std::chrono::duration_cast<clock::duration>(whole)}};
}

/// "bearer" (as OAuth libraries write it) as tokenvault spells it, "Bearer"; other types unchanged.
template <class = void>
[[nodiscard]] inline std::string normalized_token_type(std::string type) {
    if (type.size() == 6) {
        std::string lower;
        for (const char c : type)
            lower.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
        if (lower == "bearer") return "Bearer";
    }
    return type.empty() ? std::string("Bearer") : type;
}

/// The logins one source offers, the one that expires last per credential (an unknown expiry counts as the
/// earliest), then offered to a bundle under the importers' rule (each credential once, the store wins).
class newest_per_credential {
public:
    /// Keeps (`id`, `value`) unless a login of the same credential expiring later is already kept.
    void add(credential_id id, token value, std::string print) {
        const auto key = id.hash();
        const auto found = kept_.find(key);
        if (found != kept_.end() && !expires_later(value, found->second.value)) return;
        kept_.insert_or_assign(key, kept{std::move(id), std::move(value), std::move(print)});
    }
    /// Offers every kept login to `b` as `source`; the number imported. `changed`: `b` must be saved.
    [[nodiscard]] std::size_t offer_all(bundle& b, std::string_view source, bool& changed) {
        std::size_t imported = 0;
        for (auto& [hash, k] : kept_)
            if (offer(b, source, ledger_rule::once_per_credential, k.id, std::move(k.value), k.print,
                      changed) == offer_outcome::imported)
                ++imported;
        kept_.clear();
        return imported;
    }

private:
    struct kept {
        credential_id id;
        token value;
        std::string print;
    };
    [[nodiscard]] static bool expires_later(const token& a, const token& b) {
        if (!a.expires_at) return false;
        if (!b.expires_at) return true;
        return *a.expires_at > *b.expires_at;
    }
    std::map<std::string, kept> kept_;
};

/// The callback importers hand their entry readers: keeps each login (the newest per credential), reports
/// each entry that is not one as a skip of `source`.
template <class Context>
[[nodiscard]] auto login_collector(Context& ctx, std::string_view source, newest_per_credential& newest,
                                   std::size_t& skipped) {
    return
        [&ctx, source, &newest, &skipped](result<std::pair<credential_id, token>> login, std::string print) {
            if (!login) {
                ++skipped;
                report_skipped(ctx, source, login.code());
                return;
            }
            newest.add(std::move(login->first), std::move(login->second), std::move(print));
        };
}

/// Offers the logins collected to `b`, reports the run as one events::migration of `source`; true when `b`
/// must be saved.
template <class Context>
[[nodiscard]] bool finish_import(Context& ctx, std::string_view source, bundle& b,
                                 newest_per_credential& newest, std::size_t skipped) {
    bool changed = false;
    const auto migrated = newest.offer_all(b, source, changed);
    if (migrated + skipped > 0) ctx.diagnostics.on(events::migration{source, migrated, skipped, {}});
    return changed;
}

/// Reads and parses another program's JSON file: nullopt when absent; every failure (unsafe file, too
/// large, not JSON, too deep) is reported as one skip of `source` and also gives nullopt.
template <class Context>
[[nodiscard]] std::optional<foreign_json> read_foreign_json_file(Context& ctx, std::string_view source,
                                                                 const std::filesystem::path& path,
                                                                 std::size_t max_size, std::size_t& skipped) {
    auto file = read_foreign_file(path, max_size);
    if (!file) {
        ++skipped;
        report_skipped(ctx, source, file.code());
        return std::nullopt;
    }
    if (!*file) return std::nullopt;
    auto doc = parse_foreign_json((*file)->bytes.view(), path.filename().string());
    if (!doc) {
        ++skipped;
        report_skipped(ctx, source, doc.code());
        return std::nullopt;
    }
    return std::move(*doc);
}

}  // namespace tokenvault::detail
