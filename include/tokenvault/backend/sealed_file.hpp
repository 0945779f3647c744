// tokenvault/backend/sealed_file.hpp: backend::sealed_file<K>, the bundle in an AEAD-sealed file.
//
// The 32-byte data key lives in keyring K; a versioned header (docs/FORMAT.md) names key id and tier, so
// files of another key, tier, cipher or newer version are refused, never overwritten; certain corruption
// is quarantined; a file older than one this instance saw (seal counter) is reported once. Reads come
// from memory after one lstat; the key is fetched once, never created by a read, and keyring failures are
// remembered. Assumes load/save under the store lock (token_store). POSIX.
//
// This header seals and opens, refuses older copies, and is the one to include. Its parts:
// backend/sealed_file_format.hpp (the file header), detail/sealed_key_cache.hpp (the data key and the
// keyring tier that holds it), detail/sealed_file_io.hpp (reading, replacing and quarantining the file).
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
#include "../detail/intent_files.hpp"
#include "../detail/sealed_file_io.hpp"
#include "../detail/sealed_key_cache.hpp"
#include "../detail/secure_buffer.hpp"
#include "../diagnostics/events.hpp"
#include "../diagnostics/resolution.hpp"
#include "../json.hpp"
#include "../keyring/concept.hpp"
#include "../platform/platform.hpp"
#include "concept.hpp"
#include "sealed_file_format.hpp"

namespace tokenvault::backend {

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
    static constexpr std::string_view key_account = tokenvault::detail::sealed_key_cache<K>::key_account;
    /// The keyring account that keeps the previous key after an AES-GCM key rotation.
    static constexpr std::string_view previous_key_account =
        tokenvault::detail::sealed_key_cache<K>::previous_key_account;

    /// The file options.resolved_directory()/options.file_name, locked by `<file>.lock`; nothing is opened
    /// yet.
    explicit sealed_file(const store_options& options)
        : disk_(options.resolved_directory(), options.file_name),
          file_(disk_.path()),
          lock_(file_.string() + ".lock"),
          keys_(file_, options.keyring()),
          intents_(options.resolved_directory(), options.file_name) {
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
        return disk_.changed();
    }

    /// Reads, authenticates and parses the file; no file is an empty bundle (the keyring is not touched).
    template <class Context>
    [[nodiscard]] result<bundle> load(Context& ctx) {
        return load_reusing(ctx, nullptr);
    }
    /// The same, taking over the entries of `held` (the bundle the store holds from the last load or save)
    /// whose text is unchanged, instead of parsing them again (see detail::reusable_entries).
    template <class Context>
    [[nodiscard]] result<bundle> load(Context& ctx, const bundle& held) {
        return load_reusing(ctx, &held);
    }

    /// Seals `content` with a fresh nonce and replaces the file durably; creates the key only for a new file.
    template <class Context>
    [[nodiscard]] result<void> save(Context& ctx, const bundle& content) {
        using cipher = typename Context::cipher;
        if (config_error_) return *config_error_;
        TOKENVAULT_TRY(cipher::available());
        TOKENVAULT_TRY(disk_.prepare_replace());

        TOKENVAULT_TRY(keys_.template key_for_save<cipher>(ctx, disk_.key_id()));
        std::uint64_t counter = disk_.next_seal_counter(keys_.key_id());
        constexpr std::uint64_t limit = tokenvault::cipher::traits_of<cipher>.max_messages_per_key;
        if (limit != ~std::uint64_t{0} && counter > limit / 2) {
            if (keys_.template rotate_key<cipher>(ctx)) counter = 1;
            if (counter > limit)
                return error{errc::crypto_failure,
                             file_.string() +
                                 ": the data key reached its seal limit and could not be rotated "
                                 "(keyring write failed): make the keyring writable and restart"};
        }

        // Entries unchanged since the last load or save are copied as text, not serialized again.
        auto plaintext = tokenvault::detail::write_bundle_text(content, &last_text_,
                                                               std::exchange(spare_text_, secret_text{}));
        if (!plaintext) return plaintext.error();
        const auto plain_bytes =
            std::as_bytes(std::span<const char>(plaintext->text.data(), plaintext->text.size()));
        auto header = encode_sealed_header(cipher::id, keys_.key_id(), keys_.tier(), counter);
        if (!header) return header.error();
        const std::size_t header_size = header->size();
        // Every byte is written below: no need to zero megabytes first. The buffer (ciphertext only) is kept
        // for the next save: a fresh one costs page faults on every write.
        const std::size_t out_size = header_size + cipher::nonce_size + plain_bytes.size() + cipher::tag_size;
        if (out_size > sealed_capacity_) {
            sealed_capacity_ = out_size + out_size / 8;
            sealed_buffer_ = std::make_unique_for_overwrite<std::byte[]>(sealed_capacity_);
        }
        const std::span<std::byte> out(sealed_buffer_.get(), out_size);
        std::memcpy(out.data(), header->data(), header_size);
        const std::span<std::byte> nonce(out.data() + header_size, cipher::nonce_size);
        if constexpr (cipher::nonce_size > 0) randombytes_buf(nonce.data(), nonce.size());
        TOKENVAULT_TRY(cipher::seal(keys_.key(), nonce, std::span<const std::byte>(out.data(), header_size),
                                    plain_bytes, out.subspan(header_size + cipher::nonce_size)));
        auto written = disk_.replace(ctx, out, keys_.key_id(), counter);
        // The record now stands for the file written, or for nothing (see load_reusing).
        auto replaced = std::exchange(last_text_, tokenvault::detail::bundle_text{});
        const recycled_text recycle{*this, replaced.text};
        if (!written) return written.error();
        note_seen(keys_.key_id(), counter, content.last_generation);  // our own write is the newest copy
        last_text_ = std::move(*plaintext);
        return {};
    }

