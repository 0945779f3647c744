// tests/integration/test_keyring_secret_service.cpp: keyring::secret_service against a real gnome-keyring.
//
// Run through tests/integration/run_with_keyring.sh (a private D-Bus session with gnome-keyring-daemon;
// it sets TOKENVAULT_TEST_SECRET_SERVICE=1). Without it only the "no D-Bus" cases run. Hangs are real: the
// daemon is SIGSTOPped, and a socket that accepts but never answers stands in for a hung bus (in a spawned
// copy of this binary). Locking uses a throw-away collection made through gnome-keyring's password
// interface, so it can be unlocked again.
#include <doctest/doctest.h>

#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenvault/keyring/file.hpp"
#include "tokenvault/keyring/first_available.hpp"
#include "tokenvault/keyring/secret_service.hpp"

#include "support/secret_service_bus.hpp"
#include "support/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace tokenvault;
using tokenvault::keyring::secret_service;
using clock_type = std::chrono::steady_clock;

extern "C" char** environ;  // NOLINT

namespace {

using tvtest::alias_guard;
using tvtest::bus;

constexpr std::string_view canary = "CANARY-secret-service-refresh-token-5d1e";

bool daemon_expected() {
    const char* flag = std::getenv("TOKENVAULT_TEST_SECRET_SERVICE");
    return flag != nullptr && std::string_view(flag) == "1";
}

std::vector<std::byte> bytes_of(std::string_view text) {
    const auto* p = reinterpret_cast<const std::byte*>(text.data());
    return {p, p + text.size()};
}

keyring_options unique_options(std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
    static int counter = 0;
    keyring_options options;
    options.service = "tvtest-ss-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
    options.timeout = timeout;
    return options;
}

secret_service open_service(const keyring_options& options) {
    auto opened = secret_service::open(options);
    REQUIRE_MESSAGE(opened, (opened ? std::string() : opened.error().message()));
    REQUIRE(opened->has_value());
    return std::move(**opened);
}

std::string run(const std::string& command) {
    std::string out;
    FILE* pipe = ::popen(command.c_str(), "r");
    REQUIRE(pipe != nullptr);
    char buffer[4096];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
    ::pclose(pipe);
    return out;
}

/// SIGSTOPs a process for the scope; SIGCONT on exit whatever happens.
class stopped_process {
public:
    explicit stopped_process(pid_t pid) : pid_(pid) { REQUIRE(::kill(pid_, SIGSTOP) == 0); }
    ~stopped_process() { (void)::kill(pid_, SIGCONT); }
    stopped_process(const stopped_process&) = delete;
    stopped_process& operator=(const stopped_process&) = delete;

private:
    pid_t pid_;
};

/// A unix socket that accepts connections (into its backlog) and never says a word.
class silent_socket {
public:
    silent_socket() {
        path_ = scratch_.path() / "bus";
        fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd_ >= 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        REQUIRE(path_.string().size() < sizeof addr.sun_path);
        std::memcpy(addr.sun_path, path_.c_str(), path_.string().size());
        REQUIRE(::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
        REQUIRE(::listen(fd_, 16) == 0);
    }
    ~silent_socket() { ::close(fd_); }
    silent_socket(const silent_socket&) = delete;
    silent_socket& operator=(const silent_socket&) = delete;
    [[nodiscard]] std::string address() const { return "unix:path=" + path_.string(); }

private:
    tvtest::temp_dir scratch_;
    fs::path path_;
    int fd_ = -1;
};

std::chrono::milliseconds since(clock_type::time_point start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - start);
}

/// Whether this process is the spawned copy that must run `name`.
bool is_child_case(std::string_view name) {
    const char* wanted = std::getenv("TOKENVAULT_TEST_CHILD_CASE");
    return wanted != nullptr && name == wanted;
}

/// Runs the test case `name` in a fresh copy of this binary; `env` entries are "NAME=value" (set) or
/// "NAME" (unset). Returns the child's exit status (0: its checks passed), or -1.
int run_child_case(const std::string& name, const std::vector<std::string>& env) {
    std::vector<std::string> entries;
    for (char** e = environ; *e != nullptr; ++e) {
        const std::string_view entry(*e);
        const auto key = entry.substr(0, entry.find('='));
        bool overridden = key == "TOKENVAULT_TEST_CHILD_CASE";
        for (const auto& change : env) overridden = overridden || change.substr(0, change.find('=')) == key;
        if (!overridden) entries.emplace_back(entry);
    }
    for (const auto& change : env)
        if (change.find('=') != std::string::npos) entries.push_back(change);
    entries.push_back("TOKENVAULT_TEST_CHILD_CASE=" + name);
    std::vector<char*> envp;
    for (auto& entry : entries) envp.push_back(entry.data());
    envp.push_back(nullptr);
    std::string exe = "/proc/self/exe";
    std::string filter = "--test-case=" + name;
    std::string quiet = "--no-intro=true";
    char* argv[] = {exe.data(), filter.data(), quiet.data(), nullptr};
    pid_t pid = 0;
    if (::posix_spawn(&pid, exe.c_str(), nullptr, nullptr, argv, envp.data()) != 0) return -1;
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
}

/// first_available<secret_service, file> opens the file tier and records why secret_service did not open.
void check_falls_through_to_file(keyring_options options, std::optional<errc> reason) {
    tvtest::temp_dir scratch;
    options.directory = scratch.path() / "k";
    auto chain = keyring::first_available<secret_service, keyring::file>::open(options);
    REQUIRE_MESSAGE(chain, (chain ? std::string() : chain.error().message()));
    REQUIRE(chain->has_value());
    CHECK((*chain)->tier_name() == "file");
    REQUIRE((*chain)->resolution().size() == 2);
    CHECK((*chain)->resolution()[0].tier == "secret_service");
    CHECK_FALSE((*chain)->resolution()[0].opened);
    CHECK((*chain)->resolution()[0].reason == make_error_code(reason.value_or(errc::keyring_unavailable)));
}

}  // namespace

