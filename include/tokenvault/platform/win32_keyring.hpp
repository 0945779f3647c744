// tokenvault/platform/win32_keyring.hpp: the Windows secret stores, as small calls for the keyrings.
//
// Credential Manager (generic credentials: read, write, delete, enumerate by target prefix) for
// keyring::wincred, and DPAPI (CryptProtectData / CryptUnprotectData, user scope, no UI) for
// keyring::dpapi. Secrets come back in secure memory; what Windows handed out is zeroed before it is
// freed. Errors map to the keyring codes (unavailable, denied, too large, corrupt). Windows only.
#pragma once

#include <cstddef>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "../detail/secure_buffer.hpp"
#include "../error.hpp"
#include "../result.hpp"
#include "win32_api.hpp"

namespace tokenvault::platform::win32 {

/// `text` (UTF-8) as UTF-16.
[[nodiscard]] inline std::wstring widen(std::string_view text) {
    if (text.empty()) return {};
    const int n = ::MultiByteToWideChar(CP_UTF8, 0, text.data(), static_cast<int>(text.size()), nullptr, 0);
    std::wstring out(static_cast<std::size_t>(n > 0 ? n : 0), L'\0');
    if (n > 0) ::MultiByteToWideChar(CP_UTF8, 0, text.data(), static_cast<int>(text.size()), out.data(), n);
    return out;
}

/// `text` (UTF-16) as UTF-8.
[[nodiscard]] inline std::string narrow(std::wstring_view text) {
    if (text.empty()) return {};
    const int n = ::WideCharToMultiByte(CP_UTF8, 0, text.data(), static_cast<int>(text.size()), nullptr, 0,
                                        nullptr, nullptr);
    std::string out(static_cast<std::size_t>(n > 0 ? n : 0), '\0');
    if (n > 0)
        ::WideCharToMultiByte(CP_UTF8, 0, text.data(), static_cast<int>(text.size()), out.data(), n, nullptr,
                              nullptr);
    return out;
}

/// The keyring error for a Credential Manager call that failed with `err` (`what` names the call).
[[nodiscard]] inline error credential_failure(DWORD err, const std::string& what) {
    const std::string context =
        "Credential Manager: " + what + " (Windows error " + std::to_string(err) + ")";
    switch (err) {
    case ERROR_NO_SUCH_LOGON_SESSION:
        return error{errc::keyring_unavailable, context + ": no logon session with a credential store"};
    case ERROR_ACCESS_DENIED: return error{errc::keyring_denied, context};
    case ERROR_BAD_LENGTH: return error{errc::keyring_item_too_large, context};
    default: return error{errc::keyring_unavailable, context};
    }
}

/// Whether this logon session has a credential store (a read of a name nobody uses reaches it).
[[nodiscard]] inline bool credential_store_available() {
    PCREDENTIALW found = nullptr;
    if (::CredReadW(L"tokenvault/probe/3c0e5a1f-availability", CRED_TYPE_GENERIC, 0, &found)) {
        ::CredFree(found);
        return true;
    }
    return ::GetLastError() == ERROR_NOT_FOUND;
}

/// The secret of the generic credential `target`, or nullopt when there is none.
[[nodiscard]] inline result<std::optional<detail::secure_buffer>> read_credential(
    const std::wstring& target) {
    PCREDENTIALW found = nullptr;
    if (!::CredReadW(target.c_str(), CRED_TYPE_GENERIC, 0, &found)) {
        const DWORD err = ::GetLastError();
        if (err == ERROR_NOT_FOUND) return std::optional<detail::secure_buffer>{};
        return credential_failure(err, "read");
    }
    std::optional<detail::secure_buffer> secret;
    try {
        secret.emplace(found->CredentialBlobSize);
        if (found->CredentialBlobSize > 0)
            std::memcpy(secret->data(), found->CredentialBlob, found->CredentialBlobSize);
    } catch (...) {
        ::SecureZeroMemory(found->CredentialBlob, found->CredentialBlobSize);
        ::CredFree(found);
        throw;
    }
    ::SecureZeroMemory(found->CredentialBlob, found->CredentialBlobSize);
    ::CredFree(found);
    return secret;
}

/// Creates or replaces the generic credential `target` (user name `user`, persisted on this machine).
[[nodiscard]] inline result<void> write_credential(const std::wstring& target, const std::wstring& user,
                                                   std::span<const std::byte> secret) {
    CREDENTIALW credential{};
    credential.Type = CRED_TYPE_GENERIC;
    credential.TargetName = const_cast<LPWSTR>(target.c_str());
    credential.UserName = const_cast<LPWSTR>(user.c_str());
    credential.Comment = const_cast<LPWSTR>(L"tokenvault");
    credential.Persist = CRED_PERSIST_LOCAL_MACHINE;
    credential.CredentialBlobSize = static_cast<DWORD>(secret.size());
    // CredWriteW only reads the blob; its declaration asks for a mutable pointer.
    credential.CredentialBlob = reinterpret_cast<LPBYTE>(const_cast<std::byte*>(secret.data()));
    if (!::CredWriteW(&credential, 0)) return credential_failure(::GetLastError(), "write");
    return {};
}

/// Deletes the generic credential `target`; false when there was none.
[[nodiscard]] inline result<bool> delete_credential(const std::wstring& target) {
    if (::CredDeleteW(target.c_str(), CRED_TYPE_GENERIC, 0)) return true;
    const DWORD err = ::GetLastError();
    if (err == ERROR_NOT_FOUND) return false;
    return credential_failure(err, "delete");
}

/// The target names of the generic credentials that start with `prefix`.
[[nodiscard]] inline result<std::vector<std::wstring>> list_credentials(const std::wstring& prefix) {
    DWORD count = 0;
    PCREDENTIALW* found = nullptr;
    const std::wstring filter = prefix + L"*";
    if (!::CredEnumerateW(filter.c_str(), 0, &count, &found)) {
        const DWORD err = ::GetLastError();
        if (err == ERROR_NOT_FOUND) return std::vector<std::wstring>{};
        return credential_failure(err, "enumerate");
    }
    std::vector<std::wstring> targets;
    for (DWORD i = 0; i < count; ++i) {
        const auto* c = found[i];
        if (c->Type != CRED_TYPE_GENERIC || c->TargetName == nullptr) continue;
        std::wstring name(c->TargetName);
        if (name.compare(0, prefix.size(), prefix) == 0)
            targets.push_back(std::move(name));  // '*' is a wildcard
    }
    ::CredFree(found);
    return targets;
}

/// The DPAPI blob of `secret` for the current user, bound to `entropy`.
[[nodiscard]] inline result<std::vector<std::byte>> protect(std::span<const std::byte> secret,
                                                            std::span<const std::byte> entropy) {
    DATA_BLOB in{static_cast<DWORD>(secret.size()),
                 reinterpret_cast<BYTE*>(const_cast<std::byte*>(secret.data()))};
    DATA_BLOB extra{static_cast<DWORD>(entropy.size()),
                    reinterpret_cast<BYTE*>(const_cast<std::byte*>(entropy.data()))};
    DATA_BLOB out{};
    if (!::CryptProtectData(&in, L"tokenvault", &extra, nullptr, nullptr, CRYPTPROTECT_UI_FORBIDDEN, &out))
        return error{errc::crypto_failure,
                     "DPAPI: CryptProtectData (Windows error " + std::to_string(::GetLastError()) + ")"};
    std::vector<std::byte> blob(out.cbData);
    if (out.cbData > 0) std::memcpy(blob.data(), out.pbData, out.cbData);
    ::LocalFree(out.pbData);
    return blob;
}

/// The secret in the DPAPI blob `blob` (bound to `entropy`); errc::corrupt_file when DPAPI refuses it
/// (damaged, bound to other entropy, or protected by another user).
[[nodiscard]] inline result<detail::secure_buffer> unprotect(std::span<const std::byte> blob,
                                                             std::span<const std::byte> entropy) {
    DATA_BLOB in{static_cast<DWORD>(blob.size()),
                 reinterpret_cast<BYTE*>(const_cast<std::byte*>(blob.data()))};
    DATA_BLOB extra{static_cast<DWORD>(entropy.size()),
                    reinterpret_cast<BYTE*>(const_cast<std::byte*>(entropy.data()))};
    DATA_BLOB out{};
    if (!::CryptUnprotectData(&in, nullptr, &extra, nullptr, nullptr, CRYPTPROTECT_UI_FORBIDDEN, &out))
        return error{errc::corrupt_file, "DPAPI could not decrypt it (Windows error " +
                                             std::to_string(::GetLastError()) +
                                             "): damaged, or protected by another Windows user"};
    std::optional<detail::secure_buffer> secret;
    try {
        secret.emplace(out.cbData);
        if (out.cbData > 0) std::memcpy(secret->data(), out.pbData, out.cbData);
    } catch (...) {
        ::SecureZeroMemory(out.pbData, out.cbData);
        ::LocalFree(out.pbData);
        throw;
    }
    ::SecureZeroMemory(out.pbData, out.cbData);
    ::LocalFree(out.pbData);
    return std::move(*secret);
}

}  // namespace tokenvault::platform::win32
