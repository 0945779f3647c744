// tokenvault/oauth/discovery.hpp: finding a protected resource's authorization server (MCP authorization).
//
// Where an MCP client starts: the resource URL. A request without a token gets 401 with
// `WWW-Authenticate: Bearer resource_metadata="..."` (RFC 9728 5.1); without that parameter the well-known
// URLs are tried (path-inserted, then the root). The protected resource metadata must name this resource
// (the same URL, or an origin-and-path prefix of it) and an authorization server; that server's RFC 8414
// metadata is read from its well-known URLs (with the OpenID Connect fallbacks) and its `issuer` must be
// exactly the identifier asked for (RFC 8414 3.3), else errc::issuer_mismatch. Results are cached per
// resource and per issuer for a TTL, process-wide by default.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../credential_id.hpp"
#include "../result.hpp"
#include "metadata.hpp"
#include "transport.hpp"

namespace tokenvault::oauth {

/// Options of discovery.
struct discovery_options {
    std::chrono::milliseconds timeout{std::chrono::seconds(10)};  ///< per request
    bool allow_loopback_http = true;  ///< accept http:// URLs on loopback hosts (local servers, tests)
};

/// What discovery found for a resource.
struct server_info {
    protected_resource_metadata resource;  ///< `resource.resource` is the RFC 8707 resource indicator
    authorization_server_metadata server;  ///< the authorization server, issuer checked
    std::string scope_hint;                ///< the `scope` of the 401 challenge, if it had one
};

/// A TTL cache of discovery results: per resource URL and per issuer. Thread-safe.
class discovery_cache {
public:
    /// A cache whose entries live `ttl`.
    explicit discovery_cache(std::chrono::seconds ttl = std::chrono::minutes(10)) : ttl_(ttl) {}
    discovery_cache(const discovery_cache&) = delete;
    discovery_cache& operator=(const discovery_cache&) = delete;

    /// The process-wide cache (never destroyed).
    [[nodiscard]] static discovery_cache& shared() {
        static auto* cache = new discovery_cache();
        return *cache;
    }

    /// The cached result for `resource_url`, while fresh.
    [[nodiscard]] std::optional<server_info> find(std::string_view resource_url) {
        const std::lock_guard guard(mutex_);
        return fresh(resources_, resource_url);
    }
    /// The cached metadata of `issuer`, while fresh.
    [[nodiscard]] std::optional<authorization_server_metadata> find_server(std::string_view issuer) {
        const std::lock_guard guard(mutex_);
        return fresh(servers_, issuer);
    }
    /// Remembers `info` for `resource_url` (and its server for its issuer).
    void put(std::string_view resource_url, const server_info& info) {
        const std::lock_guard guard(mutex_);
        const auto expires = steady_clock::now() + ttl_;
        resources_.insert_or_assign(std::string(resource_url), std::pair{info, expires});
        servers_.insert_or_assign(info.server.issuer, std::pair{info.server, expires});
    }
    /// Remembers the metadata of its issuer.
    void put_server(const authorization_server_metadata& server) {
        const std::lock_guard guard(mutex_);
        servers_.insert_or_assign(server.issuer, std::pair{server, steady_clock::now() + ttl_});
    }
    /// Forgets everything (a server changed its configuration).
    void clear() {
        const std::lock_guard guard(mutex_);
        resources_.clear();
        servers_.clear();
    }

private:
    template <class T>
    static std::optional<T> fresh(
        std::map<std::string, std::pair<T, steady_clock::time_point>, std::less<>>& map,
        std::string_view key) {
        const auto found = map.find(key);
        if (found == map.end()) return std::nullopt;
        if (found->second.second <= steady_clock::now()) {
            map.erase(found);
            return std::nullopt;
        }
        return found->second.first;
    }

