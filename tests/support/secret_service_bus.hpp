// tests/support/secret_service_bus.hpp: a test-side D-Bus connection to the Secret Service of
// tests/integration/run_with_keyring.sh, for set-up calls: aliases, collections with a known password
// (gnome-keyring's prompt-free interface), locking and unlocking them.
#pragma once

#include <doctest/doctest.h>

#include <gio/gio.h>
#include <sys/types.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace tvtest {

/// A test-side D-Bus connection for set-up calls (never used while the daemon is stopped).
class bus {
public:
    bus() {
        GError* e = nullptr;
        const char* address = std::getenv("DBUS_SESSION_BUS_ADDRESS");
        REQUIRE(address != nullptr);
        connection_ = g_dbus_connection_new_for_address_sync(
            address,
            static_cast<GDBusConnectionFlags>(G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                              G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION),
            nullptr, nullptr, &e);
        REQUIRE_MESSAGE(connection_ != nullptr, (e != nullptr ? e->message : ""));
    }
    ~bus() {
        g_dbus_connection_close_sync(connection_, nullptr, nullptr);
        g_object_unref(connection_);
    }
    bus(const bus&) = delete;
    bus& operator=(const bus&) = delete;

    /// Calls a method synchronously (5 s bound); the reply, or nullptr with the error in `*message`.
    GVariant* call(const char* dest, const char* path, const char* iface, const char* method, GVariant* args,
                   std::string* message = nullptr) {
        GError* e = nullptr;
        GVariant* reply = g_dbus_connection_call_sync(connection_, dest, path, iface, method, args, nullptr,
                                                      G_DBUS_CALL_FLAGS_NONE, 5000, nullptr, &e);
        if (reply == nullptr) {
            if (message != nullptr) *message = e->message;
            g_error_free(e);
        }
        return reply;
    }

    /// The process id of the Secret Service daemon on this bus.
    pid_t daemon_pid() {
        GVariant* reply = call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                               "GetConnectionUnixProcessID", g_variant_new("(s)", "org.freedesktop.secrets"));
        REQUIRE(reply != nullptr);
        guint32 pid = 0;
        g_variant_get(reply, "(u)", &pid);
        g_variant_unref(reply);
        return static_cast<pid_t>(pid);
    }

    std::string read_alias(const char* alias) {
        GVariant* reply = call("org.freedesktop.secrets", "/org/freedesktop/secrets",
                               "org.freedesktop.Secret.Service", "ReadAlias", g_variant_new("(s)", alias));
        REQUIRE(reply != nullptr);
        const gchar* path = nullptr;
        g_variant_get(reply, "(&o)", &path);
        std::string result = path;
        g_variant_unref(reply);
        return result;
    }

    void set_alias(const char* alias, const std::string& path) {
        std::string message;
        GVariant* reply =
            call("org.freedesktop.secrets", "/org/freedesktop/secrets", "org.freedesktop.Secret.Service",
                 "SetAlias", g_variant_new("(so)", alias, path.c_str()), &message);
        REQUIRE_MESSAGE(reply != nullptr, message);
        g_variant_unref(reply);
    }

    /// A "plain" transfer session, needed to hand gnome-keyring a master password.
    std::string plain_session() {
        GVariant* reply =
            call("org.freedesktop.secrets", "/org/freedesktop/secrets", "org.freedesktop.Secret.Service",
                 "OpenSession", g_variant_new("(sv)", "plain", g_variant_new_string("")));
        REQUIRE(reply != nullptr);
        GVariant* output = nullptr;
        const gchar* path = nullptr;
        g_variant_get(reply, "(v&o)", &output, &path);
        std::string result = path;
        g_variant_unref(output);
        g_variant_unref(reply);
        return result;
    }

    GVariant* master_password(const std::string& session, std::string_view password) {
        return g_variant_new(
            "(o@ay@ays)", session.c_str(), g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, "", 0, 1),
            g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, password.data(), password.size(), 1),
            "text/plain");
    }

    /// Creates a collection with a known password (gnome-keyring's prompt-free interface); its path.
    std::optional<std::string> create_collection(const char* label, std::string_view password) {
        const std::string session = plain_session();
        GVariantBuilder props;
        g_variant_builder_init(&props, G_VARIANT_TYPE("a{sv}"));
        g_variant_builder_add(&props, "{sv}", "org.freedesktop.Secret.Collection.Label",
                              g_variant_new_string(label));
        std::string message;
        GVariant* reply =
            call("org.freedesktop.secrets", "/org/freedesktop/secrets",
                 "org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface", "CreateWithMasterPassword",
                 g_variant_new("(a{sv}@(oayays))", &props, master_password(session, password)), &message);
        if (reply == nullptr) {
            MESSAGE("cannot create a test collection: " << message);
            return std::nullopt;
        }
        const gchar* path = nullptr;
        g_variant_get(reply, "(&o)", &path);
        std::string result = path;
        g_variant_unref(reply);
        return result;
    }

    bool lock(const std::string& collection) {
        GVariantBuilder paths;
        g_variant_builder_init(&paths, G_VARIANT_TYPE("ao"));
        g_variant_builder_add(&paths, "o", collection.c_str());
        GVariant* reply = call("org.freedesktop.secrets", "/org/freedesktop/secrets",
                               "org.freedesktop.Secret.Service", "Lock", g_variant_new("(ao)", &paths));
        if (reply == nullptr) return false;
        g_variant_unref(reply);
        return true;
    }

    bool unlock(const std::string& collection, std::string_view password) {
        const std::string session = plain_session();
        std::string message;
        GVariant* reply = call(
            "org.freedesktop.secrets", "/org/freedesktop/secrets",
            "org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface", "UnlockWithMasterPassword",
            g_variant_new("(o@(oayays))", collection.c_str(), master_password(session, password)), &message);
        if (reply == nullptr) {
            MESSAGE("unlock failed: " << message);
            return false;
        }
        g_variant_unref(reply);
        return true;
    }

    void delete_collection(const std::string& collection) {
        GVariant* reply = call("org.freedesktop.secrets", collection.c_str(),
                               "org.freedesktop.Secret.Collection", "Delete", nullptr);
        if (reply != nullptr) g_variant_unref(reply);
    }

private:
    GDBusConnection* connection_ = nullptr;
};

/// Restores the "default" alias at scope exit.
class alias_guard {
public:
    explicit alias_guard(bus& b) : bus_(b), original_(b.read_alias("default")) {}
    ~alias_guard() { bus_.set_alias("default", original_); }
    alias_guard(const alias_guard&) = delete;
    alias_guard& operator=(const alias_guard&) = delete;

private:
    bus& bus_;
    std::string original_;
};

}  // namespace tvtest
