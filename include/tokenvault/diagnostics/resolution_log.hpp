// tokenvault/diagnostics/resolution_log.hpp: diagnostics::resolution_log<Inner>, the store-resolution
// log and drift reporting.
//
// Records, per credential hash, which store, mode (automatic or explicit), backend and keyring tier
// resolved, in a versioned, token-free JSON file next to the store (`<dir>/resolutions.json`, 0600,
// replaced atomically under its own short best-effort lock `resolutions.json.lock`). When an automatic
// resolution of the same backend lands on another tier than an earlier process recorded, it reports
// events::drift{credential, previous, current, reason} and counts it. An explicit mode or another backend
// resets the baseline; a login, a logout and a deliberate move (re-seal, migration) are never drift. Every
// event is forwarded to Inner. Failures are counted, never returned: no token operation fails because of the
// log. It learns the store's directory from events::store_resolved (diagnostics/resolution.hpp).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "../detail/temp_files.hpp"
#include "../platform/platform.hpp"
#include "../result.hpp"
#include "../token.hpp"
#include "../token_json.hpp"
#include "concept.hpp"
#include "none.hpp"

namespace tokenvault::diagnostics {

/// File name of the resolution log inside a store's directory.
inline constexpr std::string_view resolution_log_file_name = "resolutions.json";
/// Format name written in the resolution log.
inline constexpr std::string_view resolution_log_format_name = "tokenvault-resolutions";
/// Format version this build writes (and the newest it reads).
inline constexpr std::int64_t resolution_log_format_version = 1;

/// Bounds that keep the resolution log small.
struct resolution_log_limits {
    static constexpr std::size_t max_file_size = std::size_t{4} << 20;  ///< larger files are rewritten
    static constexpr std::size_t max_credentials = 4096;  ///< oldest logged-out records go first
    static constexpr std::size_t max_history = 32;        ///< drift history entries kept
    static constexpr std::size_t max_text = 128;          ///< bytes of one name (tier, backend, reason)
};

/// The last resolution recorded for one credential (no secret: names, a flag and times).
struct resolution_record {
    std::string store;                                        ///< the store's file name, e.g. "tokens.sealed"
    events::store_mode mode = events::store_mode::automatic;  ///< how the tier was picked
    std::string backend;                                      ///< backend and keyring chain
    std::string tier;                                         ///< the tier that resolved
    std::string reason;              ///< why that tier: events::to_string of its events::resolution_reason
    bool present = true;             ///< false after a logout (erase); the record itself survives it
    clock::time_point updated_at{};  ///< when this record last changed
    std::uint64_t drifts = 0;        ///< drifts reported for this credential so far
};

/// One reported drift, as kept in the log's history.
struct drift_record {
    clock::time_point at{};  ///< when it was reported
    std::string credential;  ///< credential hash
    std::string previous;    ///< tier recorded before
    std::string current;     ///< tier that resolved now
    std::string reason;      ///< why the current tier resolved (events::to_string of its reason)
};

/// The content of a resolution log.
struct resolution_history {
    std::map<std::string, resolution_record, std::less<>> credentials;  ///< keyed by credential hash
    std::vector<drift_record> drifts;  ///< most recent last, at most resolution_log_limits::max_history
    std::size_t dropped = 0;  ///< malformed parts skipped while parsing (rewritten on the next write)
};

/// What one resolution says, compared against one credential's record.
struct resolution_observation {
    std::string store;                                                      ///< the store's file name
    events::store_mode mode = events::store_mode::automatic;                ///< how the tier was picked
    std::string backend;                                                    ///< backend and keyring chain
    std::string tier;                                                       ///< the tier that resolved
    events::resolution_cause cause = events::resolution_cause::configured;  ///< why that tier
    std::string failed_tier;  ///< for a fallback: the first tier of the chain, which failed
    events::tier_failure failure = events::tier_failure::none;  ///< for a fallback: why it failed
    bool moved = false;                                         ///< a deliberate move into `tier`

