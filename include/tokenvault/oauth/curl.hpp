// tokenvault/oauth/curl.hpp: the libcurl implementation of the OAuth HTTP transport.
//
// Only programs that include this header need libcurl (Debian libcurl4-openssl-dev; meson dependency
// `tokenvault-curl`, pkg-config `tokenvault-curl`). One `curl_transport` keeps one easy handle, so
// requests to one server reuse the connection; a mutex serializes requests on it. Every request has one
// deadline (CURLOPT_TIMEOUT_MS), a response cap enforced while receiving, no redirects, no proxy for
// loopback hosts, and only http/https. Request bodies are handed to libcurl without a copy; the
// Authorization header and every encoded value are wiped before libcurl's memory is released.
#pragma once

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include <sodium.h>

#include "transport.hpp"

namespace tokenvault::oauth {

namespace detail {

/// Initialises libcurl once per process (curl_global_init is not thread-safe on every version).
[[nodiscard]] inline bool curl_ready() noexcept {
    static const bool ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
    return ready;
}

/// Frees a curl_slist after wiping every string in it (headers may hold credentials).
struct curl_slist_wiper {
    void operator()(curl_slist* list) const noexcept {
        for (curl_slist* item = list; item != nullptr; item = item->next)
            if (item->data != nullptr) sodium_memzero(item->data, std::strlen(item->data));
        curl_slist_free_all(list);
    }
};

struct curl_easy_deleter {
    void operator()(CURL* handle) const noexcept { curl_easy_cleanup(handle); }
};

/// Where a transfer's response goes, with the cap applied while receiving.
struct curl_sink {
    http_response* response = nullptr;
    std::size_t max_body = 0;
    std::size_t header_bytes = 0;
    bool too_large = false;
};

inline std::size_t curl_write_body(char* data, std::size_t size, std::size_t count, void* user) noexcept {
    auto* sink = static_cast<curl_sink*>(user);
    const std::size_t n = size * count;
    if (sink->response->body.size() + n > sink->max_body) {
        sink->too_large = true;
        return 0;  // aborts the transfer with CURLE_WRITE_ERROR
    }
    try {
        sink->response->body.append(data, n);
    } catch (...) {
        return 0;
    }
    return n;
}

/// Whether `line` starts with header `name` (case-insensitive) followed by ':'; `value` is the trimmed rest.
inline bool header_named(std::string_view line, std::string_view name, std::string_view& value) noexcept {
    if (line.size() <= name.size() || line[name.size()] != ':') return false;
    for (std::size_t i = 0; i < name.size(); ++i) {
        char c = line[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c != name[i]) return false;
    }
    value = line.substr(name.size() + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() &&
           (value.back() == '\r' || value.back() == '\n' || value.back() == ' ' || value.back() == '\t'))
        value.remove_suffix(1);
    return true;
}

inline std::size_t curl_write_header(char* data, std::size_t size, std::size_t count, void* user) noexcept {
    auto* sink = static_cast<curl_sink*>(user);
    const std::size_t n = size * count;
    sink->header_bytes += n;
    if (sink->header_bytes > 64 * 1024) {  // headers are small; a flood of them is an attack
        sink->too_large = true;
        return 0;
    }
    const std::string_view line(data, n);
    if (line.rfind("HTTP/", 0) == 0) {  // a new response (after 100 Continue): forget the previous headers
        sink->response->content_type.clear();
        sink->response->www_authenticate.clear();
        return n;
    }
    try {
        std::string_view value;
        if (header_named(line, "content-type", value)) {
            sink->response->content_type.assign(value);
        } else if (header_named(line, "www-authenticate", value)) {
            auto& joined = sink->response->www_authenticate;
            if (!joined.empty()) joined += ", ";
            joined.append(value);
        }
    } catch (...) {
        return 0;
    }
    return n;
}

/// Whether `url` names a loopback host (127.0.0.0/8, ::1, localhost).
inline bool loopback_url(std::string_view url) noexcept {
    const auto scheme = url.find("://");
    if (scheme == std::string_view::npos) return false;
    const std::string_view rest = url.substr(scheme + 3);
    return rest.rfind("127.", 0) == 0 || rest.rfind("[::1]", 0) == 0 || rest.rfind("localhost:", 0) == 0 ||
           rest.rfind("localhost/", 0) == 0 || rest == "localhost";
}

/// The URL without its query: what an error message may name.
inline std::string url_for_message(std::string_view url) {
    return std::string(url.substr(0, std::min(url.find_first_of("?#"), std::size_t{256})));
}

}  // namespace detail

/// An http_transport over libcurl (one connection-reusing easy handle, serialized by a mutex).
class curl_transport {
public:
    /// Options of every request this transport sends.
    struct options {
        std::string user_agent = "tokenvault";  ///< the User-Agent header
        std::string ca_bundle;                  ///< a CA bundle file instead of the system default (tests)
    };

    curl_transport() : curl_transport(options{}) {}
    explicit curl_transport(options opts) : options_(std::move(opts)) {}
    curl_transport(const curl_transport&) = delete;
    curl_transport& operator=(const curl_transport&) = delete;

