// tests/fuzz/fuzz_support.hpp: what the libFuzzer harnesses (and make_seeds.cpp) share: the oracle checks,
// the round-trip oracle, a scratch place and the writers of seed documents.
//
// The oracle is the library's one rule for values that enter a store: whatever a door accepts is storable
// and reads back equal. `check_storable` puts a token (and its id) through the bundle writer and reader and
// aborts, naming the broken promise, when the result differs. A harness aborts (an oracle failure, which
// libFuzzer reports as a crash with the input saved) rather than returning quietly.
//
// A harness defines its entry point as `TOKENVAULT_FUZZ_TARGET(name) { ... }` inside its own namespace. A
// harness compiled alone gets libFuzzer's `LLVMFuzzerTestOneInput`. With TOKENVAULT_FUZZ_COMBINED (the
// meson build: one binary, `tokenvault_fuzz`, whose harnesses share their compiled headers in unity blocks),
// each registers itself by name and fuzz_main.cpp runs the one named by $TOKENVAULT_FUZZ_TARGET.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include <tokenvault/backend/sealed_file.hpp>
#include <tokenvault/cipher/xchacha20poly1305.hpp>
#include <tokenvault/credential_id.hpp>
#include <tokenvault/entry.hpp>
#include <tokenvault/json.hpp>
#include <tokenvault/oauth/metadata.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace tvfuzz {

/// The entry point of one harness: libFuzzer's signature.
using target_function = int (*)(const std::uint8_t*, std::size_t);

/// A harness of the combined binary: its name (the harness file is fuzz_<name>.cpp) and entry point.
struct target {
    const char* name;
    target_function run;
};

/// Every harness linked into this binary (combined builds register themselves here).
inline std::vector<target>& targets() {
    static std::vector<target> all;
    return all;
}

/// Registers a harness at static initialization (TOKENVAULT_FUZZ_TARGET in combined builds).
struct registration {
    registration(const char* name, target_function run) { targets().push_back(target{name, run}); }
};

}  // namespace tvfuzz

#if defined(TOKENVAULT_FUZZ_COMBINED)
#define TOKENVAULT_FUZZ_TARGET(name)                                        \
    int fuzz_one_input(const std::uint8_t* data, std::size_t size);         \
    const ::tvfuzz::registration registered_##name{#name, &fuzz_one_input}; \
    int fuzz_one_input(const std::uint8_t* data, std::size_t size)
#else
#define TOKENVAULT_FUZZ_TARGET(name) \
    extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
#endif

