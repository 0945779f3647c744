/* tests/meta/apple_sdk/Security/Security.h: declarations of the SecItem API that tokenvault's keychain
 * table calls, written from Apple's Security framework reference (SecItem.h, SecBase.h), so that the
 * Apple branch of tokenvault/keyring/macos_keychain_api.hpp can be type-checked where no macOS SDK
 * exists. Declarations only; only a Mac checks them against the real SDK. */
#ifndef TOKENVAULT_TEST_APPLE_SDK_SECURITY_H
#define TOKENVAULT_TEST_APPLE_SDK_SECURITY_H

#include <CoreFoundation/CoreFoundation.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef int32_t OSStatus;

extern const CFStringRef kSecClass;
extern const CFStringRef kSecClassGenericPassword;
extern const CFStringRef kSecAttrService;
extern const CFStringRef kSecAttrAccount;
extern const CFStringRef kSecAttrLabel;
extern const CFStringRef kSecAttrAccessGroup;
extern const CFStringRef kSecAttrAccessible;
extern const CFStringRef kSecAttrAccessibleAfterFirstUnlock;
extern const CFStringRef kSecValueData;
extern const CFStringRef kSecReturnData;
extern const CFStringRef kSecReturnAttributes;
extern const CFStringRef kSecMatchLimit;
extern const CFStringRef kSecMatchLimitOne;
extern const CFStringRef kSecMatchLimitAll;
extern const CFStringRef kSecUseDataProtectionKeychain;

OSStatus SecItemCopyMatching(CFDictionaryRef query, CFTypeRef* result);
OSStatus SecItemAdd(CFDictionaryRef attributes, CFTypeRef* result);
OSStatus SecItemDelete(CFDictionaryRef query);
CFStringRef SecCopyErrorMessageString(OSStatus status, void* reserved);

#ifdef __cplusplus
}
#endif

#endif
