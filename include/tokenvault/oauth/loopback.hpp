// tokenvault/oauth/loopback.hpp: the loopback redirect of a native login (RFC 8252 7.3), and its query.
//
// `loopback_listener` binds 127.0.0.1 (a random port, or a chosen one), waits until a deadline for the
// browser's GET of the redirect path, answers it with a short page and hands back the query. Anything
// else (another path, a malformed or oversized request, a silent connection) is answered or dropped and
// the wait goes on. Every byte read is bounded (16 KiB per request head). The query is parsed as
// application/x-www-form-urlencoded, decoded by the transport, into wiped memory (it holds the code);
// `read_authorization_response` picks code, state, iss and error, refusing any of them given twice.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../detail/text_checks.hpp"
#include "../platform/platform.hpp"
#include "../result.hpp"
#include "../token.hpp"
#include "transport.hpp"

namespace tokenvault::oauth {

/// One decoded parameter of a query.
struct query_parameter {
    std::string name;   ///< decoded
    secret_text value;  ///< decoded; may be a secret (the authorization code)
    friend bool operator==(const query_parameter& a, const query_parameter& b) noexcept {
        return a.name == b.name && a.value == b.value;
    }
};

/// Limits of a redirect request.
struct redirect_limits {
    static constexpr std::size_t max_head = 16 * 1024;  ///< bytes of the request line and headers
    static constexpr std::size_t max_parameters = 64;
};

/// Parses an application/x-www-form-urlencoded query ('+' is a space) with `decode(text) ->
/// result<secret_text>` (the transport's unescape). Empty pieces ("a&&b") are skipped.
template <class Decode>
[[nodiscard]] result<std::vector<query_parameter>> parse_query(std::string_view query, Decode&& decode) {
    std::vector<query_parameter> out;
    if (query.size() > redirect_limits::max_head)
        return error{errc::too_large, "redirect query: longer than 16 KiB"};
    std::size_t start = 0;
    while (start <= query.size()) {
        const auto end = std::min(query.find('&', start), query.size());
        const std::string_view piece = query.substr(start, end - start);
        start = end + 1;
        if (piece.empty()) {
            if (end == query.size()) break;
            continue;
        }
        if (out.size() == redirect_limits::max_parameters)
            return error{errc::too_large, "redirect query: too many parameters"};
        const auto equals = piece.find('=');
        const auto decode_part = [&](std::string_view part) -> result<secret_text> {
            secret_text plus(part.data(), part.size());
            for (char& c : plus)
                if (c == '+') c = ' ';
            return decode(std::string_view(plus.data(), plus.size()));
        };
        auto name = decode_part(piece.substr(0, equals));
        if (!name) return name.error();
        auto value =
            decode_part(equals == std::string_view::npos ? std::string_view{} : piece.substr(equals + 1));
        if (!value) return value.error();
        out.push_back(query_parameter{std::string(name->data(), name->size()), std::move(*value)});
        if (end == query.size()) break;
    }
    return out;
}

/// Writes parameters back as a query with `encode(text) -> secret_text` (the parser's inverse).
template <class Encode>
[[nodiscard]] secret_text format_query(const std::vector<query_parameter>& parameters, Encode&& encode) {
    secret_text out;
    for (const auto& p : parameters) {
        if (!out.empty()) out += '&';
        out += encode(p.name);
        out += '=';
        out += encode(std::string_view(p.value.data(), p.value.size()));
    }
    return out;
}

/// The parameters of an authorization response (RFC 6749 4.1.2, RFC 9207).
struct authorization_response {
    std::optional<secret_string> code;   ///< the authorization code
    std::optional<secret_string> state;  ///< compared in constant time with the login's state
    std::optional<std::string> iss;      ///< RFC 9207 issuer identification
    std::optional<std::string> error;  ///< an OAuth error code ("access_denied"), or "invalid" when malformed
};

/// Picks the authorization response out of the redirect's parameters; a parameter given twice is refused.
[[nodiscard]] inline result<authorization_response> read_authorization_response(
    const std::vector<query_parameter>& parameters) {
    authorization_response out;
    bool seen[4] = {false, false, false, false};
    for (const auto& p : parameters) {
        const std::string_view value(p.value.data(), p.value.size());
        int index = -1;
        if (p.name == "code")
            index = 0;
        else if (p.name == "state")
            index = 1;
        else if (p.name == "iss")
            index = 2;
        else if (p.name == "error")
            index = 3;
        if (index < 0) continue;
        if (seen[index])
            return error{errc::invalid_argument,
                         "authorization response: parameter '" + p.name + "' appears twice"};
        seen[index] = true;
        if (value.size() > 4096 || ::tokenvault::detail::has_control_or_nul(value) ||
            !::tokenvault::detail::valid_utf8(value))
            return error{errc::invalid_argument,
                         "authorization response: parameter '" + p.name + "' is malformed"};
        switch (index) {
        case 0: out.code = secret_string{value}; break;
        case 1: out.state = secret_string{value}; break;
        case 2: out.iss = std::string(value); break;
        default: {
            bool code_like = !value.empty() && value.size() <= 64;
            for (const char c : value) code_like = code_like && ((c >= 'a' && c <= 'z') || c == '_');
            out.error = code_like ? std::string(value) : std::string("invalid");
        }
        }
    }
    return out;
}

/// A parsed HTTP request line: method, path and query of an origin-form target.
struct request_target {
    std::string method;
    std::string path;
    std::string query;
};

/// Parses the request line of an HTTP/1.x request head ("GET /callback?x=1 HTTP/1.1").
[[nodiscard]] inline result<request_target> parse_request_line(std::string_view head) {
    const auto line_end = head.find("\r\n");
    const std::string_view line = head.substr(0, line_end);
    const auto bad = [] { return error{errc::invalid_argument, "redirect request: malformed request line"}; };
    const auto first = line.find(' ');
    if (first == std::string_view::npos || first == 0) return bad();
    const auto second = line.find(' ', first + 1);
    if (second == std::string_view::npos) return bad();
    const std::string_view target = line.substr(first + 1, second - first - 1);
    const std::string_view version = line.substr(second + 1);
    if (version != "HTTP/1.1" && version != "HTTP/1.0") return bad();
    if (target.empty() || target.front() != '/') return bad();
    for (const char c : line)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return bad();
    request_target out;
    out.method = std::string(line.substr(0, first));
    const auto question = target.find('?');
    out.path = std::string(target.substr(0, question));
    if (question != std::string_view::npos) {
        std::string_view query = target.substr(question + 1);
        query = query.substr(0, query.find('#'));
        out.query = std::string(query);
    }
    return out;
}

/// A listening socket on 127.0.0.1 that receives the browser's redirect. Move-only.
class loopback_listener {
public:
    /// Listens on 127.0.0.1:`port` (0: a random free port).
    [[nodiscard]] static result<loopback_listener> open(std::uint16_t port = 0) {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) return error{std::error_code(errno, std::system_category()), "loopback listener: socket"};
        loopback_listener listener(fd);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(port);
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0)
            return error{std::error_code(errno, std::system_category()),
                         "loopback listener: cannot listen on 127.0.0.1:" + std::to_string(port)};
        if (::listen(fd, 16) != 0)
            return error{std::error_code(errno, std::system_category()), "loopback listener: listen"};
        socklen_t length = sizeof address;
        if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0)
            return error{std::error_code(errno, std::system_category()), "loopback listener: getsockname"};
        listener.port_ = ntohs(address.sin_port);
        return listener;
    }

    loopback_listener(loopback_listener&& other) noexcept
        : fd_(std::exchange(other.fd_, -1)), port_(other.port_) {}
    loopback_listener& operator=(loopback_listener&& other) noexcept {
        if (this != &other) {
            close();
            fd_ = std::exchange(other.fd_, -1);
            port_ = other.port_;
        }
        return *this;
    }
    loopback_listener(const loopback_listener&) = delete;
    loopback_listener& operator=(const loopback_listener&) = delete;
    ~loopback_listener() { close(); }

    /// The port it listens on.
    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
    /// The redirect URI for `path`: http://127.0.0.1:<port><path>.
    [[nodiscard]] std::string redirect_uri(std::string_view path) const {
        return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
    }

    /// Waits until `deadline` for a GET of `path`, answers it and returns its query (errc::login_timeout
    /// when none came).
    [[nodiscard]] result<secret_text> wait_for_redirect(std::string_view path,
                                                        steady_clock::time_point deadline) {
        for (;;) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady_clock::now());
            if (left.count() <= 0) return error{errc::login_timeout, "waiting for the browser's redirect"};
            pollfd waiting{fd_, POLLIN, 0};
            const int ready =
                ::poll(&waiting, 1, static_cast<int>(std::min<std::int64_t>(left.count(), 1000)));
            if (ready < 0 && errno != EINTR)
                return error{std::error_code(errno, std::system_category()), "loopback listener: poll"};
            if (ready <= 0) continue;
            const int connection = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (connection < 0) continue;
            const connection_guard guard{connection};
            secret_text head;
            const auto head_deadline = std::min(deadline, steady_clock::now() + std::chrono::seconds(10));
            if (!read_head(connection, head, head_deadline)) continue;
            auto target = parse_request_line(std::string_view(head.data(), head.size()));
            if (!target) {
                respond(connection, 400, "Bad Request", "This is not an authorization response.");
                continue;
            }
            if (target->method != "GET" || target->path != path) {
                respond(connection, 404, "Not Found", "Nothing here.");
                continue;
            }
            respond(connection, 200, "OK",
                    "The authorization server answered. You can close this window and return to the "
                    "application.");
            secret_text query(target->query.data(), target->query.size());
            ::tokenvault::detail::wipe(target->query);
            return query;
        }
    }

