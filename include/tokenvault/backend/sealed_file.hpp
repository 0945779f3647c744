// tokenvault/backend/sealed_file.hpp: backend::sealed_file<K>, the bundle in an AEAD-sealed file.
//
// The 32-byte data key lives in keyring K; a versioned header (docs/FORMAT.md) names key id and tier, so
// files of another key, tier, cipher or newer version are refused, never overwritten; certain corruption
// is quarantined; a file older than one this instance saw (seal counter) is reported once. Reads come
// from memory after one lstat; the key is fetched once, never created by a read, and keyring failures are
// remembered. Assumes load/save under the store lock (token_store). POSIX.
#pragma once

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "../cipher/catalog.hpp"
#include "../detail/secure_buffer.hpp"
#include "../detail/temp_files.hpp"
#include "../diagnostics/events.hpp"
#include "../diagnostics/resolution.hpp"
#include "../json.hpp"
#include "../keyring/concept.hpp"
#include "../platform/platform.hpp"
#include "concept.hpp"

namespace tokenvault::backend {

/// The layout constants of a sealed file (format version 1; docs/FORMAT.md).
struct sealed_file_format {
    static constexpr std::array<char, 8> magic{'T', 'V', 'S', 'E', 'A', 'L', 'E', 'D'};  ///< first 8 bytes
    static constexpr std::uint16_t version = 1;         ///< the format version this build writes and reads
    static constexpr std::size_t key_id_size = 16;      ///< bytes of the key fingerprint
    static constexpr std::size_t max_tier_length = 32;  ///< bytes of the keyring tier name
    static constexpr std::size_t fixed_size =
        8 + 2 + 1 + 1 + key_id_size + 1;  ///< bytes before the tier name
    /// Largest file read: a maximal bundle plus header, nonce and tag (anything larger is errc::too_large).
    static constexpr std::size_t max_file_size = token_limits::max_bundle_json + 4096;
    /// Domain-separation prefix of the key id: BLAKE2b-256(prefix || key), first 16 bytes.
    static constexpr std::string_view key_id_context = "tokenvault/sealed_file/key-id/v1";
};

/// A key fingerprint as written in the header (not the key).
using sealed_key_id = std::array<std::uint8_t, sealed_file_format::key_id_size>;

/// The parsed header of a sealed file; `size` bytes of it are the AEAD associated data.
struct sealed_file_header {
    std::uint16_t version = 0;       ///< format version
    std::uint8_t cipher_id = 0;      ///< Cipher::id of the cipher that sealed it
    std::uint8_t flags = 0;          ///< 0 in version 1
    sealed_key_id key_id{};          ///< fingerprint of the data key
    std::string tier;                ///< keyring tier that holds the key (e.g. "secret_service")
    std::uint64_t seal_counter = 0;  ///< seals made by this key, this one included
    std::size_t size = 0;            ///< header bytes (associated data)
};

/// The fingerprint of a data key: BLAKE2b-256 over key_id_context then the key, first 16 bytes.
template <class = void>
[[nodiscard]] inline result<sealed_key_id> sealed_key_fingerprint(std::span<const std::byte> key) {
    TOKENVAULT_TRY(tokenvault::detail::ensure_sodium());
    crypto_generichash_state state;
    std::array<unsigned char, crypto_generichash_BYTES> digest{};
    const auto& context = sealed_file_format::key_id_context;
    const bool ok = crypto_generichash_init(&state, nullptr, 0, digest.size()) == 0 &&
                    crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(context.data()),
                                              context.size()) == 0 &&
                    crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(key.data()),
                                              key.size()) == 0 &&
                    crypto_generichash_final(&state, digest.data(), digest.size()) == 0;
    sodium_memzero(&state, sizeof state);
    if (!ok) return error{errc::crypto_failure, "sealed_file: key fingerprint"};
    sealed_key_id id{};
    std::memcpy(id.data(), digest.data(), id.size());
    return id;
}

