// tests/support/oauth_test_server.hpp: a token provider that behaves like a real authorization server.
//
// Every refresh rotates the refresh token; presenting one that was already rotated revokes the whole token
// family (reuse detection), as OAuth 2.1 servers do. Its state (families, configuration, call counts) lives
// in a JSON file guarded by a file lock in a directory the test owns, so every forked process talks to the
// same "server". Latency is real sleeping, before the server processes a request (a client killed then
// never reached it) or after (the server already rotated); `on_request` runs once the configuration
// of that request is read, so a test may reconfigure the server from then on. Failure modes: unavailable
// (HTTP 503), a timeout, invalid_grant, and broken responses. Tokens look like "at.<canary>.f<family>.<n>".
#pragma once

#include <tokenvault/lifecycle.hpp>
#include <tokenvault/platform/platform.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include <nlohmann/json.hpp>

namespace tvtest {

/// How the server behaves; shared by every process through the state file.
struct server_config {
    int request_ms = 0;    ///< latency before the server processes a refresh request
    int response_ms = 0;   ///< latency after the server processed a refresh
    int authorize_ms = 0;  ///< duration of a full login
    /// normal | unavailable | timeout | invalid_grant | garbage | empty_access | past_expiry |
    /// negative_expires_in | huge_refresh | direct_huge_refresh | direct_past_expiry
    std::string refresh_mode = "normal";
    std::string authorize_mode = "normal";  ///< normal | not_logged_in | unavailable
    int expires_in = 3600;                  ///< lifetime of issued access tokens, seconds
    bool rotate = true;                     ///< refresh issues a new refresh token
    bool send_scope = true;                 ///< responses carry "scope"
    std::string extra_fields = "{}";        ///< a JSON object merged into every successful refresh response
};

/// What the server saw.
struct server_counts {
    int refresh_calls = 0;    ///< refresh requests received (any outcome)
    int authorize_calls = 0;  ///< full logins
    int rotations = 0;        ///< successful refreshes
    int reuse_detected = 0;   ///< rotated refresh tokens presented again
    int rejected = 0;         ///< invalid_grant answers
};

/// A client of the shared test authorization server; models tokenvault::token_provider.
class oauth_test_server {
public:
    /// The server whose state lives in `dir` (created with an empty state on first use).
    explicit oauth_test_server(std::filesystem::path dir, std::string canary = "CANARY")
        : dir_(std::move(dir)), canary_(std::move(canary)) {
        transact([](nlohmann::json&) {});
    }

    /// Called (in the calling process) when a refresh or authorize request starts: "refresh" / "authorize".
    std::function<void(std::string_view)> on_request;

    /// Replaces the configuration every process sees.
    void configure(const server_config& c) {
        transact([&](nlohmann::json& s) {
            s["config"] = {{"request_ms", c.request_ms},
                           {"response_ms", c.response_ms},
                           {"authorize_ms", c.authorize_ms},
                           {"refresh_mode", c.refresh_mode},
                           {"authorize_mode", c.authorize_mode},
                           {"expires_in", c.expires_in},
                           {"rotate", c.rotate},
                           {"send_scope", c.send_scope},
                           {"extra_fields", c.extra_fields}};
        });
    }
    /// The current configuration.
    [[nodiscard]] server_config config() const {
        server_config c;
        const_cast<oauth_test_server*>(this)->transact([&](nlohmann::json& s) { c = config_of(s); });
        return c;
    }
    /// The counts so far.
    [[nodiscard]] server_counts counts() const {
        server_counts out;
        const_cast<oauth_test_server*>(this)->transact([&](nlohmann::json& s) {
            const auto& c = s["counts"];
            out =
                server_counts{c.value("refresh_calls", 0), c.value("authorize_calls", 0),
                              c.value("rotations", 0), c.value("reuse_detected", 0), c.value("rejected", 0)};
        });
        return out;
    }
    /// Whether the family that issued `t` has been revoked.
    [[nodiscard]] bool revoked(const tokenvault::token& t) const {
        bool out = false;
        const auto parsed = parse(t.access_token.reveal());
        const_cast<oauth_test_server*>(this)->transact([&](nlohmann::json& s) {
            const auto& f = s["families"][std::to_string(parsed.family)];
            out = f.is_object() && f.value("revoked", false);
        });
        return out;
    }
    /// Revokes every family (an administrator's "sign out everywhere").
    void revoke_all() {
        transact([](nlohmann::json& s) {
            for (auto& [key, family] : s["families"].items()) family["revoked"] = true;
        });
    }

