// tokenvault/detail/bundle_reader.hpp: reads a bundle's JSON text straight into a `bundle` (json_cursor.hpp).
//
// Two kinds of failure, kept apart (docs/FORMAT.md): text that is not JSON, or a bundle whose own fields
// (format, version, entries, last_generation) are wrong, fails the whole read; an entry that does not
// satisfy the schema is isolated: it goes to bundle::unreadable with its text kept verbatim and the
// reason, and every other entry loads. No intermediate document, no unwiped copy of a secret.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "../credential_id.hpp"
#include "../entry.hpp"
#include "../result.hpp"
#include "../token_json.hpp"
#include "bundle_text.hpp"
#include "json_cursor.hpp"
#include "json_value.hpp"

namespace tokenvault::detail {

/// Reads a bundle straight from its text with json_cursor. Field rules are those of read_token and
/// docs/FORMAT.md.
template <class = void>
class bundle_reader {
public:
    /// Reads `text`; records where each readable entry sits in it into `spans` when given; takes over the
    /// unchanged entries of `reuse` when given (see reusable_entries).
    explicit bundle_reader(std::string_view text, bundle_text* spans = nullptr,
                           const reusable_entries* reuse = nullptr) noexcept
        : text_(text), spans_(spans), reuse_(reuse), in_(text) {}

    [[nodiscard]] result<bundle> read() {
        if (text_.size() > token_limits::max_bundle_json)
            return error{errc::too_large, "bundle: larger than 64 MiB"};
        if (in_.peek() != json_cursor::kind::object) {
            std::string_view ignored;
            if (in_.skip(ignored) && in_.finish())
                return error{errc::wrong_type, "bundle: top level must be an object"};
            return syntax_error(in_);
        }
        if (!top_level() || !in_.finish()) return failure(in_);
        // The header decides how the rest is read: check it before the entries.
        if (!format_ok_) return error{errc::wrong_type, "bundle: 'format' must be \"tokenvault-bundle\""};
        if (!version_ || !version_->is_integer())
            return error{errc::missing_field, "bundle: field 'version'"};
        if (!version_supported()) return error{errc::unsupported_format_version, "bundle"};
        if (!entries_seen_ || entries_not_object_)
            return error{errc::missing_field, "bundle: field 'entries' (an object)"};
        if (last_generation_bad_)
            return error{errc::wrong_type, "bundle: field 'last_generation' must be unsigned"};
        if (out_.last_generation >= generation_limit)
            return error{
                errc::value_out_of_range,
                "bundle: field 'last_generation' is 2^63 or more, which no tokenvault writes (a damaged "
                "or edited bundle); it was left unchanged: restore a backup, or move it aside and log "
                "in again"};
        if (deferred_entries_) {  // 'entries' came before the header: read it now that the header checked out
            json_cursor later(*deferred_entries_);
            if (!read_entries(later, static_cast<std::size_t>(deferred_entries_->data() - text_.data())))
                return failure(later);
        }
        out_.last_generation = std::max(out_.last_generation, highest_generation_);
        return std::move(out_);
    }

private:
    using kind = json_cursor::kind;

    bool version_supported() const noexcept {
        return version_->is_unsigned()
                   ? version_->unsigned_value <= static_cast<std::uint64_t>(bundle_format_version)
                   : version_->signed_value <= bundle_format_version;
    }

    bool top_level() {
        if (!in_.begin_object()) return false;
        std::string_view key;
        while (in_.next_member(key)) {
            if (key == "format") {
                format_ok_ = false;
                if (in_.peek() != kind::string) {
                    if (!skip(in_)) return false;
                } else {
                    std::string_view value;
                    if (!in_.string(value)) return false;
                    format_ok_ = value == bundle_format_name;
                }
            } else if (key == "version") {
                json_number n;
                if (in_.peek() == kind::number) {
                    if (!in_.number(n)) return false;
                    version_ = n;
                } else {
                    version_ = json_number{};  // present, not an integer
                    if (!skip(in_)) return false;
                }
            } else if (key == "last_generation") {
                json_number n;
                last_generation_bad_ = true;
                if (in_.peek() == kind::number) {
                    if (!in_.number(n)) return false;
                    last_generation_bad_ = !n.is_unsigned();
                    if (!last_generation_bad_) out_.last_generation = n.unsigned_value;
                } else if (!skip(in_)) {
                    return false;
                }
            } else if (key == "entries") {
                entries_seen_ = true;
                out_.entries.clear();
                out_.unreadable.clear();
                deferred_entries_.reset();
                highest_generation_ = 0;
                entries_not_object_ = in_.peek() != kind::object;
                if (entries_not_object_) {
                    if (!skip(in_)) return false;
                } else if (format_ok_ && version_ && version_->is_integer() && version_supported()) {
                    if (!read_entries(in_, 0)) return false;
                } else {
                    std::string_view raw;
                    if (!in_.skip(raw)) return false;
                    deferred_entries_ = raw;
                }
            } else {
                typename extra_json::string_t name(key.data(), key.size());
                if (!read_json_value(in_, out_.extra[name], max_member_depth)) {
                    if (in_.too_deep())
                        problem(errc::too_large,
                                "bundle: an unknown top-level field nests deeper than 64 levels");
                    return false;
                }
            }
        }
        return !in_.failed();
    }