    // Group commit (token_store drives it; docs/FORMAT.md, "Group commit").

    /// Posts `change` for the holder of the store lock; its name, or nullopt when this instance cannot post
    /// (it holds no data key yet, or the file it last saw is sealed by another key).
    template <class Context>
    [[nodiscard]] result<std::optional<std::string>> post_intent(Context&,
                                                                 const tokenvault::detail::intent& change) {
        if (config_error_ || !keys_.cached() || !disk_.key_id() || *disk_.key_id() != keys_.key_id())
            return std::optional<std::string>{};
        auto name = intents_.post(keys_.key(), keys_.key_id(), change);
        if (!name) return name.error();
        return std::optional<std::string>{std::move(*name)};
    }
    /// Withdraws intent `name`: true when withdrawn, false when a holder claimed it first.
    [[nodiscard]] result<bool> withdraw_intent(std::string_view name) { return intents_.withdraw(name); }
    /// Removes the files of intent `name` (its outcome was read, or it is applied by its poster).
    void settle_intent(std::string_view name) { intents_.settle(name); }
    /// Under the store lock, after a load: claims the intents posted for the file as loaded.
    template <class Context>
    [[nodiscard]] std::vector<tokenvault::detail::intent_files::claimed> claim_intents(Context&,
                                                                                       std::int64_t now_ms) {
        if (config_error_ || !keys_.cached() || (disk_.key_id() && *disk_.key_id() != keys_.key_id()))
            return {};
        return intents_.claim_all(keys_.key(), keys_.key_id(), now_ms);
    }
    /// Without the store lock, while waiting for it: the outcome of intent `name` if the file, changed since
    /// the last look, records one. Reads only (nothing is moved aside, nothing remembered but the identity
    /// of the version looked at); anything unexpected is "not yet", and the waiter goes on waiting.
    template <class Context>
    [[nodiscard]] std::optional<tokenvault::detail::intent_outcome> peek_intent_outcome(
        Context&, std::string_view name) {
        using cipher = typename Context::cipher;
        if (config_error_ || !keys_.cached()) return std::nullopt;
        const auto identity = tokenvault::platform::stat_identity(file_);
        if (!identity || !*identity || (peeked_ && *peeked_ == **identity)) return std::nullopt;
        auto read = tokenvault::platform::read_private_file<tokenvault::platform::plain_bytes>(
            file_, sealed_file_format::max_file_size);
        if (!read || !*read) return std::nullopt;
        peeked_ = (*read)->identity;
        const auto bytes = (*read)->bytes.bytes();
        auto header = parse_sealed_header(bytes);
        if (!header || header->cipher_id != cipher::id || header->key_id != keys_.key_id() ||
            bytes.size() < header->size + cipher::nonce_size + cipher::tag_size)
            return std::nullopt;
        secret_text plain;
        if (!open_payload<cipher>(bytes, header->size, keys_.key(), plain)) return std::nullopt;
        return tokenvault::detail::peek_intent_outcome(std::string_view(plain.data(), plain.size()), name);
    }
    /// Whether a file of intent `name` is still there.
    [[nodiscard]] bool intent_outstanding(std::string_view name) const { return intents_.outstanding(name); }
    /// The directory flush that makes a save seen by a waiter durable (a holder may not have flushed yet).
    [[nodiscard]] tokenvault::platform::pending_sync intent_flush() const {
        return tokenvault::platform::pending_sync(file_.parent_path(),
                                                  &tokenvault::platform::sync_directory<>);
    }

    /// What this backend knows now (call it while no store operation runs).
    [[nodiscard]] sealed_file_status status() const {
        sealed_file_status s;
        s.file = file_;
        s.lock_file = lock_;
        s.key_cached = keys_.cached();
        s.tier = std::string(keys_.tier());
        s.identity_known = disk_.identity_known();
        s.identity = disk_.identity();
        s.seal_counter = disk_.seal_counter();
        s.keyring_failure = keys_.failure();
        return s;
    }
    /// The sealed file.
    [[nodiscard]] const std::filesystem::path& file_path() const noexcept { return file_; }
    /// The tier of the opened keyring ("" until it is opened).
    [[nodiscard]] std::string_view tier() const { return keys_.tier(); }

private:
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

    using secret_text = tokenvault::detail::secret_text;