/// Encodes a version-1 header (the associated data of the seal).
template <class = void>
[[nodiscard]] inline result<std::vector<std::byte>> encode_sealed_header(std::uint8_t cipher_id,
                                                                         const sealed_key_id& key_id,
                                                                         std::string_view tier,
                                                                         std::uint64_t seal_counter) {
    if (tier.empty() || tier.size() > sealed_file_format::max_tier_length)
        return error{errc::invalid_argument, "sealed_file: keyring tier name must be 1-32 bytes"};
    std::vector<std::byte> out;
    out.reserve(sealed_file_format::fixed_size + tier.size() + 8);
    const auto put = [&](std::uint64_t value, int bytes) {
        for (int i = 0; i < bytes; ++i) out.push_back(static_cast<std::byte>((value >> (8 * i)) & 0xff));
    };
    for (const char c : sealed_file_format::magic) out.push_back(static_cast<std::byte>(c));
    put(sealed_file_format::version, 2);
    put(cipher_id, 1);
    put(0, 1);  // flags
    for (const auto b : key_id) out.push_back(static_cast<std::byte>(b));
    put(tier.size(), 1);
    for (const char c : tier) out.push_back(static_cast<std::byte>(c));
    put(seal_counter, 8);
    return out;
}

/// Parses the header at the start of `bytes`. errc::corrupt_file: not a (complete) version-1 header;
/// errc::unsupported_format_version: a newer version or unknown flags. Contexts carry no path.
template <class = void>
[[nodiscard]] inline result<sealed_file_header> parse_sealed_header(std::span<const std::byte> bytes) {
    const auto u = [&](std::size_t at, int n) {
        std::uint64_t v = 0;
        for (int i = n - 1; i >= 0; --i)
            v = (v << 8) | std::to_integer<std::uint64_t>(bytes[at + static_cast<std::size_t>(i)]);
        return v;
    };
    const auto& magic = sealed_file_format::magic;
    if (bytes.size() < magic.size() || std::memcmp(bytes.data(), magic.data(), magic.size()) != 0)
        return error{errc::corrupt_file, "not a tokenvault sealed file (bad magic)"};
    if (bytes.size() < 10) return error{errc::corrupt_file, "truncated header"};
    sealed_file_header h;
    h.version = static_cast<std::uint16_t>(u(8, 2));
    if (h.version == 0) return error{errc::corrupt_file, "format version 0 was never written"};
    if (h.version > sealed_file_format::version)
        return error{errc::unsupported_format_version,
                     "format version " + std::to_string(h.version) + " (this build reads version 1)"};
    if (bytes.size() < sealed_file_format::fixed_size) return error{errc::corrupt_file, "truncated header"};
    h.cipher_id = static_cast<std::uint8_t>(u(10, 1));
    h.flags = static_cast<std::uint8_t>(u(11, 1));
    if (h.flags != 0)
        return error{errc::unsupported_format_version, "unknown header flags " + std::to_string(h.flags)};
    for (std::size_t i = 0; i < h.key_id.size(); ++i) h.key_id[i] = static_cast<std::uint8_t>(u(12 + i, 1));
    const auto tier_length = static_cast<std::size_t>(u(sealed_file_format::fixed_size - 1, 1));
    if (tier_length == 0 || tier_length > sealed_file_format::max_tier_length)
        return error{errc::corrupt_file, "keyring tier name length out of range"};
    h.size = sealed_file_format::fixed_size + tier_length + 8;
    if (bytes.size() < h.size) return error{errc::corrupt_file, "truncated header"};
    h.tier.reserve(tier_length);
    for (std::size_t i = 0; i < tier_length; ++i) {
        const auto c = std::to_integer<unsigned char>(bytes[sealed_file_format::fixed_size + i]);
        if (c < 0x21 || c > 0x7e)
            return error{errc::corrupt_file, "keyring tier name is not printable ASCII"};
        h.tier.push_back(static_cast<char>(c));
    }
    h.seal_counter = u(sealed_file_format::fixed_size + tier_length, 8);
    return h;
}

/// What a sealed_file backend knows right now (for tools; no secret).
struct sealed_file_status {
    std::filesystem::path file;       ///< the sealed file
    std::filesystem::path lock_file;  ///< the store lock file (never deleted)
    bool key_cached = false;          ///< the data key is held in memory
    std::string tier;                 ///< tier of the opened keyring ("" until opened)
    bool identity_known = false;      ///< `identity` describes the file on disk as last seen
    std::optional<tokenvault::platform::file_identity>
        identity;                          ///< identity at the last load/save (nullopt: no file)
    std::uint64_t seal_counter = 0;        ///< seals made by the file's key (from its header)
    std::optional<error> keyring_failure;  ///< a remembered keyring failure, if any
};