    std::chrono::seconds ttl_;
    std::mutex mutex_;
    std::map<std::string, std::pair<server_info, steady_clock::time_point>, std::less<>> resources_;
    std::map<std::string, std::pair<authorization_server_metadata, steady_clock::time_point>, std::less<>>
        servers_;
};

namespace detail {

/// GETs `url` as a JSON document: the response, or the transport's error.
template <class Transport>
[[nodiscard]] result<http_response> get_document(Transport& transport, std::string url,
                                                 const discovery_options& options) {
    http_request request;
    request.method = http_method::get;
    request.url = std::move(url);
    request.deadline = deadline_after(options.timeout);
    request.max_response_bytes = document_limits::max_document;
    return transport.send(request);
}

/// Reads the first of `urls` that answers 200 with `read(url, body) -> result<T>`; a URL answering another
/// status is skipped, anything else ends the search (a network failure as provider_unavailable). The error
/// `none` when no URL answered.
template <class T, class Transport, class Read>
[[nodiscard]] result<T> first_document(Transport& transport, const std::vector<std::string>& urls,
                                       const discovery_options& options, Read&& read, error none) {
    for (const auto& url : urls) {
        auto response = get_document(transport, url, options);
        if (!response) {
            if (response.error() == errc::provider_unavailable) return response.error();
            return error{errc::discovery_failed, "GET " + url + ": " + response.error().message()};
        }
        if (response->status == 200)
            return read(url, std::string_view(response->body.data(), response->body.size()));
    }
    return none;
}

/// Wraps a document error as a discovery failure that names the URL.
[[nodiscard]] inline error discovery_error(std::string_view url, const error& why) {
    return error{errc::discovery_failed, "GET " + std::string(url) + ": " + why.message()};
}

/// Whether the metadata's resource `named` covers `requested`: equal, or the same origin with a path
/// that is a prefix of the requested one at a '/' boundary (both canonicalized).
[[nodiscard]] inline bool resource_covers(std::string_view named, std::string_view requested) {
    auto a = credential_id::canonicalize(named);
    auto b = credential_id::canonicalize(requested);
    if (!a || !b) return false;
    std::string_view n = *a, r = *b;
    if (n == r) return true;
    if (!n.empty() && n.back() == '/') n.remove_suffix(1);
    if (r.size() <= n.size() || r.substr(0, n.size()) != n) return false;
    return r[n.size()] == '/' || r[n.size()] == '?';
}

/// Checks the endpoints of authorization server metadata that was read for `issuer`.
[[nodiscard]] inline result<void> check_server_metadata(const authorization_server_metadata& server,
                                                        std::string_view issuer, bool allow_loopback_http) {
    if (server.issuer != issuer)
        return error{errc::issuer_mismatch, "authorization server metadata of '" + std::string(issuer) +
                                                "' names issuer '" + server.issuer.substr(0, 256) + "'"};
    if (server.token_endpoint.empty())
        return error{errc::discovery_failed,
                     "authorization server metadata of '" + std::string(issuer) + "': no token_endpoint"};
    const std::pair<std::string_view, const std::string*> endpoints[] = {
        {"authorization_endpoint", &server.authorization_endpoint},
        {"token_endpoint", &server.token_endpoint},
        {"registration_endpoint", &server.registration_endpoint},
        {"revocation_endpoint", &server.revocation_endpoint},
    };
    for (const auto& [name, url] : endpoints) {
        if (url->empty()) continue;
        auto checked = check_endpoint(*url, name, allow_loopback_http);
        if (!checked)
            return error{errc::discovery_failed, "authorization server metadata: " + checked.error().context};
    }
    return {};
}

}  // namespace detail

/// Reads the RFC 8414 metadata of authorization server `issuer` (well-known URLs in the MCP order, the
/// OpenID Connect forms included); the metadata's issuer must be exactly `issuer`.
template <class Transport>
[[nodiscard]] result<authorization_server_metadata> fetch_authorization_server_metadata(
    Transport& transport, std::string_view issuer, const discovery_options& options = {},
    discovery_cache* cache = &discovery_cache::shared()) {
    [[maybe_unused]] constexpr bool transport_ok = detail::check_transport<Transport>();
    if (cache != nullptr)
        if (auto cached = cache->find_server(issuer)) return std::move(*cached);
    if (auto checked = detail::check_endpoint(issuer, "issuer", options.allow_loopback_http); !checked)
        return error{errc::discovery_failed, checked.error().context};
    auto urls = authorization_server_metadata_urls(issuer);
    if (!urls) return error{errc::discovery_failed, urls.error().context};
    auto server = detail::first_document<authorization_server_metadata>(
        transport, *urls, options,
        [&](const std::string& url, std::string_view body) -> result<authorization_server_metadata> {
            auto read = parse_authorization_server_metadata(body);
            if (!read) return detail::discovery_error(url, read.error());
            TOKENVAULT_TRY(detail::check_server_metadata(*read, issuer, options.allow_loopback_http));
            return read;
        },
        error{errc::discovery_failed, "no authorization server metadata for issuer '" + std::string(issuer) +
                                          "' at " + (*urls)[0] + " or its fallbacks"});
    if (server && cache != nullptr) cache->put_server(*server);
    return server;
}

/// Discovers the authorization server of the protected resource at `resource_url`. `www_authenticate`:
/// the challenge of a 401 the caller already has (else the resource is asked once without a token).
template <class Transport>
[[nodiscard]] result<server_info> discover(Transport& transport, std::string_view resource_url,
                                           const discovery_options& options = {},
                                           discovery_cache* cache = &discovery_cache::shared(),
                                           std::string_view www_authenticate = {}) {
    [[maybe_unused]] constexpr bool transport_ok = detail::check_transport<Transport>();
    if (cache != nullptr)
        if (auto cached = cache->find(resource_url)) return std::move(*cached);
    if (auto checked = detail::check_endpoint(resource_url, "resource URL", options.allow_loopback_http);
        !checked)
        return error{errc::discovery_failed, checked.error().context};

    server_info info;
    std::string challenge_header(www_authenticate);
    if (challenge_header.empty()) {
        // Where an MCP client starts: a request without a token, answered 401 with a challenge.
        auto probe = detail::get_document(transport, std::string(resource_url), options);
        if (!probe) {
            if (probe.error() != errc::too_large) return probe.error();
        } else if (probe->status == 401) {
            challenge_header = std::move(probe->www_authenticate);
        }
    }
    std::vector<std::string> candidates;
    if (auto bearer = bearer_challenge(challenge_header)) {
        if (auto scope = bearer->param("scope")) info.scope_hint = std::string(*scope);
        if (auto url = bearer->param("resource_metadata")) {
            if (auto checked = detail::check_endpoint(*url, "resource_metadata", options.allow_loopback_http);
                !checked)
                return error{errc::discovery_failed, "WWW-Authenticate: " + checked.error().context};
            candidates.emplace_back(*url);
        }
    }
    if (candidates.empty()) {
        auto urls = protected_resource_metadata_urls(resource_url);
        if (!urls) return error{errc::discovery_failed, urls.error().context};
        candidates = std::move(*urls);
    }

    auto metadata = detail::first_document<protected_resource_metadata>(
        transport, candidates, options,
        [&](const std::string& url, std::string_view body) -> result<protected_resource_metadata> {
            auto read = parse_protected_resource_metadata(body);
            if (!read) return detail::discovery_error(url, read.error());
            if (!detail::resource_covers(read->resource, resource_url))
                return error{errc::discovery_failed, "GET " + url + ": the metadata names resource '" +
                                                         read->resource.substr(0, 256) + "', not '" +
                                                         std::string(resource_url) + "'"};
            if (read->authorization_servers.empty())
                return error{errc::discovery_failed,
                             "GET " + url + ": the metadata names no authorization server"};
            return read;
        },
        error{errc::discovery_failed, "no protected resource metadata for '" + std::string(resource_url) +
                                          "' at " + candidates[0] +
                                          (candidates.size() > 1 ? " or its fallbacks" : "")});
    if (!metadata) return metadata.error();
    info.resource = std::move(*metadata);

    auto server = fetch_authorization_server_metadata(transport, info.resource.authorization_servers.front(),
                                                      options, cache);
    if (!server) return server.error();
    info.server = std::move(*server);
    if (cache != nullptr) cache->put(resource_url, info);
    return info;
}

}  // namespace tokenvault::oauth