    /// Why `tier` resolved, as events carry it (a view of this observation).
    [[nodiscard]] events::resolution_reason reason() const noexcept { return {cause, failed_tier, failure}; }
};

/// The verdict on one recorded credential when a store resolves.
enum class resolution_verdict : std::uint8_t {
    baseline,   ///< nothing recorded yet: record it
    unchanged,  ///< same store, mode, backend and tier
    reset,      ///< explicit mode, or another store or backend: a new baseline, not drift
    absent,     ///< logged out: the next login records the new baseline
    moved,      ///< a login or a deliberate move: a new baseline, not drift
    drift,      ///< automatic resolution of the same backend changed tier between processes
};

/// Judges `now` against `recorded` (nullptr: none); `announced_move`: a login of it is under way.
template <class = void>
[[nodiscard]] inline resolution_verdict judge_resolution(const resolution_record* recorded,
                                                         const resolution_observation& now,
                                                         bool announced_move) noexcept {
    if (recorded == nullptr) return resolution_verdict::baseline;
    const bool same_place =
        recorded->store == now.store && recorded->backend == now.backend && recorded->mode == now.mode;
    if (same_place && recorded->tier == now.tier) return resolution_verdict::unchanged;
    if (!same_place || now.mode != events::store_mode::automatic) return resolution_verdict::reset;
    if (!recorded->present) return resolution_verdict::absent;
    if (now.moved || announced_move) return resolution_verdict::moved;
    return resolution_verdict::drift;
}

}  // namespace tokenvault::diagnostics

namespace tokenvault::detail::resolution_log {

using diagnostics::drift_record;
using diagnostics::resolution_history;
using diagnostics::resolution_log_limits;
using diagnostics::resolution_record;

using json = nlohmann::json;

/// Keeps names printable and bounded: anything outside [A-Za-z0-9_.:+,()/-] becomes '?'.
template <class = void>
[[nodiscard]] inline std::string clean(std::string_view s) {
    std::string out;
    out.reserve(std::min(s.size(), resolution_log_limits::max_text));
    for (const char c : s.substr(0, resolution_log_limits::max_text)) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                        std::string_view("_.:+,()/-").find(c) != std::string_view::npos;
        out.push_back(ok ? c : '?');
    }
    return out;
}

/// True for a credential hash: 64 lower-case hex digits.
template <class = void>
[[nodiscard]] inline bool is_hash(std::string_view s) noexcept {
    if (s.size() != 64) return false;
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

/// A name field of `obj`: present, a string, and already clean; nullopt otherwise.
template <class Json = json>
[[nodiscard]] inline std::optional<std::string> name_field(const Json& obj, const char* key) {
    const auto found = obj.find(key);
    if (found == obj.end() || !found->is_string()) return std::nullopt;
    const auto& value = found->template get_ref<const std::string&>();
    if (value.size() > resolution_log_limits::max_text || clean(value) != value) return std::nullopt;
    return value;
}

/// A time field of `obj` (RFC 3339); nullopt when absent or malformed.
template <class Json = json>
[[nodiscard]] inline std::optional<clock::time_point> time_field(const Json& obj, const char* key) {
    const auto found = obj.find(key);
    if (found == obj.end() || !found->is_string()) return std::nullopt;
    return tokenvault::detail::parse_rfc3339(found->template get_ref<const std::string&>());
}

template <class Json = json>
[[nodiscard]] inline std::optional<resolution_record> parse_record(const Json& item) {
    if (!item.is_object()) return std::nullopt;
    resolution_record r;
    auto store = name_field(item, "store");
    auto mode = name_field(item, "mode");
    auto backend = name_field(item, "backend");
    auto tier = name_field(item, "tier");
    auto reason = name_field(item, "reason");
    auto updated = time_field(item, "updated_at");
    const auto present = item.find("present");
    const auto drifts = item.find("drifts");
    if (!store || !mode || !backend || !tier || tier->empty() || !reason || !updated) return std::nullopt;
    if (present == item.end() || !present->is_boolean()) return std::nullopt;
    if (drifts == item.end() || !drifts->is_number_unsigned()) return std::nullopt;
    if (*mode == events::to_string(events::store_mode::automatic))
        r.mode = events::store_mode::automatic;
    else if (*mode == events::to_string(events::store_mode::explicit_tier))
        r.mode = events::store_mode::explicit_tier;
    else
        return std::nullopt;
    r.store = std::move(*store);
    r.backend = std::move(*backend);
    r.tier = std::move(*tier);
    r.reason = std::move(*reason);
    r.present = present->template get<bool>();
    r.updated_at = *updated;
    r.drifts = drifts->template get<std::uint64_t>();
    return r;
}

template <class Json = json>
[[nodiscard]] inline std::optional<drift_record> parse_drift(const Json& item) {
    if (!item.is_object()) return std::nullopt;
    const auto credential = item.find("credential");
    if (credential == item.end() || !credential->is_string() ||
        !is_hash(credential->template get_ref<const std::string&>()))
        return std::nullopt;
    auto at = time_field(item, "at");
    auto previous = name_field(item, "previous");
    auto current = name_field(item, "current");
    auto reason = name_field(item, "reason");
    if (!at || !previous || !current || !reason) return std::nullopt;
    return drift_record{*at, credential->template get<std::string>(), std::move(*previous),
                        std::move(*current), std::move(*reason)};
}

/// Drops records beyond the limits: logged-out records first, oldest first; then the oldest history.
template <class = void>
inline void enforce_limits(resolution_history& h) {
    while (h.credentials.size() > resolution_log_limits::max_credentials) {
        auto victim =
            std::min_element(h.credentials.begin(), h.credentials.end(), [](const auto& a, const auto& b) {
                if (a.second.present != b.second.present) return !a.second.present;
                return a.second.updated_at < b.second.updated_at;
            });
        h.credentials.erase(victim);
    }
    if (h.drifts.size() > resolution_log_limits::max_history)
        h.drifts.erase(h.drifts.begin(),
                       h.drifts.begin() +
                           static_cast<std::ptrdiff_t>(h.drifts.size() - resolution_log_limits::max_history));
}

}  // namespace tokenvault::detail::resolution_log

