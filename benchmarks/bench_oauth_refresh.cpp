// benchmarks/bench_oauth_refresh.cpp: the cost of a refresh through oauth::provider against a bare libcurl
// POST of the same request, in the same run, against the same local authorization server.
//
// Runs inside tests/oauth/run_with_oauth_server.sh (oidc-provider on 127.0.0.1, rotation on). One login,
// then one chain of refresh tokens: requests alternate between the provider (form encoding, client
// authentication, response mapping, discovery from its cache) and a bare libcurl POST with the same form
// whose answer is parsed just enough to continue the chain. Prints the first quartiles (the server's own
// time dominates both; the lower quartile is what is left when the machine's other load is least):
//   BENCH name=oauth_refresh_overhead value=<provider us> unit=us baseline=<bare libcurl us> ratio=...
#include <curl/curl.h>

#include <tokenvault/lifecycle.hpp>
#include <tokenvault/oauth/curl.hpp>
#include <tokenvault/oauth/provider.hpp>
#include <tokenvault/presets.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tv = tokenvault;
using clock_type = std::chrono::steady_clock;

namespace {

std::string env(const char* name) {
    const char* value = std::getenv(name);
    if (value == nullptr) {
        std::fprintf(stderr, "%s is not set: run through tests/oauth/run_with_oauth_server.sh\n", name);
        std::exit(1);
    }
    return value;
}

size_t collect(char* data, size_t size, size_t count, void* out) {
    static_cast<std::string*>(out)->append(data, size * count);
    return size * count;
}

/// A transport that forwards to libcurl and adds up the time spent in send() (to tell the provider's own
/// work apart from the exchange with the server).
struct timed_transport {
    tv::oauth::curl_transport* inner;
    double sending_us = 0;
    tv::result<tv::oauth::http_response> send(const tv::oauth::http_request& request) {
        const auto start = clock_type::now();
        auto response = inner->send(request);
        sending_us += std::chrono::duration<double, std::micro>(clock_type::now() - start).count();
        return response;
    }
    tv::oauth::secret_text escape(std::string_view text) { return inner->escape(text); }
    tv::result<tv::oauth::secret_text> unescape(std::string_view text) { return inner->unescape(text); }
};

double first_quartile(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 4];
}

}  // namespace

int main() {
    const std::string rs = env("TOKENVAULT_OAUTH_RS");
    const std::string resource = rs + "/mcp";
    const auto dir =
        std::filesystem::temp_directory_path() / ("tokenvault-bench-oauth-" + std::to_string(::getpid()));
    tv::store_options options;
    options.directory = dir;
    tv::presets::embedded store{options};
    tv::credential_manager manager{store};
    auto id = tv::credential_id::parse(resource).value();
    tv::oauth::curl_transport http;
    tv::oauth::provider_options provider_options;
    provider_options.open_browser = [&](std::string_view url) -> tv::result<void> {
        tv::oauth::http_request browse;
        browse.method = tv::oauth::http_method::post;
        browse.url = rs + "/control/browse";
        browse.content_type = "application/json";
        browse.body = tv::oauth::secret_text(nlohmann::json{{"url", std::string(url)}}.dump());
        auto sent = http.send(browse);
        if (!sent) return sent.error();
        return {};
    };
    timed_transport timed{&http};
    auto provider = tv::oauth::make_provider(timed, store, id, provider_options);
    auto login = manager.login(id, provider);
    if (!login) {
        std::fprintf(stderr, "login failed: %s\n", login.error().message().c_str());
        return 1;
    }
    tv::token current = *login;
    auto server = tv::oauth::fetch_authorization_server_metadata(http, current.issuer);
    if (!server) return 1;

    CURL* bare = curl_easy_init();
    const auto bare_refresh = [&]() -> bool {
        std::string form = "grant_type=refresh_token&refresh_token=";
        char* rt = curl_easy_escape(bare, current.refresh_token->reveal().data(),
                                    static_cast<int>(current.refresh_token->size()));
        char* res = curl_easy_escape(bare, resource.c_str(), static_cast<int>(resource.size()));
        char* client =
            curl_easy_escape(bare, current.client_id.c_str(), static_cast<int>(current.client_id.size()));
        form += rt + std::string("&resource=") + res + "&client_id=" + client;
        curl_free(rt);
        curl_free(res);
        curl_free(client);
        std::string body;
        curl_slist* headers = curl_slist_append(nullptr, "Accept: application/json");
        curl_easy_reset(bare);
        curl_easy_setopt(bare, CURLOPT_URL, server->token_endpoint.c_str());
        curl_easy_setopt(bare, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(bare, CURLOPT_POSTFIELDS, form.c_str());
        curl_easy_setopt(bare, CURLOPT_WRITEFUNCTION, &collect);
        curl_easy_setopt(bare, CURLOPT_WRITEDATA, &body);
        curl_easy_setopt(bare, CURLOPT_TIMEOUT_MS, 10000L);
        const bool ok = curl_easy_perform(bare) == CURLE_OK;
        curl_slist_free_all(headers);
        if (!ok) return false;
        auto doc = nlohmann::json::parse(body, nullptr, false);
        if (!doc.is_object() || !doc.contains("refresh_token")) return false;
        current.access_token = tv::secret_string{doc["access_token"].get<std::string>()};
        current.refresh_token = tv::secret_string{doc["refresh_token"].get<std::string>()};
        return true;
    };
    const auto provider_refresh = [&]() -> bool {
        auto answer = provider.refresh(current);
        if (answer.outcome() != tv::refresh_outcome::refreshed) {
            std::fprintf(stderr, "refresh failed: %s\n", answer.failure().message().c_str());
            return false;
        }
        current.access_token = answer.issued().access_token;
        current.refresh_token = answer.issued().refresh_token;
        return true;
    };

    for (int i = 0; i < 10; ++i)  // warm up both paths (connections, caches, the server's JIT)
        if (!provider_refresh() || !bare_refresh()) return 1;
    constexpr int rounds = 200;
    timed.sending_us = 0;
    double provider_total_us = 0;
    std::vector<double> through_provider, through_curl;
    for (int i = 0; i < rounds; ++i) {
        for (int which = 0; which < 2; ++which) {
            const bool provider_first = (i % 2 == 0) == (which == 0);
            const auto start = clock_type::now();
            if (!(provider_first ? provider_refresh() : bare_refresh())) return 1;
            const double us = std::chrono::duration<double, std::micro>(clock_type::now() - start).count();
            (provider_first ? through_provider : through_curl).push_back(us);
            if (provider_first) provider_total_us += us;
        }
    }
    curl_easy_cleanup(bare);
    std::filesystem::remove_all(dir);
    const double value = first_quartile(through_provider), baseline = first_quartile(through_curl);
    if (std::getenv("TV_BENCH_DETAIL") != nullptr)
        std::fprintf(stderr, "provider: %.1f us per refresh outside send()\n",
                     (provider_total_us - timed.sending_us) / rounds);
    std::printf("BENCH name=oauth_refresh_overhead value=%.1f unit=us baseline=%.1f ratio=%.3f\n", value,
                baseline, value / baseline);
    return 0;
}
