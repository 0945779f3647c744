// tokenvault/error.hpp: the error vocabulary of tokenvault.
//
// Every fallible call returns a `result<T>` (see result.hpp) whose error carries a `std::error_code` in
// the tokenvault category plus a short, secret-free context string. Each code's message says what went
// wrong and what to do about it. Absence of a token is never an error.
#pragma once

#include <string>
#include <system_error>
#include <type_traits>

namespace tokenvault {

/// The error codes of tokenvault; `message()` on each says what to do.
enum class errc : int {
    invalid_argument = 1,
    invalid_url,
    malformed_json,
    missing_field,
    wrong_type,
    value_out_of_range,
    too_large,
    conflict,
    io_error,
    not_a_regular_file,
    insecure_permissions,
    wrong_owner,
    symlink_refused,
    corrupt_file,
    unsupported_format_version,
    foreign_key,
    key_unavailable,
    keyring_unavailable,
    keyring_locked,
    keyring_denied,
    keyring_timeout,
    keyring_item_too_large,
    volatile_collection_refused,
    lock_timeout,
    crypto_failure,
    cipher_unavailable,
    read_only_store,
    unreadable_store,
    provider_rejected,
    provider_unavailable,
    provider_invalid_response,
    not_logged_in,
    grant_revoked,
    discovery_failed,
    issuer_mismatch,
    server_unsupported,
    registration_failed,
    state_mismatch,
    login_denied,
    login_timeout,
    damaged_key,
    rolled_back,
};

namespace detail {

class error_category final : public std::error_category {
public:
    [[nodiscard]] const char* name() const noexcept override { return "tokenvault"; }