/// The bundle in an AEAD-sealed file; its data key lives in keyring K (docs/FORMAT.md).
template <class K>
class sealed_file {
    static_assert(keyring::check<K>());  // names what K misses (tokenvault/keyring/concept.hpp)
    static_assert(
        keyring::accepted_key_holder<K>,
        "tokenvault: this keyring does not survive a reboot (keyring::keyctl) or the process "
        "(keyring::memory), so it cannot hold the key of a persistent sealed_file: pick keyring::file or "
        "keyring::secret_service, or name keyring::allow_volatile<K> explicitly");

public:
    using policy_family = family::backend;
    using keyring_type = K;
    static constexpr bool persistent = true;
    static constexpr bool shared = true;
    static constexpr bool uses_cipher = true;
    /// The keyring account of the data key (the keyring service is the app name).
    static constexpr std::string_view key_account = "data-key";
    /// The keyring account that keeps the previous key after an AES-GCM key rotation.
    static constexpr std::string_view previous_key_account = "data-key.previous";

    /// The file options.resolved_directory()/options.file_name, locked by `<file>.lock`; nothing is opened
    /// yet.
    explicit sealed_file(const store_options& options)
        : directory_(options.resolved_directory()),
          file_(directory_ / options.file_name),
          lock_(file_.string() + ".lock"),
          keyring_options_(options.keyring()) {
        if (auto missing = options.directory_error()) config_error_ = *missing;
        const std::string& name = options.file_name;
        if (!tokenvault::platform::is_plain_file_name(name))
            config_error_ = error{errc::invalid_argument, "sealed_file: file_name must be a plain file name"};
    }

    /// `<file>.lock`; nullopt when the options are invalid (every call then fails).
    [[nodiscard]] std::optional<std::filesystem::path> lock_path() const {
        if (config_error_) return std::nullopt;
        return lock_;
    }

    /// One lstat compared with the identity recorded at the last load or save (our own writes do not count).
    template <class Context>
    [[nodiscard]] result<bool> changed(Context&) const {
        if (config_error_) return *config_error_;
        if (!identity_known_) return true;
        auto now = tokenvault::platform::stat_identity(file_);
        if (!now) return now.error();
        return *now != identity_;
    }

    /// Reads, authenticates and parses the file; no file is an empty bundle (the keyring is not touched).
    template <class Context>
    [[nodiscard]] result<bundle> load(Context& ctx) {
        if (config_error_) return *config_error_;
        identity_known_ = false;
        last_text_ = tokenvault::detail::bundle_text{};
        if (auto checked = tokenvault::platform::check_store_directory(directory_); !checked) {
            ctx.diagnostics.on(events::file_read{0, checked.code()});
            return checked.error();
        }
        // The file is ciphertext: ordinary memory will do (the plaintext goes to secure memory).
        auto read = tokenvault::platform::read_private_file<tokenvault::platform::plain_bytes>(
            file_, sealed_file_format::max_file_size);
        if (!read) {
            ctx.diagnostics.on(events::file_read{0, read.code()});
            return read.error();
        }
        if (!*read) {
            record_file(std::nullopt, std::nullopt, 0);
            return bundle{};
        }
        ctx.diagnostics.on(events::file_read{(*read)->bytes.size(), {}});
        sealed_file_header header;
        auto opened = open_sealed<typename Context::cipher>(ctx, **read, header);
        if (!opened) return opened.error();
        if (is_older_copy(header, *opened)) {
            const auto seen = newest_seen_->counter;
            ctx.diagnostics.on(events::rolled_back{file_.string(), seen, header.seal_counter});
            newest_seen_ = seal_mark{header.key_id, header.seal_counter};  // told once: now the baseline
            return error{errc::rolled_back,
                         file_.string() +
                             ": sealed by the same key as a newer copy this process loaded or "
                             "wrote (seal counter " +
                             std::to_string(header.seal_counter) + ", newest seen " + std::to_string(seen) +
                             "): the file was replaced by an older copy; the newer tokens are not in it"};
        }
        record_file((*read)->identity, header.key_id, header.seal_counter);
        note_seen(header.key_id, header.seal_counter, opened->last_generation);
        return opened;
    }

