// tests/support/memory_keyring.hpp: stores with a fresh keyring::memory service, and that service seen from a
// test.
//
// A store whose keyring is keyring::memory keeps its items in the process-wide control block of its app name:
// a unique app name gives a test a service of its own, whose items it can read and seed and whose keyring
// reads and writes it can count.
#pragma once

#include <sodium.h>

#include <tokenvault/detail/secure_buffer.hpp>
#include <tokenvault/keyring/memory.hpp>
#include <tokenvault/options.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "temp_dir.hpp"

namespace tvtest {

/// `n` random bytes as 2n lowercase hex digits (libsodium must be initialised).
inline std::string random_hex(std::size_t n) {
    std::vector<unsigned char> raw(n);
    randombytes_buf(raw.data(), raw.size());
    std::string hex(n * 2 + 1, '\0');
    sodium_bin2hex(hex.data(), hex.size(), raw.data(), raw.size());
    hex.pop_back();
    return hex;
}

/// Options for a store in `<dir>/store` with a 5 s lock timeout and the app name `<app_prefix><12 random hex
/// digits>`, so a fresh keyring::memory service; initialises libsodium.
inline tokenvault::store_options fresh_store_options(const temp_dir& dir, const std::string& app_prefix) {
    if (sodium_init() < 0) throw std::runtime_error("sodium_init failed");
    tokenvault::store_options o;
    o.app_name = app_prefix + random_hex(6);
    o.directory = dir / "store";
    o.lock_timeout = std::chrono::seconds(5);
    return o;
}

/// The control block of the keyring::memory service of the store with options `o`.
inline std::shared_ptr<tokenvault::keyring::memory::control> control_of(const tokenvault::store_options& o) {
    return tokenvault::keyring::memory::control_for(o.app_name);
}

/// The bytes of item `account` of that service, or "" when absent.
inline std::string item_of(const tokenvault::store_options& o, std::string_view account) {
    auto c = control_of(o);
    const std::lock_guard lock(c->mutex);
    auto found = c->items.find(account);
    return found == c->items.end() ? std::string{} : std::string(found->second.view());
}

/// Sets item `account` of that service to `bytes`, bypassing the keyring's own accounting.
inline void set_item(const tokenvault::store_options& o, std::string_view account, std::string_view bytes) {
    auto c = control_of(o);
    const std::lock_guard lock(c->mutex);
    c->items.insert_or_assign(std::string(account), tokenvault::detail::secure_buffer::copy_of(bytes));
}

/// How many keyring reads that service has served.
inline std::size_t reads_of(const tokenvault::store_options& o) {
    auto c = control_of(o);
    const std::lock_guard lock(c->mutex);
    return c->reads;
}

/// How many keyring writes that service has taken.
inline std::size_t writes_of(const tokenvault::store_options& o) {
    auto c = control_of(o);
    const std::lock_guard lock(c->mutex);
    return c->writes;
}

}  // namespace tvtest