namespace tokenvault::diagnostics {

/// Parses a resolution log. errc::malformed_json when it is not one (errc::too_large above 4 MiB);
/// errc::unsupported_format_version when a newer tokenvault wrote it. Malformed records are skipped and
/// counted in `dropped`.
template <class Json = nlohmann::json>
[[nodiscard]] inline result<resolution_history> parse_resolution_log(std::string_view text) {
    using json = Json;  // dependent: instantiated only when used
    if (text.size() > resolution_log_limits::max_file_size)
        return error{errc::too_large, "resolution log: larger than 4 MiB"};
    const json doc = json::parse(text, nullptr, false);
    if (doc.is_discarded()) return error{errc::malformed_json, "resolution log: not valid JSON"};
    if (!doc.is_object())
        return error{errc::malformed_json, "resolution log: the top level is not an object"};
    const auto format = doc.find("format");
    if (format == doc.end() || !format->is_string() || *format != resolution_log_format_name)
        return error{errc::malformed_json, "resolution log: 'format' is not \"tokenvault-resolutions\""};
    const auto version = doc.find("version");
    if (version == doc.end() || !version->is_number_integer() || version->template get<std::int64_t>() < 1)
        return error{errc::malformed_json, "resolution log: 'version' is missing or invalid"};
    if (version->template get<std::int64_t>() > resolution_log_format_version)
        return error{errc::unsupported_format_version,
                     "resolution log: version " + std::to_string(version->template get<std::int64_t>())};
    resolution_history out;
    const auto credentials = doc.find("credentials");
    if (credentials != doc.end() && credentials->is_object()) {
        for (auto it = credentials->begin(); it != credentials->end(); ++it) {
            auto record = detail::resolution_log::is_hash(it.key())
                              ? detail::resolution_log::parse_record(it.value())
                              : std::nullopt;
            if (record)
                out.credentials.emplace(it.key(), std::move(*record));
            else
                ++out.dropped;
        }
    } else if (credentials != doc.end()) {
        ++out.dropped;
    }
    const auto history = doc.find("drift_history");
    if (history != doc.end() && history->is_array()) {
        for (const auto& item : *history) {
            if (auto drift = detail::resolution_log::parse_drift(item))
                out.drifts.push_back(std::move(*drift));
            else
                ++out.dropped;
        }
    } else if (history != doc.end()) {
        ++out.dropped;
    }
    detail::resolution_log::enforce_limits(out);
    return out;
}

/// Writes a resolution log as JSON text (names, flags, counts and times only).
template <class Json = nlohmann::json>
[[nodiscard]] inline std::string serialize_resolution_log(const resolution_history& h) {
    using json = Json;  // dependent: instantiated only when used
    json doc = json::object();
    doc["format"] = resolution_log_format_name;
    doc["version"] = resolution_log_format_version;
    auto& credentials = doc["credentials"] = json::object();
    for (const auto& [hash, r] : h.credentials) {
        credentials[hash] = json{{"store", r.store},
                                 {"mode", events::to_string(r.mode)},
                                 {"backend", r.backend},
                                 {"tier", r.tier},
                                 {"reason", r.reason},
                                 {"present", r.present},
                                 {"updated_at", tokenvault::detail::format_rfc3339(r.updated_at)},
                                 {"drifts", r.drifts}};
    }
    auto& history = doc["drift_history"] = json::array();
    for (const auto& d : h.drifts) {
        history.push_back(json{{"at", tokenvault::detail::format_rfc3339(d.at)},
                               {"credential", d.credential},
                               {"previous", d.previous},
                               {"current", d.current},
                               {"reason", d.reason}});
    }
    return doc.dump(2) + "\n";
}

/// The resolution log of the store in `directory`.
template <class = void>
[[nodiscard]] inline std::filesystem::path resolution_log_path(const std::filesystem::path& directory) {
    return directory / resolution_log_file_name;
}

/// Reads the resolution log of the store in `directory` (for tools); nullopt when there is none.
template <class = void>
[[nodiscard]] inline result<std::optional<resolution_history>> read_resolution_log(
    const std::filesystem::path& directory) {
    const auto path = resolution_log_path(directory);
    auto read = tokenvault::platform::read_private_file(path, resolution_log_limits::max_file_size);
    if (!read) return read.error();
    if (!*read) return std::optional<resolution_history>{};
    auto parsed = parse_resolution_log((*read)->bytes.view());
    if (!parsed) return error{parsed.error().code, path.string() + ": " + parsed.error().context};
    return std::optional<resolution_history>{std::move(*parsed)};
}

/// Records store resolutions next to the store and reports drift; forwards every event to Inner.
template <class Inner = none>
class resolution_log {
    static_assert(diagnostics_policy<Inner>,
                  "tokenvault: resolution_log<Inner>: Inner must model diagnostics::diagnostics_policy "
                  "(tokenvault/diagnostics/concept.hpp): e.g. diagnostics::none, counters or callback");

public:
    using policy_family = family::diagnostics;
    static constexpr bool enabled = true;
    /// Bound on the wait for the log's own lock; past it the log is read but not written this time.
    static constexpr std::chrono::milliseconds lock_timeout{100};

