// tokenvault/result.hpp: `result<T>`, the return type of every fallible tokenvault call.
//
// A result holds either a value or an `error` (a `std::error_code` plus a short context that never
// contains a secret). It is a small subset of C++23 `std::expected`; `value()` on an error throws
// `tokenvault::bad_result_access` for callers who prefer exceptions.
#pragma once

#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

#include "error.hpp"

namespace tokenvault {

/// An error: a code in the tokenvault (or system) category plus a secret-free context.
struct error {
    std::error_code code;  ///< what went wrong
    std::string context;   ///< where: a path, a keyring tier, a field name; never a secret

    error() = default;
    error(std::error_code c, std::string ctx = {}) : code(c), context(std::move(ctx)) {}  // NOLINT
    error(errc c, std::string ctx = {}) : code(make_error_code(c)), context(std::move(ctx)) {}  // NOLINT

    /// The full message: what went wrong, where, and what to do.
    [[nodiscard]] std::string message() const {
        return context.empty() ? code.message() : context + ": " + code.message();
    }
    friend bool operator==(const error& e, errc c) noexcept { return e.code == make_error_code(c); }
};

/// Thrown by `result<T>::value()` when the result holds an error.
class bad_result_access : public std::runtime_error {
public:
    explicit bad_result_access(const error& e) : std::runtime_error(e.message()), code_(e.code) {}
    [[nodiscard]] std::error_code code() const noexcept { return code_; }

private:
    std::error_code code_;
};

/// Either a `T` or an `error`.
template <class T>
class [[nodiscard]] result {
public:
    using value_type = T;

    result(const T& v) : state_(std::in_place_index<0>, v) {}                // NOLINT
    result(T&& v) : state_(std::in_place_index<0>, std::move(v)) {}           // NOLINT
    result(::tokenvault::error e) : state_(std::in_place_index<1>, std::move(e)) {}         // NOLINT
    result(errc c, std::string ctx = {}) : result(::tokenvault::error{c, std::move(ctx)}) {}  // NOLINT
    template <class... Args>
    explicit result(std::in_place_t, Args&&... args) : state_(std::in_place_index<0>, std::forward<Args>(args)...) {}

    [[nodiscard]] bool has_value() const noexcept { return state_.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }

    [[nodiscard]] T& value() & { check(); return std::get<0>(state_); }
    [[nodiscard]] const T& value() const& { check(); return std::get<0>(state_); }
    [[nodiscard]] T&& value() && { check(); return std::get<0>(std::move(state_)); }
    [[nodiscard]] T& operator*() & noexcept { return *std::get_if<0>(&state_); }
    [[nodiscard]] const T& operator*() const& noexcept { return *std::get_if<0>(&state_); }
    [[nodiscard]] T&& operator*() && noexcept { return std::move(*std::get_if<0>(&state_)); }
    [[nodiscard]] T* operator->() noexcept { return std::get_if<0>(&state_); }
    [[nodiscard]] const T* operator->() const noexcept { return std::get_if<0>(&state_); }

    /// The error; only valid when `!has_value()`.
    [[nodiscard]] const ::tokenvault::error& error() const& noexcept { return *std::get_if<1>(&state_); }
    [[nodiscard]] std::error_code code() const noexcept {
        return has_value() ? std::error_code{} : std::get_if<1>(&state_)->code;
    }

private:
    void check() const {
        if (!has_value()) throw bad_result_access(*std::get_if<1>(&state_));
    }
    std::variant<T, ::tokenvault::error> state_;
};

/// A result with no value: success or an `error`.
template <>
class [[nodiscard]] result<void> {
public:
    using value_type = void;

    result() = default;
    result(::tokenvault::error e) : error_(std::move(e)), failed_(true) {}                   // NOLINT
    result(errc c, std::string ctx = {}) : result(::tokenvault::error{c, std::move(ctx)}) {}  // NOLINT

    [[nodiscard]] bool has_value() const noexcept { return !failed_; }
    explicit operator bool() const noexcept { return has_value(); }
    void value() const {
        if (failed_) throw bad_result_access(error_);
    }
    [[nodiscard]] const ::tokenvault::error& error() const& noexcept { return error_; }
    [[nodiscard]] std::error_code code() const noexcept { return failed_ ? error_.code : std::error_code{}; }

private:
    ::tokenvault::error error_;
    bool failed_ = false;
};

/// Propagates the error of `expr` (a result) out of the enclosing function returning a result.
#define TOKENVAULT_TRY(expr)                                       \
    do {                                                           \
        if (auto&& tokenvault_try_result_ = (expr); !tokenvault_try_result_) \
            return tokenvault_try_result_.error();                 \
    } while (false)

}  // namespace tokenvault
