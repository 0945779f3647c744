// tokenvault/platform/win32_security.hpp: who owns and who may write a file, on Windows.
//
// `current_user` reads the process token once (user SID and default owner SID). `private_security`
// is the security descriptor of everything tokenvault creates: a protected DACL with one ACE granting the
// current user full control, nothing inherited. `check_security` applies the ssh-style rule to an open
// handle: the owner must be the current user (or the token's default owner), and no one but the user, the
// default owner, SYSTEM and the Administrators group may write, change the DACL or owner, or delete (a
// directory: also delete its children); `judge_security` is the same rule over a given security
// descriptor, so it can be tested on descriptors wine's file system would not keep. Included through
// platform.hpp only.
#pragma once

#include <array>
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "../error.hpp"
#include "../result.hpp"
#include "common.hpp"
#include "win32_api.hpp"

namespace tokenvault::platform {

/// The SIDs of the user this process runs as (read from its token once).
class current_user {
public:
    /// The current process's user; `valid()` is false when its token could not be read.
    [[nodiscard]] static const current_user& get() {
        static const current_user user;  // thread-safe initialisation; the token does not change
        return user;
    }
    /// Whether the token was read.
    [[nodiscard]] bool valid() const noexcept { return !user_.empty() && !owner_.empty(); }
    /// The user's SID.
    [[nodiscard]] PSID user_sid() const noexcept { return const_cast<BYTE*>(user_.data()); }
    /// The SID that owns what this process creates (the user, or Administrators when elevated).
    [[nodiscard]] PSID default_owner_sid() const noexcept { return const_cast<BYTE*>(owner_.data()); }
    /// Whether `sid` is this user or the token's default owner.
    [[nodiscard]] bool is_self(PSID sid) const noexcept {
        return valid() && sid != nullptr && ::IsValidSid(sid) &&
               (::EqualSid(sid, user_sid()) || ::EqualSid(sid, default_owner_sid()));
    }
    /// The user's SID as text ("S-1-5-21-...").
    [[nodiscard]] std::string user_text() const { return sid_text(user_sid()); }

    /// A SID as text, or "unknown SID".
    [[nodiscard]] static std::string sid_text(PSID sid) {
        LPSTR text = nullptr;
        if (sid == nullptr || !::ConvertSidToStringSidA(sid, &text)) return "unknown SID";
        std::string out(text);
        ::LocalFree(text);
        return out;
    }

private:
    current_user() {
        HANDLE raw = nullptr;
        if (!::OpenProcessToken(::GetCurrentProcess(), TOKEN_QUERY, &raw)) return;
        const unique_handle token(raw);
        user_ = read_sid(token.get(), TokenUser);
        owner_ = read_sid(token.get(), TokenOwner);
    }
    static std::vector<BYTE> read_sid(HANDLE token, TOKEN_INFORMATION_CLASS what) {
        DWORD size = 0;
        (void)::GetTokenInformation(token, what, nullptr, 0, &size);
        if (size == 0) return {};
        std::vector<BYTE> info(size);
        if (!::GetTokenInformation(token, what, info.data(), size, &size)) return {};
        PSID sid = what == TokenUser ? reinterpret_cast<TOKEN_USER*>(info.data())->User.Sid
                                     : reinterpret_cast<TOKEN_OWNER*>(info.data())->Owner;
        if (sid == nullptr || !::IsValidSid(sid)) return {};
        std::vector<BYTE> copy(::GetLengthSid(sid));
        if (!::CopySid(static_cast<DWORD>(copy.size()), copy.data(), sid)) return {};
        return copy;
    }
    std::vector<BYTE> user_;
    std::vector<BYTE> owner_;
};

/// The security attributes of files and directories tokenvault creates: owner-only, protected DACL.
class private_security {
public:
    /// Builds the descriptor for the current user; `attributes()` is null when that failed.
    private_security() {
        const auto& user = current_user::get();
        if (!user.valid()) return;
        const DWORD acl_size =
            sizeof(ACL) + sizeof(ACCESS_ALLOWED_ACE) - sizeof(DWORD) + ::GetLengthSid(user.user_sid());
        acl_.resize(acl_size);
        auto* acl = reinterpret_cast<PACL>(acl_.data());
        if (!::InitializeAcl(acl, acl_size, ACL_REVISION) ||
            !::AddAccessAllowedAceEx(acl, ACL_REVISION, 0, FILE_ALL_ACCESS, user.user_sid()) ||
            !::InitializeSecurityDescriptor(&descriptor_, SECURITY_DESCRIPTOR_REVISION) ||
            !::SetSecurityDescriptorDacl(&descriptor_, TRUE, acl, FALSE) ||
            !::SetSecurityDescriptorControl(&descriptor_, SE_DACL_PROTECTED, SE_DACL_PROTECTED))
            return;
        attributes_.nLength = sizeof attributes_;
        attributes_.lpSecurityDescriptor = &descriptor_;
        attributes_.bInheritHandle = FALSE;
        ready_ = true;
    }
    private_security(const private_security&) = delete;
    private_security& operator=(const private_security&) = delete;

    /// The attributes to pass to CreateFileW / CreateDirectoryW, or null (then creation must not proceed).
    [[nodiscard]] SECURITY_ATTRIBUTES* attributes() noexcept { return ready_ ? &attributes_ : nullptr; }