    /// A log that knows no store yet (it learns the directory from the first events::store_resolved).
    resolution_log() = default;
    resolution_log(const resolution_log&) = delete;
    resolution_log& operator=(const resolution_log&) = delete;
    ~resolution_log() = default;

    /// The wrapped policy (counters to read, a callback to set).
    [[nodiscard]] Inner& inner() noexcept { return inner_; }
    /// The wrapped policy.
    [[nodiscard]] const Inner& inner() const noexcept { return inner_; }

    /// Forwards `event` to Inner, then records what it says about store resolution.
    template <class Event>
    void on(const Event& event) noexcept {
        inner_.on(event);
        try {
            if constexpr (std::is_same_v<Event, events::store_resolved>) {
                resolved(event);
            } else if constexpr (std::is_same_v<Event, events::store_operation>) {
                operation(event);
            } else if constexpr (std::is_same_v<Event, events::login>) {
                announce(event.credential);
            } else if constexpr (std::is_same_v<Event, events::migration>) {
                if (event.migrated > 0 && !event.failure) {
                    const std::lock_guard guard(mutex_);
                    migration_moved_ = true;
                }
            }
        } catch (...) {  // NOLINT(bugprone-empty-catch): the log must never break a token operation
            failures_.fetch_add(1, std::memory_order_relaxed);
        }
    }

