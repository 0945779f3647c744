// tokenvault/keyring/secret_service.hpp: keyring::secret_service, the freedesktop Secret Service (libsecret).
//
// Items (schema "org.tokenvault.Secret", attributes service + account, the secret as base64 text) live in
// the collection the "default" alias names; the volatile "session" collection is refused unless allowed
// and a locked one is errc::keyring_locked (never a prompt). Every call is bounded by options.timeout:
// async calls on a private GMainContext, cancelled by a timer (a timed-out write may still land later).
// Also reads other programs' items, read only (keyring/foreign.hpp: read_foreign, list_foreign).
// Uses GLib's shared session-bus connection (libsecret can use no other). Needs libsecret-1 (pkg-config);
// not in tokenvault.hpp.
#pragma once

#include <libsecret/secret.h>
#include <sodium.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../detail/secure_buffer.hpp"
#include "../error.hpp"
#include "../result.hpp"
#include "concept.hpp"
#include "foreign.hpp"

namespace tokenvault::keyring {

namespace detail_secret_service {

inline constexpr std::string_view session_collection = "/org/freedesktop/secrets/collection/session";

/// Owning pointers for the GLib types used here.
struct gobject_unref {
    void operator()(gpointer p) const noexcept { g_object_unref(p); }
};
template <class T>
using gobject_ptr = std::unique_ptr<T, gobject_unref>;
struct gerror_free {
    void operator()(GError* e) const noexcept { g_error_free(e); }
};
using gerror_ptr = std::unique_ptr<GError, gerror_free>;
struct secret_value_unref_fn {
    void operator()(SecretValue* v) const noexcept { secret_value_unref(v); }
};
using secret_value_ptr = std::unique_ptr<SecretValue, secret_value_unref_fn>;
struct item_list_free {
    void operator()(GList* l) const noexcept { g_list_free_full(l, g_object_unref); }
};
using item_list_ptr = std::unique_ptr<GList, item_list_free>;
struct hash_table_unref {
    void operator()(GHashTable* t) const noexcept { g_hash_table_unref(t); }
};
using hash_table_ptr = std::unique_ptr<GHashTable, hash_table_unref>;
struct variant_unref {
    void operator()(GVariant* v) const noexcept { g_variant_unref(v); }
};
using variant_ptr = std::unique_ptr<GVariant, variant_unref>;
struct schema_unref {
    void operator()(SecretSchema* s) const noexcept { secret_schema_unref(s); }
};

/// How long, past the timeout, a cancelled call is waited for: its callback normally lands at once.
inline constexpr guint grace_ms = 500;
/// How long a keyring being destroyed waits for the callbacks of calls given up on (see state's destructor).
inline constexpr guint drain_ms = 100;
/// How long open waits before asking GLib again for a shared bus connection that is still a cancelled one.
inline constexpr guint bus_retry_ms = 10;

inline gboolean set_flag(gpointer flag) {
    *static_cast<bool*>(flag) = true;
    return G_SOURCE_REMOVE;
}

/// The number of calls started on one keyring's context whose callbacks have not run yet. Shared (not
/// owned) by the keyring and by every call, so a callback that lands after the keyring is gone still
/// counts down memory that exists.
using in_flight_count = std::shared_ptr<std::atomic<std::size_t>>;

/// One async call: shared by the frame that waits for it (operation::await) and by its GLib callback,
/// and freed by whichever of the two lets go last. A callback that fires after the waiter gave up (and
/// returned, and its stack frame is gone) touches only this heap object, never the waiter's state.
struct pending_call {
    std::atomic<int> refs{2};         // the waiter's and the callback's
    std::atomic<bool> waiting{true};  // false once the waiter has let go: the result is then dropped
    std::atomic<bool> done{false};    // the callback has run
    GAsyncResult* result = nullptr;  // a reference for the waiter, set when the callback ran while waited for
    in_flight_count in_flight;

