// tests/support/forked.hpp: real processes for cross-process tests: fork()ed children and line pipes.
//
// `forked_child` runs a function in a child process (which never returns into the test runner: it
// _exits with the function's result, skipping atexit handlers and sanitizer leak checks) and is killed
// and reaped at scope exit. `line_pipe` carries short text lines (atomic below PIPE_BUF) with a timeout.
// `spawn`, `wait_for` and `run_in_child` are the plain variants (no signal reset, blocking waits) and
// `ready_pipe` carries single bytes. Fork only while no other thread of the test holds a lock.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace tvtest {

/// A pipe of '\n'-terminated lines; both ends stay open in both processes after fork.
class line_pipe {
public:
    line_pipe() {
        if (::pipe2(fds_, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    }
    line_pipe(const line_pipe&) = delete;
    line_pipe& operator=(const line_pipe&) = delete;
    ~line_pipe() {
        ::close(fds_[0]);
        ::close(fds_[1]);
    }

    /// Writes `line` plus '\n' in one write (atomic for lines below PIPE_BUF).
    void send(const std::string& line) const {
        const std::string framed = line + "\n";
        ssize_t n = -1;
        do {
            n = ::write(fds_[1], framed.data(), framed.size());
        } while (n < 0 && errno == EINTR);
    }

    /// The next line, or nullopt when none arrives within `timeout`.
    [[nodiscard]] std::optional<std::string> receive(
        std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            if (const auto nl = buffer_.find('\n'); nl != std::string::npos) {
                std::string line = buffer_.substr(0, nl);
                buffer_.erase(0, nl + 1);
                return line;
            }
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return std::nullopt;
            pollfd p{fds_[0], POLLIN, 0};
            const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
            if (ready < 0 && errno == EINTR) continue;
            if (ready <= 0) return std::nullopt;
            char chunk[512];
            const ssize_t n = ::read(fds_[0], chunk, sizeof chunk);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return std::nullopt;
            buffer_.append(chunk, static_cast<std::size_t>(n));
        }
    }

private:
    int fds_[2] = {-1, -1};
    std::string buffer_;
};

/// A pipe that carries single bytes, e.g. a child saying it holds a lock ('L') or failed ('E').
class ready_pipe {
public:
    ready_pipe() {
        if (::pipe2(fds_, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    }
    ready_pipe(const ready_pipe&) = delete;
    ready_pipe& operator=(const ready_pipe&) = delete;
    ~ready_pipe() {
        ::close(fds_[0]);
        ::close(fds_[1]);
    }

    /// Writes the byte `c`.
    void signal(char c) const {
        while (::write(fds_[1], &c, 1) < 0 && errno == EINTR) {
        }
    }

    /// Blocks for the next byte; '?' when the pipe fails.
    [[nodiscard]] char wait() const {
        char c = 0;
        ssize_t n = -1;
        do {
            n = ::read(fds_[0], &c, 1);
        } while (n < 0 && errno == EINTR);
        return n == 1 ? c : '?';
    }

private:
    int fds_[2] = {-1, -1};
};

/// Waits (without a timeout) for the child `pid`; its exit code, 128 + signal when it was killed.
inline int wait_for(pid_t pid) {
    int status = 0;
    pid_t waited = -1;
    do {
        waited = ::waitpid(pid, &status, 0);
    } while (waited < 0 && errno == EINTR);
    if (waited != pid) throw std::runtime_error("waitpid failed");
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/// Forks a child (keeping the parent's signal dispositions) that runs `fn()`, no doctest macros in it, and
/// _exits with its result, 98 if it throws; the parent gets the pid and must wait_for it.
template <class Fn>
pid_t spawn(Fn fn) {
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        int code = 97;
        try {
            code = fn();
        } catch (...) {
            code = 98;
        }
        ::_exit(code);
    }
    return pid;
}

/// Runs `fn()` in a spawned child and waits for it; the child's exit code (128 + signal if it was killed).
template <class Fn>
int run_in_child(Fn fn) {
    return wait_for(spawn(std::move(fn)));
}

/// A child process running a function; SIGKILLed and reaped at scope exit unless already reaped.
class forked_child {
public:
    /// Forks; the child (default signal dispositions) runs `fn()`, returning its exit code, and _exits; 98 if
    /// it throws.
    template <class Fn>
    explicit forked_child(Fn&& fn) {
        std::fflush(nullptr);
        pid_ = ::fork();
        if (pid_ < 0) throw std::runtime_error("fork failed");
        if (pid_ == 0) {
            for (const int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTERM, SIGINT})
                ::signal(sig, SIG_DFL);  // the test runner's crash handlers belong to the parent
            int code = 98;
            try {
                code = fn();
            } catch (...) {
                code = 98;
            }
            std::fflush(nullptr);
            ::_exit(code);
        }
    }
    forked_child(forked_child&& other) noexcept : pid_(std::exchange(other.pid_, -1)) {}
    forked_child& operator=(forked_child&&) = delete;
    forked_child(const forked_child&) = delete;
    forked_child& operator=(const forked_child&) = delete;
    ~forked_child() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            int status = 0;
            while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
            }
        }
    }

    /// The child's pid.
    [[nodiscard]] pid_t pid() const noexcept { return pid_; }

    /// Waits for the child; its exit code, 128 + signal when killed, -1 on timeout (the child is then
    /// killed).
    int wait(std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            int status = 0;
            const pid_t done = ::waitpid(pid_, &status, WNOHANG);
            if (done == pid_) {
                pid_ = -1;
                return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            }
            if (done < 0 && errno != EINTR) return -1;
            if (std::chrono::steady_clock::now() >= deadline) {
                kill_now();
                return -1;
            }
            ::usleep(1000);
        }
    }

    /// SIGKILLs the child and reaps it; returns 128 + SIGKILL.
    int kill_now() {
        ::kill(pid_, SIGKILL);
        int status = 0;
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }

private:
    pid_t pid_ = -1;
};

}  // namespace tvtest
