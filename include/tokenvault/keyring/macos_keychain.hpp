// tokenvault/keyring/macos_keychain.hpp: keyring::macos_keychain, the macOS keychain (Security.framework).
//
// One generic-password item per keyring item (kSecAttrService = the service, kSecAttrAccount = the
// account): read with SecItemCopyMatching, created with SecItemAdd, removed with SecItemDelete. An item is
// never rewritten (no SecItemUpdate, no delete-and-add): a rewrite resets the item's access list and every
// program that reads it asks the user again, so writing other bytes over an existing item is errc::conflict.
// A denial (errSecUserCanceled, errSecAuthFailed) is remembered for the process: nothing asks again, and
// first_available stops there (ends_chain) instead of asking the next tier. Every call runs on a worker
// thread bounded by options.timeout; a call that times out is abandoned, not cancelled, and the next read
// of the same item joins it (or takes its late result) instead of asking again. Calls go through the
// keychain_api table (macos_keychain_api.hpp): Security.framework on Apple platforms; elsewhere open()
// answers "not available here" unless a table (a fake, in tests) is installed. Not in tokenvault.hpp.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <concepts>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "../detail/secure_buffer.hpp"
#include "../error.hpp"
#include "../platform/platform.hpp"
#include "../result.hpp"
#include "concept.hpp"
#include "macos_keychain_api.hpp"

namespace tokenvault::keyring {

/// Items in the user's file-based keychain (the login keychain): where SecItem calls go by default on
/// macOS. Every item carries its own access list; a program not on it makes macOS ask the user.
struct keychain_file_based {
    static constexpr std::string_view tier = "macos_keychain";  ///< tier name in file headers and logs
    static constexpr bool data_protection_keychain = false;     ///< kSecUseDataProtectionKeychain
    static constexpr std::string_view access_group{};           ///< kSecAttrAccessGroup ("": none)
};

/// Items in the data protection keychain (macOS 10.15+), in the program's default access group, readable
/// after the first unlock (kSecAttrAccessibleAfterFirstUnlock). Needs a signed program with a
/// keychain-access-groups entitlement. For another group, define a struct like this one with its own tier.
struct keychain_data_protection {
    static constexpr std::string_view tier = "macos_keychain_dp";  ///< tier name in file headers and logs
    static constexpr bool data_protection_keychain = true;         ///< kSecUseDataProtectionKeychain
    static constexpr std::string_view access_group{};              ///< the program's default group
};

/// What basic_macos_keychain<Location> needs of Location: see keychain_file_based.
template <class L>
concept keychain_location = requires {
    { L::tier } -> std::convertible_to<std::string_view>;
    { L::data_protection_keychain } -> std::convertible_to<bool>;
    { L::access_group } -> std::convertible_to<std::string_view>;
};

}  // namespace tokenvault::keyring

namespace tokenvault::detail::macos_keychain {

namespace kc = keyring::keychain;

/// A CoreFoundation reference released at scope exit.
class cf_owned {
public:
    cf_owned(const kc::keychain_api& api, kc::cf_ref ref) noexcept : api_(&api), ref_(ref) {}
    cf_owned(cf_owned&& other) noexcept : api_(other.api_), ref_(std::exchange(other.ref_, nullptr)) {}
    cf_owned(const cf_owned&) = delete;
    cf_owned& operator=(const cf_owned&) = delete;
    cf_owned& operator=(cf_owned&&) = delete;
    ~cf_owned() {
        if (ref_ != nullptr) api_->release(ref_);
    }
    [[nodiscard]] kc::cf_ref get() const noexcept { return ref_; }
    explicit operator bool() const noexcept { return ref_ != nullptr; }

private:
    const kc::keychain_api* api_;
    kc::cf_ref ref_;
};

/// A query or attribute dictionary under construction; ok() is false when a value could not be made.
class dictionary {
public:
    explicit dictionary(const kc::keychain_api& api) : api_(api), ref_(api, api.create_dictionary()) {}

    [[nodiscard]] bool ok() const noexcept { return ref_ && ok_; }
    [[nodiscard]] kc::cf_ref get() const noexcept { return ref_.get(); }