    /// The process's one instance (built on first use; the descriptor is only read afterwards).
    [[nodiscard]] static SECURITY_ATTRIBUTES* shared() {
        static private_security instance;
        return instance.attributes();
    }

private:
    std::vector<BYTE> acl_;
    SECURITY_DESCRIPTOR descriptor_{};
    SECURITY_ATTRIBUTES attributes_{};
    bool ready_ = false;
};

/// What `judge_security` found wrong, if anything.
enum class security_verdict { ok, foreign_owner, others_may_write };

/// The rights that let a holder change a file, its DACL or owner, or delete it; for a directory also add,
/// remove or rename entries (FILE_ADD_FILE and FILE_ADD_SUBDIRECTORY are FILE_WRITE_DATA and
/// FILE_APPEND_DATA).
inline constexpr ACCESS_MASK write_rights = FILE_WRITE_DATA | FILE_APPEND_DATA | FILE_WRITE_EA |
                                            FILE_DELETE_CHILD | DELETE | WRITE_DAC | WRITE_OWNER |
                                            GENERIC_WRITE | GENERIC_ALL;
/// The rights over a store directory's parent that let someone replace the store directory: delete or
/// rename its children, or change the parent's DACL or owner. (Adding entries is allowed, as a sticky
/// directory allows it on POSIX.)
inline constexpr ACCESS_MASK replace_child_rights = FILE_DELETE_CHILD | WRITE_DAC | WRITE_OWNER | GENERIC_ALL;

/// Whether `sid` may hold write rights on a private file: the user, the default owner, SYSTEM,
/// Administrators, or the owner placeholders (CREATOR OWNER, OWNER RIGHTS).
template <class = void>
[[nodiscard]] inline bool trusted_writer(PSID sid) {
    if (current_user::get().is_self(sid)) return true;
    for (const auto kind :
         {WinLocalSystemSid, WinBuiltinAdministratorsSid, WinCreatorOwnerSid, WinCreatorOwnerRightsSid}) {
        std::array<BYTE, SECURITY_MAX_SID_SIZE> known{};
        DWORD size = static_cast<DWORD>(known.size());
        if (::CreateWellKnownSid(kind, nullptr, known.data(), &size) && ::EqualSid(sid, known.data()))
            return true;
    }
    return false;
}

/// Judges an owner and DACL: a foreign owner, or an ACE that gives someone untrusted any of `rights`
/// (a null DACL gives everyone everything). Deny ACEs and inherit-only ACEs are ignored.
template <class = void>
[[nodiscard]] inline security_verdict judge_security(PSID owner, PACL dacl, ACCESS_MASK rights,
                                                     std::string* offender = nullptr) {
    if (!current_user::get().is_self(owner)) {
        if (offender != nullptr) *offender = current_user::sid_text(owner);
        return security_verdict::foreign_owner;
    }
    if (dacl == nullptr) {
        if (offender != nullptr) *offender = "everyone (no DACL)";
        return security_verdict::others_may_write;
    }
    for (DWORD i = 0; i < dacl->AceCount; ++i) {
        void* raw = nullptr;
        if (!::GetAce(dacl, i, &raw)) continue;
        const auto* header = static_cast<const ACE_HEADER*>(raw);
        if ((header->AceFlags & INHERIT_ONLY_ACE) != 0) continue;
        PSID sid = nullptr;
        ACCESS_MASK mask = 0;
        switch (header->AceType) {
        case ACCESS_ALLOWED_ACE_TYPE:
        case ACCESS_ALLOWED_CALLBACK_ACE_TYPE: {
            auto* ace = static_cast<ACCESS_ALLOWED_ACE*>(raw);
            mask = ace->Mask;
            sid = &ace->SidStart;
            break;
        }
        case ACCESS_ALLOWED_OBJECT_ACE_TYPE:
        case ACCESS_ALLOWED_CALLBACK_OBJECT_ACE_TYPE:
            mask =
                static_cast<ACCESS_ALLOWED_OBJECT_ACE*>(raw)->Mask;  // SID layout varies: judge by the mask
            break;
        default: continue;  // deny and audit ACEs grant nothing
        }
        if ((mask & rights) == 0) continue;
        if (sid != nullptr && trusted_writer(sid)) continue;
        if (offender != nullptr) *offender = sid != nullptr ? current_user::sid_text(sid) : "an object ACE";
        return security_verdict::others_may_write;
    }
    return security_verdict::ok;
}

/// Reads the owner and DACL of `handle` and judges them (errc::wrong_owner / errc::insecure_permissions).
template <class = void>
[[nodiscard]] inline result<void> check_security(HANDLE handle, const std::filesystem::path& p,
                                                 ACCESS_MASK rights, const char* what = "") {
    PSID owner = nullptr;
    PACL dacl = nullptr;
    PSECURITY_DESCRIPTOR descriptor = nullptr;
    const DWORD rc =
        ::GetSecurityInfo(handle, SE_FILE_OBJECT, OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
                          &owner, nullptr, &dacl, nullptr, &descriptor);
    if (rc != ERROR_SUCCESS) {
        if (rc == ERROR_ACCESS_DENIED) return error{errc::unreadable_store, p.string()};
        return io_failure(p, "GetSecurityInfo", rc);
    }
    std::string offender;
    const auto verdict = judge_security(owner, dacl, rights, &offender);
    ::LocalFree(descriptor);
    switch (verdict) {
    case security_verdict::ok: return {};
    case security_verdict::foreign_owner:
        return error{errc::wrong_owner, p.string() + std::string(what) + ": owned by " + offender +
                                            ", not by " + current_user::get().user_text()};
    case security_verdict::others_may_write:
        return error{errc::insecure_permissions, p.string() + std::string(what) + ": its DACL lets " +
                                                     offender + " change it: give only your user access"};
    }
    return {};
}

}  // namespace tokenvault::platform