    /// Seals `content` with a fresh nonce and replaces the file durably; creates the key only for a new file.
    template <class Context>
    [[nodiscard]] result<void> save(Context& ctx, const bundle& content) {
        using cipher = typename Context::cipher;
        if (config_error_) return *config_error_;
        TOKENVAULT_TRY(cipher::available());
        // The store reloads before it writes; refuse to replace anything this instance has not read.
        if (!identity_known_)
            return error{errc::conflict,
                         file_.string() + ": changed or unread since the last load; reload first"};
        auto on_disk = tokenvault::platform::stat_identity(file_);
        if (!on_disk) return on_disk.error();
        if (*on_disk != identity_)
            return error{errc::conflict, file_.string() + ": changed since the last load; reload first"};
        TOKENVAULT_TRY(tokenvault::platform::ensure_store_directory(directory_));
        if (!swept_temp_files_) {
            swept_temp_files_ = true;  // we hold the store lock: every temp file of ours is a dead writer's
            (void)tokenvault::detail::remove_stale_temp_files(
                directory_, [&](std::string_view target) { return target == file_.filename().string(); });
        }

        TOKENVAULT_TRY(key_for_save<cipher>(ctx));
        std::uint64_t counter = 1;
        if (file_key_id_ && *file_key_id_ == key_id_)
            counter = file_counter_ == ~std::uint64_t{0} ? file_counter_ : file_counter_ + 1;
        constexpr std::uint64_t limit = tokenvault::cipher::traits_of<cipher>.max_messages_per_key;
        if (limit != ~std::uint64_t{0} && counter > limit / 2) {
            if (rotate_key<cipher>(ctx)) counter = 1;
            if (counter > limit)
                return error{errc::crypto_failure,
                             file_.string() +
                                 ": the data key reached its seal limit and could not be rotated "
                                 "(keyring write failed): make the keyring writable and restart"};
        }

        // Entries unchanged since the last load or save are copied as text, not serialized again.
        auto plaintext = tokenvault::detail::write_bundle_text(content, &last_text_);
        if (!plaintext) return plaintext.error();
        const auto plain_bytes =
            std::as_bytes(std::span<const char>(plaintext->text.data(), plaintext->text.size()));
        auto header = encode_sealed_header(cipher::id, key_id_, keyring_->tier_name(), counter);
        if (!header) return header.error();
        const std::size_t header_size = header->size();
        // Every byte is written below: no need to zero megabytes first.
        const std::size_t out_size = header_size + cipher::nonce_size + plain_bytes.size() + cipher::tag_size;
        const auto out_buffer = std::make_unique_for_overwrite<std::byte[]>(out_size);
        const std::span<std::byte> out(out_buffer.get(), out_size);
        std::memcpy(out.data(), header->data(), header_size);
        const std::span<std::byte> nonce(out.data() + header_size, cipher::nonce_size);
        if constexpr (cipher::nonce_size > 0) randombytes_buf(nonce.data(), nonce.size());
        TOKENVAULT_TRY(cipher::seal(key_.bytes(), nonce, std::span<const std::byte>(out.data(), header_size),
                                    plain_bytes, out.subspan(header_size + cipher::nonce_size)));
        auto written = tokenvault::platform::write_file_atomically(file_, out);
        ctx.diagnostics.on(events::file_write{out.size(), written.code()});
        if (!written) {
            identity_known_ = false;  // the rename may have happened: reload before the next write
            last_text_ = tokenvault::detail::bundle_text{};
            return written.error();
        }
        record_file(*written, key_id_, counter);
        note_seen(key_id_, counter, content.last_generation);  // our own write is the newest copy
        last_text_ = std::move(*plaintext);
        return {};
    }

