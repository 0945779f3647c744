// tokenvault/detail/macos_keychain_calls.hpp: the Security.framework plumbing under keyring::macos_keychain.
//
// Owning CoreFoundation references and query dictionaries built through the keychain_api table; OSStatus to
// tokenvault error mapping (a denial is errc::keyring_denied, interaction-not-allowed errc::keyring_locked);
// the per-process memory of denials and of calls in flight; one keychain call run on a worker thread,
// bounded by a timeout, abandoned (not cancelled) when it times out and joined by the next caller of the
// same item. Nothing here knows about services, accounts or the no-rewrite rule: that is
// keyring/macos_keychain.hpp. Not in tokenvault.hpp.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
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

#include "../error.hpp"
#include "../keyring/macos_keychain_api.hpp"
#include "../platform/platform.hpp"
#include "../result.hpp"
#include "secure_buffer.hpp"

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
