// tests/integration/test_import_codex_keyring_secret_service.cpp: importing the MCP logins Codex keeps in the
// Secret Service, against a real gnome-keyring (tests/integration/run_with_keyring.sh).
//
// The items are written exactly as Codex CLI 0.171.0 writes them (its Rust keyring crate 3.6.3: schema
// org.freedesktop.Secret.Generic, attributes application/service/target/username, its label, the JSON
// secret as text/plain); the first secret is byte for byte what Codex stored after `codex mcp add` logged in
// to tests/fixtures/oauth_login_server.mjs (tests/fixtures/clients/codex-0.171.0-keyring-item.json).
// Every item must be byte-identical afterwards: label, attributes, secret, creation and modification time.
#include <doctest/doctest.h>

#include <libsecret/secret.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenvault/backend/sealed_file.hpp"
#include "tokenvault/cipher/xchacha20poly1305.hpp"
#include "tokenvault/diagnostics/callback.hpp"
#include "tokenvault/keyring/memory.hpp"
#include "tokenvault/keyring/secret_service.hpp"
#include "tokenvault/locking/process.hpp"
#include "tokenvault/migration/codex_keyring.hpp"
#include "tokenvault/store.hpp"

#include "support/legacy.hpp"
#include "support/secret_service_bus.hpp"
#include "support/temp_dir.hpp"
#include "support/tokens.hpp"

namespace tv = tokenvault;