    /// What this backend knows now (call it while no store operation runs).
    [[nodiscard]] sealed_file_status status() const {
        sealed_file_status s;
        s.file = file_;
        s.lock_file = lock_;
        s.key_cached = have_key_;
        if (keyring_) s.tier = std::string(keyring_->tier_name());
        s.identity_known = identity_known_;
        s.identity = identity_;
        s.seal_counter = file_counter_;
        s.keyring_failure = keyring_failure_ ? keyring_failure_ : key_write_failure_;
        return s;
    }
    /// The sealed file.
    [[nodiscard]] const std::filesystem::path& file_path() const noexcept { return file_; }
    /// Whether the data key is held in memory.
    [[nodiscard]] bool key_cached() const noexcept { return have_key_; }
    /// The tier of the opened keyring ("" until it is opened).
    [[nodiscard]] std::string_view tier() const {
        return keyring_ ? std::string_view(keyring_->tier_name()) : "";
    }
    /// The file identity recorded at the last load or save (nullopt: no file, or unknown).
    [[nodiscard]] std::optional<tokenvault::platform::file_identity> last_identity() const {
        return identity_known_ ? identity_ : std::nullopt;
    }

private:
    using secure_buffer = tokenvault::detail::secure_buffer;

    void record_file(std::optional<tokenvault::platform::file_identity> identity,
                     std::optional<sealed_key_id> key_id, std::uint64_t counter) {
        identity_known_ = true;
        identity_ = identity;
        file_key_id_ = key_id;
        file_counter_ = counter;
    }

    // Whether a file this instance just opened is an older copy of one it loaded or wrote: sealed by the
    // same key with a lower seal counter, and holding no generation newer than any seen. (A store that
    // starts afresh after a deletion or a quarantine restarts the counter at 1, but its generations start
    // above every earlier one: docs/FORMAT.md.)
    [[nodiscard]] bool is_older_copy(const sealed_file_header& header, const bundle& content) const {
        return newest_seen_ && newest_seen_->key_id == header.key_id &&
               header.seal_counter < newest_seen_->counter && content.last_generation <= newest_generation_;
    }

    void note_seen(const sealed_key_id& key_id, std::uint64_t counter, std::uint64_t last_generation) {
        newest_seen_ = seal_mark{key_id, counter};
        newest_generation_ = std::max(newest_generation_, last_generation);
    }

    // Parses, finds the key for, authenticates and parses one read file.
    template <class Cipher, class Context, class File>
    [[nodiscard]] result<bundle> open_sealed(Context& ctx, const File& file, sealed_file_header& header) {
        const auto bytes = file.bytes.bytes();
        auto parsed = parse_sealed_header(bytes);
        if (!parsed) {
            if (parsed.error() == errc::corrupt_file)
                return quarantine(ctx, file.identity, parsed.error().context);
            return error{parsed.error().code,
                         file_.string() + ": " + parsed.error().context + "; the file was left unchanged"};
        }
        header = std::move(*parsed);
        if (header.cipher_id != Cipher::id) {
            const auto sealed_with = tokenvault::cipher::name_of_id(header.cipher_id);
            const std::string what = file_.string() + ": sealed with " +
                                     tokenvault::cipher::describe_id(header.cipher_id) +
                                     ", but this store uses " + tokenvault::cipher::describe_id(Cipher::id);
            if (!sealed_with)
                return error{errc::unsupported_format_version, what + "; the file was left unchanged"};
            return error{errc::invalid_argument, what + ": configure the store with " + *sealed_with +
                                                     " to read it; the file was left unchanged"};
        }
        if (bytes.size() < header.size + Cipher::nonce_size + Cipher::tag_size)
            return quarantine(ctx, file.identity, "truncated after the header");
        TOKENVAULT_TRY(Cipher::available());
        auto key = key_for_header<Cipher>(ctx, header);
        if (!key) return key.error();

        const auto nonce = bytes.subspan(header.size, Cipher::nonce_size);
        const auto sealed = bytes.subspan(header.size + Cipher::nonce_size);
        secure_buffer plain(sealed.size() - Cipher::tag_size);
        if (auto opened = Cipher::open(*key, nonce, bytes.first(header.size), sealed, plain.bytes());
            !opened) {
            if (opened.error() == errc::corrupt_file)
                return quarantine(ctx, file.identity, "failed authentication with the right key");
            return opened.error();
        }
        auto content = tokenvault::detail::parse_bundle_text(plain.view(), last_text_);
        if (!content) {
            // Authenticated, so written by a tokenvault holding this key: not random damage. Refuse, keep it.
            const auto& e = content.error();
            const bool keep_code = e == errc::unsupported_format_version || e == errc::too_large ||
                                   e == errc::value_out_of_range;
            return error{keep_code ? e.code : make_error_code(errc::malformed_json),
                         file_.string() + ": the sealed bundle does not parse (" + e.context +
                             "); the file was left unchanged"};
        }
        return content;
    }

