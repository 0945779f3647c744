// tokenvault/detail/secure_buffer.hpp: memory for secrets.
//
// `secure_buffer` owns bytes in libsodium's guarded, locked (mlock) memory, zeroed when released: data
// keys, passphrases, decrypted bundles. `zeroing_allocator` is a std allocator that wipes what it frees,
// for strings that hold token values. `ensure_sodium()` initialises libsodium once (thread-safe).
#pragma once

#include <sodium.h>

#include <cstddef>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "../error.hpp"
#include "../result.hpp"

namespace tokenvault::detail {

/// Initialises libsodium once; fails with errc::crypto_failure if it cannot.
[[nodiscard]] inline result<void> ensure_sodium() noexcept {
    static const int status = sodium_init();  // idempotent and thread-safe
    if (status < 0) return error{errc::crypto_failure, "sodium_init"};
    return {};
}

/// Bytes in locked, guarded memory that are zeroed when released. Move-only.
class secure_buffer {
public:
    secure_buffer() noexcept = default;
    /// Allocates `size` zeroed bytes; throws std::bad_alloc if libsodium cannot.
    explicit secure_buffer(std::size_t size) : size_(size) {
        if (size == 0) return;
        if (ensure_sodium().has_value() == false) throw std::bad_alloc();
        data_ = static_cast<std::byte*>(sodium_malloc(size));
        if (data_ == nullptr) throw std::bad_alloc();
        std::memset(data_, 0, size);
    }
    /// Copies `bytes` into a new secure buffer.
    static secure_buffer copy_of(std::span<const std::byte> bytes) {
        secure_buffer b(bytes.size());
        if (!bytes.empty()) std::memcpy(b.data_, bytes.data(), bytes.size());
        return b;
    }
    static secure_buffer copy_of(std::string_view text) {
        return copy_of(std::as_bytes(std::span<const char>(text.data(), text.size())));
    }
    secure_buffer(secure_buffer&& other) noexcept
        : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
    secure_buffer& operator=(secure_buffer&& other) noexcept {
        if (this != &other) {
            release();
            data_ = std::exchange(other.data_, nullptr);
            size_ = std::exchange(other.size_, 0);
        }
        return *this;
    }
    secure_buffer(const secure_buffer&) = delete;
    secure_buffer& operator=(const secure_buffer&) = delete;
    ~secure_buffer() { release(); }

    [[nodiscard]] std::byte* data() noexcept { return data_; }
    [[nodiscard]] const std::byte* data() const noexcept { return data_; }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
    [[nodiscard]] std::span<std::byte> bytes() noexcept { return {data_, size_}; }
    [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }
    [[nodiscard]] std::string_view view() const noexcept {
        return {reinterpret_cast<const char*>(data_), size_};
    }
    /// Shrinks the visible size (the allocation stays; the tail is zeroed).
    void shrink(std::size_t new_size) noexcept {
        if (new_size < size_) {
            sodium_memzero(data_ + new_size, size_ - new_size);
            size_ = new_size;
        }
    }
    /// Constant-time comparison.
    [[nodiscard]] bool equals(std::span<const std::byte> other) const noexcept {
        return other.size() == size_ && (size_ == 0 || sodium_memcmp(data_, other.data(), size_) == 0);
    }

private:
    void release() noexcept {
        if (data_ != nullptr) sodium_free(data_);  // sodium_free zeroes before releasing
        data_ = nullptr;
        size_ = 0;
    }
    std::byte* data_ = nullptr;
    std::size_t size_ = 0;
};

/// A std allocator that zeroes memory before returning it to the heap.
template <class T>
struct zeroing_allocator {
    using value_type = T;
    zeroing_allocator() noexcept = default;
    template <class U>
    zeroing_allocator(const zeroing_allocator<U>&) noexcept {}  // NOLINT
    [[nodiscard]] T* allocate(std::size_t n) { return std::allocator<T>{}.allocate(n); }
    void deallocate(T* p, std::size_t n) noexcept {
        sodium_memzero(p, n * sizeof(T));
        std::allocator<T>{}.deallocate(p, n);
    }
    template <class U>
    friend bool operator==(const zeroing_allocator&, const zeroing_allocator<U>&) noexcept {
        return true;
    }
};

/// A string whose memory is wiped when it grows or is released (serialized bundles, decoded secrets).
using secret_text = std::basic_string<char, std::char_traits<char>, zeroing_allocator<char>>;

/// Wipes the characters of a string in place (for std::string temporaries that held secrets).
template <class String>
void wipe(String& s) noexcept {
    if (!s.empty()) sodium_memzero(s.data(), s.size());
    s.clear();
}

}  // namespace tokenvault::detail