namespace {

bool daemon_expected() {
    const char* flag = std::getenv("TOKENVAULT_TEST_SECRET_SERVICE");
    return flag != nullptr && std::string_view(flag) == "1";
}

// Stored by Codex CLI 0.171.0 (keyring mode) after logging in to the local authorization server.
const std::string codex_item =
    R"({"server_name":"fixture","url":"http://127.0.0.1:18080/mcp","issuer":"http://127.0.0.1:18080","client_id":"X9kUOZtsCzJUOs3itf9QbuHMr3ZclwxNvEkKHm-QyLo","token_response":{"access_token":"r6raEORzMuF12gv3M2v1c36mStSqprwR1lj_Qs0IVM9","token_type":"bearer","expires_in":3600,"refresh_token":"20NQiVUgBKxunCKolmxeIMpV6T7sVVbeTsZR9qs18CM","scope":"mcp.read mcp.write","id_token":"eyJhbGciOiJSUzI1NiIsImtpZCI6ImtleXN0b3JlLUNIQU5HRS1NRSJ9.eyJzdWIiOiJmaXh0dXJlLXVzZXIiLCJhdWQiOiJYOWtVT1p0c0N6SlVPczNpdGY5UWJ1SE1yM1pjbHd4TnZFa0tIbS1ReUxvIiwiZXhwIjoxNzk1OTcwMDUzLCJpYXQiOjE3OTU5NjY0NTMsImlzcyI6Imh0dHA6Ly8xMjcuMC4wLjE6MTgwODAifQ.k_Hmn__vwdXHXHqLZ-koGz0m7gbPd24pkzyjvbaJMciZlqDqCgDP_jkQuZsWcWHZ5a2KqlcLbFilUvrwQfwS0Qpo1mVvKH8CVYIO0-wyOl2MqfXaGtkz1lFkoAOiFaveO2mvOK0lfaINeBcGoZ9pJGgXr8NA4wVjJTDcuoR-t-7FW1svMQgE8bpnS_gb4fSW7VM0Egp2vr-V71zbNwojkiAP3XeyZ46AHjXaTg6yCedtgKD_ljcq_QvaoScB68-8Yuv1L6lCib0ywDhnNOQaTQjySOVUAiPLwbZKhJVzJbstFCoc-Qhb1Oq96xfbeOE_yAIPrSJDGMBCwCuvO-Nl4w"},"expires_at":1795970053628})";
// The same server under another name, expiring earlier (an older login): loses to the one above.
const std::string codex_item_older =
    R"({"server_name":"fixture-old","url":"http://127.0.0.1:18080/mcp","client_id":"old-client","token_response":{"access_token":"older-at","token_type":"bearer","expires_in":3600,"scope":"mcp.read"},"expires_at":1700000000000})";
// A second server, from a Codex build that wrote no issuer and no expiry.
const std::string codex_item_second =
    R"({"server_name":"second","url":"https://second.example.com/mcp","client_id":"second-client","token_response":{"access_token":"second-at","token_type":"bearer"},"expires_at":null})";

/// Writes an item as the Rust keyring crate 3.6.3 does for Codex (service, username, target, application).
void write_codex_item(const std::string& account, const std::string& secret, const char* collection = nullptr,
                      const std::string& service = "Codex MCP Credentials") {
    const SecretSchema schema = {"org.freedesktop.Secret.Generic",
                                 SECRET_SCHEMA_NONE,
                                 {{"application", SECRET_SCHEMA_ATTRIBUTE_STRING},
                                  {"service", SECRET_SCHEMA_ATTRIBUTE_STRING},
                                  {"target", SECRET_SCHEMA_ATTRIBUTE_STRING},
                                  {"username", SECRET_SCHEMA_ATTRIBUTE_STRING},
                                  {nullptr, SECRET_SCHEMA_ATTRIBUTE_STRING}},
                                 0,
                                 nullptr,
                                 nullptr,
                                 nullptr,
                                 nullptr,
                                 nullptr,
                                 nullptr,
                                 nullptr};
    const std::string label = account + "@" + service + ":default (keyring v3.6.3)";
    GError* error = nullptr;
    const gboolean stored = secret_password_store_sync(
        &schema, collection != nullptr ? collection : SECRET_COLLECTION_DEFAULT, label.c_str(),
        secret.c_str(), nullptr, &error, "application", "rust-keyring", "service", service.c_str(), "target",
        "default", "username", account.c_str(), nullptr);
    REQUIRE_MESSAGE(stored, (error != nullptr ? error->message : ""));
}

/// Everything observable about one item.
struct item_state {
    std::string label;
    std::map<std::string, std::string> attributes;
    std::string secret;
    guint64 created = 0;
    guint64 modified = 0;
    bool operator==(const item_state&) const = default;
};

/// Every item of every collection, by object path (secrets of unlocked items loaded).
std::map<std::string, item_state> snapshot() {
    GError* error = nullptr;
    SecretService* service = secret_service_get_sync(SECRET_SERVICE_LOAD_COLLECTIONS, nullptr, &error);
    REQUIRE(service != nullptr);
    std::map<std::string, item_state> out;
    GList* collections = secret_service_get_collections(service);
    for (GList* c = collections; c != nullptr; c = c->next) {
        auto* collection = SECRET_COLLECTION(c->data);
        REQUIRE(secret_collection_load_items_sync(collection, nullptr, &error));
        GList* items = secret_collection_get_items(collection);
        for (GList* i = items; i != nullptr; i = i->next) {
            auto* item = SECRET_ITEM(i->data);
            item_state state;
            gchar* label = secret_item_get_label(item);
            state.label = label;
            g_free(label);
            GHashTable* attributes = secret_item_get_attributes(item);
            GHashTableIter iter;
            gpointer key = nullptr, value = nullptr;
            g_hash_table_iter_init(&iter, attributes);
            while (g_hash_table_iter_next(&iter, &key, &value))
                state.attributes[static_cast<const char*>(key)] = static_cast<const char*>(value);
            g_hash_table_unref(attributes);
            if (secret_item_get_locked(item) == FALSE &&
                secret_item_load_secret_sync(item, nullptr, &error)) {
                SecretValue* secret = secret_item_get_secret(item);
                if (secret != nullptr) {
                    gsize size = 0;
                    const gchar* bytes = secret_value_get(secret, &size);
                    state.secret.assign(bytes, size);
                    secret_value_unref(secret);
                }
            }
            state.created = secret_item_get_created(item);
            state.modified = secret_item_get_modified(item);
            out[g_dbus_proxy_get_object_path(G_DBUS_PROXY(item))] = state;
        }
        g_list_free_full(items, g_object_unref);
    }
    g_list_free_full(collections, g_object_unref);
    g_object_unref(service);
    return out;
}

using key_holder = tv::keyring::allow_volatile<tv::keyring::memory>;
using codex_store =
    tv::token_store<tv::backend::sealed_file<key_holder>, tv::cipher::xchacha20poly1305, tv::locking::process,
                    tv::migration::from_codex_keyring<tv::keyring::secret_service>,
                    tv::diagnostics::callback>;

struct fixture {
    tvtest::temp_dir dir;
    tv::store_options options;
    std::vector<tv::events::any> events;
    fixture() {
        options.app_name = tvtest::unique_name("tv-codex-keyring");
        options.directory = dir.path() / "store";
        options.keyring_settings.timeout = std::chrono::milliseconds(10000);
    }
    std::unique_ptr<codex_store> open() {
        auto s = std::make_unique<codex_store>(options);
        s->diagnostics().set([this](const tv::events::any& e) { events.push_back(e); });
        return s;
    }
};

std::optional<tv::token> get(codex_store& store, const std::string& url) {
    auto got = store.get(tv::credential_id::parse(url).value());
    REQUIRE(got.has_value());
    return *got;
}

std::size_t failures_with(const std::vector<tv::events::any>& events, tv::errc code) {
    std::size_t n = 0;
    for (const auto& m : tvtest::migration_events(events))
        n += m.source == "codex_keyring" && m.skipped == 0 && m.failure == make_error_code(code);
    return n;
}

}  // namespace