    /// Sends `request`; errc::provider_unavailable when the server cannot be reached in time,
    /// errc::too_large when the response exceeds `request.max_response_bytes`.
    [[nodiscard]] result<http_response> send(const http_request& request) {
        const std::lock_guard guard(mutex_);
        CURL* curl = handle();
        const std::string where =
            (request.method == http_method::post ? "POST " : "GET ") + detail::url_for_message(request.url);
        if (curl == nullptr)
            return error{errc::provider_unavailable, where + ": libcurl could not be initialised"};
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(request.deadline - steady_clock::now());
        if (left.count() <= 0)
            return error{errc::provider_unavailable, where + ": the deadline passed before the request"};

        curl_easy_reset(curl);  // keeps the connection cache
        http_response response;
        detail::curl_sink sink{&response, request.max_response_bytes, 0, false};
        std::unique_ptr<curl_slist, detail::curl_slist_wiper> headers;
        const auto add_header = [&](std::string_view line) -> bool {
            secret_text text(line.data(), line.size());
            curl_slist* grown = curl_slist_append(headers.get(), text.c_str());
            if (grown == nullptr) return false;
            (void)headers.release();
            headers.reset(grown);
            return true;
        };
        bool ok = add_header("Accept: application/json");
        if (request.method == http_method::post && !request.content_type.empty())
            ok = ok && add_header("Content-Type: " + request.content_type);
        if (request.authorization) {
            secret_text line = "Authorization: ";
            line.append(request.authorization->reveal());
            ok = ok && add_header(std::string_view(line.data(), line.size()));
        }
        ok = ok && add_header("Expect:");  // no 100-continue round trip for small bodies
        if (!ok) return error{errc::provider_unavailable, where + ": out of memory"};

        const long timeout_ms = static_cast<long>(std::max<std::int64_t>(1, left.count()));
        const curl_off_t cap = static_cast<curl_off_t>(request.max_response_bytes);
        CURLcode set = CURLE_OK;
        const auto opt = [&](CURLoption option, auto value) {
            if (set == CURLE_OK) set = curl_easy_setopt(curl, option, value);
        };
        opt(CURLOPT_URL, request.url.c_str());
        opt(CURLOPT_PROTOCOLS_STR, "http,https");
        opt(CURLOPT_FOLLOWLOCATION, 0L);
        opt(CURLOPT_NOSIGNAL, 1L);
        opt(CURLOPT_TIMEOUT_MS, timeout_ms);
        opt(CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
        opt(CURLOPT_MAXFILESIZE_LARGE, cap);
        opt(CURLOPT_WRITEFUNCTION, &detail::curl_write_body);
        opt(CURLOPT_WRITEDATA, static_cast<void*>(&sink));
        opt(CURLOPT_HEADERFUNCTION, &detail::curl_write_header);
        opt(CURLOPT_HEADERDATA, static_cast<void*>(&sink));
        opt(CURLOPT_HTTPHEADER, headers.get());
        opt(CURLOPT_USERAGENT, options_.user_agent.c_str());
        if (detail::loopback_url(request.url)) opt(CURLOPT_NOPROXY, "*");
        if (!options_.ca_bundle.empty()) opt(CURLOPT_CAINFO, options_.ca_bundle.c_str());
        if (request.method == http_method::post) {
            opt(CURLOPT_POST, 1L);
            opt(CURLOPT_POSTFIELDS, request.body.c_str());  // no copy: the body stays in wiped memory
            opt(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
        }
        if (set != CURLE_OK) return error{errc::provider_unavailable, where + ": " + curl_easy_strerror(set)};

        const CURLcode performed = curl_easy_perform(curl);
        if (sink.too_large || performed == CURLE_FILESIZE_EXCEEDED)
            return error{errc::too_large, where + ": the response is larger than " +
                                              std::to_string(request.max_response_bytes) + " bytes"};
        if (performed != CURLE_OK) {
            return error{errc::provider_unavailable,
                         where + ": " +
                             (performed == CURLE_OPERATION_TIMEDOUT
                                  ? "no answer within " + std::to_string(timeout_ms) + " ms"
                                  : std::string(curl_easy_strerror(performed)))};
        }
        long status = 0;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        response.status = static_cast<int>(status);
        return response;
    }

    /// Percent-encodes `text` (RFC 3986 unreserved characters stay) for a query or form value.
    [[nodiscard]] secret_text escape(std::string_view text) {
        const std::lock_guard guard(mutex_);
        CURL* curl = handle();
        if (curl == nullptr || text.size() > static_cast<std::size_t>(INT32_MAX)) throw std::bad_alloc();
        char* encoded = curl_easy_escape(curl, text.data(), static_cast<int>(text.size()));
        if (encoded == nullptr) throw std::bad_alloc();
        secret_text out(encoded);
        sodium_memzero(encoded, out.size());
        curl_free(encoded);
        return out;
    }

    /// Decodes a percent-encoded value ('+' is not special here: callers of form data replace it first).
    [[nodiscard]] result<secret_text> unescape(std::string_view text) {
        const std::lock_guard guard(mutex_);
        CURL* curl = handle();
        if (curl == nullptr || text.size() > static_cast<std::size_t>(INT32_MAX))
            return error{errc::invalid_argument, "percent-decoding: input too large"};
        int length = 0;
        char* decoded = curl_easy_unescape(curl, text.data(), static_cast<int>(text.size()), &length);
        if (decoded == nullptr) return error{errc::invalid_argument, "percent-decoding failed"};
        secret_text out(decoded, static_cast<std::size_t>(length));
        sodium_memzero(decoded, static_cast<std::size_t>(length));
        curl_free(decoded);
        return out;
    }

private:
    CURL* handle() {
        if (!handle_ && detail::curl_ready()) handle_.reset(curl_easy_init());
        return handle_.get();
    }

    options options_;
    std::mutex mutex_;
    std::unique_ptr<CURL, detail::curl_easy_deleter> handle_;
};

static_assert(http_transport<curl_transport>);

}  // namespace tokenvault::oauth