    // The entries object; `base`: offset of the cursor's text within the whole bundle text.
    bool read_entries(json_cursor& in, std::size_t base) {
        if (spans_ != nullptr) spans_->entries.clear();
        if (!in.begin_object()) return false;
        std::string_view key;
        while (in.next_member(key)) {
            std::string hash(key);
            (void)in.peek();  // to the entry's first character
            const std::size_t start = in.offset();
            std::size_t same_size = 0;
            if (const entry* same = reuse_ != nullptr ? reuse_->match(hash, in.rest(), same_size) : nullptr) {
                in.step_over(same_size);
                keep(std::move(hash), *same, base + start, same_size);
                continue;
            }
            auto read = read_entry(in, hash);
            if (read) {
                keep(std::move(hash), std::move(*read), base + start, in.offset() - start);
                continue;
            }
            if (in.failed()) return false;  // not JSON: the whole text is refused
            // The entry is JSON but not an entry this build can read: keep it as it is, load the others.
            in.restart_at(start);
            std::string_view raw;
            if (!in.skip(raw)) return false;
            out_.entries.erase(hash);
            if (spans_ != nullptr) spans_->entries.erase(hash);
            count_generation_of(raw);
            out_.unreadable.insert_or_assign(
                std::move(hash), unreadable_entry{secret_text(raw.data(), raw.size()), read.error()});
        }
        return !in.failed();
    }

    // A readable entry, `size` bytes at `offset` of the whole text: the last one under a key wins.
    void keep(std::string hash, entry e, std::size_t offset, std::size_t size) {
        highest_generation_ = std::max(highest_generation_, e.generation);
        out_.unreadable.erase(hash);
        if (spans_ != nullptr)
            spans_->entries.insert_or_assign(
                hash, bundle_text::entry_span{e.generation, e.updated_at, offset, size});
        out_.entries.insert_or_assign(std::move(hash), std::move(e));
    }

    result<entry> read_entry(json_cursor& in, const std::string& hash) {
        if (in.peek() != kind::object) {
            if (in.peek() == kind::invalid) return json_read_error(in, "bundle entry");
            return error{errc::wrong_type, "bundle entry: must be an object"};
        }
        std::optional<std::string> resource;
        std::string account;
        std::optional<std::uint64_t> generation;
        std::optional<clock::time_point> updated;
        std::optional<token> tok;
        extra_json extra = extra_json::object();
        if (!in.begin_object()) return json_read_error(in, "bundle entry");
        std::string_view key;
        while (in.next_member(key)) {
            if (key == "resource" || key == "account") {
                const bool is_resource = key == "resource";
                if (in.peek() != kind::string) {
                    if (in.peek() == kind::invalid) return json_read_error(in, "bundle entry");
                    return error{errc::wrong_type, is_resource
                                                       ? "bundle entry: field 'resource' must be a string"
                                                       : "bundle entry: field 'account' must be a string"};
                }
                std::string_view value;
                if (!in.string(value)) return json_read_error(in, "bundle entry");
                if (is_resource)
                    resource.emplace(value);
                else
                    account.assign(value);
            } else if (key == "generation") {
                json_number n;
                const auto found = in.peek();
                if (found == kind::invalid || (found == kind::number && !in.number(n)))
                    return json_read_error(in, "bundle entry");
                if (found != kind::number || !n.is_unsigned())
                    return error{errc::wrong_type, "bundle entry: field 'generation' must be unsigned"};
                generation = n.unsigned_value;
            } else if (key == "updated_at") {
                auto value = read_time(in, "updated_at");
                if (!value) return value.error();
                updated = *value;
            } else if (key == "token") {
                auto value = read_token(in);
                if (!value) return value.error();
                tok.emplace(std::move(*value));
            } else {
                typename extra_json::string_t name(key.data(), key.size());
                if (!read_json_value(in, extra[name], max_member_depth))
                    return json_read_error(in, "bundle entry");
            }
        }
        if (in.failed()) return json_read_error(in, "bundle entry");
        if (!resource) return error{errc::missing_field, "bundle entry: field 'resource'"};
        auto id = credential_id::parse(*resource, account);
        if (!id) return id.error();
        if (id->hash() != hash)
            return error{errc::invalid_argument,
                         "bundle entry: its key is not the credential hash of its resource and account"};
        if (!generation) return error{errc::missing_field, "bundle entry: field 'generation'"};
        if (*generation == 0 || *generation >= generation_limit)
            return error{errc::value_out_of_range, "bundle entry: field 'generation' must be 1 to 2^63-1"};
        if (!tok) return error{errc::missing_field, "bundle entry: field 'token'"};
        return entry{std::move(*id), std::move(*tok), *generation, updated.value_or(clock::time_point{}),
                     std::move(extra)};
    }

