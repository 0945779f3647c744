// tokenvault/detail/json_value.hpp: reading, checking and writing the JSON values of unknown fields.
//
// Fields tokenvault does not know are kept as extra_json values (token.hpp). Every path that builds,
// checks or writes one walks it with an explicit heap stack, never by recursion, and refuses a value that
// nests deeper than max_json_depth: hostile input cannot overflow the call stack, and a kept value can
// always be copied, compared and written again. The reader builds values straight from json_cursor (no
// parse buffer holds a copy of a secret); the writer writes exactly what the reader reads back.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "../result.hpp"
#include "json_cursor.hpp"
#include "json_writer.hpp"
#include "text_checks.hpp"

namespace tokenvault::detail {

/// The deepest nesting of arrays and objects in a kept JSON value, counting the object that holds the
/// unknown field (a token, an entry, the bundle) as level 1. Deeper input is refused (errc::too_large).
inline constexpr std::size_t max_json_depth = 64;

/// Levels left for the value of a member of an object that is itself at level 1.
inline constexpr std::size_t max_member_depth = max_json_depth - 1;

/// The error for text that is not JSON (or nests too deep) at the cursor's position; `what` names the input.
template <class = void>
[[nodiscard]] inline error json_read_error(const json_cursor& in, std::string_view what) {
    if (in.too_deep())
        return error{errc::too_large, std::string(what) + ": JSON nested deeper than 64 levels"};
    return error{errc::malformed_json,
                 std::string(what) + ": not valid JSON at byte " + std::to_string(in.offset())};
}

/// The error for the invalid text at the cursor (which then stays failed there).
template <class = void>
[[nodiscard]] inline error not_json(json_cursor& in, std::string_view what) {
    std::string_view ignored;
    (void)in.skip(ignored);
    return json_read_error(in, what);
}

/// Starts reading a whole document that must be one object (`kind::object`) or array: consumes its
/// opening bracket. Errors: not JSON, nested deeper than 64 levels, or another kind of value (wrong_type).
template <class = void>
[[nodiscard]] inline result<void> begin_document(json_cursor& in, json_cursor::kind expected,
                                                 std::string_view what) {
    if (in.peek() != expected) {
        std::string_view ignored;
        if (!in.skip(ignored, max_json_depth) || !in.finish()) return json_read_error(in, what);
        return error{errc::wrong_type,
                     std::string(what) + (expected == json_cursor::kind::object ? ": not a JSON object"
                                                                                : ": not a JSON array")};
    }
    if (!(expected == json_cursor::kind::object ? in.begin_object() : in.begin_array()))
        return json_read_error(in, what);
    return {};
}

/// Ends reading a whole document after its last member or element: nothing may follow.
template <class = void>
[[nodiscard]] inline result<void> end_document(json_cursor& in, std::string_view what) {
    if (in.failed() || in.too_deep() || !in.finish()) return json_read_error(in, what);
    return {};
}

/// Reads the value at `in` into `out`, at most `max_depth` arrays/objects deep (the value itself counting
/// as 1). False when the text is not JSON (`in.failed()`) or nests deeper (`in.too_deep()`); `out` then
/// holds a partial value. A key that appears twice in an object: the last one counts.
template <class Json>
[[nodiscard]] bool read_json_value(json_cursor& in, Json& out, std::size_t max_depth) {
    using kind = json_cursor::kind;
    using string_type = typename Json::string_t;
    std::vector<Json*> open;  // the containers being filled, innermost last
    Json* target = &out;
    for (;;) {
        // A value starts here: read it into *target.
        switch (in.peek()) {
        case kind::object:
        case kind::array: {
            if (open.size() >= max_depth) return in.stop_too_deep();
            const bool object = in.peek() == kind::object;
            if (!(object ? in.begin_object() : in.begin_array())) return false;
            *target = object ? Json::object() : Json::array();
            open.push_back(target);
            break;
        }
        case kind::string: {
            std::string_view text;
            if (!in.string(text)) return false;
            *target = string_type(text.data(), text.size());
            break;
        }
        case kind::number: {
            json_number n;
            if (!in.number(n)) return false;
            switch (n.kind) {
            case json_number::type::unsigned_integer: *target = n.unsigned_value; break;
            case json_number::type::signed_integer: *target = n.signed_value; break;
            case json_number::type::floating: *target = n.floating_value; break;
            }
            break;
        }
        case kind::boolean: {
            bool b = false;
            if (!in.boolean(b)) return false;
            *target = b;
            break;
        }
        case kind::null:
            if (!in.null()) return false;
            *target = nullptr;
            break;
        case kind::invalid: {
            std::string_view ignored;
            return in.skip(ignored);  // fails, at the right offset
        }
        }
        // Then the next member or element of the innermost open container, closing finished ones.
        for (;;) {
            if (open.empty()) return true;
            Json& container = *open.back();
            if (container.is_object()) {
                std::string_view key;
                if (in.next_member(key)) {
                    target = &container[string_type(key.data(), key.size())];
                    break;
                }
            } else if (in.next_element()) {
                container.push_back(nullptr);
                target = &container.back();
                break;
            }
            if (in.failed()) return false;
            open.pop_back();
        }
    }
}

/// Walks `value` depth first with an explicit stack. `visit(const Json& v, std::string_view* key, depth)`
/// sees every value before its children (`key`: its name in the enclosing object, else nullptr) and
/// returns false to stop; `leave(const Json& container)` is called after a container's last child.
/// False when stopped, or when a container sits deeper than `max_depth` (the value itself at 1).
template <class Json, class Visit, class Leave>
[[nodiscard]] bool walk_json_value(const Json& value, std::size_t max_depth, Visit&& visit, Leave&& leave) {
    struct frame {
        const Json* container;
        typename Json::const_iterator next;
    };
    std::vector<frame> open;
    const Json* current = &value;
    std::string_view current_key;
    bool has_key = false;
    for (;;) {
        if (!visit(*current, has_key ? &current_key : nullptr, open.size())) return false;
        if (current->is_structured()) {
            if (open.size() >= max_depth) return false;
            open.push_back(frame{current, current->cbegin()});
        }
        for (;;) {
            if (open.empty()) return true;
            frame& top = open.back();
            if (top.next != top.container->cend()) {
                current = &*top.next;
                has_key = top.container->is_object();
                if (has_key) current_key = std::string_view(top.next.key());
                ++top.next;
                break;
            }
            leave(*top.container);
            open.pop_back();
        }
    }
}

/// Whether `value` survives a write and a read unchanged: strings and keys in UTF-8, finite numbers, no
/// binary or discarded values, and at most `max_depth` arrays/objects deep (the value itself at 1).
template <class Json>
[[nodiscard]] bool storable_json_value(const Json& value, std::size_t max_depth) {
    return walk_json_value(
        value, max_depth,
        [](const Json& v, const std::string_view* key, std::size_t) {
            if (key != nullptr && !valid_utf8(*key)) return false;
            if (v.is_string()) return valid_utf8(v.template get_ref<const typename Json::string_t&>());
            if (v.is_number_float()) return std::isfinite(v.template get<double>());
            return !v.is_binary() && !v.is_discarded();
        },
        [](const Json&) {});
}

/// Writes `value` (see storable_json_value); false when it is not storable (the text is then unusable).
template <class Json>
[[nodiscard]] bool write_json_value(json_writer& w, const Json& value, std::size_t max_depth) {
    return walk_json_value(
        value, max_depth,
        [&](const Json& v, const std::string_view* key, std::size_t depth) {
            if (key != nullptr) {
                if (!w.key(*key)) return false;
            } else if (depth > 0) {
                w.element();
            }
            switch (v.type()) {
            case Json::value_t::object: w.open_object(); return true;
            case Json::value_t::array: w.open_array(); return true;
            case Json::value_t::string: return w.string(v.template get_ref<const typename Json::string_t&>());
            case Json::value_t::boolean: w.raw(v.template get<bool>() ? "true" : "false"); return true;
            case Json::value_t::null: w.raw("null"); return true;
            case Json::value_t::number_unsigned: w.number(v.template get<std::uint64_t>()); return true;
            case Json::value_t::number_integer: w.number(v.template get<std::int64_t>()); return true;
            case Json::value_t::number_float: return w.number(v.template get<double>());
            case Json::value_t::binary:
            case Json::value_t::discarded: return false;
            }
            return false;
        },
        [&](const Json& container) {
            if (container.is_object())
                w.close_object();
            else
                w.close_array();
        });
}

/// Writes every member of `object` (unknown fields of an object at level 1; null: none) whose name `skip`
/// does not claim; false when a member is not storable.
template <class Json, class Skip>
[[nodiscard]] bool write_members(json_writer& w, const Json& object, Skip&& skip) {
    if (object.is_null()) return true;
    if (!object.is_object()) return false;
    for (auto it = object.cbegin(); it != object.cend(); ++it) {
        if (skip(std::string_view(it.key()))) continue;
        if (!w.key(it.key()) || !write_json_value(w, it.value(), max_member_depth)) return false;
    }
    return true;
}

}  // namespace tokenvault::detail