private:
    explicit loopback_listener(int fd) noexcept : fd_(fd) {}
    void close() noexcept {
        if (fd_ >= 0) platform::close_descriptor(fd_);
        fd_ = -1;
    }

    struct connection_guard {
        int fd;
        ~connection_guard() { platform::close_descriptor(fd); }
    };

    // Reads the request head (up to the blank line), bounded in size and time.
    static bool read_head(int fd, secret_text& head, steady_clock::time_point deadline) {
        char buffer[2048];
        while (head.find("\r\n\r\n") == secret_text::npos) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady_clock::now());
            if (left.count() <= 0 || head.size() > redirect_limits::max_head) return false;
            pollfd readable{fd, POLLIN, 0};
            const int ready = ::poll(&readable, 1, static_cast<int>(left.count()));
            if (ready < 0 && errno == EINTR) continue;
            if (ready <= 0) return false;
            const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
            if (n <= 0) return false;
            head.append(buffer, static_cast<std::size_t>(n));
            sodium_memzero(buffer, sizeof buffer);
        }
        return head.size() <= redirect_limits::max_head + sizeof buffer;
    }

    static void respond(int fd, int status, std::string_view reason, std::string_view message) {
        const std::string body =
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>tokenvault</title></head>"
            "<body><p>" +
            std::string(message) + "</p></body></html>";
        const std::string response =
            "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
            "\r\nContent-Type: text/html; charset=utf-8\r\nCache-Control: no-store\r\n"
            "Connection: close\r\nContent-Length: " +
            std::to_string(body.size()) + "\r\n\r\n" + body;
        std::size_t sent = 0;
        while (sent < response.size()) {
            const ssize_t n = ::send(fd, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
            if (n <= 0) return;
            sent += static_cast<std::size_t>(n);
        }
    }

    int fd_ = -1;
    std::uint16_t port_ = 0;
};

}  // namespace tokenvault::oauth