    // Moves a certainly corrupt file aside (we hold the store lock), reports it, and answers corrupt_file
    // once.
    template <class Context>
    [[nodiscard]] error quarantine(Context& ctx, const tokenvault::platform::file_identity& read_identity,
                                   std::string_view why) {
        identity_known_ = false;
        auto now = tokenvault::platform::stat_identity(file_);
        if (!now) return now.error();
        if (!*now || **now != read_identity)
            return error{errc::io_error, file_.string() + ": replaced while being checked; retry"};
        auto moved = tokenvault::platform::quarantine_file(file_);
        if (!moved)
            return error{moved.error().code, file_.string() + ": " + std::string(why) +
                                                 "; it could not be moved aside (" + moved.error().context +
                                                 "), so it was left in place"};
        ctx.diagnostics.on(
            events::quarantined{file_.string(), moved->string(), make_error_code(errc::corrupt_file)});
        return error{errc::corrupt_file,
                     file_.string() + ": " + std::string(why) + "; moved aside to " + moved->string()};
    }

    // The key that opens a file with `header`: cached, else from the keyring tier the header names.
    template <class Cipher, class Context>
    [[nodiscard]] result<std::span<const std::byte>> key_for_header(Context& ctx,
                                                                    const sealed_file_header& header) {
        if (have_key_ && header.key_id == key_id_) return std::as_const(key_).bytes();
        if (have_previous_ && header.key_id == previous_key_id_) return std::as_const(previous_key_).bytes();
        if (keyring_failure_) return *keyring_failure_;
        if (unmatched_ && unmatched_->first == header.key_id) return unmatched_->second;
        auto remember = [&](error e) {
            unmatched_.emplace(header.key_id, e);
            return e;
        };

        auto keyring = keyring_for_tier(ctx, header.tier);
        if (!keyring) {
            if (keyring.error() == errc::foreign_key) return remember(keyring.error());
            return keyring.error();
        }
        auto current = fetch<Cipher>(ctx, key_account);
        if (!current) return current.error();
        if (!*current)
            return remember(
                error{errc::foreign_key, file_.string() + ": sealed by a key that keyring tier '" +
                                             header.tier + "' does not hold (no item '" +
                                             std::string(key_account) + "' for service '" +
                                             keyring_options_.service + "'); the file was left unchanged"});
        adopt_current(std::move(**current));
        if (header.key_id == key_id_) return std::as_const(key_).bytes();

        auto previous = fetch<Cipher>(ctx, previous_key_account);
        if (!previous) return previous.error();
        if (*previous) {
            auto id = sealed_key_fingerprint((*previous)->bytes());
            if (!id) return id.error();
            if (*id == header.key_id) {
                previous_key_ = std::move(**previous);
                previous_key_id_ = *id;
                have_previous_ = true;
                return std::as_const(previous_key_).bytes();
            }
        }
        return remember(error{
            errc::foreign_key,
            file_.string() + ": sealed by another key than the one keyring tier '" + header.tier +
                "' holds for service '" + keyring_options_.service +
                "' (the key item was replaced or damaged since, or the file comes from another install): "
                "restore that key item, or the file that matches it; the file was left unchanged"});
    }