namespace tvfuzz {

/// Stops the run: an oracle failure (libFuzzer saves the input as a crash).
[[noreturn]] inline void broken(const char* promise) {
    std::fprintf(stderr, "tokenvault fuzz oracle: %s\n", promise);
    std::abort();
}

/// Aborts unless `condition` holds.
inline void require(bool condition, const char* promise) {
    if (!condition) broken(promise);
}

/// The fixed data key and keyring service of the sealed-file harness and its seeds.
inline constexpr std::string_view sealed_key = "tokenvault-fuzz-data-key-32bytes";
inline constexpr std::string_view sealed_app = "tokenvault-fuzz";

/// A sealed file holding `plaintext`, sealed with sealed_key as the store seals (tier "memory", counter 1).
inline std::string sealed_with_fuzz_key(std::string_view plaintext) {
    const auto key = std::as_bytes(std::span<const char>(sealed_key.data(), sealed_key.size()));
    const auto key_id = tokenvault::backend::sealed_key_fingerprint(key).value();
    const auto header = tokenvault::backend::encode_sealed_header(tokenvault::cipher::xchacha20poly1305::id,
                                                                  key_id, "memory", 1)
                            .value();
    std::string out(reinterpret_cast<const char*>(header.data()), header.size());
    const std::string nonce(24, '\x5a');
    std::vector<unsigned char> box(plaintext.size() + 16);
    unsigned long long box_size = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(
        box.data(), &box_size, reinterpret_cast<const unsigned char*>(plaintext.data()), plaintext.size(),
        reinterpret_cast<const unsigned char*>(out.data()), out.size(), nullptr,
        reinterpret_cast<const unsigned char*>(nonce.data()),
        reinterpret_cast<const unsigned char*>(sealed_key.data()));
    return out + nonce + std::string(reinterpret_cast<const char*>(box.data()), box_size);
}

/// Between the two texts of a bundle_reader input that checks a re-read (fuzz_bundle_reader.cpp): a text
/// read before, whose entries the read of the second text may take over. NUL bytes: no bundle holds them.
inline constexpr std::string_view reread_separator{"\0tokenvault-reread\0", 19};

/// A scratch directory for harnesses that need files: on /dev/shm when it exists, one per process (named by
/// its pid; run_harness.py removes it after a clean run: libFuzzer exits without running destructors).
inline const std::filesystem::path& scratch() {
    static const std::filesystem::path dir = [] {
        const std::filesystem::path base = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
        auto d = base / ("tokenvault-fuzz-" + std::to_string(::getpid()));
        std::filesystem::create_directories(d);
        std::filesystem::permissions(d, std::filesystem::perms::owner_all);
        return d;
    }();
    return dir;
}

/// Whether two bundles hold the same readable entries, unreadable texts, counter and unknown fields.
inline bool same_bundle(const tokenvault::bundle& a, const tokenvault::bundle& b) {
    if (a.last_generation != b.last_generation || a.extra != b.extra ||
        a.entries.size() != b.entries.size() || a.unreadable.size() != b.unreadable.size())
        return false;
    for (const auto& [hash, e] : a.entries) {
        const auto found = b.entries.find(hash);
        if (found == b.entries.end()) return false;
        const auto& f = found->second;
        if (!(e.id == f.id) || e.id.resource() != f.id.resource() || e.id.account() != f.id.account() ||
            !(e.token == f.token) || e.generation != f.generation || e.updated_at != f.updated_at ||
            e.extra != f.extra)
            return false;
    }
    for (const auto& [key, u] : a.unreadable) {
        const auto found = b.unreadable.find(key);
        if (found == b.unreadable.end() || found->second.text != u.text) return false;
    }
    return true;
}

/// The oracle for a bundle a reader accepted: it is written again, and that text reads back equal.
inline void check_bundle_round_trip(const tokenvault::bundle& accepted) {
    auto text = tokenvault::serialize_bundle(accepted);
    require(text.has_value(), "an accepted bundle is serializable");
    auto back = tokenvault::parse_bundle(text->view());
    require(back.has_value(), "a written bundle parses");
    require(same_bundle(accepted, *back), "a written bundle reads back equal");
}

/// The oracle for a token (and id) a door accepted: valid, storable in a bundle, read back equal.
inline void check_storable(const tokenvault::credential_id& id, const tokenvault::token& t) {
    require(tokenvault::validate(t).has_value(), "an accepted token is valid");
    tokenvault::bundle b;
    b.entries.emplace(id.hash(), tokenvault::entry{id, t, 1, tokenvault::clock::now(), {}});
    b.last_generation = 1;
    auto text = tokenvault::serialize_bundle(b);
    require(text.has_value(), "an accepted token is serializable");
    auto back = tokenvault::parse_bundle(text->view());
    require(back.has_value() && back->unreadable.empty() && back->entries.size() == 1,
            "a stored token reads back");
    const auto& e = back->entries.begin()->second;
    require(e.id.hash() == id.hash() && e.id.resource() == id.resource(), "a stored id reads back equal");
    require(e.token == t, "a stored token reads back equal");
    auto alone = tokenvault::serialize_token(t);
    require(alone.has_value(), "an accepted token serializes alone");
    auto reread = tokenvault::parse_token(alone->view());
    require(reread.has_value() && *reread == t, "a token's own JSON reads back equal");
}

/// check_storable under a fixed id.
inline void check_storable(const tokenvault::token& t) {
    static const auto id = tokenvault::credential_id::parse("https://fuzz.example.com/mcp").value();
    check_storable(id, t);
}

/// The oracle for an importer: the store it imported into loads; every credential in it is served, its id is
/// a fixed point, and its token is storable; `each(id, token)` sees each of them.
template <class Store, class Each>
inline void check_imported(Store& store, Each&& each) {
    auto listed = store.list();
    require(listed.has_value(), "an imported file never fails the store");
    for (const auto& info : *listed) {
        auto e = store.get_entry(info.id);
        require(e.has_value() && e->has_value(), "an imported credential is served");
        auto again = tokenvault::credential_id::parse(info.id.resource(), info.id.account());
        require(again.has_value() && again->hash() == info.id.hash(), "an imported id is a fixed point");
        check_storable(info.id, (*e)->token);
        each(info.id, (*e)->token);
    }
}

/// Writes `bytes` to `p` (mode 0600), replacing it.
inline void write_file(const std::filesystem::path& p, std::string_view bytes) {
    std::FILE* f = std::fopen(p.c_str(), "wb");
    if (f == nullptr) broken("cannot write a scratch file");
    if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size())
        broken("short write");
    std::fclose(f);
    ::chmod(p.c_str(), 0600);
}

/// Discovery metadata as a JSON document (every field the reader keeps): the seeds' writer and the
/// metadata harness's round trip.
inline nlohmann::json metadata_json(const tokenvault::oauth::protected_resource_metadata& m) {
    return {{"resource", m.resource},
            {"authorization_servers", m.authorization_servers},
            {"scopes_supported", m.scopes_supported}};
}

/// metadata_json for RFC 8414 authorization server metadata.
inline nlohmann::json metadata_json(const tokenvault::oauth::authorization_server_metadata& m) {
    return {
        {"issuer", m.issuer},
        {"authorization_endpoint", m.authorization_endpoint},
        {"token_endpoint", m.token_endpoint},
        {"registration_endpoint", m.registration_endpoint},
        {"revocation_endpoint", m.revocation_endpoint},
        {"response_types_supported", m.response_types_supported},
        {"grant_types_supported", m.grant_types_supported},
        {"code_challenge_methods_supported", m.code_challenge_methods_supported},
        {"token_endpoint_auth_methods_supported", m.token_endpoint_auth_methods_supported},
        {"scopes_supported", m.scopes_supported},
        {"authorization_response_iss_parameter_supported", m.authorization_response_iss_parameter_supported}};
}

}  // namespace tvfuzz
