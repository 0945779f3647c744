// tests/fuzz/fuzz_sealed_file.cpp: libFuzzer harness for the sealed-file open path (backend::sealed_file over
// a keyring::memory that holds a fixed data key), through a token_store.
//
// Input: a mode byte, then either the bytes of the file (even mode: header parsing, authentication and
// quarantine are fuzzed) or a bundle's plaintext that the harness seals correctly (odd mode: the store's
// load of an authenticated bundle is fuzzed). Oracles: a refused file stays byte for byte unchanged; a
// loaded store serves a put of another credential, after which the file holds every entry it held before
// (readable ones equal, unreadable ones byte for byte) plus the new one; after a put by another instance,
// the first one (re-reading, taking over its unchanged entries) serves exactly what a new instance reads.
#include <sodium.h>

#include <tokenvault/backend/sealed_file.hpp>
#include <tokenvault/cipher/xchacha20poly1305.hpp>
#include <tokenvault/diagnostics/none.hpp>
#include <tokenvault/keyring/memory.hpp>
#include <tokenvault/locking/process.hpp>
#include <tokenvault/migration/none.hpp>
#include <tokenvault/store.hpp>

#include <fstream>
#include <iterator>
#include <vector>

#include "fuzz_support.hpp"

namespace fuzz_sealed_file {  // one namespace per harness: see TOKENVAULT_FUZZ_TARGET

namespace tv = tokenvault;
namespace fs = std::filesystem;

namespace {

using key_holder = tv::keyring::allow_volatile<tv::keyring::memory>;
using store_type = tv::token_store<tv::backend::sealed_file<key_holder>, tv::cipher::xchacha20poly1305,
                                   tv::locking::process, tv::migration::none, tv::diagnostics::none>;

tv::store_options options() {
    tv::store_options o;
    o.app_name = std::string(tvfuzz::sealed_app);
    o.directory = tvfuzz::scratch() / "sealed";
    return o;
}

std::string read_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::span<const std::byte> bytes_of(std::string_view s) {
    return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

/// The plaintext of a file the store wrote.
std::string opened(const std::string& file) {
    const auto header = tv::backend::parse_sealed_header(bytes_of(file));
    tvfuzz::require(header.has_value(), "the store writes a valid header");
    const std::size_t at = header->size + 24;
    tvfuzz::require(file.size() >= at + 16, "the store writes a complete file");
    std::vector<unsigned char> plain(file.size() - at - 16);
    unsigned long long plain_size = 0;
    const auto* u = reinterpret_cast<const unsigned char*>(file.data());
    tvfuzz::require(
        crypto_aead_xchacha20poly1305_ietf_decrypt(
            plain.data(), &plain_size, nullptr, u + at, file.size() - at, u, header->size, u + header->size,
            reinterpret_cast<const unsigned char*>(tvfuzz::sealed_key.data())) == 0,
        "the store's file opens with its key");
    return {reinterpret_cast<const char*>(plain.data()), static_cast<std::size_t>(plain_size)};
}

}  // namespace

TOKENVAULT_FUZZ_TARGET(sealed_file) {
    if (size == 0) return 0;
    static const bool ready = [] {
        if (sodium_init() < 0) tvfuzz::broken("sodium_init");
        auto c = tv::keyring::memory::control_for(std::string(tvfuzz::sealed_app));
        const std::lock_guard lock(c->mutex);
        c->items.insert_or_assign("data-key", tv::detail::secure_buffer::copy_of(tvfuzz::sealed_key));
        return true;
    }();
    (void)ready;
    const auto o = options();
    std::error_code ignored;
    fs::remove_all(o.directory, ignored);
    fs::create_directories(o.directory);
    fs::permissions(o.directory, fs::perms::owner_all);
    const auto file = o.directory / o.file_name;

    const std::string_view payload(reinterpret_cast<const char*>(data + 1), size - 1);
    const bool seal = (data[0] & 1) != 0;
    const std::string written = seal ? tvfuzz::sealed_with_fuzz_key(payload) : std::string(payload);
    tvfuzz::write_file(file, written);

    store_type s(o);
    auto listed = s.list();
    if (!listed) {
        const auto& e = listed.error();
        if (e == tv::errc::corrupt_file) return 0;  // quarantined: moved aside, reported
        tvfuzz::require(read_bytes(file) == written, "a refused file is left unchanged");
        tvfuzz::require(!seal || e == tv::errc::malformed_json || e == tv::errc::wrong_type ||
                            e == tv::errc::missing_field || e == tv::errc::unsupported_format_version ||
                            e == tv::errc::value_out_of_range || e == tv::errc::too_large,
                        "an authenticated bundle is refused only for its own fields");
        return 0;
    }
    if (!seal) return 0;
    // An authenticated bundle that loads: a put of another credential keeps every entry it held.
    const auto before = tv::parse_bundle(payload);
    tvfuzz::require(before.has_value(), "what the store loads, parse_bundle reads");
    tvfuzz::require(listed->size() == before->entries.size(),
                    "the store serves exactly the readable entries");
    static const auto newcomer = tv::credential_id::parse("https://newcomer.fuzz.example/").value();
    tv::token t;
    t.access_token = tv::secret_string{"newcomer"};
    auto put = s.put(newcomer, t);
    if (!put) {
        tvfuzz::require(put.error() == tv::errc::value_out_of_range &&
                            before->last_generation + 1 >= tv::generation_limit,
                        "a put onto a loaded bundle succeeds unless generations are exhausted");
        tvfuzz::require(read_bytes(file) == written, "a refused put leaves the file unchanged");
        return 0;
    }
    tvfuzz::require(*put > before->last_generation, "a put hands out a new generation");
    const auto after = tv::parse_bundle(opened(read_bytes(file)));
    tvfuzz::require(after.has_value(), "the file a put wrote parses");
    tvfuzz::require(
        after->entries.count(newcomer.hash()) == 1 && after->entries.at(newcomer.hash()).token == t,
        "the put's entry is in the file");
    for (const auto& [hash, e] : before->entries) {
        if (hash == newcomer.hash()) continue;
        const auto found = after->entries.find(hash);
        tvfuzz::require(found != after->entries.end() && found->second.token == e.token &&
                            found->second.generation == e.generation && found->second.extra == e.extra,
                        "a put keeps every readable entry unchanged");
    }
    for (const auto& [key, u] : before->unreadable) {
        if (key == newcomer.hash()) continue;
        const auto found = after->unreadable.find(key);
        tvfuzz::require(found != after->unreadable.end() && found->second.text == u.text,
                        "a put writes every unreadable entry back byte for byte");
    }
    tvfuzz::require(after->extra == before->extra, "a put keeps the unknown top-level fields");
    store_type fresh(o);
    auto reread = fresh.list();
    tvfuzz::require(reread.has_value() &&
                        reread->size() == listed->size() + (before->entries.count(newcomer.hash()) ? 0 : 1),
                    "another instance reads what the put wrote");

    // That instance writes too: the first one reads the file again, taking over the entries it holds whose
    // text did not change, and must serve exactly what a new instance reads.
    static const auto second = tv::credential_id::parse("https://second.fuzz.example/").value();
    auto other = fresh.put(second, t);
    if (!other) {
        tvfuzz::require(other.error() == tv::errc::value_out_of_range,
                        "a second put fails only on generations");
        return 0;
    }
    auto mine = s.list();
    store_type third(o);
    auto theirs = third.list();
    tvfuzz::require(mine.has_value() && theirs.has_value() && mine->size() == theirs->size(),
                    "an instance that re-reads serves the entries a new instance reads");
    for (const auto& info : *theirs) {
        auto a = s.get_entry(info.id);
        auto b = third.get_entry(info.id);
        tvfuzz::require(a.has_value() && b.has_value() && a->has_value() && b->has_value() &&
                            (*a)->token == (*b)->token && (*a)->generation == (*b)->generation &&
                            (*a)->updated_at == (*b)->updated_at && (*a)->extra == (*b)->extra &&
                            (*a)->id.resource() == (*b)->id.resource() &&
                            (*a)->id.account() == (*b)->id.account(),
                        "a re-read entry equals the entry a new instance reads");
    }
    return 0;
}

}  // namespace fuzz_sealed_file