    // The keyring at `tier`: the open one if it is that tier, else that tier opened on purpose (never
    // another).
    template <class Context>
    [[nodiscard]] result<K*> keyring_for_tier(Context& ctx, const std::string& tier) {
        if (keyring_ && keyring_->tier_name() == tier) return &*keyring_;
        if constexpr (keyring::traits_of<K>.chooses_tier) {
            auto opened = K::open_tier(keyring_options_, tier);
            if (!opened) {
                if (opened.error() == errc::invalid_argument)
                    return error{errc::foreign_key,
                                 file_.string() + ": sealed by a key held in keyring tier '" + tier +
                                     "', which this store's keyring chain does not include: add it "
                                     "to the chain; the file was left unchanged"};
                keyring_failure_ =
                    error{opened.error().code, "keyring tier '" + tier + "': " + opened.error().context};
                return *keyring_failure_;
            }
            if (!*opened)
                return error{errc::foreign_key,
                             file_.string() + ": sealed by a key held in keyring tier '" + tier +
                                 "', which is unavailable now: make it available; the file was "
                                 "left unchanged"};
            forget_keys();  // keys cached from another tier must not seal this file
            keyring_.emplace(std::move(**opened));
            diagnostics::report_store_resolved(ctx.diagnostics, file_, "sealed_file", *keyring_,
                                               events::resolution_cause::file_header);
            return &*keyring_;
        } else {
            auto keyring = open_keyring(ctx);
            if (!keyring) return keyring.error();
            if ((*keyring)->tier_name() != tier)
                return error{errc::foreign_key, file_.string() + ": sealed by a key held in keyring tier '" +
                                                    tier + "', but this store's keyring is '" +
                                                    std::string((*keyring)->tier_name()) +
                                                    "': configure that keyring; the file was left unchanged"};
            return *keyring;
        }
    }

    // Opens K (first use); a failure is remembered until the store is reopened.
    template <class Context>
    [[nodiscard]] result<K*> open_keyring(Context& ctx) {
        if (keyring_) return &*keyring_;
        if (keyring_failure_) return *keyring_failure_;
        auto opened = K::open(keyring_options_);
        if (!opened) {
            keyring_failure_ = opened.error();
            return *keyring_failure_;
        }
        if (!*opened) {
            keyring_failure_ =
                error{errc::keyring_unavailable,
                      "sealed_file: keyring '" + std::string(K::tier) + "' is not available here"};
            return *keyring_failure_;
        }
        keyring_.emplace(std::move(**opened));
        diagnostics::report_store_resolved(ctx.diagnostics, file_, "sealed_file", *keyring_);
        return &*keyring_;
    }

    // Reads one key item from the open keyring; a failure (or a wrong-size item) is remembered.
    template <class Cipher, class Context>
    [[nodiscard]] result<std::optional<secure_buffer>> fetch(Context& ctx, std::string_view account) {
        auto item = keyring_->read(account);
        ctx.diagnostics.on(
            events::keyring_read{keyring_->tier_name(), item && item->has_value(), item.code()});
        if (!item) {
            keyring_failure_ = error{item.error().code,
                                     "sealed_file: reading the data key from keyring tier '" +
                                         std::string(keyring_->tier_name()) + "': " + item.error().context};
            return *keyring_failure_;
        }
        if (*item && (*item)->size() != Cipher::key_size) {
            keyring_failure_ =
                error{errc::damaged_key, "sealed_file: keyring item '" + std::string(account) +
                                             "' in tier '" + std::string(keyring_->tier_name()) + "' has " +
                                             std::to_string((*item)->size()) + " bytes, not a " +
                                             std::to_string(Cipher::key_size) +
                                             "-byte data key; it and the store file were left unchanged"};
            return *keyring_failure_;
        }
        return item;
    }

    // Writes one key item; a failure is remembered for later writes.
    template <class Context>
    [[nodiscard]] result<void> store_key(Context& ctx, std::string_view account,
                                         std::span<const std::byte> key) {
        auto written = keyring_->write(account, key);
        ctx.diagnostics.on(events::keyring_write{keyring_->tier_name(), false, written.code()});
        if (!written)
            return error{written.error().code, "sealed_file: writing the data key to keyring tier '" +
                                                   std::string(keyring_->tier_name()) +
                                                   "': " + written.error().context};
        return {};
    }

    void adopt_current(secure_buffer key) {
        auto id = sealed_key_fingerprint(key.bytes());
        if (!id) return;  // unreachable after a successful ensure_sodium; the key stays unset
        key_ = std::move(key);
        key_id_ = *id;
        have_key_ = true;
    }

    void forget_keys() {
        key_ = secure_buffer{};
        previous_key_ = secure_buffer{};
        have_key_ = false;
        have_previous_ = false;
    }