    /// Drifts this instance reported.
    [[nodiscard]] std::uint64_t drifts() const noexcept { return drifts_.load(std::memory_order_relaxed); }
    /// Times the log could not be read, locked or written (token operations were not affected).
    [[nodiscard]] std::uint64_t failures() const noexcept {
        return failures_.load(std::memory_order_relaxed);
    }
    /// The log file, once a store resolved; empty before.
    [[nodiscard]] std::filesystem::path path() const {
        const std::lock_guard guard(mutex_);
        return path_;
    }

private:
    struct drift_report {
        std::string credential, previous;
        resolution_observation now;
    };

    void fail() noexcept { failures_.fetch_add(1, std::memory_order_relaxed); }

    void announce(std::string_view credential) {
        if (!detail::resolution_log::is_hash(credential)) return;
        const std::lock_guard guard(mutex_);
        if (announced_.size() < 1024) announced_.emplace(credential);
    }

    void resolved(const events::store_resolved& e) {
        using detail::resolution_log::clean;
        if (e.directory.empty() || e.tier.empty()) return;
        std::vector<drift_report> reports;
        {
            const std::lock_guard guard(mutex_);
            path_ = resolution_log_path(std::filesystem::path(std::string(e.directory)));
            current_ = resolution_observation{clean(e.store),   e.mode,
                                              clean(e.backend), clean(e.tier),
                                              e.reason.cause,   clean(e.reason.failed_tier),
                                              e.reason.failure, e.moved || migration_moved_};
            migration_moved_ = false;
            const std::string only(e.credential);
            if (!only.empty() && !detail::resolution_log::is_hash(only)) return;
            update([&](resolution_history& h) {
                const auto now = clock::now();
                bool changed = false;
                const auto visit = [&](const std::string& hash, resolution_record* record) {
                    const auto verdict = judge_resolution(record, *current_, announced_.count(hash) > 0);
                    switch (verdict) {
                    case resolution_verdict::unchanged:
                    case resolution_verdict::absent: return;
                    case resolution_verdict::baseline: h.credentials[hash] = record_of(*current_, now); break;
                    case resolution_verdict::drift:
                        reports.push_back({hash, record->tier, *current_});
                        h.drifts.push_back(
                            drift_record{now, hash, record->tier, current_->tier, clean_reason(*current_)});
                        [[fallthrough]];
                    case resolution_verdict::reset:
                    case resolution_verdict::moved: {
                        const auto count = record->drifts + (verdict == resolution_verdict::drift ? 1 : 0);
                        const bool present = record->present;  // a reset of a logged-out record keeps it so
                        *record = record_of(*current_, now);
                        record->drifts = count;
                        record->present = present;
                        break;
                    }
                    }
                    changed = true;
                };
                if (!only.empty()) {
                    const auto found = h.credentials.find(only);
                    visit(only, found == h.credentials.end() ? nullptr : &found->second);
                } else {
                    for (auto& [hash, record] : h.credentials)
                        if (record.store == current_->store) visit(hash, &record);
                }
                return changed;
            });
            current_->moved = false;  // a move covers this resolution only
        }
        for (const auto& r : reports) {
            drifts_.fetch_add(1, std::memory_order_relaxed);
            inner_.on(events::drift{r.credential, r.previous, r.now.tier, r.now.reason()});
        }
    }

    void operation(const events::store_operation& e) {
        using events::operation_kind;
        if (!detail::resolution_log::is_hash(e.credential)) return;
        const bool erases = e.erased || e.operation == operation_kind::erase ||
                            e.operation == operation_kind::erase_if;  // an update may reset the token
        const bool writes = !erases;
        const std::lock_guard guard(mutex_);
        const std::string hash(e.credential);
        announced_.erase(hash);
        if (!current_ || e.failure) return;
        // Fast path: the log did not change since we last saw it, and already says this.
        if (cache_ && cache_identity_) {
            auto now = tokenvault::platform::stat_identity(path_);
            if (now && *now && **now == *cache_identity_) {
                const auto found = cache_->credentials.find(hash);
                if (erases && (found == cache_->credentials.end() || !found->second.present)) return;
                if (writes && found != cache_->credentials.end() && found->second.present &&
                    judge_resolution(&found->second, *current_, false) == resolution_verdict::unchanged)
                    return;
            }
        }
        update([&](resolution_history& h) {
            const auto found = h.credentials.find(hash);
            if (erases) {
                if (found == h.credentials.end() || !found->second.present) return false;
                found->second.present = false;
                found->second.updated_at = clock::now();
                return true;
            }
            if (found != h.credentials.end() && found->second.present &&
                judge_resolution(&found->second, *current_, false) == resolution_verdict::unchanged)
                return false;
            // A write places the credential in the current tier: a login or refresh, never drift.
            const auto drifts = found == h.credentials.end() ? 0 : found->second.drifts;
            auto& record = h.credentials[hash];
            record = record_of(*current_, clock::now());
            record.drifts = drifts;
            return true;
        });
    }