    void set(kc::cf_constant key, kc::cf_constant value) {
        if (ref_) api_.dictionary_set(ref_.get(), api_.constant(key), api_.constant(value));
    }
    void set_text(kc::cf_constant key, std::string_view text) {
        cf_owned value(api_, api_.create_string(text.data(), static_cast<kc::cf_size>(text.size())));
        if (!value) ok_ = false;
        if (ref_ && value) api_.dictionary_set(ref_.get(), api_.constant(key), value.get());
    }
    /// The data object references `bytes` (no copy): they must outlive this dictionary.
    void set_bytes(kc::cf_constant key, std::span<const std::byte> bytes) {
        static constexpr std::byte none{};
        cf_owned value(api_, api_.create_data(bytes.empty() ? &none : bytes.data(),
                                              static_cast<kc::cf_size>(bytes.size())));
        if (!value) ok_ = false;
        if (ref_ && value) api_.dictionary_set(ref_.get(), api_.constant(key), value.get());
    }

private:
    const kc::keychain_api& api_;
    cf_owned ref_;
    bool ok_ = true;
};

/// The UTF-8 text of a CFString (nullopt: not a string, or not convertible).
[[nodiscard]] inline std::optional<std::string> text_of(const kc::keychain_api& api, kc::cf_ref string) {
    if (string == nullptr || api.kind_of(string) != kc::cf_kind::string) return std::nullopt;
    const kc::cf_size capacity = api.string_utf8_capacity(string);
    if (capacity <= 0) return std::nullopt;
    std::string text(static_cast<std::size_t>(capacity), '\0');
    if (!api.string_utf8(string, text.data(), capacity)) return std::nullopt;
    text.resize(std::char_traits<char>::length(text.c_str()));
    return text;
}

/// "errSecAuthFailed (-25293: <Security's own message>)": what Security answered, for error contexts.
[[nodiscard]] inline std::string describe_status(const kc::keychain_api& api, kc::os_status s) {
    std::string text(kc::status_name(s));
    text += text.empty() ? "OSStatus " + std::to_string(s) : " (" + std::to_string(s);
    if (api.copy_error_message != nullptr) {
        cf_owned message(api, api.copy_error_message(s));
        if (auto said = text_of(api, message.get()); said && !said->empty()) text += ": " + *said;
    }
    if (!kc::status_name(s).empty()) text += ")";
    return text;
}

/// Whether Security's answer is a refusal by the user or the keychain: never asked again in this process.
[[nodiscard]] constexpr bool is_denial(kc::os_status s) noexcept {
    return s == kc::status::user_canceled || s == kc::status::auth_failed;
}

/// The tokenvault error for a failed Security call; `where` names the keyring, call and item.
[[nodiscard]] inline error status_error(kc::os_status s, const std::string& where, const std::string& said) {
    namespace st = kc::status;
    const std::string context = where + ": " + said;
    switch (s) {
    case st::interaction_not_allowed:
    case st::interaction_required:
    case st::in_dark_wake:
        return error{errc::keyring_locked,
                     context +
                         ": the keychain is locked and this session cannot show a dialog (ssh, a background "
                         "agent before login): unlock it (`security unlock-keychain`, or log in at the "
                         "Mac), then retry"};
    case st::user_canceled:
        return error{errc::keyring_denied,
                     context +
                         ": the keychain dialog was answered with Deny or cancelled, and this process "
                         "will not ask again: allow this program in Keychain Access (the item's Access "
                         "Control tab), then restart it"};
    case st::auth_failed:
        return error{errc::keyring_denied,
                     context +
                         ": the keychain refused access, and neither macOS nor this process will ask "
                         "again: lock and unlock the keychain in Keychain Access, then restart this "
                         "program"};
    case st::not_available:
    case st::no_such_keychain:
    case st::no_default_keychain:
        return error{errc::keyring_unavailable, context + ": this session has no keychain"};
    case st::missing_entitlement:
        return error{errc::keyring_unavailable,
                     context +
                         ": the data protection keychain needs a signed program whose "
                         "keychain-access-groups entitlement includes the access group"};
    case st::param: return error{errc::invalid_argument, context + ": Security refused the query"};
    default: return error{errc::keyring_unavailable, context};
    }
}

/// What one keychain call produced.
struct outcome {
    kc::os_status status = kc::status::success;  ///< Security's answer
    std::string said;                            ///< describe_status of a failure ("" on success)
    std::optional<error> failure;                ///< a failure found here, not by Security (wins)
    std::optional<secure_buffer> data;           ///< a read: the item's bytes
    std::vector<std::string> accounts;           ///< a listing: the accounts found

