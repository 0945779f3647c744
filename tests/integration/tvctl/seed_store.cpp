// tests/integration/tvctl/seed_store.cpp: writes a token store for the tvctl tests and benchmark.
//
// usage: seed_store DIR APP COUNT CANARY [embedded|desktop|memory_tier|bulk]
// Stores COUNT credentials (https://mcp<i>.example.com/mcp, the first also under account "alice") whose
// secrets (access, refresh and ID tokens, client secret, an unknown field) all contain CANARY, through
// the store with diagnostics::resolution_log<diagnostics::callback>; every event is printed on stdout
// with all its fields (so a test can search them for the canary too). Modes: embedded (presets::embedded
// policies), desktop (presets::desktop: key in the Secret Service), memory_tier (key in a keyring tier
// that no tvctl can open), bulk (embedded, written as one bundle: fast for 1,000 tokens). Exit 0 on success.
#include <tokenvault/backend/sealed_file.hpp>
#include <tokenvault/cipher/xchacha20poly1305.hpp>
#include <tokenvault/diagnostics/callback.hpp>
#include <tokenvault/diagnostics/resolution_log.hpp>
#include <tokenvault/keyring/file.hpp>
#include <tokenvault/keyring/memory.hpp>
#include <tokenvault/locking/process.hpp>
#include <tokenvault/presets.hpp>
#include <tokenvault/store.hpp>

#if defined(TOKENVAULT_HAVE_SECRET_SERVICE) && TOKENVAULT_HAVE_SECRET_SERVICE
#include <tokenvault/presets_desktop.hpp>
#endif

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <type_traits>
#include <variant>

namespace tv = tokenvault;

