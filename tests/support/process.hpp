// tests/support/process.hpp: real processes for cross-process tests on every OS: the test binary itself,
// started again in a named role.
//
// A test file defines roles with TVTEST_ROLE(name) { ... } (a function of the arguments, returning the
// exit code); tests/doctest_main.cpp runs the role named by `--tvtest-role <name> [args...]` instead of
// doctest. `tvtest::child::start("name", {args...})` starts this binary in that role (posix_spawn of
// /proc/self/exe on POSIX, CreateProcessW of the module on Windows: no fork), with its standard input and
// output connected to the test: `send` writes a line the child reads with `tvtest::receive_line()`, and
// `receive` reads a line the child wrote with `tvtest::send_line()`, with a timeout. A child still running
// at scope exit is killed (SIGKILL, TerminateProcess) and reaped. `kill()` is the crash claim: the
// child gets no chance to clean up. Output lines end in '\n'; a '\r' before it (Windows consoles) is
// dropped.
#pragma once

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#if defined(_WIN32)
#if !defined(NOMINMAX)
#define NOMINMAX
#endif
#include <fcntl.h>
#include <io.h>
#include <windows.h>
#else
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
extern char** environ;
#endif

namespace tvtest {

/// A role this binary can be started in: the arguments after the role name -> the exit code.
using role_function = int (*)(const std::vector<std::string>& args);

/// Every role of this binary, by name.
inline std::map<std::string, role_function>& roles() {
    static std::map<std::string, role_function> all;
    return all;
}

/// Registers a role at static initialisation (TVTEST_ROLE).
struct role_registration {
    role_registration(const char* name, role_function fn) { roles()[name] = fn; }
};

/// Defines a role: TVTEST_ROLE(holder) { ...; return 0; } (`args` holds the arguments).
#define TVTEST_ROLE(name)                                                                                 \
    static int tvtest_role_##name(const std::vector<std::string>& args);                                  \
    static const ::tvtest::role_registration tvtest_role_registration_##name(#name, &tvtest_role_##name); \
    static int tvtest_role_##name([[maybe_unused]] const std::vector<std::string>& args)

/// In a child: writes `line` and '\n' to standard output at once.
inline void send_line(const std::string& line) {
    const std::string framed = line + "\n";
    std::fwrite(framed.data(), 1, framed.size(), stdout);
    std::fflush(stdout);
}

/// In a child: the next line from standard input (nullopt at its end).
inline std::optional<std::string> receive_line() {
    std::string line;
    for (;;) {
        const int c = std::fgetc(stdin);
        if (c == EOF) return line.empty() ? std::nullopt : std::optional<std::string>(line);
        if (c == '\n') break;
        line.push_back(static_cast<char>(c));
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
}

/// Runs the role named on the command line (`--tvtest-role <name> [args...]`), if any; its exit code.
inline std::optional<int> run_role_if_asked(int argc, char** argv) {
    if (argc < 3 || std::strcmp(argv[1], "--tvtest-role") != 0) return std::nullopt;
#if defined(_WIN32)
    (void)_setmode(_fileno(stdout), _O_BINARY);  // '\n', not "\r\n"
    (void)_setmode(_fileno(stdin), _O_BINARY);
#endif
    const auto found = roles().find(argv[2]);
    if (found == roles().end()) {
        std::fprintf(stderr, "tvtest: no role '%s' in this binary\n", argv[2]);
        return 96;
    }
    std::vector<std::string> args(argv + 3, argv + argc);
    try {
        return found->second(args);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "tvtest: role '%s' threw: %s\n", argv[2], e.what());
        return 98;
    } catch (...) {
        return 98;
    }
}

/// The exit code of a child that was killed (SIGKILL on POSIX; TerminateProcess's code on Windows).
#if defined(_WIN32)
inline constexpr int killed_exit_code = 137;
#else
inline constexpr int killed_exit_code = 128 + SIGKILL;
#endif

/// This binary running in a role, connected to the test by its standard input and output.
class child {
public:
    /// Starts this binary as `--tvtest-role <role> <args...>`.
    static child start(const std::string& role, const std::vector<std::string>& args = {}) {
        child c;
        c.launch(role, args);
        return c;
    }
    child(child&& other) noexcept { *this = std::move(other); }
    child& operator=(child&& other) noexcept {
        if (this != &other) {
            stop();
            std::swap(running_, other.running_);
            std::swap(buffer_, other.buffer_);
#if defined(_WIN32)
            std::swap(process_, other.process_);
            std::swap(to_child_, other.to_child_);
            std::swap(from_child_, other.from_child_);
#else
            std::swap(pid_, other.pid_);
            std::swap(to_child_, other.to_child_);
            std::swap(from_child_, other.from_child_);
#endif
        }
        return *this;
    }
    child(const child&) = delete;
    child& operator=(const child&) = delete;
    ~child() { stop(); }