    [[nodiscard]] std::string message(int value) const override {
        switch (static_cast<errc>(value)) {
        case errc::invalid_argument: return "invalid argument: check the value passed to tokenvault";
        case errc::invalid_url:
            return "not a valid resource URL: use an absolute http(s) URL without user info, e.g. "
                   "https://mcp.example.com/mcp";
        case errc::malformed_json:
            return "malformed JSON: the document could not be parsed; fix or remove it";
        case errc::missing_field: return "a required JSON field is missing: supply it";
        case errc::wrong_type: return "a JSON field has the wrong type: check the field against the schema";
        case errc::value_out_of_range: return "a value is out of its valid range: check the field";
        case errc::too_large:
            return "input too large: tokenvault refuses oversized values to protect the store";
        case errc::conflict:
            return "the entry changed since it was read: read it again and retry the compare-and-swap";
        case errc::io_error:
            return "file system operation failed: check the path, free space and permissions";
        case errc::not_a_regular_file:
            return "the path is not a regular file: remove or rename whatever is in its place";
        case errc::insecure_permissions:
            return "file or directory is readable by group or others: chmod 600 the file (700 the directory)";
        case errc::wrong_owner:
            return "file or directory is owned by another user: chown it to the current user";
        case errc::symlink_refused:
            return "refusing to follow a symbolic link to a token file: replace the link with the file "
                   "itself";
        case errc::corrupt_file:
            return "the store file was damaged and has been moved aside to the quarantine file named here; "
                   "the tokens it held are lost: this operation was not applied, so retry it, and log in "
                   "again to the servers it held";
        case errc::unsupported_format_version:
            return "the store file was written by a newer tokenvault: upgrade the program that reads it";
        case errc::foreign_key:
            return "sealed by a key that is not available: make the keyring that holds it available (a store "
                   "file's header names that keyring tier)";
        case errc::key_unavailable:
            return "the data key could not be fetched from the keyring: unlock or start the keyring, then "
                   "retry";
        case errc::keyring_unavailable:
            return "no keyring is available: start the keyring service or pick another keyring policy";
        case errc::keyring_locked: return "the keyring is locked: unlock it and retry";
        case errc::keyring_denied: return "access to the keyring item was denied: allow access and retry";
        case errc::keyring_timeout:
            return "the keyring did not answer in time: check that the keyring daemon is running and "
                   "responsive";
        case errc::keyring_item_too_large:
            return "the keyring item would exceed the keyring's size limit: use backend::sealed_file instead";
        case errc::volatile_collection_refused:
            return "the keyring collection is volatile (lost on logout): use a persistent collection or opt "
                   "in";
        case errc::lock_timeout:
            return "timed out waiting for a lock: another process holds it; retry, or raise the lock timeout";
        case errc::crypto_failure:
            return "cryptographic operation failed: libsodium could not be initialised or used";
        case errc::cipher_unavailable:
            return "cipher not supported by this CPU (AES-256-GCM needs AES-NI/ARMv8 crypto): use "
                   "cipher::xchacha20poly1305";
        case errc::read_only_store:
            return "the store cannot be written: the directory or file is read-only; fix its permissions";
        case errc::unreadable_store:
            return "the store file exists but cannot be read: tokenvault will not overwrite it; fix its "
                   "permissions or move it aside";
        case errc::provider_rejected:
            return "the authorization server refused the request with the OAuth error named before this: "
                   "for invalid_grant log in again, for another code check the client's registration";
        case errc::provider_unavailable:
            return "the authorization server could not be reached: the stored credential was kept; retry "
                   "later";
        case errc::provider_invalid_response:
            return "the authorization server returned an invalid token response: the store was left "
                   "unchanged";
        case errc::not_logged_in: return "no credential is stored for this id: log in first";
        case errc::grant_revoked:
            return "the authorization server revoked the grant (the refresh token is no longer valid): log "
                   "in "
                   "again";
        case errc::discovery_failed:
            return "the server's OAuth metadata could not be found or is invalid: check the server URL, or "
                   "configure the authorization server explicitly";
        case errc::issuer_mismatch:
            return "the authorization server answered with another issuer than the one asked for: refusing "
                   "it "
                   "(a mix-up attack or a misconfigured server); check the server's configuration";
        case errc::server_unsupported:
            return "the authorization server lacks a feature tokenvault needs to log in safely (PKCE S256, "
                   "the "
                   "authorization code grant, or client registration): use another server or pre-register a "
                   "client";
        case errc::registration_failed:
            return "the authorization server refused to register this client: pre-register a client and pass "
                   "its id, or check the server's registration policy";
        case errc::state_mismatch:
            return "the authorization response did not carry this login's state (a forged or stale "
                   "redirect): "
                   "the login was abandoned; log in again";
        case errc::login_denied:
            return "the authorization server ended the login with an error (the user declined, or the "
                   "request "
                   "was refused): log in again";
        case errc::login_timeout:
            return "no authorization response arrived in time: finish the login in the browser sooner, or "
                   "raise "
                   "the login timeout";
        case errc::damaged_key:
            return "a key is present but damaged (a keyring item that fails its integrity check, or a data "
                   "key or key-file passphrase of the wrong size): the store file was left unchanged; "
                   "restore the key (or the key file) from a backup, or restore the store file it opens; "
                   "logging in again does not help while the damaged key is there";
        case errc::rolled_back:
            return "the store file was replaced by an older copy (its seal counter went backwards): this "
                   "operation was refused once and the older copy is served from now on; if the copy was not "
                   "restored on purpose, put the newer file back and find out what replaced it";
        }
        return "unknown tokenvault error";
    }
};

}  // namespace detail

/// The tokenvault error category.
[[nodiscard]] inline const std::error_category& error_category() noexcept {
    static const detail::error_category category;
    return category;
}

/// Makes a `std::error_code` in the tokenvault category.
[[nodiscard]] inline std::error_code make_error_code(errc code) noexcept {
    return {static_cast<int>(code), error_category()};
}

}  // namespace tokenvault

template <>
struct std::is_error_code_enum<tokenvault::errc> : std::true_type {};