    // Makes key_ the keyring's current key before a seal. Steady state (the file is sealed by key_): no
    // keyring call. A new file, or a file opened with another key: read "data-key" once; create it only for a
    // new file.
    template <class Cipher, class Context>
    [[nodiscard]] result<void> key_for_save(Context& ctx) {
        if (have_key_ && file_key_id_ && *file_key_id_ == key_id_) return {};
        if (keyring_failure_) return *keyring_failure_;
        if (key_write_failure_) return *key_write_failure_;
        auto keyring = open_keyring(ctx);
        if (!keyring) return keyring.error();
        auto current = fetch<Cipher>(ctx, key_account);
        if (!current) return current.error();
        if (*current) {
            adopt_current(std::move(**current));
            if (!have_key_) return error{errc::crypto_failure, "sealed_file: key fingerprint"};
            return {};
        }
        // The keyring has no data key. For an existing file (opened with the previous key, so it is in
        // memory) put that key back; with no file, make the first key. Never a key that orphans a file.
        secure_buffer fresh(Cipher::key_size);
        if (file_key_id_) {
            if (!(have_previous_ && previous_key_id_ == *file_key_id_))
                return error{errc::key_unavailable,
                             file_.string() + ": keyring tier '" + std::string(keyring_->tier_name()) +
                                 "' no longer holds the data key; the file was left unchanged"};
            fresh = secure_buffer::copy_of(previous_key_.bytes());
        } else {
            randombytes_buf(fresh.data(), fresh.size());
        }
        if (auto stored = store_key(ctx, key_account, fresh.bytes()); !stored) {
            key_write_failure_ = stored.error();
            return stored.error();
        }
        adopt_current(std::move(fresh));
        if (!have_key_) return error{errc::crypto_failure, "sealed_file: key fingerprint"};
        return {};
    }

    // Replaces key_ by a new key, crash-safely: previous := the file's key, then data-key := new key; the
    // file is sealed with the new key afterwards. Any crash leaves the file's key in one of the two items.
    // False (keep sealing with the old key) when a keyring write fails; not retried in this instance.
    template <class Cipher, class Context>
    [[nodiscard]] bool rotate_key(Context& ctx) {
        if (rotation_failed_) return false;
        secure_buffer fresh(Cipher::key_size);
        randombytes_buf(fresh.data(), fresh.size());
        auto fresh_id = sealed_key_fingerprint(fresh.bytes());
        if (!fresh_id || !store_key(ctx, previous_key_account, key_.bytes()) ||
            !store_key(ctx, key_account, fresh.bytes())) {
            rotation_failed_ = true;
            return false;
        }
        previous_key_ = std::move(key_);
        previous_key_id_ = key_id_;
        have_previous_ = true;
        key_ = std::move(fresh);
        key_id_ = *fresh_id;
        return true;
    }

    std::filesystem::path directory_;
    std::filesystem::path file_;
    std::filesystem::path lock_;
    keyring_options keyring_options_;
    std::optional<error> config_error_;

    std::optional<K> keyring_;
    std::optional<error> keyring_failure_;    // open/read failed: every keyring need answers this
    std::optional<error> key_write_failure_;  // creating the key failed: saves that need it answer this
    std::optional<std::pair<sealed_key_id, error>> unmatched_;  // a file key id the keyring could not match
    bool rotation_failed_ = false;
    tokenvault::detail::bundle_text last_text_;  // the plaintext of the last load or save (see json.hpp)
    secure_buffer key_;                          // the keyring's current data key: seals
    sealed_key_id key_id_{};
    bool have_key_ = false;
    secure_buffer previous_key_;  // the key before a rotation: opens only
    sealed_key_id previous_key_id_{};
    bool have_previous_ = false;

    bool identity_known_ = false;  // identity_ describes the file as last loaded or saved
    std::optional<tokenvault::platform::file_identity> identity_;  // nullopt: there was no file
    std::optional<sealed_key_id> file_key_id_;                     // the key id in the file's header
    std::uint64_t file_counter_ = 0;                               // the seal counter in the file's header
    bool swept_temp_files_ = false;

    struct seal_mark {
        sealed_key_id key_id{};
        std::uint64_t counter = 0;
    };
    std::optional<seal_mark> newest_seen_;  // the key and seal counter of the newest file loaded or written
    std::uint64_t newest_generation_ = 0;   // the highest last_generation of a bundle loaded or written
};

}  // namespace tokenvault::backend
