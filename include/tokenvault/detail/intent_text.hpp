// tokenvault/detail/intent_text.hpp: group commit's two records, as text.
//
// A writer that finds the store lock taken hands its change to the lock's holder as an intent (a put, a
// compare-and-swap, an erase or a conditional erase of one credential), so that one durable replacement of
// the file carries the changes of every writer waiting at that moment. The holder records what became of
// each intent in the bundle it saves (`intents_applied`, an object keyed by the intent's name), and the
// waiter, once it holds the lock itself, reads its outcome there: the outcome is saved in the same atomic
// replacement as the change, so it is never ambiguous. docs/FORMAT.md, "Group commit", has the protocol.
//
// This header reads and writes the intent's plaintext (sealed by detail/intent_files.hpp) and the outcome
// records; the reader is bounded and refuses every field it does not know, and what it accepts the writer
// writes back equal.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "../credential_id.hpp"
#include "../entry.hpp"
#include "../result.hpp"
#include "../token.hpp"
#include "../token_json.hpp"
#include "json_cursor.hpp"
#include "json_value.hpp"
#include "json_writer.hpp"
#include "secure_buffer.hpp"

namespace tokenvault::detail {

/// The change an intent carries.
enum class intent_kind { put, compare_and_swap, erase, erase_if };

/// One waiting writer's change, handed to the lock holder.
struct intent {
    intent_kind kind = intent_kind::put;
    credential_id id;
    std::optional<token> value;             ///< the token to store (put, compare_and_swap)
    std::uint64_t expected_generation = 0;  ///< compare_and_swap, erase_if: 0 means absent
    std::int64_t deadline_ms = 0;           ///< Unix milliseconds after which its poster withdraws it
};

/// The largest deadline an intent may carry (2^53 ms, beyond any real clock, exact in every JSON reader).
inline constexpr std::int64_t max_intent_deadline_ms = std::int64_t{1} << 53;
/// The largest intent text: one token and its id.
inline constexpr std::size_t max_intent_text = 256 * 1024;

[[nodiscard]] constexpr std::string_view intent_kind_name(intent_kind kind) noexcept {
    switch (kind) {
    case intent_kind::put: return "put";
    case intent_kind::compare_and_swap: return "compare_and_swap";
    case intent_kind::erase: return "erase";
    case intent_kind::erase_if: return "erase_if";
    }
    return "put";
}

[[nodiscard]] constexpr bool intent_carries_token(intent_kind kind) noexcept {
    return kind == intent_kind::put || kind == intent_kind::compare_and_swap;
}

/// The error for an intent whose token does not match its kind.
template <class = void>
[[nodiscard]] inline error token_rule_broken() {
    return error{errc::invalid_argument, "intent: a put or compare_and_swap carries a token, an erase none"};
}

/// The plaintext of `i`: {"format":"tokenvault-intent","version":1,"kind":...,"resource":...,"account":...,
/// "expected_generation":n,"deadline_ms":n,"token":{...}}. Refuses what read_intent_text would refuse.
template <class = void>
[[nodiscard]] inline result<secret_text> write_intent_text(const intent& i) {
    if (intent_carries_token(i.kind) != i.value.has_value()) return token_rule_broken();
    if (i.expected_generation >= generation_limit)
        return error{errc::value_out_of_range, "intent: expected_generation must be below 2^63"};
    if (i.deadline_ms < 0 || i.deadline_ms > max_intent_deadline_ms)
        return error{errc::value_out_of_range, "intent: deadline_ms must be 0 to 2^53"};
    json_writer w(secret_text{}, 1024);
    w.open_object();
    bool ok = w.key("format") && w.string("tokenvault-intent") && w.key("version");
    w.number(std::uint64_t{1});
    ok = ok && w.key("kind") && w.string(intent_kind_name(i.kind));
    ok = ok && w.key("resource") && w.string(i.id.resource());
    if (!i.id.account().empty()) ok = ok && w.key("account") && w.string(i.id.account());
    ok = ok && w.key("expected_generation");
    w.number(i.expected_generation);
    ok = ok && w.key("deadline_ms");
    w.number(i.deadline_ms);
    if (i.value) ok = ok && w.key("token") && write_token(w, *i.value);
    w.close_object();
    if (!ok) return error{errc::invalid_argument, "intent: the token cannot be written as stored JSON"};
    if (w.size() > max_intent_text) return error{errc::too_large, "intent: larger than 256 KiB"};
    return std::move(w.text());
}

/// Reads an intent's plaintext: every field known and of its type, nothing else, the id canonical.
template <class = void>
[[nodiscard]] inline result<intent> read_intent_text(std::string_view text) {
    if (text.size() > max_intent_text) return error{errc::too_large, "intent: larger than 256 KiB"};
    json_cursor in(text);
    if (in.peek() != json_cursor::kind::object) return error{errc::wrong_type, "intent: must be an object"};
    // Every field once: a field already read is a duplicate.
    std::optional<std::string> format;
    std::optional<std::uint64_t> version;
    std::optional<std::string> kind_text;
    std::optional<std::string> resource;
    std::optional<std::string> account;
    std::optional<std::uint64_t> expected;
    std::optional<std::uint64_t> deadline;
    std::optional<token> value;
    const auto unsigned_field = [&](std::optional<std::uint64_t>& out, const char* what) -> result<void> {
        json_number n;
        if (in.peek() != json_cursor::kind::number || !in.number(n) || !n.is_unsigned())
            return error{errc::wrong_type, std::string("intent: field '") + what + "' must be unsigned"};
        out = n.unsigned_value;
        return {};
    };
    const auto string_field = [&](std::optional<std::string>& out, const char* what) -> result<void> {
        std::string_view v;
        if (in.peek() != json_cursor::kind::string || !in.string(v))
            return error{errc::wrong_type, std::string("intent: field '") + what + "' must be a string"};
        out.emplace(v);
        return {};
    };
    const auto once = [](bool already) -> result<void> {
        if (already) return error{errc::invalid_argument, "intent: a field appears twice"};
        return {};
    };
    if (!in.begin_object()) return json_read_error(in, "intent");
    std::string_view key;
    while (in.next_member(key)) {
        if (key == "format") {
            TOKENVAULT_TRY(once(format.has_value()));
            TOKENVAULT_TRY(string_field(format, "format"));
        } else if (key == "version") {
            TOKENVAULT_TRY(once(version.has_value()));
            TOKENVAULT_TRY(unsigned_field(version, "version"));
            if (*version != 1)
                return error{errc::unsupported_format_version, "intent: version " + std::to_string(*version)};
        } else if (key == "kind") {
            TOKENVAULT_TRY(once(kind_text.has_value()));
            TOKENVAULT_TRY(string_field(kind_text, "kind"));
        } else if (key == "resource") {
            TOKENVAULT_TRY(once(resource.has_value()));
            TOKENVAULT_TRY(string_field(resource, "resource"));
        } else if (key == "account") {
            TOKENVAULT_TRY(once(account.has_value()));
            TOKENVAULT_TRY(string_field(account, "account"));
        } else if (key == "expected_generation") {
            TOKENVAULT_TRY(once(expected.has_value()));
            TOKENVAULT_TRY(unsigned_field(expected, "expected_generation"));
        } else if (key == "deadline_ms") {
            TOKENVAULT_TRY(once(deadline.has_value()));
            TOKENVAULT_TRY(unsigned_field(deadline, "deadline_ms"));
        } else if (key == "token") {
            TOKENVAULT_TRY(once(value.has_value()));
            auto t = read_token(in);
            if (!t) return t.error();
            value.emplace(std::move(*t));
        } else {
            if (in.failed()) return json_read_error(in, "intent");
            return error{errc::invalid_argument, "intent: unknown field"};
        }
    }
    if (in.failed() || !in.finish()) return json_read_error(in, "intent");
    if (format != "tokenvault-intent")
        return error{errc::invalid_argument, "intent: field 'format' must be \"tokenvault-intent\""};
    if (!version) return error{errc::missing_field, "intent: field 'version'"};
    if (!kind_text) return error{errc::missing_field, "intent: field 'kind'"};
    std::optional<intent_kind> kind;
    for (const auto k :
         {intent_kind::put, intent_kind::compare_and_swap, intent_kind::erase, intent_kind::erase_if})
        if (*kind_text == intent_kind_name(k)) kind = k;
    if (!kind) return error{errc::invalid_argument, "intent: unknown kind"};
    if (!resource) return error{errc::missing_field, "intent: field 'resource'"};
    if (!expected) return error{errc::missing_field, "intent: field 'expected_generation'"};
    if (*expected >= generation_limit)
        return error{errc::value_out_of_range, "intent: expected_generation must be below 2^63"};
    if (!deadline) return error{errc::missing_field, "intent: field 'deadline_ms'"};
    if (*deadline > static_cast<std::uint64_t>(max_intent_deadline_ms))
        return error{errc::value_out_of_range, "intent: deadline_ms must be 0 to 2^53"};
    if (intent_carries_token(*kind) != value.has_value()) return token_rule_broken();
    if (value) TOKENVAULT_TRY(validate(*value));
    auto id = credential_id::parse(*resource, account.value_or(""));
    if (!id) return id.error();
    if (id->resource() != *resource)
        return error{errc::invalid_argument, "intent: the resource is not canonical"};
    return intent{*kind, std::move(*id), std::move(value), *expected, static_cast<std::int64_t>(*deadline)};
}

/// Files nobody claimed or settled (their poster died), and outcome records nobody read, are dropped once
/// this much older than their deadline.
inline constexpr std::chrono::milliseconds intent_stale_after{std::chrono::minutes(10)};

/// What became of one intent, as recorded in the bundle the holder saved.
struct intent_outcome {
    std::uint64_t generation = 0;  ///< the entry's generation after the change (0: absent)
    bool conflict = false;         ///< a compare_and_swap or erase_if whose expected generation was stale
    bool existed = false;          ///< an erase found a token to remove
    std::int64_t deadline_ms = 0;  ///< the intent's deadline (records are dropped when stale)
};

/// The bundle's top-level field that holds the outcomes, keyed by intent name.
inline constexpr std::string_view intents_applied_field = "intents_applied";

/// The outcome recorded under `name` in `all` (the value of the bundle's intents_applied field), if a
/// well-formed one is there.
template <class = void>
[[nodiscard]] inline std::optional<intent_outcome> find_intent_outcome_in(const extra_json& all,
                                                                          std::string_view name) {
    if (!all.is_object()) return std::nullopt;
    const auto found = all.find(name);
    if (found == all.end() || !found->is_object()) return std::nullopt;
    const auto number = [&](std::string_view field) -> std::optional<std::uint64_t> {
        const auto f = found->find(field);
        if (f == found->end() || !f->is_number_unsigned()) return std::nullopt;
        return f->template get<std::uint64_t>();
    };
    const auto result_of = found->find("result");
    const auto generation = number("generation");
    const auto deadline = number("deadline_ms");
    if (result_of == found->end() || !result_of->is_string() || !generation || !deadline ||
        *generation >= generation_limit || *deadline > static_cast<std::uint64_t>(max_intent_deadline_ms))
        return std::nullopt;
    const auto& what = result_of->template get_ref<const extra_json::string_t&>();
    intent_outcome out{*generation, false, false, static_cast<std::int64_t>(*deadline)};
    if (what == "conflict")
        out.conflict = true;
    else if (what == "erased")
        out.existed = true;
    else if (what != "stored" && what != "absent")
        return std::nullopt;
    return out;
}

/// The outcome recorded under `name` in `b`, if a well-formed one is there.
template <class = void>
[[nodiscard]] inline std::optional<intent_outcome> find_intent_outcome(const bundle& b,
                                                                       std::string_view name) {
    if (!b.extra.is_object()) return std::nullopt;
    const auto all = b.extra.find(intents_applied_field);
    if (all == b.extra.end()) return std::nullopt;
    return find_intent_outcome_in(*all, name);
}

/// The outcome recorded under `name` in the bundle text `text`, read without parsing its entries (a
/// waiter looks for its outcome in each new version of the file while it waits).
template <class = void>
[[nodiscard]] inline std::optional<intent_outcome> peek_intent_outcome(std::string_view text,
                                                                       std::string_view name) {
    json_cursor in(text);
    if (in.peek() != json_cursor::kind::object || !in.begin_object()) return std::nullopt;
    std::string_view key;
    std::optional<intent_outcome> found;
    while (in.next_member(key)) {
        if (key == intents_applied_field) {  // the last one counts, as for the bundle reader
            extra_json all;
            if (!read_json_value(in, all, max_member_depth)) return std::nullopt;
            found = find_intent_outcome_in(all, name);
            continue;
        }
        std::string_view ignored;
        if (!in.skip(ignored)) return std::nullopt;  // iterative: any depth
    }
    if (in.failed() || !in.finish()) return std::nullopt;
    return found;
}

/// Records `outcome` under `name` in `b`.
template <class = void>
inline void record_intent_outcome(bundle& b, std::string_view name, const intent_outcome& outcome) {
    if (!b.extra.is_object()) b.extra = extra_json::object();
    auto& all = b.extra[extra_json::string_t(intents_applied_field)];
    if (!all.is_object()) all = extra_json::object();
    auto& record = all[extra_json::string_t(name)];
    record = extra_json::object();
    const char* what = outcome.conflict     ? "conflict"
                       : outcome.existed    ? "erased"
                       : outcome.generation ? "stored"
                                            : "absent";
    record["result"] = what;
    record["generation"] = outcome.generation;
    record["deadline_ms"] = static_cast<std::uint64_t>(outcome.deadline_ms);
}

/// Drops every outcome record for which `stale(name, deadline_ms)` holds, and every malformed one; the
/// field goes when it is empty. Returns whether anything was dropped.
template <class Stale>
inline bool prune_intent_outcomes(bundle& b, Stale&& stale) {
    if (!b.extra.is_object()) return false;
    const auto all = b.extra.find(intents_applied_field);
    if (all == b.extra.end()) return false;
    bool dropped = false;
    if (all->is_object()) {
        for (auto it = all->begin(); it != all->end();) {
            const auto outcome = find_intent_outcome_in(*all, it.key());
            if (!outcome || stale(std::string_view(it.key()), outcome->deadline_ms)) {
                it = all->erase(it);
                dropped = true;
            } else {
                ++it;
            }
        }
    }
    if (!all->is_object() || all->empty()) {
        b.extra.erase(all);
        dropped = true;
    }
    return dropped;
}

}  // namespace tokenvault::detail
