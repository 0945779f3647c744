// tokenvault/keyring/secret_service.hpp: keyring::secret_service, the freedesktop Secret Service (libsecret).
//
// Items (schema "org.tokenvault.Secret", attributes service + account, the secret as base64 text) live in
// the collection the "default" alias names; the volatile "session" collection is refused unless allowed
// and a locked one is errc::keyring_locked (never a prompt). Every call is bounded by options.timeout:
// async calls on a private GMainContext, cancelled by a timer (a timed-out write may still land later;
// the GLib plumbing is detail/libsecret_calls.hpp).
// Also reads other programs' items, read only (keyring/foreign.hpp: read_foreign, list_foreign).
// Uses GLib's shared session-bus connection (libsecret can use no other). Needs libsecret-1 (pkg-config);
// not in tokenvault.hpp.
#pragma once

#include <libsecret/secret.h>
#include <sodium.h>

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

#include "../detail/libsecret_calls.hpp"
#include "../detail/secure_buffer.hpp"
#include "../error.hpp"
#include "../result.hpp"
#include "concept.hpp"
#include "foreign.hpp"

namespace tokenvault::keyring {

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
        namespace ds = detail::glib;
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
        if (st->collection_path == session_collection && !options.allow_volatile_collection)
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
        namespace ds = detail::glib;
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
        namespace ds = detail::glib;
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
        namespace ds = detail::glib;
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
        namespace ds = detail::glib;
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
        namespace ds = detail::glib;
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
        namespace ds = detail::glib;
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
    /// The volatile collection (items lost at logout), refused unless options allow it.
    static constexpr std::string_view session_collection = "/org/freedesktop/secrets/collection/session";
    /// Everything GLib: owned here so the keyring object itself moves cheaply.
    struct state {
        GMainContext* context = nullptr;
        /// Calls started on `context` whose callbacks have not run (only calls given up on, between
        /// operations).
        detail::glib::in_flight_count in_flight = std::make_shared<std::atomic<std::size_t>>(0);
        detail::glib::gobject_ptr<GDBusConnection> connection;  // GLib's shared one: never closed
        detail::glib::gobject_ptr<SecretService> service;
        detail::glib::gobject_ptr<SecretCollection> collection;
        std::unique_ptr<SecretSchema, detail::glib::schema_unref> schema;
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
            detail::glib::drain(context, *in_flight, detail::glib::drain_ms);
            g_main_context_pop_thread_default(context);
            g_main_context_unref(context);
        }

        [[nodiscard]] error gave_up(std::string_view op) const {
            return error{errc::keyring_timeout, "keyring::secret_service: " + std::string(op) +
                                                    ": no answer within " + std::to_string(timeout.count()) +
                                                    " ms"};
        }

        /// The attributes that name `account`'s item (every item of the service for nullptr).
        [[nodiscard]] detail::glib::hash_table_ptr attributes(const std::string* account) const {
            detail::glib::hash_table_ptr table(g_hash_table_new(g_str_hash, g_str_equal));
            g_hash_table_insert(table.get(), const_cast<gchar*>("service"),
                                const_cast<gchar*>(service_name.c_str()));
            if (account != nullptr)
                g_hash_table_insert(table.get(), const_cast<gchar*>("account"),
                                    const_cast<gchar*>(account->c_str()));
            return table;
        }

        /// Asks the service (not a cached property) whether the collection is locked now.
        [[nodiscard]] result<void> require_unlocked(detail::glib::operation& op, std::string_view what) {
            namespace ds = detail::glib;
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
        [[nodiscard]] result<detail::glib::item_list_ptr> search_foreign(
            detail::glib::operation& op, std::string_view service_attribute,
            std::optional<std::string_view> account, SecretSearchFlags flags, std::string_view what) {
            namespace ds = detail::glib;
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
        [[nodiscard]] result<detail::glib::item_list_ptr> search(detail::glib::operation& op,
                                                                 std::optional<std::string_view> account,
                                                                 SecretSearchFlags flags,
                                                                 std::string_view what) {
            namespace ds = detail::glib;
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