    [[nodiscard]] outcome copy() const {
        outcome c;
        c.status = status;
        c.said = said;
        c.failure = failure;
        if (data) c.data = secure_buffer::copy_of(data->bytes());
        c.accounts = accounts;
        return c;
    }
};

/// One call on a worker thread, shared by the worker and by every caller waiting for it: a caller that
/// gives up leaves; the worker finishes into this object, never into a caller's frame.
struct flight {
    std::condition_variable finished;
    bool done = false;
    std::size_t waiting = 0;  ///< callers waiting now
    std::string key;          ///< where it is registered for joining ("" if it is not)
    outcome result;
};

/// What a process remembers beyond one keyring object: calls that may be joined, and denials.
struct process_state {
    explicit process_state(platform::process_id owner) : pid(owner) {}
    const platform::process_id pid;
    std::mutex mutex;
    std::map<std::string, std::shared_ptr<flight>, std::less<>> flights;  ///< joinable calls by item
    std::map<std::string, error, std::less<>> denials;                    ///< by keychain + service
};

/// This process's state. Never freed: an abandoned worker may finish while the program exits. A forked
/// child starts afresh (its parent's workers do not run in it, and it is a new program to the user).
[[nodiscard]] inline process_state& this_process() {
    static std::atomic<process_state*> current{nullptr};
    const platform::process_id me = platform::current_process_id();
    process_state* seen = current.load();
    while (seen == nullptr || seen->pid != me) {
        auto* fresh = new process_state(me);
        if (current.compare_exchange_strong(seen, fresh)) return *fresh;
        delete fresh;  // another thread of this process installed one first: `seen` is it now
    }
    return *seen;
}

/// Forgets a finished call registered under `key` (its late result is stale once the item changed).
inline void forget_result(const std::string& key) {
    auto& ps = this_process();
    const std::lock_guard lock(ps.mutex);
    if (auto found = ps.flights.find(key); found != ps.flights.end() && found->second->done)
        ps.flights.erase(found);
}

/// The denial remembered for `denial_key`, restated for `where`.
[[nodiscard]] inline std::optional<error> remembered_denial(const std::string& denial_key,
                                                            const std::string& where) {
    auto& ps = this_process();
    const std::lock_guard lock(ps.mutex);
    auto found = ps.denials.find(denial_key);
    if (found == ps.denials.end()) return std::nullopt;
    return error{found->second.code,
                 where + ": not asked: denied earlier in this process (" + found->second.context + ")"};
}

/// Runs `job(api)` on a new thread and waits until it finished or `timeout` passed. With a non-empty
/// `join_key`, a call in flight under that key is joined instead (no second call), and a result that
/// arrived after its callers left is taken. A denial is remembered under `denial_key`.
template <class Job>
[[nodiscard]] result<outcome> run(const kc::keychain_api& api, const std::string& join_key,
                                  const std::string& denial_key, const std::string& where,
                                  std::chrono::milliseconds timeout, Job job) {
    auto& ps = this_process();
    timeout =
        std::clamp(timeout, std::chrono::milliseconds(0), std::chrono::milliseconds(std::chrono::hours(24)));
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::unique_lock lock(ps.mutex);
    std::shared_ptr<flight> call;
    if (!join_key.empty()) {
        if (auto found = ps.flights.find(join_key); found != ps.flights.end()) call = found->second;
    }
    if (call && call->done) {  // finished: after its callers gave up, or just now (they have yet to wake)
        outcome out = call->result.copy();
        if (call->waiting == 0) ps.flights.erase(join_key);
        return out;
    }
    if (!call) {
        call = std::make_shared<flight>();
        call->key = join_key;
        try {
            std::thread([call, api = &api, denial_key, where, job = std::move(job)]() mutable {
                outcome out;
                try {
                    out = job(*api);
                } catch (const std::exception&) {
                    out.failure = error{errc::keyring_unavailable, where + ": out of memory"};
                }
                auto& owner = this_process();
                const std::lock_guard done_lock(owner.mutex);
                if (!out.failure && is_denial(out.status) && !denial_key.empty())
                    owner.denials.try_emplace(denial_key, status_error(out.status, where, out.said));
                call->result = std::move(out);
                call->done = true;
                const bool keep = !call->result.failure && call->result.status == kc::status::success;
                if (call->waiting == 0 && !call->key.empty() && !keep) {
                    if (auto found = owner.flights.find(call->key);
                        found != owner.flights.end() && found->second == call)
                        owner.flights.erase(found);
                }
                call->finished.notify_all();
            }).detach();
        } catch (const std::system_error&) {
            return error{errc::keyring_unavailable, where + ": could not start a worker thread"};
        }
        if (!join_key.empty()) ps.flights.emplace(join_key, call);
    }
    ++call->waiting;
    const bool finished = call->finished.wait_until(lock, deadline, [&] { return call->done; });
    --call->waiting;
    if (!finished)
        return error{errc::keyring_timeout,
                     where + ": no answer within " + std::to_string(timeout.count()) +
                         " ms (a keychain dialog may be waiting for the user; the call goes on, and a retry "
                         "joins it instead of asking again)"};
    outcome out = call->result.copy();
    if (call->waiting == 0 && !call->key.empty()) {
        if (auto found = ps.flights.find(call->key); found != ps.flights.end() && found->second == call)
            ps.flights.erase(found);
    }
    return out;
}

/// Accepts a service or account name: non-empty, no NUL, at most 1024 bytes (UTF-8 is checked by
/// CoreFoundation).
[[nodiscard]] inline result<void> check_name(std::string_view what, std::string_view name,
                                             std::string_view tier) {
    if (name.empty() || name.size() > 1024 || name.find('\0') != std::string_view::npos)
        return error{errc::invalid_argument, "keyring::" + std::string(tier) + ": the " + std::string(what) +
                                                 " must be 1-1024 bytes of UTF-8 without NUL"};
    return {};
}

}  // namespace tokenvault::detail::macos_keychain