    static void release(pending_call* call) noexcept {
        if (call->refs.fetch_sub(1) == 1) delete call;
    }
};

inline void on_call_ready(GObject* /*source*/, GAsyncResult* res, gpointer data) {
    auto* call = static_cast<pending_call*>(data);
    if (call->waiting.load()) call->result = G_ASYNC_RESULT(g_object_ref(res));
    call->done.store(true);
    call->in_flight->fetch_sub(1);
    pending_call::release(call);
}

/// Runs `context` (pushed as thread default by the caller) until `in_flight` is zero or `ms` have passed,
/// then whatever is queued on it, without blocking.
inline void drain(GMainContext* context, const std::atomic<std::size_t>& in_flight, guint ms) {
    if (in_flight.load() > 0) {
        bool expired = false;
        GSource* timer = g_timeout_source_new(ms);
        g_source_set_callback(timer, &set_flag, &expired, nullptr);
        g_source_attach(timer, context);
        while (in_flight.load() > 0 && !expired) g_main_context_iteration(context, TRUE);
        g_source_destroy(timer);  // before `expired` goes out of scope
        g_source_unref(timer);
    }
    for (int i = 0; i < 1000 && g_main_context_iteration(context, FALSE) != FALSE; ++i) {
    }
}

/// The state of one public operation: our context pushed as thread default, a cancellable, and two
/// timers (cancel at the timeout; give up waiting for the cancellation to land grace_ms later).
class operation {
public:
    operation(GMainContext* context, in_flight_count in_flight, std::chrono::milliseconds timeout)
        : context_(context), in_flight_(std::move(in_flight)), cancellable_(g_cancellable_new()) {
        g_main_context_push_thread_default(context_);
        const auto ms = static_cast<guint>(std::max<std::chrono::milliseconds::rep>(timeout.count(), 0));
        cancel_timer_ = attach_timer(ms, &operation::on_timeout);
        give_up_timer_ = attach_timer(ms + grace_ms, &operation::on_give_up);
    }
    ~operation() {
        g_source_destroy(cancel_timer_);
        g_source_unref(cancel_timer_);
        g_source_destroy(give_up_timer_);
        g_source_unref(give_up_timer_);
        g_main_context_pop_thread_default(context_);
    }
    operation(const operation&) = delete;
    operation& operator=(const operation&) = delete;

    [[nodiscard]] GCancellable* cancellable() const noexcept { return cancellable_.get(); }
    [[nodiscard]] bool timed_out() const noexcept { return timed_out_; }

    /// Starts an async call with `start(callback, user_data)` and runs the context until its callback has
    /// run: the result (owned by the caller), or nullptr when even the cancelled call did not complete
    /// within the grace period. Its callback then runs whenever the context next does (a later call, or
    /// the keyring's destructor) and frees what it shares with us; nothing on this stack is touched.
    template <class Start>
    [[nodiscard]] GAsyncResult* await(Start start) {
        auto* call = new pending_call;
        call->in_flight = in_flight_;
        in_flight_->fetch_add(1);
        start(&on_call_ready, static_cast<gpointer>(call));
        while (!call->done.load() && !gave_up_) g_main_context_iteration(context_, TRUE);
        call->waiting.store(false);
        GAsyncResult* result = call->result;  // set only if the callback ran (on this thread, above)
        pending_call::release(call);
        return result;
    }

    /// Runs the context for `ms`: false when the timeout came first.
    [[nodiscard]] bool pause(guint ms) {
        bool elapsed = false;
        GSource* timer = g_timeout_source_new(ms);
        g_source_set_callback(timer, &set_flag, &elapsed, nullptr);
        g_source_attach(timer, context_);
        while (!elapsed && !timed_out_) g_main_context_iteration(context_, TRUE);
        g_source_destroy(timer);  // before `elapsed` goes out of scope
        g_source_unref(timer);
        return !timed_out_;
    }

private:
    GSource* attach_timer(guint ms, GSourceFunc fn) {
        GSource* source = g_timeout_source_new(ms);
        g_source_set_callback(source, fn, this, nullptr);
        g_source_attach(source, context_);
        return source;
    }
    static gboolean on_timeout(gpointer data) {
        auto* self = static_cast<operation*>(data);
        self->timed_out_ = true;
        g_cancellable_cancel(self->cancellable_.get());
        return G_SOURCE_REMOVE;
    }
    static gboolean on_give_up(gpointer data) {
        static_cast<operation*>(data)->gave_up_ = true;
        return G_SOURCE_REMOVE;
    }

