// tokenvault/result.hpp: `result<T>`, the return type of every fallible tokenvault call.
//
// A result holds either a value or an `error` (a `std::error_code` plus a short context that never
// contains a secret). It is a small subset of C++23 `std::expected`; `value()` on an error throws
// `tokenvault::bad_result_access` for callers who prefer exceptions.
#pragma once

#include <new>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

#include "error.hpp"

namespace tokenvault {

/// An error: a code in the tokenvault (or system) category plus a secret-free context.
struct error {
    std::error_code code;  ///< what went wrong
    std::string context;   ///< where: a path, a keyring tier, a field name; never a secret

    error() = default;
    error(std::error_code c, std::string ctx = {}) : code(c), context(std::move(ctx)) {}        // NOLINT
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
///
/// A tagged union rather than a std::variant: every header instantiates dozens of result types, and a
/// variant costs several times more to instantiate. Copyable exactly when T is.
template <class T>
class [[nodiscard]] result {
    static_assert(!std::is_reference_v<T> && !std::is_same_v<std::remove_cv_t<T>, ::tokenvault::error>,
                  "tokenvault: result<T> holds a value type other than error");

public:
    using value_type = T;

    result(const T& v) : value_(v), has_value_(true) {}                                       // NOLINT
    result(T&& v) : value_(std::move(v)), has_value_(true) {}                                 // NOLINT
    result(::tokenvault::error e) : error_(std::move(e)), has_value_(false) {}                // NOLINT
    result(errc c, std::string ctx = {}) : result(::tokenvault::error{c, std::move(ctx)}) {}  // NOLINT
    template <class... Args>
    explicit result(std::in_place_t, Args&&... args)
        : value_(std::forward<Args>(args)...), has_value_(true) {}

    result(const result& other) requires std::is_copy_constructible_v<T> : has_value_(other.has_value_) {
        if (has_value_)
            ::new (static_cast<void*>(&value_)) T(other.value_);
        else
            ::new (static_cast<void*>(&error_))::tokenvault::error(other.error_);
    }
    result(result&& other) noexcept(std::is_nothrow_move_constructible_v<T>) : has_value_(other.has_value_) {
        if (has_value_)
            ::new (static_cast<void*>(&value_)) T(std::move(other.value_));
        else
            ::new (static_cast<void*>(&error_))::tokenvault::error(std::move(other.error_));
    }
    result& operator=(
        const result& other) requires std::is_copy_constructible_v<T> && std::is_copy_assignable_v<T> {
        if (this == &other) return *this;
        if (has_value_ && other.has_value_) {
            value_ = other.value_;
        } else if (!has_value_ && !other.has_value_) {
            error_ = other.error_;
        } else {
            result copy(other);  // may throw: *this is untouched until the copy exists
            replace_with(std::move(copy));
        }
        return *this;
    }
    result& operator=(result&& other) noexcept(
        std::is_nothrow_move_constructible_v<T>&& std::is_nothrow_move_assignable_v<T>) {
        if (this == &other) return *this;
        if (has_value_ && other.has_value_)
            value_ = std::move(other.value_);
        else if (!has_value_ && !other.has_value_)
            error_ = std::move(other.error_);
        else
            replace_with(std::move(other));
        return *this;
    }
    ~result() { destroy(); }

    [[nodiscard]] bool has_value() const noexcept { return has_value_; }
    explicit operator bool() const noexcept { return has_value_; }

    [[nodiscard]] T& value() & {
        check();
        return value_;
    }
    [[nodiscard]] const T& value() const& {
        check();
        return value_;
    }
    [[nodiscard]] T&& value() && {
        check();
        return std::move(value_);
    }
    [[nodiscard]] T& operator*() & noexcept { return value_; }
    [[nodiscard]] const T& operator*() const& noexcept { return value_; }
    [[nodiscard]] T&& operator*() && noexcept { return std::move(value_); }
    [[nodiscard]] T* operator->() noexcept { return &value_; }
    [[nodiscard]] const T* operator->() const noexcept { return &value_; }

    /// The error; only valid when `!has_value()`.
    [[nodiscard]] const ::tokenvault::error& error() const& noexcept { return error_; }
    [[nodiscard]] std::error_code code() const noexcept {
        return has_value_ ? std::error_code{} : error_.code;
    }

private:
    void check() const {
        if (!has_value_) throw bad_result_access(error_);
    }
    void destroy() noexcept {
        if (has_value_)
            value_.~T();
        else
            error_.~error();
    }
    // Switches between value and error. Moves are expected not to throw (every tokenvault value type);
    // a throwing one ends the program rather than leave a result with no state.
    void replace_with(result&& other) noexcept {
        destroy();
        has_value_ = other.has_value_;
        if (has_value_)
            ::new (static_cast<void*>(&value_)) T(std::move(other.value_));
        else
            ::new (static_cast<void*>(&error_))::tokenvault::error(std::move(other.error_));
    }

    union {
        T value_;
        ::tokenvault::error error_;
    };
    bool has_value_;
};

/// A result with no value: success or an `error`.
template <>
class [[nodiscard]] result<void> {
public:
    using value_type = void;

    result() = default;
    result(::tokenvault::error e) : error_(std::move(e)), failed_(true) {}                    // NOLINT
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
#define TOKENVAULT_TRY(expr)                                                 \
    do {                                                                     \
        if (auto&& tokenvault_try_result_ = (expr); !tokenvault_try_result_) \
            return tokenvault_try_result_.error();                           \
    } while (false)

}  // namespace tokenvault