namespace tokenvault::keyring {

/// The macOS keychain: generic-password items, each created once and never rewritten. See the top of
/// tokenvault/keyring/macos_keychain.hpp.
template <class Location = keychain_file_based>
class basic_macos_keychain {
    static_assert(keychain_location<Location>,
                  "keyring::basic_macos_keychain<Location>: Location must provide `tier`, "
                  "`data_protection_keychain` and `access_group` as static constexpr members: copy "
                  "keyring::keychain_file_based or keyring::keychain_data_protection");
    static_assert(Location::data_protection_keychain || Location::access_group.empty(),
                  "keyring::basic_macos_keychain<Location>: an access group applies to the data protection "
                  "keychain only: set `data_protection_keychain = true` in Location");
    static_assert(!Location::tier.empty() && Location::tier.size() <= 32,
                  "keyring::basic_macos_keychain<Location>: Location::tier must be 1-32 characters (it is "
                  "recorded in sealed file headers)");

public:
    using policy_family = family::keyring;
    /// The tier name recorded in file headers and resolution logs.
    static constexpr std::string_view tier = Location::tier;
    /// Whether items survive a reboot.
    static constexpr bool persistent = true;
    /// The largest item written or read (the keychain documents no limit; this keyring holds keys).
    static constexpr std::size_t max_item_size = std::size_t{1} << 20;
    /// It lists its accounts (list_accounts below); a denial ends a fallback chain (ends_chain below); it
    /// never rewrites an item (write below), so it holds keys, not a bundle rewritten on every save.
    static constexpr keyring::traits traits{.lists_accounts = true, .ends_chain = true, .add_only = true};

