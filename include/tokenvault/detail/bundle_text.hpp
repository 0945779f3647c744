// tokenvault/detail/bundle_text.hpp: writing a bundle's JSON text, reusing the text of unchanged entries.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "../entry.hpp"
#include "../result.hpp"
#include "../token_json.hpp"
#include "json_value.hpp"
#include "json_writer.hpp"
#include "secure_buffer.hpp"
#include "time_text.hpp"

namespace tokenvault::detail {

/// The JSON text of the bundle a backend last read or wrote, and where each entry's object sits in it.
/// Writing the next version of that bundle copies the text of every entry whose generation and update
/// time are unchanged instead of serializing it again: a put re-serializes one entry, not all of them.
/// Sound because a generation is never reused within a bundle (every write takes last_generation + 1)
/// and a load replaces the whole record. Held in wiped memory, like the bundle's tokens.
struct bundle_text {
    struct entry_span {
        std::uint64_t generation = 0;
        clock::time_point updated_at{};
        std::size_t offset = 0;  ///< of the entry's object in `text`
        std::size_t size = 0;
    };
    secret_text text;
    std::unordered_map<std::string, entry_span> entries;  ///< by credential hash

    /// The text of the entry with this hash, generation and update time, if it is recorded.
    [[nodiscard]] std::optional<std::string_view> find(const std::string& hash, const entry& e) const {
        const auto found = entries.find(hash);
        if (found == entries.end() || found->second.generation != e.generation ||
            found->second.updated_at != e.updated_at)
            return std::nullopt;
        return std::string_view(text.data() + found->second.offset, found->second.size);
    }
};

/// What a re-read of a bundle may take over instead of parsing again: the text a backend last read or
/// wrote, with its entry positions, and the bundle the store holds, which is that text parsed (or the
/// bundle it was written from: writing and reading are exact inverses). An entry of the new text whose
/// bytes are exactly those recorded for its key, and whose held entry still has the recorded generation
/// and update time, is that held entry: a generation is never reused within a bundle, so the held entry is
/// the one those bytes were read from or written from. Copying it is several times cheaper than parsing,
/// and a write under contention re-reads a file in which every entry but one is unchanged.
struct reusable_entries {
    const bundle_text& text;
    const bundle& held;

    /// The held entry that `rest` (the new text from the first byte of the entry stored under `hash`)
    /// starts with, byte for byte, and its length in `size`; nullptr when there is none.
    [[nodiscard]] const entry* match(const std::string& hash, std::string_view rest,
                                     std::size_t& size) const {
        const auto span = text.entries.find(hash);
        if (span == text.entries.end() || span->second.size == 0) return nullptr;
        const auto found = held.entries.find(hash);
        if (found == held.entries.end() || found->second.generation != span->second.generation ||
            found->second.updated_at != span->second.updated_at)
            return nullptr;
        const std::string_view recorded(text.text.data(), text.text.size());
        if (span->second.offset > recorded.size() ||
            span->second.size > recorded.size() - span->second.offset)
            return nullptr;
        if (rest.substr(0, span->second.size) != recorded.substr(span->second.offset, span->second.size))
            return nullptr;
        size = span->second.size;
        return &found->second;
    }
};

/// Whether the bundle reader reads `e`, stored under `hash`, back as it is (the writer's side of the one
/// rule: nothing is written that a reader would refuse).
template <class = void>
[[nodiscard]] inline result<void> check_entry_storable(const std::string& hash, const entry& e) {
    if (e.id.hash() != hash)
        return error{errc::invalid_argument, "bundle: an entry is filed under another id's hash"};
    if (e.generation == 0 || e.generation >= generation_limit)
        return error{errc::value_out_of_range, "bundle: an entry's generation is outside 1 to 2^63-1"};
    if (!storable_time(e.updated_at))
        return error{errc::value_out_of_range,
                     "bundle: an entry's update time is before 1970 or after 2200: check the system clock"};
    return {};
}

/// Serializes `b`, reusing the entry texts recorded in `previous` (see bundle_text) when given, into
/// `buffer` (its allocation reused). Unreadable entries are written back verbatim, unless a readable entry
/// has taken their key. Refuses what the bundle reader would refuse: a last_generation of 2^63 or more, an
/// entry it could not read back.
template <class = void>
[[nodiscard]] inline result<bundle_text> write_bundle_text(const bundle& b,
                                                           const bundle_text* previous = nullptr,
                                                           secret_text buffer = {}) {
    if (b.last_generation >= generation_limit)
        return error{
            errc::value_out_of_range,
            "bundle: generations are exhausted (2^63 writes): nothing was written; move the store file "
            "aside and log in again"};
    constexpr std::size_t typical_entry = 1024;
    const std::size_t added = previous == nullptr || b.entries.size() <= previous->entries.size()
                                  ? 1
                                  : 1 + b.entries.size() - previous->entries.size();
    json_writer w(std::move(buffer),
                  512 + (previous != nullptr ? previous->text.size() + added * typical_entry
                                             : b.entries.size() * typical_entry));
    bundle_text out;
    out.entries.reserve(b.entries.size());
    w.open_object();
    bool ok = w.key("format") && w.string(bundle_format_name);
    ok = ok && w.key("version");
    w.number(static_cast<std::uint64_t>(bundle_format_version));
    ok = ok && w.key("last_generation");
    w.number(b.last_generation);
    ok = ok && write_members(w, b.extra, [](std::string_view k) {
             return k == "format" || k == "version" || k == "last_generation" || k == "entries";
         });
    ok = ok && w.key("entries");
    w.open_object();
    for (const auto& [hash, e] : b.entries) {
        if (!ok) break;
        ok = w.key(hash);
        const std::size_t start = w.size();
        if (const auto unchanged = previous != nullptr ? previous->find(hash, e) : std::nullopt) {
            w.raw(*unchanged);
        } else {
            TOKENVAULT_TRY(check_entry_storable(hash, e));
            w.open_object();
            ok = ok && w.key("resource") && w.string(e.id.resource());
            if (!e.id.account().empty()) ok = ok && w.key("account") && w.string(e.id.account());
            ok = ok && w.key("generation");
            w.number(e.generation);
            ok = ok && w.key("updated_at") && w.string(format_rfc3339(e.updated_at));
            ok = ok && w.key("token") && write_token(w, e.token);
            ok = ok && write_members(w, e.extra, [](std::string_view k) {
                     return k == "resource" || k == "account" || k == "generation" || k == "updated_at" ||
                            k == "token";
                 });
            w.close_object();
        }
        out.entries.emplace(hash,
                            bundle_text::entry_span{e.generation, e.updated_at, start, w.size() - start});
    }
    for (const auto& [key, kept] : b.unreadable) {
        if (!ok) break;
        if (b.entries.find(key) != b.entries.end()) continue;  // replaced by a write of that credential
        ok = w.key(key);
        w.raw(std::string_view(kept.text.data(), kept.text.size()));
    }
    w.close_object();
    w.close_object();
    if (!ok)
        return error{errc::invalid_argument,
                     "bundle: an entry cannot be written as stored JSON (invalid UTF-8, an expiry outside "
                     "1970-2200, or an unknown field nested deeper than 64 levels)"};
    if (w.size() > token_limits::max_bundle_json) return error{errc::too_large, "bundle: larger than 64 MiB"};
    out.text = std::move(w.text());
    return out;
}

}  // namespace tokenvault::detail