// The bus address is process state (GLib keeps one session-bus connection per process), so the cases
// that change it run in a fresh copy of this test binary, spawned with the environment they need.
TEST_CASE(
    "secret_service: no D-Bus at all -> not available here, and first_available falls through to file") {
    tvtest::temp_dir scratch;
    CHECK(run_child_case("child: no session bus", {"DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR"}) == 0);
    CHECK(run_child_case("child: dead bus address", {"DBUS_SESSION_BUS_ADDRESS=unix:path=" +
                                                     (scratch.path() / "no-such-bus").string()}) == 0);
}

TEST_CASE("secret_service: a bus that accepts but never answers -> keyring_timeout within the timeout") {
    CHECK(run_child_case("child: silent bus", {}) == 0);
}

TEST_CASE("child: no session bus") {
    if (!is_child_case("child: no session bus")) return;
    REQUIRE(std::getenv("DBUS_SESSION_BUS_ADDRESS") == nullptr);
    auto opened = secret_service::open(unique_options());
    REQUIRE(opened);
    CHECK_FALSE(opened->has_value());
    check_falls_through_to_file(unique_options(), std::nullopt);
}

TEST_CASE("child: dead bus address") {
    if (!is_child_case("child: dead bus address")) return;
    const auto start = clock_type::now();
    auto opened = secret_service::open(unique_options());
    REQUIRE_MESSAGE(opened, (opened ? std::string() : opened.error().message()));
    CHECK_FALSE(opened->has_value());
    CHECK(since(start) < std::chrono::milliseconds(1000));
    check_falls_through_to_file(unique_options(), std::nullopt);
}

TEST_CASE("child: silent bus") {
    if (!is_child_case("child: silent bus")) return;
    silent_socket silent;
    REQUIRE(::setenv("DBUS_SESSION_BUS_ADDRESS", silent.address().c_str(), 1) == 0);
    const auto timeout = std::chrono::milliseconds(300);
    const auto start = clock_type::now();
    auto opened = secret_service::open(unique_options(timeout));
    const auto elapsed = since(start);
    REQUIRE_FALSE(opened);
    CHECK(opened.error() == errc::keyring_timeout);
    CHECK(elapsed >= timeout - std::chrono::milliseconds(20));
    CHECK(elapsed < timeout + std::chrono::milliseconds(700));
    MESSAGE("open against a silent bus gave up after " << elapsed.count()
                                                       << " ms: " << opened.error().message());
    check_falls_through_to_file(unique_options(timeout), errc::keyring_timeout);
}

