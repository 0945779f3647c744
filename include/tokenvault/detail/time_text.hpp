// tokenvault/detail/time_text.hpp: the times tokenvault stores, and their text (RFC 3339).
//
// One rule for every time that enters a store, whatever door it comes through (a token endpoint, an
// importer, a stored bundle, a caller's put): the time point itself must lie between 1970-01-01T00:00:00Z
// and 2200-01-01T00:00:00Z. The range is checked on the resulting time point, computed in 64-bit seconds
// first, never on the input fields, so offsets, a leap second (23:59:60 reads as the next second) and
// years far outside the range can neither overflow the nanosecond clock nor produce a time the writer
// formats but the reader refuses. Inside the range, format_rfc3339 and parse_rfc3339 are exact inverses.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include "../token.hpp"

namespace tokenvault::detail {

/// The earliest storable time, in unix seconds: 1970-01-01T00:00:00Z.
inline constexpr std::int64_t earliest_time_seconds = 0;
/// The latest storable time, in unix seconds: 2200-01-01T00:00:00Z. Far later than any real token, far
/// inside the nanosecond clock (which ends in 2262), so no conversion near it can overflow.
inline constexpr std::int64_t latest_time_seconds = 7'258'118'400;

/// Whether `tp` lies in the storable range [1970-01-01T00:00:00Z, 2200-01-01T00:00:00Z].
[[nodiscard]] constexpr bool storable_time(clock::time_point tp) noexcept {
    using std::chrono::seconds;
    return tp >= clock::time_point{seconds{earliest_time_seconds}} &&
           tp <= clock::time_point{seconds{latest_time_seconds}};
}

/// Formats a time point as RFC 3339 UTC ("2026-11-23T04:00:00Z"), with fractional seconds only when they
/// are non-zero.
template <class = void>
[[nodiscard]] inline std::string format_rfc3339(clock::time_point tp) {
    using namespace std::chrono;
    const auto day_point = floor<days>(tp);
    const year_month_day ymd{day_point};
    const hh_mm_ss<nanoseconds> hms{duration_cast<nanoseconds>(tp - day_point)};
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02lld", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                  static_cast<long long>(hms.seconds().count()));
    std::string out = buf;
    if (const auto frac = hms.subseconds().count(); frac != 0) {
        std::snprintf(buf, sizeof buf, ".%09lld", static_cast<long long>(frac));
        std::string f = buf;
        while (f.back() == '0') f.pop_back();
        out += f;
    }
    out += 'Z';
    return out;
}

/// What parse_rfc3339 found wrong.
enum class time_text_problem { none, malformed, out_of_range };

/// Parses RFC 3339 ("2026-11-23T04:00:00Z", "...T04:00:00.5+01:00", "...T23:59:60Z"): the time point, or
/// nullopt with `problem` saying whether the text is malformed or names a time outside the storable
/// range. Digits beyond nanoseconds are dropped; offsets go up to 23:59.
template <class = void>
[[nodiscard]] inline std::optional<clock::time_point> parse_rfc3339(std::string_view s,
                                                                    time_text_problem* problem = nullptr) {
    using namespace std::chrono;
    const auto fail = [&](time_text_problem why) {
        if (problem != nullptr) *problem = why;
        return std::optional<clock::time_point>{};
    };
    if (problem != nullptr) *problem = time_text_problem::none;
    const auto digits = [&](std::size_t pos, std::size_t n, int& out) {
        if (pos + n > s.size()) return false;
        out = 0;
        for (std::size_t i = pos; i < pos + n; ++i) {
            if (s[i] < '0' || s[i] > '9') return false;
            out = out * 10 + (s[i] - '0');
        }
        return true;
    };
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
    if (s.size() < 20 || !digits(0, 4, y) || s[4] != '-' || !digits(5, 2, mo) || s[7] != '-' ||
        !digits(8, 2, d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(11, 2, h) ||
        s[13] != ':' || !digits(14, 2, mi) || s[16] != ':' || !digits(17, 2, sec))
        return fail(time_text_problem::malformed);
    const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
    if (!ymd.ok() || h > 23 || mi > 59 || sec > 60) return fail(time_text_problem::malformed);
    std::size_t pos = 19;
    std::int64_t fraction_ns = 0;
    if (pos < s.size() && s[pos] == '.') {
        ++pos;
        int count = 0;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
            if (count < 9) {
                fraction_ns = fraction_ns * 10 + (s[pos] - '0');
                ++count;
            }
            ++pos;
        }
        if (count == 0) return fail(time_text_problem::malformed);
        for (int i = count; i < 9; ++i) fraction_ns *= 10;
    }
    std::int64_t offset_seconds = 0;
    if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
        ++pos;
    } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
        int oh = 0, om = 0;
        if (!digits(pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' || !digits(pos + 4, 2, om) ||
            oh > 23 || om > 59)
            return fail(time_text_problem::malformed);
        offset_seconds = (s[pos] == '-' ? -1 : 1) * (std::int64_t{oh} * 3600 + std::int64_t{om} * 60);
        pos += 6;
    } else {
        return fail(time_text_problem::malformed);
    }
    if (pos != s.size()) return fail(time_text_problem::malformed);
    // In 64-bit seconds: years 0000-9999 and any offset fit with room to spare.
    const std::int64_t day_number = sys_days{ymd}.time_since_epoch().count();
    const std::int64_t total =
        day_number * 86400 + std::int64_t{h} * 3600 + std::int64_t{mi} * 60 + sec - offset_seconds;
    if (total < earliest_time_seconds || total > latest_time_seconds ||
        (total == latest_time_seconds && fraction_ns != 0))
        return fail(time_text_problem::out_of_range);
    return clock::time_point{duration_cast<clock::duration>(seconds{total} + nanoseconds{fraction_ns})};
}

/// A time given as a unix number: seconds, or milliseconds for numbers >= 1e11 (1e11 seconds would be
/// the year 5138). nullopt when the time is outside the storable range (or not a number).
template <class = void>
[[nodiscard]] inline std::optional<clock::time_point> time_from_unix_number(double n) {
    using namespace std::chrono;
    constexpr double latest_ms = static_cast<double>(latest_time_seconds) * 1000.0;
    const double ms = n >= 1e11 ? n : n * 1000.0;
    if (!(ms >= 0) || ms > latest_ms) return std::nullopt;  // also NaN
    return clock::time_point{duration_cast<clock::duration>(milliseconds{static_cast<std::int64_t>(ms)})};
}

/// `issued_at` plus `seconds` (a relative "expires_in"), when that is a storable time; nullopt otherwise.
/// `seconds` must be a number in [0, 1e9] (about 31 years: anything longer is a server bug).
template <class = void>
[[nodiscard]] inline std::optional<clock::time_point> time_after(clock::time_point issued_at,
                                                                 double seconds) {
    using namespace std::chrono;
    if (!(seconds >= 0) || seconds > 1e9) return std::nullopt;
    if (issued_at > clock::time_point{std::chrono::seconds{latest_time_seconds}}) return std::nullopt;
    // At most 1e18 ns added to a time no later than 2200: no overflow.
    const auto tp =
        issued_at + duration_cast<clock::duration>(nanoseconds{static_cast<std::int64_t>(seconds * 1e9)});
    if (!storable_time(tp)) return std::nullopt;
    return tp;
}

}  // namespace tokenvault::detail