    // The generation of an unreadable entry, when it has a plausible one, still counts: a generation is
    // never handed out twice, even if a later build can read the entry again.
    void count_generation_of(std::string_view raw) {
        json_cursor in(raw);
        std::string_view key;
        // The last "generation" member counts. 0 stands for "none" (never a valid generation); a plain
        // integer rather than std::optional, which GCC 12 at -O3 reports as maybe-uninitialized.
        std::uint64_t generation = 0;
        if (in.peek() != kind::object || !in.begin_object()) return;
        while (in.next_member(key)) {
            json_number n;
            if (key == "generation" && in.peek() == kind::number) {
                if (!in.number(n)) return;
                generation = n.is_unsigned() ? n.unsigned_value : 0;
            } else {
                if (key == "generation") generation = 0;
                if (!skip(in)) return;
            }
        }
        if (generation < generation_limit) highest_generation_ = std::max(highest_generation_, generation);
    }

    static bool skip(json_cursor& in) {
        std::string_view ignored;
        return in.skip(ignored);
    }

    void problem(errc code, std::string context) {
        if (!problem_) problem_ = error{code, std::move(context)};
    }

    // The error of a failed read: text that is not JSON wins over any problem found before its end.
    result<bundle> failure(const json_cursor& in) const {
        if (!problem_ || in.failed()) return syntax_error(in);
        json_cursor whole(text_);
        std::string_view ignored;
        if (!whole.skip(ignored) || !whole.finish()) return syntax_error(whole);
        return *problem_;
    }
    static error syntax_error(const json_cursor& in) {
        return error{errc::malformed_json, "bundle: not valid JSON at byte " + std::to_string(in.offset())};
    }

    std::string_view text_;
    bundle_text* spans_;
    const reusable_entries* reuse_;
    json_cursor in_;
    bundle out_;
    bool format_ok_ = false;
    std::optional<json_number> version_;
    bool entries_seen_ = false;
    bool entries_not_object_ = false;
    bool last_generation_bad_ = false;
    std::optional<std::string_view> deferred_entries_;
    std::uint64_t highest_generation_ = 0;
    std::optional<error> problem_;
};

/// parse_bundle that also keeps the text in `record`, with where each entry sits in it (see bundle_text),
/// and takes over the unchanged entries of `reuse` when given (which may refer to `record` itself: it is
/// replaced only after the read). `record` is empty after a failure.
template <class = void>
[[nodiscard]] inline result<bundle> parse_owned_bundle_text(secret_text text, bundle_text& record,
                                                            const reusable_entries* reuse = nullptr) {
    bundle_text fresh;
    auto parsed = bundle_reader<>(std::string_view(text.data(), text.size()), &fresh, reuse).read();
    if (!parsed) {
        record = bundle_text{};
        return parsed.error();
    }
    fresh.text = std::move(text);
    record = std::move(fresh);
    return parsed;
}
/// parse_owned_bundle_text for text held elsewhere (copied into `record`).
template <class = void>
[[nodiscard]] inline result<bundle> parse_bundle_text(std::string_view text, bundle_text& record) {
    return parse_owned_bundle_text(secret_text(text.data(), text.size()), record);
}

}  // namespace tokenvault::detail