TEST_CASE("secret_service: real gnome-keyring round trip") {
    if (!daemon_expected()) {
        MESSAGE("no Secret Service here: run through tests/integration/run_with_keyring.sh");
        return;
    }
    const auto options = unique_options();
    auto ring = open_service(options);
    CHECK(ring.tier_name() == "secret_service");
    CHECK(ring.collection_path() != "/org/freedesktop/secrets/collection/session");
    static_assert(secret_service::persistent);

    SUBCASE("missing item is absent, not an error") {
        auto got = ring.read("no-such-account");
        REQUIRE(got);
        CHECK_FALSE(got->has_value());
        auto erased = ring.erase("no-such-account");
        REQUIRE(erased);
        CHECK_FALSE(*erased);
    }

    SUBCASE("every byte value round trips; replace; erase") {
        std::vector<std::byte> secret = bytes_of(canary);
        for (int b = 0; b < 256; ++b) secret.push_back(static_cast<std::byte>(b));
        REQUIRE(ring.write("acct", secret));
        auto got = ring.read("acct");
        REQUIRE(got);
        REQUIRE(got->has_value());
        CHECK((*got)->equals(secret));

        // Another process (secret-tool) finds the item by its attributes: base64 text, a label without
        // secret.
        const std::string lookup =
            run("secret-tool lookup service '" + options.service + "' account acct 2>/dev/null");
        CHECK(lookup.rfind("Q0FOQVJZ", 0) == 0);  // base64 of "CANARY"
        const std::string listing =
            run("secret-tool search --all service '" + options.service + "' account acct 2>&1");
        CHECK(listing.find("label = tokenvault " + options.service + " acct") != std::string::npos);
        CHECK(listing.find("schema = org.tokenvault.Secret") != std::string::npos);
        CHECK(listing.find("attribute.service = " + options.service) != std::string::npos);
        CHECK(listing.find("secret = Q0FOQVJZ") != std::string::npos);  // stored as base64 text
        CHECK(listing.find(canary) == std::string::npos);

        // A second, independent instance sees it.
        auto other = open_service(options);
        auto seen = other.read("acct");
        REQUIRE(seen);
        REQUIRE(seen->has_value());
        CHECK((*seen)->equals(secret));

        REQUIRE(ring.write("acct", bytes_of("replaced")));
        got = ring.read("acct");
        REQUIRE(got);
        REQUIRE(got->has_value());
        CHECK((*got)->equals(bytes_of("replaced")));
        const std::string count =
            run("secret-tool search --all service '" + options.service + "' 2>&1 | grep -c '^label'");
        CHECK(count == "1\n");  // replaced, not duplicated

        auto erased = ring.erase("acct");
        REQUIRE(erased);
        CHECK(*erased);
        got = ring.read("acct");
        REQUIRE(got);
        CHECK_FALSE(got->has_value());
        erased = ring.erase("acct");
        REQUIRE(erased);
        CHECK_FALSE(*erased);
    }

    SUBCASE("services are separate namespaces") {
        REQUIRE(ring.write("shared-name", bytes_of("mine")));
        auto other = open_service(unique_options());
        auto got = other.read("shared-name");
        REQUIRE(got);
        CHECK_FALSE(got->has_value());
        REQUIRE(ring.erase("shared-name"));
    }

    SUBCASE("an item that is not base64 (another program's) is reported, never taken as absent") {
        const std::string store =
            "printf 'not base64!' | secret-tool store --label=x xdg:schema org.tokenvault.Secret service '" +
            options.service + "' account foreign 2>&1";
        CHECK(run(store).empty());
        auto got = ring.read("foreign");
        REQUIRE_FALSE(got);
        CHECK(got.error() == errc::damaged_key);
        REQUIRE(ring.erase("foreign"));
    }

    SUBCASE("list_accounts names this service's items by prefix, without loading secrets") {
        REQUIRE(ring.write("legacy-a", bytes_of("1")));
        REQUIRE(ring.write("legacy-b", bytes_of("2")));
        REQUIRE(ring.write("current", bytes_of("3")));
        auto other = open_service(unique_options());
        REQUIRE(other.write("legacy-c", bytes_of("4")));
        auto legacy = ring.list_accounts("legacy-");
        REQUIRE(legacy);
        CHECK(*legacy == std::vector<std::string>{"legacy-a", "legacy-b"});
        auto all = ring.list_accounts("");
        REQUIRE(all);
        CHECK(*all == std::vector<std::string>{"current", "legacy-a", "legacy-b"});
        for (const auto* account : {"legacy-a", "legacy-b", "current"}) REQUIRE(ring.erase(account));
        REQUIRE(other.erase("legacy-c"));
    }

    SUBCASE("size limit") {
        std::vector<std::byte> big(secret_service::max_item_size + 1, std::byte{1});
        auto refused = ring.write("big", big);
        REQUIRE_FALSE(refused);
        CHECK(refused.error() == errc::keyring_item_too_large);
    }
}