namespace {

using log_policy = tv::diagnostics::resolution_log<tv::diagnostics::callback>;
template <class Preset>
using seeded_store = tv::token_store<typename Preset::backend_type, typename Preset::cipher_type,
                                     typename Preset::locking_type, tv::migration::none, log_policy>;
using memory_tier_store =
    tv::token_store<tv::backend::sealed_file<tv::keyring::allow_volatile<tv::keyring::memory>>,
                    tv::cipher::xchacha20poly1305, tv::locking::process, tv::migration::none, log_policy>;

tv::credential_id id_for(int i, const char* account = "") {
    return tv::credential_id::parse("https://mcp" + std::to_string(i) + ".example.com/mcp", account).value();
}

tv::token token_for(int i, const std::string& canary) {
    using namespace std::chrono;
    tv::token t;
    const std::string n = std::to_string(i);
    t.access_token = tv::secret_string{canary + "-access-" + n};
    t.refresh_token = tv::secret_string{canary + "-refresh-" + n};
    t.client_secret = tv::secret_string{canary + "-client-secret-" + n};
    t.id_token = tv::secret_string{canary + "-id-token-" + n};
    t.extra["unknown_secret_field"] = canary + "-extra-" + n;
    if (i % 3 == 0) t.expires_at = time_point_cast<seconds>(tv::clock::now()) + hours(1);
    if (i % 3 == 1) t.expires_at = time_point_cast<seconds>(tv::clock::now()) - hours(2);
    t.scopes = {"read", "write"};
    t.issuer = "https://auth.example.com";
    t.client_id = "client-" + n;
    return t;
}

/// Prints every field of every event (text only: events carry no secret by construction).
void print_event(const tv::events::any& any) {
    std::visit(
        [](const auto& e) {
            std::cout << "event";
            if constexpr (requires { e.tier; }) std::cout << " tier=" << e.tier;
            if constexpr (requires { e.failure; }) std::cout << " failure=" << e.failure.message();
            if constexpr (requires { e.credential; }) std::cout << " credential=" << e.credential;
            if constexpr (requires { e.operation; })
                std::cout << " operation=" << tv::events::to_string(e.operation);
            if constexpr (requires { e.original; })
                std::cout << " original=" << e.original << " moved_to=" << e.moved_to;
            if constexpr (requires { e.previous; })
                std::cout << " previous=" << e.previous << " current=" << e.current;
            if constexpr (requires { e.reason; }) {
                if constexpr (std::is_same_v<std::decay_t<decltype(e.reason)>, std::error_code>)
                    std::cout << " reason=" << e.reason.message();
                else
                    std::cout << " reason=" << tv::events::to_string(e.reason);
            }
            if constexpr (requires { e.backend; })
                std::cout << " backend=" << e.backend << " store=" << e.store;
            if constexpr (requires { e.source; }) std::cout << " source=" << e.source;
            if constexpr (requires { e.outcome; })
                std::cout << " outcome=" << tv::events::to_string(e.outcome);
            if constexpr (requires { e.lock; }) std::cout << " lock=" << tv::events::to_string(e.lock);
            if constexpr (requires { e.bytes; }) std::cout << " bytes=" << e.bytes;
            std::cout << '\n';
        },
        any);
}

template <class Store>
int seed(const tv::store_options& options, int count, const std::string& canary) {
    Store store(options);
    store.diagnostics().inner().set(print_event);
    for (int i = 0; i < count; ++i) {
        auto put = store.put(id_for(i), token_for(i, canary));
        if (!put) {
            std::cerr << "seed_store: " << put.error().message() << '\n';
            return 1;
        }
    }
    if (count > 0) {
        if (auto put = store.put(id_for(0, "alice"), token_for(count, canary)); !put) {
            std::cerr << "seed_store: " << put.error().message() << '\n';
            return 1;
        }
    }
    return 0;
}

// Writes all entries as one bundle through the backend (one seal instead of one per entry); with
// `unreadable`, also an entry this build cannot read (an expiry past 2200, as a hand edit or a buggy older
// writer would leave it), holding the canary too.
int seed_bulk(const tv::store_options& options, int count, const std::string& canary,
              bool unreadable = false) {
    using backend_type = tv::presets::embedded::backend_type;
    tv::diagnostics::none none;
    tv::store_context<tv::cipher::xchacha20poly1305, tv::diagnostics::none> ctx{none, options};
    backend_type backend(options);
    tv::locking::process locks;
    tv::locking::wait_report wait;
    auto lock = locks.lock_store(*backend.lock_path(), options.lock_timeout, wait);
    if (!lock) return 1;
    auto content = backend.load(ctx);
    if (!content) {
        std::cerr << "seed_store: " << content.error().message() << '\n';
        return 1;
    }
    for (int i = 0; i < count; ++i) {
        const auto id = id_for(i);
        content->entries.insert_or_assign(
            id.hash(), tv::entry{id, token_for(i, canary), ++content->last_generation, tv::clock::now(), {}});
    }
    if (unreadable) {
        const auto id = tv::credential_id::parse("https://odd.example.com/mcp").value();
        const std::string text = R"({"resource":")" + id.resource() + R"(","generation":)" +
                                 std::to_string(++content->last_generation) +
                                 R"(,"token":{"access_token":")" + canary +
                                 R"(-odd","expires_at":"2201-01-01T00:00:00Z"}})";
        content->unreadable.insert_or_assign(
            id.hash(), tv::unreadable_entry{tv::detail::secret_text(text.data(), text.size()), {}});
    }
    if (auto saved = backend.save(ctx, *content); !saved) {
        std::cerr << "seed_store: " << saved.error().message() << '\n';
        return 1;
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 5) {
        std::cerr
            << "usage: seed_store DIR APP COUNT CANARY [embedded|desktop|memory_tier|bulk|unreadable]\n";
        return 2;
    }
    tv::store_options options;
    options.directory = argv[1];
    options.app_name = argv[2];
    const int count = std::stoi(argv[3]);
    const std::string canary = argv[4];
    const std::string mode = argc > 5 ? argv[5] : "embedded";
    if (mode == "embedded") return seed<seeded_store<tv::presets::embedded>>(options, count, canary);
    if (mode == "memory_tier") return seed<memory_tier_store>(options, count, canary);
    if (mode == "bulk") return seed_bulk(options, count, canary);
    if (mode == "unreadable") return seed_bulk(options, count, canary, true);
#if defined(TOKENVAULT_HAVE_SECRET_SERVICE) && TOKENVAULT_HAVE_SECRET_SERVICE
    if (mode == "desktop") return seed<seeded_store<tv::presets::desktop>>(options, count, canary);
#endif
    std::cerr << "seed_store: unknown or unavailable mode " << mode << '\n';
    return 3;
}