    /// Opens the keychain after one query that never shows a dialog (an attribute lookup): nullopt when this
    /// build has no keychain table or the session has no keychain; errc::keyring_locked when it is locked
    /// and no dialog may be shown; errc::keyring_denied when this process was denied before.
    [[nodiscard]] static result<std::optional<basic_macos_keychain>> open(const keyring_options& options) {
        namespace dm = detail::macos_keychain;
        namespace st = keychain::status;
        const keychain::keychain_api* api = keychain::current_api();
        if (api == nullptr) return std::optional<basic_macos_keychain>{};
        TOKENVAULT_TRY(dm::check_name("service", options.service, tier));
        basic_macos_keychain ring(*api, options.service, options.timeout);
        const std::string where = describe_call("open", options.service, std::nullopt);
        if (auto denied = dm::remembered_denial(ring.denial_key(options.service), where)) return *denied;
        auto probed = dm::run(*api, "probe" + ring.denial_key(options.service),
                              ring.denial_key(options.service), where, options.timeout,
                              [q = ring.query_of(options.service, std::nullopt)](
                                  const keychain::keychain_api& a) { return probe(a, q); });
        if (!probed) return probed.error();
        if (probed->failure) return *probed->failure;
        switch (probed->status) {
        case st::success:
        case st::item_not_found: return std::optional<basic_macos_keychain>{std::move(ring)};
        case st::not_available:
        case st::no_such_keychain:
        case st::no_default_keychain: return std::optional<basic_macos_keychain>{};
        default: return dm::status_error(probed->status, where, probed->said);
        }
    }

    /// Whether an error of open() ends a first_available chain: a denial does (the user said no; the
    /// next tier must not ask in its place or quietly hold the key instead).
    [[nodiscard]] static bool ends_chain(const error& e) noexcept { return e == errc::keyring_denied; }

    /// The tier name ("macos_keychain").
    [[nodiscard]] std::string_view tier_name() const noexcept { return tier; }

    /// The item's bytes, or nullopt when there is none. May show macOS's access dialog once.
    [[nodiscard]] result<std::optional<detail::secure_buffer>> read(std::string_view account) {
        return read_item_of(service_, account);
    }

    /// Creates the item. An item that exists with the same bytes is success; with other bytes it is
    /// errc::conflict: an item is never rewritten (erase it first to replace it on purpose).
    [[nodiscard]] result<void> write(std::string_view account, std::span<const std::byte> secret) {
        namespace dm = detail::macos_keychain;
        namespace st = keychain::status;
        const std::string where = describe_call("write", service_, account);
        TOKENVAULT_TRY(dm::check_name("account", account, tier));
        if (secret.size() > max_item_size)
            return error{errc::keyring_item_too_large,
                         where + ": over " + std::to_string(max_item_size) + " bytes"};
        if (auto denied = dm::remembered_denial(denial_key(service_), where)) return *denied;
        auto added =
            dm::run(*api_, "", denial_key(service_), where, timeout_,
                    [q = query_of(service_, std::string(account)),
                     label = "tokenvault " + service_ + " " + std::string(account),
                     bytes = detail::secure_buffer::copy_of(secret)](const keychain::keychain_api& a) {
                        return add(a, q, label, bytes.bytes());
                    });
        if (!added) return added.error();
        if (added->failure) return *added->failure;
        dm::forget_result(read_key(service_, account));
        if (added->status == st::success) return {};
        if (added->status != st::duplicate_item) return dm::status_error(added->status, where, added->said);
        // It exists: made by another process meanwhile, or by an earlier call of ours that timed out and
        // landed later. The same bytes are what the caller wanted; other bytes are never overwritten.
        auto existing = read_item_of(service_, account);
        if (!existing) return existing.error();
        if (*existing && (*existing)->equals(secret)) return {};
        return error{errc::conflict,
                     where +
                         ": the item exists with other content; tokenvault never rewrites a keychain item (a "
                         "rewrite resets its access list, and every program reading it asks the user "
                         "again): read it again, or erase it first to replace it"};
    }

    /// Removes the item; false when there was none.
    [[nodiscard]] result<bool> erase(std::string_view account) {
        namespace dm = detail::macos_keychain;
        namespace st = keychain::status;
        const std::string where = describe_call("erase", service_, account);
        TOKENVAULT_TRY(dm::check_name("account", account, tier));
        if (auto denied = dm::remembered_denial(denial_key(service_), where)) return *denied;
        auto removed = dm::run(*api_, "", denial_key(service_), where, timeout_,
                               [q = query_of(service_, std::string(account))](
                                   const keychain::keychain_api& a) { return remove(a, q); });
        if (!removed) return removed.error();
        if (removed->failure) return *removed->failure;
        dm::forget_result(read_key(service_, account));
        if (removed->status == st::success) return true;
        if (removed->status == st::item_not_found) return false;
        return dm::status_error(removed->status, where, removed->said);
    }

