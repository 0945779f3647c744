// tokenvault/detail/libsecret_calls.hpp: the GLib plumbing under keyring::secret_service.
//
// Owning pointers for the GLib and libsecret types; one async libsecret call bounded by a timeout on a
// private GMainContext (operation: a timer cancels the call, a second one gives up waiting for the
// cancellation), safe when a callback lands after its waiter has gone (pending_call, in_flight_count);
// GError to tokenvault error mapping; the session-bus address without autolaunch. Nothing here knows
// about items, schemas or collections: that is keyring/secret_service.hpp. Needs libsecret-1
// (pkg-config); not in tokenvault.hpp.
#pragma once

#include <libsecret/secret.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "../error.hpp"
#include "../result.hpp"

namespace tokenvault::detail::glib {

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
[[nodiscard]] inline tokenvault::error from_gerror(const GError* e, std::string_view op, bool timed_out,
                                                   std::chrono::milliseconds timeout) {
    const std::string where = "keyring::secret_service: " + std::string(op);
    const std::string context = where + ": " + (e->message != nullptr ? e->message : "unknown error");
    if (g_error_matches(e, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        if (timed_out)
            return tokenvault::error{tokenvault::errc::keyring_timeout,
                                     where + ": no answer within " + std::to_string(timeout.count()) + " ms"};
        // Not our cancellation (libsecret cancels its own calls when its objects go away).
        return tokenvault::error{tokenvault::errc::keyring_unavailable, where + ": the call was cancelled"};
    }
    if (g_error_matches(e, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) ||
        g_error_matches(e, G_DBUS_ERROR, G_DBUS_ERROR_TIMEOUT) ||
        g_error_matches(e, G_DBUS_ERROR, G_DBUS_ERROR_TIMED_OUT) ||
        g_error_matches(e, G_DBUS_ERROR, G_DBUS_ERROR_NO_REPLY))
        return tokenvault::error{tokenvault::errc::keyring_timeout, context};
    if (g_error_matches(e, SECRET_ERROR, SECRET_ERROR_IS_LOCKED))
        return tokenvault::error{tokenvault::errc::keyring_locked, context};
    if (g_error_matches(e, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED) ||
        g_error_matches(e, G_DBUS_ERROR, G_DBUS_ERROR_AUTH_FAILED) ||
        g_error_matches(e, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED))
        return tokenvault::error{tokenvault::errc::keyring_denied, context};
    if (g_dbus_error_is_remote_error(e)) {  // names libsecret did not register
        gchar* remote = g_dbus_error_get_remote_error(e);
        const std::string name = remote != nullptr ? remote : "";
        g_free(remote);
        if (name.find("IsLocked") != std::string::npos)
            return tokenvault::error{tokenvault::errc::keyring_locked, context};
        if (name.find("Denied") != std::string::npos)
            return tokenvault::error{tokenvault::errc::keyring_denied, context};
    }
    return tokenvault::error{tokenvault::errc::keyring_unavailable, context};
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

}  // namespace tokenvault::detail::glib