TEST_CASE(
    "from_codex_keyring imports Codex's Secret Service items field-exact and leaves every item as it was") {
    if (!daemon_expected()) return;
    // Codex's own item, an older login to the same server, a second server, garbage, and an item of
    // another program under the same account name.
    write_codex_item("fixture|089c68f51447b06b", codex_item);
    write_codex_item("fixture-old|0123456789abcdef", codex_item_older);
    write_codex_item("second|fedcba9876543210", codex_item_second);
    write_codex_item("broken|aaaaaaaaaaaaaaaa", "not json {");
    write_codex_item("fixture|089c68f51447b06b", "{\"someone\":\"else\"}", nullptr, "Another Program");
    const auto before = snapshot();
    REQUIRE(before.size() >= 5);

    fixture f;
    {
        auto store = f.open();
        auto one = get(*store, "http://127.0.0.1:18080/mcp");
        REQUIRE(one.has_value());
        CHECK(one->access_token.reveal() == "r6raEORzMuF12gv3M2v1c36mStSqprwR1lj_Qs0IVM9");
        REQUIRE(one->refresh_token.has_value());
        CHECK(one->refresh_token->reveal() == "20NQiVUgBKxunCKolmxeIMpV6T7sVVbeTsZR9qs18CM");
        REQUIRE(one->id_token.has_value());
        CHECK(one->id_token->reveal().starts_with("eyJhbGciOiJSUzI1NiIs"));
        CHECK(one->token_type == "Bearer");
        CHECK(one->client_id == "X9kUOZtsCzJUOs3itf9QbuHMr3ZclwxNvEkKHm-QyLo");
        CHECK(one->issuer == "http://127.0.0.1:18080");
        CHECK(one->scopes == std::vector<std::string>{"mcp.read", "mcp.write"});
        CHECK(one->expires_at == tv::clock::time_point{std::chrono::milliseconds{1795970053628}});
        CHECK_FALSE(one->extra.contains("expires_in"));

        auto two = get(*store, "https://second.example.com/mcp");
        REQUIRE(two.has_value());
        CHECK(two->access_token.reveal() == "second-at");
        CHECK_FALSE(two->expires_at.has_value());
        CHECK(two->issuer.empty());

        CHECK(tvtest::migrated(f.events, "codex_keyring") == 2);
        CHECK(tvtest::skips(f.events, "codex_keyring", make_error_code(tv::errc::malformed_json)) == 1);
    }
    CHECK(snapshot() == before);  // read only: nothing created, changed, unlocked or deleted

    // A second start imports nothing, and a logout is never undone by the item that stays.
    f.events.clear();
    {
        auto store = f.open();
        REQUIRE(store->erase(tv::credential_id::parse("https://second.example.com/mcp").value()).value());
    }
    f.events.clear();
    auto again = f.open();
    CHECK_FALSE(get(*again, "https://second.example.com/mcp").has_value());
    CHECK(tvtest::migrated(f.events, "codex_keyring") == 0);
    CHECK(snapshot() == before);
}

TEST_CASE("from_codex_keyring: a locked keyring is reported once, imports nothing, unlocks nothing") {
    if (!daemon_expected()) return;
    tvtest::bus test_bus;
    tvtest::alias_guard restore_default(test_bus);
    const std::string password = "codex-locked-" + std::to_string(::getpid());
    const auto collection = test_bus.create_collection("codex-locked", password);
    REQUIRE(collection.has_value());
    test_bus.set_alias("default", *collection);
    write_codex_item(
        "locked|1111111111111111",
        R"({"server_name":"locked","url":"https://locked.example.com/mcp","client_id":"c","token_response":{"access_token":"locked-at","token_type":"bearer"}})",
        collection->c_str());
    REQUIRE(test_bus.lock(*collection));
    const auto before = snapshot();

    fixture f;
    {
        auto store = f.open();
        CHECK_FALSE(get(*store, "https://locked.example.com/mcp").has_value());
        CHECK(failures_with(f.events, tv::errc::keyring_locked) == 1);
        CHECK(store
                  ->put(tv::credential_id::parse("https://other.example.com/mcp").value(),
                        tvtest::sample_token("x"))
                  .has_value());  // start-up was not blocked
    }
    CHECK(snapshot() == before);  // still locked, nothing read

    REQUIRE(test_bus.unlock(*collection, password));
    fixture g;
    auto store = g.open();
    auto locked = get(*store, "https://locked.example.com/mcp");
    REQUIRE(locked.has_value());
    CHECK(locked->access_token.reveal() == "locked-at");
    test_bus.delete_collection(*collection);
}