    GMainContext* context_;
    in_flight_count in_flight_;
    gobject_ptr<GCancellable> cancellable_;
    GSource* cancel_timer_ = nullptr;
    GSource* give_up_timer_ = nullptr;
    bool timed_out_ = false;
    bool gave_up_ = false;
};

/// Maps a GError to a tokenvault error; `op` names the operation in the context.
[[nodiscard]] inline error from_gerror(const GError* e, std::string_view op, bool timed_out,
                                       std::chrono::milliseconds timeout) {
    const std::string where = "keyring::secret_service: " + std::string(op);
    const std::string context = where + ": " + (e->message != nullptr ? e->message : "unknown error");
    if (g_error_matches(e, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        if (timed_out)
            return error{errc::keyring_timeout,
                         where + ": no answer within " + std::to_string(timeout.count()) + " ms"};
        // Not our cancellation (libsecret cancels its own calls when its objects go away).
        return error{errc::keyring_unavailable, where + ": the call was cancelled"};
    }
    if (g_error_matches(e, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) ||
        g_error_matches(e, G_DBUS_ERROR, G_DBUS_ERROR_TIMEOUT) ||
        g_error_matches(e, G_DBUS_ERROR, G_DBUS_ERROR_TIMED_OUT) ||
        g_error_matches(e, G_DBUS_ERROR, G_DBUS_ERROR_NO_REPLY))
        return error{errc::keyring_timeout, context};
    if (g_error_matches(e, SECRET_ERROR, SECRET_ERROR_IS_LOCKED)) return error{errc::keyring_locked, context};
    if (g_error_matches(e, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED) ||
        g_error_matches(e, G_DBUS_ERROR, G_DBUS_ERROR_AUTH_FAILED) ||
        g_error_matches(e, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED))
        return error{errc::keyring_denied, context};
    if (g_dbus_error_is_remote_error(e)) {  // names libsecret did not register
        gchar* remote = g_dbus_error_get_remote_error(e);
        const std::string name = remote != nullptr ? remote : "";
        g_free(remote);
        if (name.find("IsLocked") != std::string::npos) return error{errc::keyring_locked, context};
        if (name.find("Denied") != std::string::npos) return error{errc::keyring_denied, context};
    }
    return error{errc::keyring_unavailable, context};
}

/// Whether an error means "there is no Secret Service here" (open answers nullopt for these).
[[nodiscard]] inline bool means_absent(const GError* e) {
    if (e->domain == G_IO_ERROR) {  // the session bus itself cannot be reached
        switch (e->code) {
        case G_IO_ERROR_NOT_FOUND:
        case G_IO_ERROR_CONNECTION_REFUSED:
        case G_IO_ERROR_CONNECTION_CLOSED:
        case G_IO_ERROR_CLOSED:
        case G_IO_ERROR_INVALID_ARGUMENT:
        case G_IO_ERROR_HOST_NOT_FOUND:
        case G_IO_ERROR_NETWORK_UNREACHABLE:
        case G_IO_ERROR_HOST_UNREACHABLE: return true;
        default: break;
        }
    }
    return g_error_matches(e, G_DBUS_ERROR, G_DBUS_ERROR_NO_SERVER) ||
           g_error_matches(e, G_DBUS_ERROR, G_DBUS_ERROR_FILE_NOT_FOUND) ||
           g_error_matches(e, G_DBUS_ERROR, G_DBUS_ERROR_BAD_ADDRESS) ||
           g_error_matches(e, G_DBUS_ERROR, G_DBUS_ERROR_DISCONNECTED) ||
           g_error_matches(e, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN) ||
           g_error_matches(e, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER) ||
           g_error_matches(e, G_DBUS_ERROR, G_DBUS_ERROR_SPAWN_SERVICE_NOT_FOUND) ||
           g_error_matches(e, G_DBUS_ERROR, G_DBUS_ERROR_SPAWN_EXEC_FAILED) ||
           g_error_matches(e, G_DBUS_ERROR, G_DBUS_ERROR_SPAWN_CHILD_EXITED) ||
           g_error_matches(e, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_OBJECT);
}

/// The session bus address, without autolaunch: DBUS_SESSION_BUS_ADDRESS, else $XDG_RUNTIME_DIR/bus.
[[nodiscard]] inline std::optional<std::string> session_bus_address() {
    if (const char* address = std::getenv("DBUS_SESSION_BUS_ADDRESS"); address != nullptr && *address != '\0')
        return std::string(address);
    if (const char* runtime = std::getenv("XDG_RUNTIME_DIR"); runtime != nullptr && *runtime != '\0') {
        const std::string socket_path = std::string(runtime) + "/bus";
        struct stat st {};
        if (::stat(socket_path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
            gchar* escaped = g_dbus_address_escape_value(socket_path.c_str());
            std::string address = std::string("unix:path=") + escaped;
            g_free(escaped);
            return address;
        }
    }
    return std::nullopt;
}

}  // namespace detail_secret_service

/// The freedesktop Secret Service (gnome-keyring, KeePassXC, ...) through libsecret, with timeouts.
class secret_service {
public:
    using policy_family = family::keyring;
    /// Lists the accounts of its service (list_accounts).
    static constexpr keyring::traits traits{.lists_accounts = true};
    /// The tier name recorded in file headers and resolution logs.
    static constexpr std::string_view tier = "secret_service";
    /// Whether items survive a reboot.
    static constexpr bool persistent = true;
    /// The largest item accepted.
    static constexpr std::size_t max_item_size = std::size_t{1} << 20;

    /// Connects; nullopt when there is no session bus or no Secret Service on it. Errors: the default
    /// collection is locked (keyring_locked), volatile (volatile_collection_refused) or missing, or a
    /// timeout.
    [[nodiscard]] static result<std::optional<secret_service>> open(const keyring_options& options) {
        namespace ds = detail_secret_service;
        TOKENVAULT_TRY(detail::ensure_sodium());
        const auto address = ds::session_bus_address();
        if (!address) return std::optional<secret_service>{};

        auto st = std::make_unique<state>();
        st->context = g_main_context_new();
        st->service_name = options.service;
        st->timeout = options.timeout;
        st->schema.reset(secret_schema_new("org.tokenvault.Secret", SECRET_SCHEMA_NONE, "service",
                                           SECRET_SCHEMA_ATTRIBUTE_STRING, "account",
                                           SECRET_SCHEMA_ATTRIBUTE_STRING, nullptr));

        ds::operation op(st->context, st->in_flight, options.timeout);
        GError* raw_error = nullptr;

        // GLib's shared session-bus connection, the one libsecret will use (SecretService's constructor
        // forces g-bus-type=session, so a proxy on any other connection is refused), got here under our
        // cancellable and held while this keyring lives. GLib keeps one per process and hands it to every
        // caller until its last reference goes, failed or not: when an earlier attempt on it was cancelled
        // (a timed-out open, here or elsewhere in the process), the next callers get that cancelled
        // connection back until the worker thread that ran the attempt drops it, a moment later. So a
        // cancellation that is not ours means "ask again", within our own timeout.
        GAsyncResult* res = nullptr;
        for (;;) {
            res = op.await([&](GAsyncReadyCallback cb, gpointer data) {
                g_bus_get(G_BUS_TYPE_SESSION, op.cancellable(), cb, data);
            });
            if (res == nullptr) return st->gave_up("open");
            st->connection.reset(g_bus_get_finish(res, &raw_error));
            g_object_unref(res);
            if (st->connection) break;
            ds::gerror_ptr failure(std::exchange(raw_error, nullptr));
            if (!op.timed_out() && g_error_matches(failure.get(), G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
                if (!op.pause(ds::bus_retry_ms)) return st->gave_up("open (session bus)");
                continue;
            }
            if (!op.timed_out() && ds::means_absent(failure.get())) return std::optional<secret_service>{};
            return ds::from_gerror(failure.get(), "open (session bus)", op.timed_out(), st->timeout);
        }

        // A proxy of our own (not libsecret's cached one, whose signals belong to whichever context made
        // it), on that connection.
        res = op.await([&](GAsyncReadyCallback cb, gpointer data) {
            secret_service_open(SECRET_TYPE_SERVICE, nullptr, SECRET_SERVICE_OPEN_SESSION, op.cancellable(),
                                cb, data);
        });
        if (res == nullptr) return st->gave_up("open");
        st->service.reset(secret_service_open_finish(res, &raw_error));
        g_object_unref(res);
        if (!st->service) {
            ds::gerror_ptr failure(raw_error);
            if (!op.timed_out() && ds::means_absent(failure.get())) return std::optional<secret_service>{};
            return ds::from_gerror(failure.get(), "open", op.timed_out(), st->timeout);
        }
        const gchar* bus_name = g_dbus_proxy_get_name(G_DBUS_PROXY(st->service.get()));
        st->bus_name = bus_name != nullptr ? bus_name : "org.freedesktop.secrets";

        res = op.await([&](GAsyncReadyCallback cb, gpointer data) {
            secret_collection_for_alias(st->service.get(), SECRET_COLLECTION_DEFAULT, SECRET_COLLECTION_NONE,
                                        op.cancellable(), cb, data);
        });
        if (res == nullptr) return st->gave_up("open");
        st->collection.reset(secret_collection_for_alias_finish(res, &raw_error));
        g_object_unref(res);
        if (!st->collection) {
            if (raw_error != nullptr) {
                ds::gerror_ptr failure(raw_error);
                return ds::from_gerror(failure.get(), "open (default collection)", op.timed_out(),
                                       st->timeout);
            }
            return error{
                errc::keyring_unavailable,
                "keyring::secret_service: open: no default collection (create one with the keyring's "
                "manager, e.g. seahorse)"};
        }
        st->collection_path = g_dbus_proxy_get_object_path(G_DBUS_PROXY(st->collection.get()));
        if (st->collection_path == ds::session_collection && !options.allow_volatile_collection)
            return error{errc::volatile_collection_refused,
                         "keyring::secret_service: open: the default collection is the session collection (" +
                             st->collection_path +
                             ", lost on logout); set allow_volatile_collection to accept it"};
        if (secret_collection_get_locked(st->collection.get()) != FALSE)
            return error{errc::keyring_locked, "keyring::secret_service: open: collection " +
                                                   st->collection_path +
                                                   " is locked (tokenvault never prompts)"};
        return std::optional<secret_service>{secret_service{std::move(st)}};
    }

    /// The tier name, "secret_service".
    [[nodiscard]] std::string_view tier_name() const noexcept { return tier; }

    /// The object path of the collection items go to (e.g. /org/freedesktop/secrets/collection/login).
    [[nodiscard]] const std::string& collection_path() const noexcept { return state_->collection_path; }

    /// The item's bytes, or nullopt when there is none.
    [[nodiscard]] result<std::optional<detail::secure_buffer>> read(std::string_view account) {
        namespace ds = detail_secret_service;
        using value_t = std::optional<detail::secure_buffer>;
        ds::operation op(state_->context, state_->in_flight, state_->timeout);
        TOKENVAULT_TRY(state_->require_unlocked(op, "read"));
        auto found = state_->search(op, account, SECRET_SEARCH_LOAD_SECRETS, "read");
        if (!found) return found.error();
        if (!*found) return value_t{};

        // Several matches (written by hand, or raced): the most recently modified wins.
        SecretItem* item = nullptr;
        for (GList* l = found->get(); l != nullptr; l = l->next) {
            auto* candidate = SECRET_ITEM(l->data);
            if (item == nullptr || secret_item_get_modified(candidate) > secret_item_get_modified(item))
                item = candidate;
        }
        if (secret_item_get_locked(item) != FALSE)
            return error{errc::keyring_locked, "keyring::secret_service: read: the item is locked"};
        ds::secret_value_ptr value(secret_item_get_secret(item));
        if (!value)
            return error{errc::keyring_unavailable,
                         "keyring::secret_service: read: the service returned no secret"};
        gsize size = 0;
        const gchar* text = secret_value_get(value.get(), &size);
        auto decoded = decode(text, size);
        if (!decoded) return decoded.error();
        return value_t{std::move(*decoded)};
    }

    /// Creates or replaces the item in the collection.
    [[nodiscard]] result<void> write(std::string_view account, std::span<const std::byte> secret) {
        namespace ds = detail_secret_service;
        if (secret.size() > max_item_size)
            return error{errc::keyring_item_too_large, "keyring::secret_service: write"};
        ds::operation op(state_->context, state_->in_flight, state_->timeout);
        TOKENVAULT_TRY(state_->require_unlocked(op, "write"));

        detail::secure_buffer encoded(
            sodium_base64_ENCODED_LEN(secret.size(), sodium_base64_VARIANT_ORIGINAL));
        sodium_bin2base64(reinterpret_cast<char*>(encoded.data()), encoded.size(),
                          reinterpret_cast<const unsigned char*>(secret.data()), secret.size(),
                          sodium_base64_VARIANT_ORIGINAL);
        // secret_value_new copies into libsecret's own locked memory, wiped when the value is released.
        ds::secret_value_ptr value(secret_value_new(reinterpret_cast<const gchar*>(encoded.data()),
                                                    static_cast<gssize>(encoded.size() - 1), "text/plain"));
        const std::string account_text(account);
        const std::string label = "tokenvault " + state_->service_name + " " + account_text;
        auto attributes = state_->attributes(&account_text);
        GAsyncResult* res = op.await([&](GAsyncReadyCallback cb, gpointer data) {
            secret_service_store(state_->service.get(), state_->schema.get(), attributes.get(),
                                 state_->collection_path.c_str(), label.c_str(), value.get(),
                                 op.cancellable(), cb, data);
        });
        if (res == nullptr) return state_->gave_up("write");
        GError* raw_error = nullptr;
        const gboolean stored = secret_service_store_finish(state_->service.get(), res, &raw_error);
        g_object_unref(res);
        if (stored == FALSE) {
            ds::gerror_ptr failure(raw_error);
            return ds::from_gerror(failure.get(), "write", op.timed_out(), state_->timeout);
        }
        return {};
    }

    /// Removes the item (every match); false when there was none.
    [[nodiscard]] result<bool> erase(std::string_view account) {
        namespace ds = detail_secret_service;
        ds::operation op(state_->context, state_->in_flight, state_->timeout);
        TOKENVAULT_TRY(state_->require_unlocked(op, "erase"));
        auto found = state_->search(op, account, SECRET_SEARCH_NONE, "erase");
        if (!found) return found.error();
        if (!*found) return false;
        bool removed = false;
        for (GList* l = found->get(); l != nullptr; l = l->next) {
            auto* item = SECRET_ITEM(l->data);
            GAsyncResult* res = op.await([&](GAsyncReadyCallback cb, gpointer data) {
                secret_item_delete(item, op.cancellable(), cb, data);
            });
            if (res == nullptr) return state_->gave_up("erase");
            GError* raw_error = nullptr;
            const gboolean deleted = secret_item_delete_finish(item, res, &raw_error);
            g_object_unref(res);
            if (deleted == FALSE) {
                ds::gerror_ptr failure(raw_error);
                if (g_error_matches(failure.get(), SECRET_ERROR, SECRET_ERROR_NO_SUCH_OBJECT) ||
                    g_error_matches(failure.get(), G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_OBJECT))
                    continue;  // removed by someone else meanwhile
                return ds::from_gerror(failure.get(), "erase", op.timed_out(), state_->timeout);
            }
            removed = true;
        }
        return removed;
    }

    /// The accounts of this service whose name starts with `prefix`, sorted (no secret is loaded).
    [[nodiscard]] result<std::vector<std::string>> list_accounts(std::string_view prefix) {
        namespace ds = detail_secret_service;
        ds::operation op(state_->context, state_->in_flight, state_->timeout);
        TOKENVAULT_TRY(state_->require_unlocked(op, "list"));
        auto found = state_->search(op, std::nullopt, SECRET_SEARCH_NONE, "list");
        if (!found) return found.error();
        std::vector<std::string> accounts;
        for (GList* l = found->get(); l != nullptr; l = l->next) {
            ds::hash_table_ptr attributes(secret_item_get_attributes(SECRET_ITEM(l->data)));
            if (!attributes) continue;
            const auto* account = static_cast<const gchar*>(g_hash_table_lookup(attributes.get(), "account"));
            if (account != nullptr && std::string_view(account).starts_with(prefix))
                accounts.emplace_back(account);
        }
        std::sort(accounts.begin(), accounts.end());
        accounts.erase(std::unique(accounts.begin(), accounts.end()), accounts.end());
        return accounts;
    }

    /// Another program's item named `service` / `account` (keyring/foreign.hpp), searched in every
    /// collection; its raw bytes, or nullopt when there is none. Never unlocks: a locked item is
    /// errc::keyring_locked. Of several matches, those without a "target" attribute or with the Rust
    /// keyring crate's "default" are preferred, then the most recently modified.
    [[nodiscard]] result<std::optional<detail::secure_buffer>> read_foreign(std::string_view service,
                                                                            std::string_view account) {
        namespace ds = detail_secret_service;
        using value_t = std::optional<detail::secure_buffer>;
        ds::operation op(state_->context, state_->in_flight, state_->timeout);
        auto found =
            state_->search_foreign(op, service, account, SECRET_SEARCH_LOAD_SECRETS, "read foreign item");
        if (!found) return found.error();
        SecretItem* item = nullptr;
        const auto rank = [](SecretItem* candidate) {
            ds::hash_table_ptr attributes(secret_item_get_attributes(candidate));
            const auto* target =
                attributes ? static_cast<const gchar*>(g_hash_table_lookup(attributes.get(), "target"))
                           : nullptr;
            return target == nullptr || std::string_view(target) == "default" ? 1 : 0;
        };
        for (GList* l = found->get(); l != nullptr; l = l->next) {
            auto* candidate = SECRET_ITEM(l->data);
            if (item == nullptr || rank(candidate) > rank(item) ||
                (rank(candidate) == rank(item) &&
                 secret_item_get_modified(candidate) > secret_item_get_modified(item)))
                item = candidate;
        }
        if (item == nullptr) return value_t{};
        if (secret_item_get_locked(item) != FALSE)
            return error{
                errc::keyring_locked,
                "keyring::secret_service: read foreign item: the item is locked (unlock the keyring; "
                "tokenvault never prompts)"};
        ds::secret_value_ptr value(secret_item_get_secret(item));
        if (!value)
            return error{errc::keyring_unavailable,
                         "keyring::secret_service: read foreign item: the service returned no secret"};
        gsize size = 0;
        const gchar* bytes = secret_value_get(value.get(), &size);
        return value_t{detail::secure_buffer::copy_of(std::string_view(bytes != nullptr ? bytes : "", size))};
    }

    /// The accounts of other programs' items of `service` (keyring/foreign.hpp), sorted; no secret is
    /// loaded and nothing is unlocked.
    [[nodiscard]] result<std::vector<std::string>> list_foreign(std::string_view service) {
        namespace ds = detail_secret_service;
        ds::operation op(state_->context, state_->in_flight, state_->timeout);
        auto found =
            state_->search_foreign(op, service, std::nullopt, SECRET_SEARCH_NONE, "list foreign items");
        if (!found) return found.error();
        std::vector<std::string> accounts;
        for (GList* l = found->get(); l != nullptr; l = l->next) {
            ds::hash_table_ptr attributes(secret_item_get_attributes(SECRET_ITEM(l->data)));
            if (!attributes) continue;
            const auto* account = static_cast<const gchar*>(
                g_hash_table_lookup(attributes.get(), foreign_account_attribute.data()));
            if (account != nullptr) accounts.emplace_back(account);
        }
        std::sort(accounts.begin(), accounts.end());
        accounts.erase(std::unique(accounts.begin(), accounts.end()), accounts.end());
        return accounts;
    }

private:
    /// Everything GLib: owned here so the keyring object itself moves cheaply.
    struct state {
        GMainContext* context = nullptr;
        /// Calls started on `context` whose callbacks have not run (only calls given up on, between
        /// operations).
        detail_secret_service::in_flight_count in_flight = std::make_shared<std::atomic<std::size_t>>(0);
        detail_secret_service::gobject_ptr<GDBusConnection> connection;  // GLib's shared one: never closed
        detail_secret_service::gobject_ptr<SecretService> service;
        detail_secret_service::gobject_ptr<SecretCollection> collection;
        std::unique_ptr<SecretSchema, detail_secret_service::schema_unref> schema;
        std::string bus_name;
        std::string collection_path;
        std::string service_name;
        std::chrono::milliseconds timeout{0};

        state() = default;
        state(const state&) = delete;
        state& operator=(const state&) = delete;
        ~state() {
            if (context == nullptr) return;
            g_main_context_push_thread_default(context);  // anything these release runs on our context
            collection.reset();
            service.reset();
            connection.reset();  // GLib's shared connection: only our reference goes
            // Unsubscribing the proxies' signals queues clean-ups on our context, and calls given up on
            // still have callbacks to run there (which free what they share with the waiter): give those a
            // moment, then run whatever is queued, without blocking.
            detail_secret_service::drain(context, *in_flight, detail_secret_service::drain_ms);
            g_main_context_pop_thread_default(context);
            g_main_context_unref(context);
        }

        [[nodiscard]] error gave_up(std::string_view op) const {
            return error{errc::keyring_timeout, "keyring::secret_service: " + std::string(op) +
                                                    ": no answer within " + std::to_string(timeout.count()) +
                                                    " ms"};
        }

        /// The attributes that name `account`'s item (every item of the service for nullptr).
        [[nodiscard]] detail_secret_service::hash_table_ptr attributes(const std::string* account) const {
            detail_secret_service::hash_table_ptr table(g_hash_table_new(g_str_hash, g_str_equal));
            g_hash_table_insert(table.get(), const_cast<gchar*>("service"),
                                const_cast<gchar*>(service_name.c_str()));
            if (account != nullptr)
                g_hash_table_insert(table.get(), const_cast<gchar*>("account"),
                                    const_cast<gchar*>(account->c_str()));
            return table;
        }

        /// Asks the service (not a cached property) whether the collection is locked now.
        [[nodiscard]] result<void> require_unlocked(detail_secret_service::operation& op,
                                                    std::string_view what) {
            namespace ds = detail_secret_service;
            GAsyncResult* res = op.await([&](GAsyncReadyCallback cb, gpointer data) {
                g_dbus_connection_call(
                    g_dbus_proxy_get_connection(G_DBUS_PROXY(service.get())), bus_name.c_str(),
                    collection_path.c_str(), "org.freedesktop.DBus.Properties", "Get",
                    g_variant_new("(ss)", "org.freedesktop.Secret.Collection", "Locked"),
                    G_VARIANT_TYPE("(v)"), G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, op.cancellable(), cb, data);
            });
            if (res == nullptr) return gave_up(what);
            GError* raw_error = nullptr;
            ds::variant_ptr reply(g_dbus_connection_call_finish(
                g_dbus_proxy_get_connection(G_DBUS_PROXY(service.get())), res, &raw_error));
            g_object_unref(res);
            if (!reply) {
                ds::gerror_ptr failure(raw_error);
                return ds::from_gerror(failure.get(), std::string(what) + " (collection state)",
                                       op.timed_out(), timeout);
            }
            GVariant* boxed = nullptr;
            g_variant_get(reply.get(), "(v)", &boxed);
            ds::variant_ptr locked(boxed);
            if (!g_variant_is_of_type(locked.get(), G_VARIANT_TYPE_BOOLEAN))
                return error{errc::keyring_unavailable,
                             "keyring::secret_service: " + std::string(what) +
                                 ": the collection's Locked property is not a boolean"};
            if (g_variant_get_boolean(locked.get()) != FALSE)
                return error{errc::keyring_locked, "keyring::secret_service: " + std::string(what) +
                                                       ": collection " + collection_path +
                                                       " is locked (tokenvault never prompts)"};
            return {};
        }

        /// Other programs' items of `service` (and `account`) in every collection, by attributes alone
        /// (any schema), locked ones included (not unlocked, their secrets not loaded).
        [[nodiscard]] result<detail_secret_service::item_list_ptr> search_foreign(
            detail_secret_service::operation& op, std::string_view service_attribute,
            std::optional<std::string_view> account, SecretSearchFlags flags, std::string_view what) {
            namespace ds = detail_secret_service;
            const std::string service_text(service_attribute);
            const std::string account_text(account.value_or(std::string_view()));
            ds::hash_table_ptr table(g_hash_table_new(g_str_hash, g_str_equal));
            g_hash_table_insert(table.get(), const_cast<gchar*>(foreign_service_attribute.data()),
                                const_cast<gchar*>(service_text.c_str()));
            if (account)
                g_hash_table_insert(table.get(), const_cast<gchar*>(foreign_account_attribute.data()),
                                    const_cast<gchar*>(account_text.c_str()));
            GAsyncResult* res = op.await([&](GAsyncReadyCallback cb, gpointer data) {
                secret_service_search(service.get(), nullptr, table.get(),
                                      static_cast<SecretSearchFlags>(SECRET_SEARCH_ALL | flags),
                                      op.cancellable(), cb, data);
            });
            if (res == nullptr) return gave_up(what);
            GError* raw_error = nullptr;
            ds::item_list_ptr items(secret_service_search_finish(service.get(), res, &raw_error));
            g_object_unref(res);
            if (raw_error != nullptr) {
                ds::gerror_ptr failure(raw_error);
                return ds::from_gerror(failure.get(), what, op.timed_out(), timeout);
            }
            return items;
        }

        /// The items of `account` (all the service's for nullopt) in the collection (nullptr when none),
        /// without unlocking or prompting.
        [[nodiscard]] result<detail_secret_service::item_list_ptr> search(
            detail_secret_service::operation& op, std::optional<std::string_view> account,
            SecretSearchFlags flags, std::string_view what) {
            namespace ds = detail_secret_service;
            const std::string account_text(account.value_or(std::string_view()));
            auto table = attributes(account ? &account_text : nullptr);
            GAsyncResult* res = op.await([&](GAsyncReadyCallback cb, gpointer data) {
                secret_collection_search(collection.get(), schema.get(), table.get(),
                                         static_cast<SecretSearchFlags>(SECRET_SEARCH_ALL | flags),
                                         op.cancellable(), cb, data);
            });
            if (res == nullptr) return gave_up(what);
            GError* raw_error = nullptr;
            ds::item_list_ptr items(secret_collection_search_finish(collection.get(), res, &raw_error));
            g_object_unref(res);
            if (raw_error != nullptr) {
                ds::gerror_ptr failure(raw_error);
                return ds::from_gerror(failure.get(), what, op.timed_out(), timeout);
            }
            return items;
        }
    };

    explicit secret_service(std::unique_ptr<state> st) : state_(std::move(st)) {}

    /// Decodes the base64 text of an item into secure memory.
    [[nodiscard]] static result<detail::secure_buffer> decode(const gchar* text, gsize size) {
        if (text == nullptr) return detail::secure_buffer{};
        detail::secure_buffer decoded(size / 4 * 3 + 3);
        std::size_t decoded_size = 0;
        const char* end = nullptr;
        if (sodium_base642bin(reinterpret_cast<unsigned char*>(decoded.data()), decoded.size(), text, size,
                              nullptr, &decoded_size, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
            end != text + size)
            return error{
                errc::damaged_key,
                "keyring::secret_service: read: the item is not base64 text (damaged, or written by another "
                "program?); left in place"};
        decoded.shrink(decoded_size);
        return decoded;
    }

    std::unique_ptr<state> state_;
};

static_assert(check<secret_service>() && enumerable_keyring<secret_service>);
static_assert(foreign_item_reader<secret_service>,
              "keyring::secret_service must model foreign_item_reader (tokenvault/keyring/foreign.hpp)");

}  // namespace tokenvault::keyring