    /// Writes `line` and '\n' to the child's standard input.
    void send(const std::string& line) {
        const std::string framed = line + "\n";
#if defined(_WIN32)
        DWORD written = 0;
        (void)::WriteFile(to_child_, framed.data(), static_cast<DWORD>(framed.size()), &written, nullptr);
#else
        std::size_t done = 0;
        while (done < framed.size()) {
            const auto n = ::write(to_child_, framed.data() + done, framed.size() - done);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return;
            done += static_cast<std::size_t>(n);
        }
#endif
    }

    /// The next line the child wrote, or nullopt when none arrives within `timeout` (or it closed stdout).
    [[nodiscard]] std::optional<std::string> receive(
        std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            if (const auto nl = buffer_.find('\n'); nl != std::string::npos) {
                std::string line = buffer_.substr(0, nl);
                buffer_.erase(0, nl + 1);
                if (!line.empty() && line.back() == '\r') line.pop_back();
                return line;
            }
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return std::nullopt;
            if (!read_some(left)) return std::nullopt;
        }
    }

    /// Waits for the child to exit: its exit code, or -1 on timeout (the child is then killed).
    int wait(std::chrono::milliseconds timeout = std::chrono::seconds(120)) {
        if (!running_) return -1;
#if defined(_WIN32)
        if (::WaitForSingleObject(process_, static_cast<DWORD>(timeout.count())) != WAIT_OBJECT_0) {
            (void)kill();
            return -1;
        }
        return reap();
#else
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            int status = 0;
            const pid_t done = ::waitpid(pid_, &status, WNOHANG);
            if (done == pid_) return finished(status);
            if (done < 0 && errno != EINTR) return -1;
            if (std::chrono::steady_clock::now() >= deadline) {
                (void)kill();
                return -1;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
#endif
    }

    /// Kills the child at once (SIGKILL, TerminateProcess) and reaps it; its exit code (killed_exit_code).
    int kill() {
        if (!running_) return -1;
#if defined(_WIN32)
        (void)::TerminateProcess(process_, static_cast<UINT>(killed_exit_code));
        (void)::WaitForSingleObject(process_, INFINITE);
        return reap();
#else
        (void)::kill(pid_, SIGKILL);
        int status = 0;
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        return finished(status);
#endif
    }

private:
    child() = default;

    void stop() noexcept {
        if (running_) (void)kill();
        close_pipes();
    }

#if defined(_WIN32)
    static std::wstring quoted(const std::wstring& arg) {
        std::wstring out = L"\"";
        std::size_t backslashes = 0;
        for (const wchar_t c : arg) {
            if (c == L'\\') {
                ++backslashes;
                continue;
            }
            out.append(c == L'"' ? backslashes * 2 + 1 : backslashes, L'\\');
            backslashes = 0;
            out.push_back(c);
        }
        out.append(backslashes * 2, L'\\');
        return out + L"\"";
    }

    void launch(const std::string& role, const std::vector<std::string>& args) {
        wchar_t module[32768];
        const DWORD length = ::GetModuleFileNameW(nullptr, module, 32768);
        if (length == 0 || length >= 32768) throw std::runtime_error("GetModuleFileNameW failed");
        const std::filesystem::path exe(std::wstring(module, length));
        std::wstring command =
            quoted(exe.native()) + L" --tvtest-role " + quoted(std::filesystem::path(role).native());
        for (const auto& a : args) command += L" " + quoted(std::filesystem::path(a).native());

        SECURITY_ATTRIBUTES inherit{sizeof(SECURITY_ATTRIBUTES), nullptr, TRUE};
        HANDLE child_in = nullptr, child_out = nullptr;
        if (!::CreatePipe(&child_in, &to_child_, &inherit, 0) ||
            !::CreatePipe(&from_child_, &child_out, &inherit, 0))
            throw std::runtime_error("CreatePipe failed");
        ::SetHandleInformation(to_child_, HANDLE_FLAG_INHERIT, 0);
        ::SetHandleInformation(from_child_, HANDLE_FLAG_INHERIT, 0);
        STARTUPINFOW startup{};
        startup.cb = sizeof startup;
        startup.dwFlags = STARTF_USESTDHANDLES;
        startup.hStdInput = child_in;
        startup.hStdOutput = child_out;
        startup.hStdError = ::GetStdHandle(STD_ERROR_HANDLE);
        PROCESS_INFORMATION info{};
        std::fflush(nullptr);
        const BOOL ok = ::CreateProcessW(exe.c_str(), command.data(), nullptr, nullptr, TRUE, 0, nullptr,
                                         nullptr, &startup, &info);
        ::CloseHandle(child_in);
        ::CloseHandle(child_out);
        if (!ok) throw std::runtime_error("CreateProcessW failed");
        ::CloseHandle(info.hThread);
        process_ = info.hProcess;
        running_ = true;
    }

    bool read_some(std::chrono::milliseconds left) {
        const auto deadline = std::chrono::steady_clock::now() + left;
        for (;;) {
            DWORD available = 0;
            if (!::PeekNamedPipe(from_child_, nullptr, 0, nullptr, &available, nullptr))
                return false;  // closed
            if (available > 0) {
                char chunk[512];
                DWORD got = 0;
                if (!::ReadFile(from_child_, chunk, std::min<DWORD>(available, sizeof chunk), &got,
                                nullptr) ||
                    got == 0)
                    return false;
                buffer_.append(chunk, got);
                return true;
            }
            if (std::chrono::steady_clock::now() >= deadline) return false;
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    }

    int reap() {
        DWORD code = 0;
        (void)::GetExitCodeProcess(process_, &code);
        ::CloseHandle(process_);
        process_ = nullptr;
        running_ = false;
        return static_cast<int>(code);
    }

    void close_pipes() noexcept {
        if (to_child_ != nullptr) ::CloseHandle(to_child_);
        if (from_child_ != nullptr) ::CloseHandle(from_child_);
        to_child_ = from_child_ = nullptr;
    }

    HANDLE process_ = nullptr;
    HANDLE to_child_ = nullptr;
    HANDLE from_child_ = nullptr;
#else
    void launch(const std::string& role, const std::vector<std::string>& args) {
        int in[2], out[2];
        if (::pipe2(in, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
        if (::pipe2(out, O_CLOEXEC) != 0) {
            ::close(in[0]);
            ::close(in[1]);
            throw std::runtime_error("pipe2 failed");
        }
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
        posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
        ::signal(SIGPIPE, SIG_IGN);  // a child that exits early must not kill the test with its closed stdin
        std::string exe = "/proc/self/exe";
        std::vector<std::string> argv_text{exe, "--tvtest-role", role};
        argv_text.insert(argv_text.end(), args.begin(), args.end());
        std::vector<char*> argv;
        for (auto& a : argv_text) argv.push_back(a.data());
        argv.push_back(nullptr);
        std::fflush(nullptr);
        const int rc = ::posix_spawn(&pid_, exe.c_str(), &actions, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        ::close(in[0]);
        ::close(out[1]);
        to_child_ = in[1];
        from_child_ = out[0];
        if (rc != 0) throw std::runtime_error("posix_spawn failed");
        running_ = true;
    }

    bool read_some(std::chrono::milliseconds left) {
        pollfd p{from_child_, POLLIN, 0};
        const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
        if (ready < 0) return errno == EINTR;
        if (ready == 0) return false;
        char chunk[512];
        const auto n = ::read(from_child_, chunk, sizeof chunk);
        if (n < 0) return errno == EINTR;
        if (n == 0) return false;
        buffer_.append(chunk, static_cast<std::size_t>(n));
        return true;
    }

    int finished(int status) {
        running_ = false;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }

    void close_pipes() noexcept {
        if (to_child_ >= 0) ::close(to_child_);
        if (from_child_ >= 0) ::close(from_child_);
        to_child_ = from_child_ = -1;
    }

    pid_t pid_ = -1;
    int to_child_ = -1;
    int from_child_ = -1;
#endif
    bool running_ = false;
    std::string buffer_;
};

}  // namespace tvtest