    // The reason as the log writes it (printable, bounded like every name).
    [[nodiscard]] static std::string clean_reason(const resolution_observation& o) {
        return detail::resolution_log::clean(events::to_string(o.reason()));
    }

    [[nodiscard]] static resolution_record record_of(const resolution_observation& o, clock::time_point now) {
        return resolution_record{o.store, o.mode, o.backend, o.tier, clean_reason(o), true, now, 0};
    }

    // Reads the log under its lock, applies `change` (true: something changed) and writes it back when it
    // changed or needs repair. Without the lock (or for a newer format) it reads and judges, but never
    // writes.
    template <class Change>
    void update(Change&& change) {
        const std::filesystem::path lock_file = path_.string() + ".lock";
        const auto directory = tokenvault::platform::parent_directory_of(path_);
        std::optional<tokenvault::platform::file_lock> lock;
        if (auto dir = tokenvault::platform::ensure_private_directory(directory); dir) {
            auto taken = tokenvault::platform::file_lock::acquire(lock_file, lock_timeout);
            if (taken) lock.emplace(std::move(*taken));
        }
        if (lock && !swept_temp_files_) {
            // Every writer of the log holds its lock: a temp file of the log is a dead writer's.
            swept_temp_files_ = true;
            (void)tokenvault::detail::remove_stale_temp_files(
                directory, [&](std::string_view target) { return target == path_.filename().string(); });
        }
        bool writable = lock.has_value();
        if (!writable) fail();

        resolution_history h;
        bool repair = false;
        std::optional<tokenvault::platform::file_identity> identity;
        auto read = tokenvault::platform::read_private_file(path_, resolution_log_limits::max_file_size);
        if (!read) {
            fail();
            // Unsafe or unreadable: replace it with a private, valid file. A symlink is refused by the write.
            repair = true;
        } else if (*read) {
            identity = (*read)->identity;
            auto parsed = parse_resolution_log((*read)->bytes.view());
            if (parsed) {
                h = std::move(*parsed);
                repair = h.dropped > 0;
            } else if (parsed.error() == errc::unsupported_format_version) {
                writable =
                    false;  // a newer tokenvault owns this file: judge with nothing, never downgrade it
            } else {
                fail();
                repair = true;  // corrupt: tolerated, and rewritten below
            }
        }
        h.dropped = 0;

        const bool changed = change(h);
        detail::resolution_log::enforce_limits(h);
        if ((changed || repair) && writable) {
            const std::string text = serialize_resolution_log(h);
            auto written = tokenvault::platform::write_file_atomically(
                path_, std::as_bytes(std::span<const char>(text.data(), text.size())));
            if (written) {
                identity = *written;
            } else {
                fail();
                identity.reset();
            }
        } else if (changed || repair) {
            identity.reset();  // what we hold differs from the file: no fast path
        }
        cache_ = std::move(h);
        cache_identity_ = identity;
    }

    Inner inner_{};
    mutable std::mutex mutex_;
    std::filesystem::path path_;
    std::optional<resolution_observation> current_;
    std::set<std::string, std::less<>> announced_;
    bool migration_moved_ = false;
    std::optional<resolution_history> cache_;
    std::optional<tokenvault::platform::file_identity> cache_identity_;
    std::atomic<std::uint64_t> drifts_{0};
    std::atomic<std::uint64_t> failures_{0};
    bool swept_temp_files_ = false;
};

static_assert(diagnostics_policy<resolution_log<>>);

}  // namespace tokenvault::diagnostics