    /// The accounts of this service that start with `prefix`, sorted (attributes only: never a dialog).
    [[nodiscard]] result<std::vector<std::string>> list_accounts(std::string_view prefix) {
        return list_accounts_of(service_, prefix);
    }

    /// Another program's item (`service`, `account`), read only: keyring::foreign_item_reader, for
    /// importers (the Rust keyring crate, go-keyring and keytar file a generic password by service and
    /// account). One dialog at most; a denial is remembered for that service.
    [[nodiscard]] result<std::optional<detail::secure_buffer>> read_foreign(std::string_view service,
                                                                            std::string_view account) {
        return read_item_of(service, account);
    }

    /// The accounts of another program's `service`, sorted (attributes only: never a dialog).
    [[nodiscard]] result<std::vector<std::string>> list_foreign(std::string_view service) {
        return list_accounts_of(service, "");
    }

    /// Reads item (`service`, `account`) of another program, read-only (importers). Like read: one
    /// dialog at most, a denial remembered for that service.
    [[nodiscard]] result<std::optional<detail::secure_buffer>> read_item_of(std::string_view service,
                                                                            std::string_view account) {
        namespace dm = detail::macos_keychain;
        namespace st = keychain::status;
        using value_t = std::optional<detail::secure_buffer>;
        const std::string where = describe_call("read", service, account);
        TOKENVAULT_TRY(dm::check_name("service", service, tier));
        TOKENVAULT_TRY(dm::check_name("account", account, tier));
        const std::string denied_under = denial_key(service);
        if (auto denied = dm::remembered_denial(denied_under, where)) return *denied;
        auto got = dm::run(*api_, read_key(service, account), denied_under, where, timeout_,
                           [q = query_of(service, std::string(account)),
                            where](const keychain::keychain_api& a) { return fetch(a, q, where); });
        if (!got) return got.error();
        if (got->failure) return *got->failure;
        if (got->status == st::item_not_found) return value_t{};
        if (got->status != st::success) return dm::status_error(got->status, where, got->said);
        if (!got->data) return value_t{detail::secure_buffer{}};
        return value_t{std::move(*got->data)};
    }

    /// The accounts of another program's `service` that start with `prefix`, sorted (read-only).
    [[nodiscard]] result<std::vector<std::string>> list_accounts_of(std::string_view service,
                                                                    std::string_view prefix) {
        namespace dm = detail::macos_keychain;
        namespace st = keychain::status;
        const std::string where = describe_call("list", service, std::nullopt);
        TOKENVAULT_TRY(dm::check_name("service", service, tier));
        if (auto denied = dm::remembered_denial(denial_key(service), where)) return *denied;
        auto listed = dm::run(*api_, "", denial_key(service), where, timeout_,
                              [q = query_of(service, std::nullopt), where](const keychain::keychain_api& a) {
                                  return list(a, q, where);
                              });
        if (!listed) return listed.error();
        if (listed->failure) return *listed->failure;
        if (listed->status == st::item_not_found) return std::vector<std::string>{};
        if (listed->status != st::success) return dm::status_error(listed->status, where, listed->said);
        std::vector<std::string> accounts;
        for (auto& account : listed->accounts)
            if (std::string_view(account).starts_with(prefix)) accounts.push_back(std::move(account));
        std::sort(accounts.begin(), accounts.end());
        accounts.erase(std::unique(accounts.begin(), accounts.end()), accounts.end());
        return accounts;
    }

private:
    /// What a query names: the item (or every item of the service) at Location.
    struct item_query {
        std::string service;
        std::optional<std::string> account;
    };

    basic_macos_keychain(const keychain::keychain_api& api, std::string service,
                         std::chrono::milliseconds timeout)
        : api_(&api), service_(std::move(service)), timeout_(timeout) {}