    /// The refresh grant: rotates, or detects reuse, or fails as configured.
    [[nodiscard]] tokenvault::refresh_result refresh(const tokenvault::token& current) {
        const auto sent_at = tokenvault::clock::now();
        const auto cfg = config();
        if (on_request) on_request("refresh");
        sleep_ms(cfg.request_ms);
        std::string body;
        int status = 200;
        const std::string presented =
            current.refresh_token ? std::string(current.refresh_token->reveal()) : "";
        transact([&](nlohmann::json& s) {
            auto& counts = s["counts"];
            counts["refresh_calls"] = counts.value("refresh_calls", 0) + 1;
            const auto& mode = cfg.refresh_mode;
            if (mode == "unavailable") {
                status = 503;
                body = "<html>Service Unavailable</html>";
                return;
            }
            if (mode == "garbage") {
                body = "<html>\"access_token\": oops</html>";
                return;
            }
            if (mode == "empty_access") {
                body = R"({"access_token":"","token_type":"Bearer","expires_in":3600})";
                return;
            }
            if (mode == "past_expiry") {
                body = R"({"access_token":"at.)" + canary_ +
                       R"(.past","token_type":"Bearer","expires_at":"2001-01-01T00:00:00Z"})";
                return;
            }
            if (mode == "negative_expires_in") {
                body =
                    R"({"access_token":"at.)" + canary_ + R"(.neg","token_type":"Bearer","expires_in":-30})";
                return;
            }
            if (mode == "huge_refresh") {
                body = R"({"access_token":"at.)" + canary_ +
                       R"(.huge","token_type":"Bearer","expires_in":3600,)" + R"("refresh_token":")" +
                       std::string(1 << 20, 'R') + "\"}";
                return;
            }
            if (mode == "direct_huge_refresh" || mode == "direct_past_expiry" || mode == "timeout") return;
            const auto parsed = parse(presented);
            auto& family = s["families"][std::to_string(parsed.family)];
            const auto reject = [&] {
                counts["rejected"] = counts.value("rejected", 0) + 1;
                status = 400;
                body = R"({"error":"invalid_grant","error_description":"refresh token is not valid"})";
            };
            if (mode == "invalid_grant" || !parsed.valid || !family.is_object() ||
                family.value("revoked", false))
                return reject();
            const int live = family.value("refresh_seq", 0);
            if (parsed.seq < live) {  // a rotated refresh token came back: revoke the whole family
                counts["reuse_detected"] = counts.value("reuse_detected", 0) + 1;
                family["revoked"] = true;
                return reject();
            }
            if (parsed.seq != live) return reject();
            const int access = family.value("access_seq", 0) + 1;
            family["access_seq"] = access;
            nlohmann::json response = {{"access_token", token_text("at", parsed.family, access)},
                                       {"token_type", "Bearer"},
                                       {"expires_in", cfg.expires_in}};
            if (cfg.rotate) {
                family["refresh_seq"] = live + 1;
                response["refresh_token"] = token_text("rt", parsed.family, live + 1);
            }
            if (cfg.send_scope) response["scope"] = "read write";
            response.update(nlohmann::json::parse(cfg.extra_fields));
            counts["rotations"] = counts.value("rotations", 0) + 1;
            body = response.dump();
        });
        sleep_ms(cfg.response_ms);
        if (cfg.refresh_mode == "timeout")
            return tokenvault::refresh_result::failed(tokenvault::error{
                tokenvault::errc::provider_unavailable, "token endpoint: request timed out"});
        if (cfg.refresh_mode == "direct_huge_refresh" || cfg.refresh_mode == "direct_past_expiry") {
            tokenvault::token t;
            t.access_token = tokenvault::secret_string{"at." + canary_ + ".direct"};
            t.refresh_token = tokenvault::secret_string{std::string(1 << 20, 'R')};
            t.expires_at = tokenvault::clock::now() + std::chrono::hours(1);
            if (cfg.refresh_mode == "direct_past_expiry") {
                t.refresh_token = tokenvault::secret_string{"rt." + canary_ + ".direct"};
                t.expires_at = tokenvault::clock::now() - std::chrono::minutes(5);
            }
            return tokenvault::refresh_result::refreshed(std::move(t));
        }
        return tokenvault::read_token_response(body, sent_at, status);
    }

    /// A full login: a new token family.
    [[nodiscard]] tokenvault::result<tokenvault::token> authorize() {
        const auto sent_at = tokenvault::clock::now();
        const auto cfg = config();
        if (on_request) on_request("authorize");
        sleep_ms(cfg.authorize_ms);
        std::string body;
        int status = 200;
        bool declined = false;
        transact([&](nlohmann::json& s) {
            auto& counts = s["counts"];
            counts["authorize_calls"] = counts.value("authorize_calls", 0) + 1;
            if (cfg.authorize_mode == "not_logged_in") {
                declined = true;
                return;
            }
            if (cfg.authorize_mode == "unavailable") {
                status = 503;
                return;
            }
            const int family = s.value("next_family", 1);
            s["next_family"] = family + 1;
            s["families"][std::to_string(family)] = {
                {"refresh_seq", 0}, {"access_seq", 0}, {"revoked", false}};
            nlohmann::json response = {{"access_token", token_text("at", family, 0)},
                                       {"refresh_token", token_text("rt", family, 0)},
                                       {"token_type", "Bearer"},
                                       {"expires_in", cfg.expires_in},
                                       {"scope", "read write"},
                                       {"issuer", "https://auth.example.com"},
                                       {"client_id", "test-client"}};
            body = response.dump();
        });
        if (declined)
            return tokenvault::error{tokenvault::errc::not_logged_in,
                                     "test server: interactive login disabled"};
        return tokenvault::token_from_response(body, sent_at, status);
    }

    /// The family and sequence number of a token this server issued.
    struct token_parts {
        bool valid = false;
        int family = 0;
        int seq = 0;
    };
    /// Splits "<kind>.<canary>.f<family>.<seq>".
    [[nodiscard]] static token_parts parse(std::string_view text) {
        token_parts out;
        const auto last = text.rfind('.');
        if (last == std::string_view::npos || last == 0) return out;
        const auto previous = text.rfind('.', last - 1);
        if (previous == std::string_view::npos || text.substr(previous + 1, 1) != "f") return out;
        try {
            out.family = std::stoi(std::string(text.substr(previous + 2, last - previous - 2)));
            out.seq = std::stoi(std::string(text.substr(last + 1)));
            out.valid = true;
        } catch (...) {
            out.valid = false;
        }
        return out;
    }

    /// The directory holding the server state.
    [[nodiscard]] const std::filesystem::path& directory() const noexcept { return dir_; }

