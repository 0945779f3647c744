// tests/support/sealed_text.hpp: the plaintext of a sealed store file, read and replaced from outside.
//
// For tests that need a bundle no tokenvault writer produces (a hand edit under a valid seal, a damaged
// counter, an entry a newer version wrote): the file is opened and sealed again with its own data key and
// header (XChaCha20-Poly1305, docs/FORMAT.md), so it authenticates like any file the store wrote.
#pragma once

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <tokenvault/backend/sealed_file.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace tvtest {

/// The bytes of `p`.
inline std::string file_bytes(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + p.string());
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Replaces `p` by a new file holding `bytes` (mode 0600), atomically.
inline void replace_file(const std::filesystem::path& p, std::string_view bytes) {
    const auto temp = p.string() + ".test-tmp";
    const int fd = ::open(temp.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error("cannot create " + temp);
    const bool ok = ::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size());
    ::close(fd);
    if (!ok || ::rename(temp.c_str(), p.c_str()) != 0)
        throw std::runtime_error("cannot replace " + p.string());
}

/// The plaintext bundle of the XChaCha20-Poly1305 sealed file `p`, opened with `key` (32 bytes).
inline std::string sealed_plaintext(const std::filesystem::path& p, std::string_view key) {
    const auto bytes = file_bytes(p);
    const auto header = tokenvault::backend::parse_sealed_header(
        std::as_bytes(std::span<const char>(bytes.data(), bytes.size())));
    if (!header) throw std::runtime_error("not a sealed file: " + header.error().message());
    const std::size_t nonce_at = header->size, sealed_at = header->size + 24;
    if (bytes.size() < sealed_at + 16) throw std::runtime_error("truncated sealed file");
    std::vector<unsigned char> plain(bytes.size() - sealed_at - 16);
    unsigned long long plain_size = 0;
    const auto* u = reinterpret_cast<const unsigned char*>(bytes.data());
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain.data(), &plain_size, nullptr, u + sealed_at,
                                                   bytes.size() - sealed_at, u, header->size, u + nonce_at,
                                                   reinterpret_cast<const unsigned char*>(key.data())) != 0)
        throw std::runtime_error("the sealed file does not open with this key");
    return {reinterpret_cast<const char*>(plain.data()), static_cast<std::size_t>(plain_size)};
}

/// Seals `plaintext` again into `p` with `key`, keeping the file's header (a fresh nonce).
inline void reseal_plaintext(const std::filesystem::path& p, std::string_view key,
                             std::string_view plaintext) {
    const auto bytes = file_bytes(p);
    const auto header = tokenvault::backend::parse_sealed_header(
        std::as_bytes(std::span<const char>(bytes.data(), bytes.size())));
    if (!header) throw std::runtime_error("not a sealed file: " + header.error().message());
    std::string out = bytes.substr(0, header->size);
    std::string nonce(24, '\0');
    randombytes_buf(nonce.data(), nonce.size());
    std::vector<unsigned char> sealed(plaintext.size() + 16);
    unsigned long long sealed_size = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(
        sealed.data(), &sealed_size, reinterpret_cast<const unsigned char*>(plaintext.data()),
        plaintext.size(), reinterpret_cast<const unsigned char*>(out.data()), out.size(), nullptr,
        reinterpret_cast<const unsigned char*>(nonce.data()),
        reinterpret_cast<const unsigned char*>(key.data()));
    replace_file(p, out + nonce + std::string(reinterpret_cast<const char*>(sealed.data()), sealed_size));
}

}  // namespace tvtest
