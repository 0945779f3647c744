// tokenvault/keyring/macos_keychain_api.hpp: the one table of Security and CoreFoundation calls that
// keyring::macos_keychain makes, and Apple's framework behind it on Apple platforms.
//
// keyring::macos_keychain calls nothing of Apple's by name: every call goes through `keychain_api`, plain
// function pointers over opaque CoreFoundation references. On Apple platforms the default table is
// Security.framework + CoreFoundation, chosen at compile time (TOKENVAULT_USE_SECURITY_FRAMEWORK; link
// `-framework Security -framework CoreFoundation`, meson's tokenvault-macos-keychain dependency).
// Elsewhere there is no default: the keyring answers "not available here" unless a program installs a
// table (tokenvault's tests install a fake keychain that models Apple's documented semantics).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

#ifndef TOKENVAULT_USE_SECURITY_FRAMEWORK
#if defined(__APPLE__)
#define TOKENVAULT_USE_SECURITY_FRAMEWORK 1
#else
#define TOKENVAULT_USE_SECURITY_FRAMEWORK 0
#endif
#endif

#if TOKENVAULT_USE_SECURITY_FRAMEWORK
#include <CoreFoundation/CoreFoundation.h>
#include <Security/Security.h>
#endif

namespace tokenvault::keyring::keychain {

/// OSStatus: Security's result code (0 is success).
using os_status = std::int32_t;
/// CFTypeRef: any CoreFoundation object, opaque here.
using cf_ref = const void*;
/// CFIndex: a signed CoreFoundation length or index.
using cf_size = long;

/// The OSStatus values macos_keychain tells apart (Security/SecBase.h).
namespace status {
inline constexpr os_status success = 0;                ///< errSecSuccess
inline constexpr os_status param = -50;                ///< errSecParam: a malformed query
inline constexpr os_status allocate = -108;            ///< errSecAllocate
inline constexpr os_status user_canceled = -128;       ///< errSecUserCanceled: "Deny" or a cancelled dialog
inline constexpr os_status not_available = -25291;     ///< errSecNotAvailable: no keychain available
inline constexpr os_status auth_failed = -25293;       ///< errSecAuthFailed: wrong password, or refused
inline constexpr os_status no_such_keychain = -25294;  ///< errSecNoSuchKeychain
inline constexpr os_status duplicate_item = -25299;  ///< errSecDuplicateItem: SecItemAdd of an existing item
inline constexpr os_status item_not_found = -25300;  ///< errSecItemNotFound
inline constexpr os_status no_default_keychain = -25307;  ///< errSecNoDefaultKeychain
inline constexpr os_status interaction_not_allowed =
    -25308;  ///< errSecInteractionNotAllowed: no dialog possible
inline constexpr os_status interaction_required = -25315;  ///< errSecInteractionRequired
inline constexpr os_status data_not_available = -25316;    ///< errSecDataNotAvailable
inline constexpr os_status in_dark_wake = -25320;          ///< errSecInDarkWake: the Mac is in dark wake
inline constexpr os_status missing_entitlement = -34018;   ///< errSecMissingEntitlement
}  // namespace status

/// The name of `s` as Security spells it ("errSecAuthFailed"), or "" for a value not listed above.
[[nodiscard]] constexpr std::string_view status_name(os_status s) noexcept {
    switch (s) {
    case status::success: return "errSecSuccess";
    case status::param: return "errSecParam";
    case status::allocate: return "errSecAllocate";
    case status::user_canceled: return "errSecUserCanceled";
    case status::not_available: return "errSecNotAvailable";
    case status::auth_failed: return "errSecAuthFailed";
    case status::no_such_keychain: return "errSecNoSuchKeychain";
    case status::duplicate_item: return "errSecDuplicateItem";
    case status::item_not_found: return "errSecItemNotFound";
    case status::no_default_keychain: return "errSecNoDefaultKeychain";
    case status::interaction_not_allowed: return "errSecInteractionNotAllowed";
    case status::interaction_required: return "errSecInteractionRequired";
    case status::data_not_available: return "errSecDataNotAvailable";
    case status::in_dark_wake: return "errSecInDarkWake";
    case status::missing_entitlement: return "errSecMissingEntitlement";
    default: return "";
    }
}

/// The CoreFoundation constants macos_keychain puts into queries (keys and values).
enum class cf_constant {
    sec_class,                      ///< kSecClass
    class_generic_password,         ///< kSecClassGenericPassword
    attr_service,                   ///< kSecAttrService
    attr_account,                   ///< kSecAttrAccount
    attr_label,                     ///< kSecAttrLabel
    attr_access_group,              ///< kSecAttrAccessGroup
    attr_accessible,                ///< kSecAttrAccessible
    accessible_after_first_unlock,  ///< kSecAttrAccessibleAfterFirstUnlock
    value_data,                     ///< kSecValueData
    return_data,                    ///< kSecReturnData
    return_attributes,              ///< kSecReturnAttributes
    match_limit,                    ///< kSecMatchLimit
    match_limit_one,                ///< kSecMatchLimitOne
    match_limit_all,                ///< kSecMatchLimitAll
    use_data_protection_keychain,   ///< kSecUseDataProtectionKeychain
    boolean_true,                   ///< kCFBooleanTrue
};

/// The kinds of CoreFoundation object macos_keychain reads back.
enum class cf_kind { other, data, string, array, dictionary };

/// Every Security and CoreFoundation call of keyring::macos_keychain. Ownership follows CoreFoundation's
/// rules: what create_* and copy_* return (and what copy_matching stores into `*result`) is released with
/// `release`; what dictionary_get and array_at return is borrowed.
struct keychain_api {
    // CoreFoundation
    cf_ref (*constant)(cf_constant which);  ///< the constant (never released)
    cf_ref (*create_dictionary)();          ///< CFDictionaryCreateMutable, CFType callbacks (retains)
    void (*dictionary_set)(cf_ref dictionary, cf_ref key, cf_ref value);  ///< CFDictionarySetValue
    cf_ref (*dictionary_get)(cf_ref dictionary, cf_ref key);              ///< CFDictionaryGetValue
    cf_ref (*create_string)(const char* utf8,
                            cf_size size);  ///< CFStringCreateWithBytes, UTF-8; nullptr if invalid
    /// CFDataCreateWithBytesNoCopy(..., kCFAllocatorNull): the bytes must outlive the object.
    cf_ref (*create_data)(const std::byte* bytes, cf_size size);
    cf_kind (*kind_of)(cf_ref object);               ///< CFGetTypeID against the types above
    cf_size (*data_size)(cf_ref data);               ///< CFDataGetLength
    const std::byte* (*data_bytes)(cf_ref data);     ///< CFDataGetBytePtr
    cf_size (*string_utf8_capacity)(cf_ref string);  ///< bytes string_utf8 needs, NUL included
    bool (*string_utf8)(cf_ref string, char* buffer, cf_size capacity);  ///< CFStringGetCString, UTF-8
    cf_size (*array_count)(cf_ref array);                                ///< CFArrayGetCount
    cf_ref (*array_at)(cf_ref array, cf_size index);                     ///< CFArrayGetValueAtIndex
    void (*release)(cf_ref object);                                      ///< CFRelease
    // Security
    os_status (*copy_matching)(cf_ref query, cf_ref* result);  ///< SecItemCopyMatching
    os_status (*add)(cf_ref attributes, cf_ref* result);       ///< SecItemAdd
    os_status (*remove)(cf_ref query);                         ///< SecItemDelete
    cf_ref (*copy_error_message)(os_status status);            ///< SecCopyErrorMessageString (nullptr: none)
};

#if TOKENVAULT_USE_SECURITY_FRAMEWORK
/// Security.framework and CoreFoundation behind keychain_api (Apple platforms only).
namespace security_framework {

inline cf_ref constant(cf_constant which) {
    switch (which) {
    case cf_constant::sec_class: return kSecClass;
    case cf_constant::class_generic_password: return kSecClassGenericPassword;
    case cf_constant::attr_service: return kSecAttrService;
    case cf_constant::attr_account: return kSecAttrAccount;
    case cf_constant::attr_label: return kSecAttrLabel;
    case cf_constant::attr_access_group: return kSecAttrAccessGroup;
    case cf_constant::attr_accessible: return kSecAttrAccessible;
    case cf_constant::accessible_after_first_unlock: return kSecAttrAccessibleAfterFirstUnlock;
    case cf_constant::value_data: return kSecValueData;
    case cf_constant::return_data: return kSecReturnData;
    case cf_constant::return_attributes: return kSecReturnAttributes;
    case cf_constant::match_limit: return kSecMatchLimit;
    case cf_constant::match_limit_one: return kSecMatchLimitOne;
    case cf_constant::match_limit_all: return kSecMatchLimitAll;
    case cf_constant::use_data_protection_keychain: return kSecUseDataProtectionKeychain;
    case cf_constant::boolean_true: return kCFBooleanTrue;
    }
    return nullptr;
}
inline cf_ref create_dictionary() {
    return CFDictionaryCreateMutable(kCFAllocatorDefault, 0, &kCFTypeDictionaryKeyCallBacks,
                                     &kCFTypeDictionaryValueCallBacks);
}
inline void dictionary_set(cf_ref dictionary, cf_ref key, cf_ref value) {
    CFDictionarySetValue(static_cast<CFMutableDictionaryRef>(const_cast<void*>(dictionary)), key, value);
}
inline cf_ref dictionary_get(cf_ref dictionary, cf_ref key) {
    return CFDictionaryGetValue(static_cast<CFDictionaryRef>(dictionary), key);
}
inline cf_ref create_string(const char* utf8, cf_size size) {
    return CFStringCreateWithBytes(kCFAllocatorDefault, reinterpret_cast<const UInt8*>(utf8), size,
                                   kCFStringEncodingUTF8, false);
}
inline cf_ref create_data(const std::byte* bytes, cf_size size) {
    return CFDataCreateWithBytesNoCopy(kCFAllocatorDefault, reinterpret_cast<const UInt8*>(bytes), size,
                                       kCFAllocatorNull);
}
inline cf_kind kind_of(cf_ref object) {
    const CFTypeID id = CFGetTypeID(object);
    if (id == CFDataGetTypeID()) return cf_kind::data;
    if (id == CFStringGetTypeID()) return cf_kind::string;
    if (id == CFArrayGetTypeID()) return cf_kind::array;
    if (id == CFDictionaryGetTypeID()) return cf_kind::dictionary;
    return cf_kind::other;
}
inline cf_size data_size(cf_ref data) { return CFDataGetLength(static_cast<CFDataRef>(data)); }
inline const std::byte* data_bytes(cf_ref data) {
    return reinterpret_cast<const std::byte*>(CFDataGetBytePtr(static_cast<CFDataRef>(data)));
}
inline cf_size string_utf8_capacity(cf_ref string) {
    const CFIndex most = CFStringGetMaximumSizeForEncoding(
        CFStringGetLength(static_cast<CFStringRef>(string)), kCFStringEncodingUTF8);
    return most == kCFNotFound ? 0 : most + 1;
}
inline bool string_utf8(cf_ref string, char* buffer, cf_size capacity) {
    return CFStringGetCString(static_cast<CFStringRef>(string), buffer, capacity, kCFStringEncodingUTF8) != 0;
}
inline cf_size array_count(cf_ref array) { return CFArrayGetCount(static_cast<CFArrayRef>(array)); }
inline cf_ref array_at(cf_ref array, cf_size index) {
    return CFArrayGetValueAtIndex(static_cast<CFArrayRef>(array), index);
}
inline void release(cf_ref object) { CFRelease(object); }
inline os_status copy_matching(cf_ref query, cf_ref* result) {
    return SecItemCopyMatching(static_cast<CFDictionaryRef>(query), result);
}
inline os_status add(cf_ref attributes, cf_ref* result) {
    return SecItemAdd(static_cast<CFDictionaryRef>(attributes), result);
}
inline os_status remove(cf_ref query) { return SecItemDelete(static_cast<CFDictionaryRef>(query)); }
inline cf_ref copy_error_message(os_status s) { return SecCopyErrorMessageString(s, nullptr); }

/// The table over Apple's framework.
inline constexpr keychain_api table{
    .constant = &constant,
    .create_dictionary = &create_dictionary,
    .dictionary_set = &dictionary_set,
    .dictionary_get = &dictionary_get,
    .create_string = &create_string,
    .create_data = &create_data,
    .kind_of = &kind_of,
    .data_size = &data_size,
    .data_bytes = &data_bytes,
    .string_utf8_capacity = &string_utf8_capacity,
    .string_utf8 = &string_utf8,
    .array_count = &array_count,
    .array_at = &array_at,
    .release = &release,
    .copy_matching = &copy_matching,
    .add = &add,
    .remove = &remove,
    .copy_error_message = &copy_error_message,
};

}  // namespace security_framework
#endif

namespace detail {
/// The table of this build: Security.framework on Apple platforms, none elsewhere.
[[nodiscard]] constexpr const keychain_api* built_in_api() noexcept {
#if TOKENVAULT_USE_SECURITY_FRAMEWORK
    return &security_framework::table;
#else
    return nullptr;
#endif
}
/// The table in use (process-wide).
[[nodiscard]] inline std::atomic<const keychain_api*>& api_slot() noexcept {
    static std::atomic<const keychain_api*> slot{built_in_api()};
    return slot;
}
}  // namespace detail

/// The table keyring::macos_keychain uses now: the one installed last, else this build's (nullptr: none).
[[nodiscard]] inline const keychain_api* current_api() noexcept { return detail::api_slot().load(); }

/// Makes keyring::macos_keychain call `table` (a fake keychain in tests); nullptr restores this build's.
/// The table must outlive every keychain call, including calls that timed out and still run.
inline void install_api(const keychain_api* table) noexcept {
    detail::api_slot().store(table != nullptr ? table : detail::built_in_api());
}

}  // namespace tokenvault::keyring::keychain