private:
    static void sleep_ms(int ms) {
        if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    }

    [[nodiscard]] std::string token_text(const char* kind, int family, int seq) const {
        return std::string(kind) + "." + canary_ + ".f" + std::to_string(family) + "." + std::to_string(seq);
    }

    static server_config config_of(const nlohmann::json& s) {
        server_config c;
        if (!s.contains("config")) return c;
        const auto& j = s.at("config");
        c.request_ms = j.value("request_ms", 0);
        c.response_ms = j.value("response_ms", 0);
        c.authorize_ms = j.value("authorize_ms", 0);
        c.refresh_mode = j.value("refresh_mode", "normal");
        c.authorize_mode = j.value("authorize_mode", "normal");
        c.expires_in = j.value("expires_in", 3600);
        c.rotate = j.value("rotate", true);
        c.send_scope = j.value("send_scope", true);
        c.extra_fields = j.value("extra_fields", "{}");
        return c;
    }

    // Runs `fn` on the state under the server's flock and writes it back (temp file + rename).
    template <class Fn>
    void transact(Fn&& fn) {
        auto lock = tokenvault::platform::file_lock::acquire(dir_ / "server.lock", std::chrono::seconds(30));
        if (!lock) throw std::runtime_error("test server: lock: " + lock.error().message());
        nlohmann::json state = nlohmann::json::object();
        {
            std::ifstream in(dir_ / "server.json");
            if (in) {
                std::stringstream text;
                text << in.rdbuf();
                state = nlohmann::json::parse(text.str(), nullptr, false);
                if (state.is_discarded()) throw std::runtime_error("test server: corrupt state");
            }
        }
        if (!state.contains("families")) state["families"] = nlohmann::json::object();
        if (!state.contains("counts")) state["counts"] = nlohmann::json::object();
        fn(state);
        const auto temp =
            dir_ / ("server.json.tmp." + std::to_string(tokenvault::platform::current_process_id()));
        {
            std::ofstream out(temp, std::ios::trunc);
            out << state.dump();
            if (!out) throw std::runtime_error("test server: write failed");
        }
        std::filesystem::rename(temp, dir_ / "server.json");
    }

    std::filesystem::path dir_;
    std::string canary_;
};

static_assert(tokenvault::token_provider<oauth_test_server>);

}  // namespace tvtest