    // Wipes `text` and keeps the larger buffer for the next read to decrypt into: a fresh buffer per read
    // costs more than the read's parse on some systems (page faults, unmapping). Every text recycled here is
    // wiped over its whole size, and a reused buffer only shrinks right after such a wipe, so no byte past
    // the size of a kept buffer holds plaintext (the allocator wipes the whole block when it is freed).
    void recycle(secret_text& text) noexcept {
        sodium_memzero(text.data(), text.size());
        text.clear();
        if (text.capacity() > spare_text_.capacity()) std::swap(text, spare_text_);
    }
    struct recycled_text {
        recycled_text(sealed_file& owner, secret_text& recycled) noexcept : self(owner), text(recycled) {}
        recycled_text(const recycled_text&) = delete;
        recycled_text& operator=(const recycled_text&) = delete;
        ~recycled_text() { self.recycle(text); }
        sealed_file& self;
        secret_text& text;
    };

    // load(), given the bundle the store holds (or nullptr).
    template <class Context>
    [[nodiscard]] result<bundle> load_reusing(Context& ctx, const bundle* held) {
        if (config_error_) return *config_error_;
        // The record of the last load or save serves this read alone: whatever happens, it is replaced, and
        // its buffer is wiped and kept for the next read to decrypt into.
        auto previous = std::exchange(last_text_, tokenvault::detail::bundle_text{});
        const recycled_text recycle{*this, previous.text};
        auto read = disk_.read(ctx);
        if (!read) return read.error();
        if (!*read) {
            disk_.record_file(std::nullopt, std::nullopt, 0);
            return bundle{};
        }
        sealed_file_header header;
        std::optional<tokenvault::detail::reusable_entries> reuse;
        if (held != nullptr && !previous.entries.empty())
            reuse.emplace(tokenvault::detail::reusable_entries{previous, *held});
        auto opened = open_sealed<typename Context::cipher>(ctx, **read, header, reuse ? &*reuse : nullptr);
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
        disk_.record_file((*read)->identity, header.key_id, header.seal_counter);
        note_seen(header.key_id, header.seal_counter, opened->last_generation);
        return opened;
    }

    // Authenticates and decrypts what follows a header of `header_size` bytes (nonce, ciphertext, tag; the
    // caller checked there are enough) into `plain`, with the header as associated data.
    template <class Cipher>
    [[nodiscard]] static result<void> open_payload(std::span<const std::byte> bytes, std::size_t header_size,
                                                   std::span<const std::byte> key, secret_text& plain) {
        const auto sealed = bytes.subspan(header_size + Cipher::nonce_size);
        plain.assign(sealed.size() - Cipher::tag_size, '\0');
        return Cipher::open(key, bytes.subspan(header_size, Cipher::nonce_size), bytes.first(header_size),
                            sealed, std::as_writable_bytes(std::span<char>(plain.data(), plain.size())));
    }

    // Parses, finds the key for, authenticates and parses one read file.
    template <class Cipher, class Context, class File>
    [[nodiscard]] result<bundle> open_sealed(Context& ctx, const File& file, sealed_file_header& header,
                                             const tokenvault::detail::reusable_entries* reuse) {
        const auto bytes = file.bytes.bytes();
        auto parsed = parse_sealed_header(bytes);
        if (!parsed) {
            if (parsed.error() == errc::corrupt_file)
                return disk_.quarantine(ctx, file.identity, parsed.error().context);
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
            return disk_.quarantine(ctx, file.identity, "truncated after the header");
        TOKENVAULT_TRY(Cipher::available());
        auto key = keys_.template key_for_header<Cipher>(ctx, header);
        if (!key) return key.error();

        secret_text plain = std::exchange(spare_text_, secret_text{});  // wiped by recycle()
        if (auto opened = open_payload<Cipher>(bytes, header.size, *key, plain); !opened) {
            if (opened.error() == errc::corrupt_file)
                return disk_.quarantine(ctx, file.identity, "failed authentication with the right key");
            return opened.error();
        }
        auto content = tokenvault::detail::parse_owned_bundle_text(std::move(plain), last_text_, reuse);
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

    tokenvault::detail::sealed_file_io<> disk_;  // the file, as the last load or save saw it
    std::filesystem::path file_;                 // disk_.path(), for error texts
    std::filesystem::path lock_;
    std::optional<error> config_error_;
    tokenvault::detail::sealed_key_cache<K> keys_;               // the data key and the keyring that holds it
    tokenvault::detail::intent_files intents_;                   // group commit's hand-over files
    std::optional<tokenvault::platform::file_identity> peeked_;  // the version peek_intent_outcome last read
    tokenvault::detail::bundle_text last_text_;   // the plaintext of the last load or save (see json.hpp)
    secret_text spare_text_;                      // a wiped buffer for the next read or write of a text
    std::unique_ptr<std::byte[]> sealed_buffer_;  // the sealed bytes of the last save (not secret)
    std::size_t sealed_capacity_ = 0;

    struct seal_mark {
        sealed_key_id key_id{};
        std::uint64_t counter = 0;
    };
    std::optional<seal_mark> newest_seen_;  // the key and seal counter of the newest file loaded or written
    std::uint64_t newest_generation_ = 0;   // the highest last_generation of a bundle loaded or written
};

}  // namespace tokenvault::backend