    [[nodiscard]] static item_query query_of(std::string_view service, std::optional<std::string> account) {
        return item_query{std::string(service), std::move(account)};
    }

    /// "keyring::macos_keychain: read \"data-key\" (service \"app\")".
    [[nodiscard]] static std::string describe_call(std::string_view op, std::string_view service,
                                                   std::optional<std::string_view> account) {
        std::string text = "keyring::" + std::string(tier) + ": " + std::string(op);
        if (account) text += " \"" + std::string(*account) + "\"";
        return text + " (service \"" + std::string(service) + "\")";
    }

    /// The process-wide name of `service` in this keychain (table, location, service).
    [[nodiscard]] std::string denial_key(std::string_view service) const {
        return std::to_string(reinterpret_cast<std::uintptr_t>(api_)) + '\x1f' + std::string(tier) + '\x1f' +
               std::string(Location::access_group) + '\x1f' + std::string(service);
    }
    [[nodiscard]] std::string read_key(std::string_view service, std::string_view account) const {
        return "read\x1f" + denial_key(service) + '\x1f' + std::string(account);
    }

    /// The class, service, account and keychain attributes of a query (on the worker thread).
    [[nodiscard]] static detail::macos_keychain::dictionary query_dictionary(const keychain::keychain_api& a,
                                                                             const item_query& q) {
        using keychain::cf_constant;
        detail::macos_keychain::dictionary d(a);
        d.set(cf_constant::sec_class, cf_constant::class_generic_password);
        d.set_text(cf_constant::attr_service, q.service);
        if (q.account) d.set_text(cf_constant::attr_account, *q.account);
        if constexpr (Location::data_protection_keychain) {
            d.set(cf_constant::use_data_protection_keychain, cf_constant::boolean_true);
            if constexpr (!Location::access_group.empty())
                d.set_text(cf_constant::attr_access_group, Location::access_group);
        }
        return d;
    }

    [[nodiscard]] static detail::macos_keychain::outcome not_utf8(const item_query& q, std::string_view op) {
        detail::macos_keychain::outcome out;
        out.failure = error{errc::invalid_argument, describe_call(op, q.service, q.account) +
                                                        ": the service and account must be valid UTF-8"};
        return out;
    }

    [[nodiscard]] static detail::macos_keychain::outcome finish(const keychain::keychain_api& a,
                                                                keychain::os_status s) {
        detail::macos_keychain::outcome out;
        out.status = s;
        if (s != keychain::status::success && s != keychain::status::item_not_found)
            out.said = detail::macos_keychain::describe_status(a, s);
        return out;
    }

    // The calls, run on the worker thread: each builds its dictionary, calls Security once, releases all.

    /// One SecItemCopyMatching of `q` that returns `what` (kSecReturnData or kSecReturnAttributes) for
    /// `limit` matches; `use(found, out)` reads the result before it is released.
    template <class Use>
    [[nodiscard]] static detail::macos_keychain::outcome search(const keychain::keychain_api& a,
                                                                const item_query& q,
                                                                keychain::cf_constant what,
                                                                keychain::cf_constant limit,
                                                                std::string_view op, Use use) {
        using keychain::cf_constant;
        auto d = query_dictionary(a, q);
        d.set(what, cf_constant::boolean_true);
        d.set(cf_constant::match_limit, limit);
        if (!d.ok()) return not_utf8(q, op);
        keychain::cf_ref found = nullptr;
        const keychain::os_status s = a.copy_matching(d.get(), &found);
        const detail::macos_keychain::cf_owned owned(a, found);
        auto out = finish(a, s);
        if (s == keychain::status::success) use(found, out);
        return out;
    }

    /// Whether the keychain answers at all: an attribute lookup (never a dialog for an item's data).
    [[nodiscard]] static detail::macos_keychain::outcome probe(const keychain::keychain_api& a,
                                                               const item_query& q) {
        using keychain::cf_constant;
        return search(a, q, cf_constant::return_attributes, cf_constant::match_limit_one, "open",
                      [](keychain::cf_ref, detail::macos_keychain::outcome&) {});
    }