TEST_CASE(
    "secret_service: a daemon that stops answering -> keyring_timeout within the timeout, then recovers") {
    if (!daemon_expected()) return;
    const auto timeout = std::chrono::milliseconds(400);
    const auto options = unique_options(timeout);
    auto ring = open_service(options);
    REQUIRE(ring.write("acct", bytes_of(canary)));
    bus test_bus;
    const pid_t daemon = test_bus.daemon_pid();
    REQUIRE(daemon > 1);
    {
        stopped_process frozen(daemon);
        for (const char* what : {"read", "write", "erase", "open"}) {
            const auto start = clock_type::now();
            std::error_code code;
            std::string message;
            const std::string op(what);
            if (op == "read") {
                auto r = ring.read("acct");
                REQUIRE_FALSE(r);
                code = r.error().code;
                message = r.error().message();
            } else if (op == "write") {
                auto r = ring.write("acct", bytes_of(canary));
                REQUIRE_FALSE(r);
                code = r.error().code;
                message = r.error().message();
            } else if (op == "erase") {
                auto r = ring.erase("acct");
                REQUIRE_FALSE(r);
                code = r.error().code;
                message = r.error().message();
            } else {
                auto r = secret_service::open(options);
                REQUIRE_FALSE(r);
                code = r.error().code;
                message = r.error().message();
            }
            const auto elapsed = since(start);
            CAPTURE(op);
            CHECK(code == make_error_code(errc::keyring_timeout));
            CHECK(elapsed >= timeout - std::chrono::milliseconds(20));
            CHECK(elapsed < timeout + std::chrono::milliseconds(700));
            CHECK(message.find(canary) == std::string::npos);
            MESSAGE(op << " against a stopped daemon gave up after " << elapsed.count() << " ms");
        }
    }
    // Continued: the same keyring object works again (the queued calls were answered and dropped).
    auto got = ring.read("acct");
    REQUIRE_MESSAGE(got, (got ? std::string() : got.error().message()));
    REQUIRE(got->has_value());
    CHECK((*got)->equals(bytes_of(canary)));
    REQUIRE(ring.erase("acct"));
}

TEST_CASE("secret_service: locked and volatile collections") {
    if (!daemon_expected()) return;
    bus test_bus;
    alias_guard restore_default(test_bus);

    SUBCASE("the session collection is refused unless allowed") {
        test_bus.set_alias("default", "/org/freedesktop/secrets/collection/session");
        auto refused = secret_service::open(unique_options());
        REQUIRE_FALSE(refused);
        CHECK(refused.error() == errc::volatile_collection_refused);

        auto options = unique_options();
        options.allow_volatile_collection = true;
        auto ring = open_service(options);
        CHECK(ring.collection_path() == "/org/freedesktop/secrets/collection/session");
        REQUIRE(ring.write("acct", bytes_of("volatile")));
        REQUIRE(ring.erase("acct"));
    }

    SUBCASE(
        "a locked collection is keyring_locked for every call, never a prompt; unlocked, it works again") {
        constexpr std::string_view password = "tvtest-collection-password";
        const auto collection = test_bus.create_collection("tvtest locked", password);
        if (!collection) return;
        test_bus.set_alias("default", *collection);
        const auto options = unique_options();
        auto ring = open_service(options);
        CHECK(ring.collection_path() == *collection);
        REQUIRE(ring.write("acct", bytes_of(canary)));

        REQUIRE(test_bus.lock(*collection));
        auto read = ring.read("acct");
        REQUIRE_FALSE(read);
        CHECK(read.error() == errc::keyring_locked);
        auto absent = ring.read("never-written");  // locked: cannot know, so not "absent"
        REQUIRE_FALSE(absent);
        CHECK(absent.error() == errc::keyring_locked);
        auto write = ring.write("acct", bytes_of("new"));
        REQUIRE_FALSE(write);
        CHECK(write.error() == errc::keyring_locked);
        auto erase = ring.erase("acct");
        REQUIRE_FALSE(erase);
        CHECK(erase.error() == errc::keyring_locked);
        auto list = ring.list_accounts("");
        REQUIRE_FALSE(list);
        CHECK(list.error() == errc::keyring_locked);
        auto reopened = secret_service::open(options);
        REQUIRE_FALSE(reopened);
        CHECK(reopened.error() == errc::keyring_locked);

        tvtest::temp_dir scratch;
        auto chain_options = options;
        chain_options.directory = scratch.path() / "k";
        auto chain = keyring::first_available<secret_service, keyring::file>::open(chain_options);
        REQUIRE(chain);
        REQUIRE(chain->has_value());
        CHECK((*chain)->tier_name() == "file");
        CHECK((*chain)->resolution()[0].reason == make_error_code(errc::keyring_locked));
        auto named = keyring::first_available<secret_service, keyring::file>::open_tier(chain_options,
                                                                                        "secret_service");
        REQUIRE_FALSE(
            named);  // the tier that holds a key was asked for by name: say why, do not fall through
        CHECK(named.error() == errc::keyring_locked);

        REQUIRE(test_bus.unlock(*collection, password));
        auto got = ring.read("acct");
        REQUIRE_MESSAGE(got, (got ? std::string() : got.error().message()));
        REQUIRE(got->has_value());
        CHECK((*got)->equals(bytes_of(canary)));
        REQUIRE(ring.erase("acct"));
        test_bus.delete_collection(*collection);
    }
}