    /// The item's data (kSecReturnData, one match).
    [[nodiscard]] static detail::macos_keychain::outcome fetch(const keychain::keychain_api& a,
                                                               const item_query& q,
                                                               const std::string& where) {
        using keychain::cf_constant;
        return search(a, q, cf_constant::return_data, cf_constant::match_limit_one, "read",
                      [&](keychain::cf_ref found, detail::macos_keychain::outcome& out) {
                          if (found == nullptr || a.kind_of(found) != keychain::cf_kind::data) {
                              out.failure = error{errc::keyring_unavailable,
                                                  where + ": the keychain returned no data object"};
                              return;
                          }
                          const keychain::cf_size size = a.data_size(found);
                          if (size < 0 || static_cast<std::size_t>(size) > max_item_size) {
                              out.failure = error{errc::too_large, where + ": the item is over " +
                                                                       std::to_string(max_item_size) +
                                                                       " bytes; left in place"};
                              return;
                          }
                          out.data = detail::secure_buffer::copy_of(std::span<const std::byte>(
                              a.data_bytes(found), static_cast<std::size_t>(size)));
                      });
    }

    /// Creates the item (SecItemAdd); never replaces one.
    [[nodiscard]] static detail::macos_keychain::outcome add(const keychain::keychain_api& a,
                                                             const item_query& q, const std::string& label,
                                                             std::span<const std::byte> bytes) {
        using keychain::cf_constant;
        auto d = query_dictionary(a, q);
        d.set_text(cf_constant::attr_label, label);
        if constexpr (Location::data_protection_keychain)  // the file-based keychain takes no accessibility
            d.set(cf_constant::attr_accessible, cf_constant::accessible_after_first_unlock);
        d.set_bytes(cf_constant::value_data, bytes);
        if (!d.ok()) return not_utf8(q, "write");
        return finish(a, a.add(d.get(), nullptr));
    }

    /// Removes the item (SecItemDelete: every match).
    [[nodiscard]] static detail::macos_keychain::outcome remove(const keychain::keychain_api& a,
                                                                const item_query& q) {
        auto d = query_dictionary(a, q);
        if (!d.ok()) return not_utf8(q, "erase");
        return finish(a, a.remove(d.get()));
    }

    /// The accounts of the service (kSecReturnAttributes of every match: no data).
    [[nodiscard]] static detail::macos_keychain::outcome list(const keychain::keychain_api& a,
                                                              const item_query& q, const std::string& where) {
        using keychain::cf_constant;
        return search(
            a, q, cf_constant::return_attributes, cf_constant::match_limit_all, "list",
            [&](keychain::cf_ref found, detail::macos_keychain::outcome& out) {
                const auto account_of = [&](keychain::cf_ref attributes) {
                    if (attributes == nullptr || a.kind_of(attributes) != keychain::cf_kind::dictionary)
                        return;
                    auto text = detail::macos_keychain::text_of(
                        a, a.dictionary_get(attributes, a.constant(cf_constant::attr_account)));
                    if (text) out.accounts.push_back(std::move(*text));
                };
                const auto kind = found == nullptr ? keychain::cf_kind::other : a.kind_of(found);
                if (kind == keychain::cf_kind::array) {
                    const keychain::cf_size count = a.array_count(found);
                    for (keychain::cf_size i = 0; i < count; ++i) account_of(a.array_at(found, i));
                } else if (kind == keychain::cf_kind::dictionary) {
                    account_of(found);
                } else {
                    out.failure =
                        error{errc::keyring_unavailable, where + ": the keychain returned no attributes"};
                }
            });
    }

    const keychain::keychain_api* api_;
    std::string service_;
    std::chrono::milliseconds timeout_;
};

/// The macOS keychain (the user's file-based login keychain); see the top of this header.
using macos_keychain = basic_macos_keychain<keychain_file_based>;
/// The macOS data protection keychain, in the program's default access group.
using macos_data_protection_keychain = basic_macos_keychain<keychain_data_protection>;

static_assert(keyring_policy<macos_keychain>,
              "keyring::macos_keychain must model keyring_policy (tokenvault/keyring/concept.hpp)");
static_assert(enumerable_keyring<macos_keychain>);

}  // namespace tokenvault::keyring
