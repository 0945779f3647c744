// tokenvault/detail/sealed_file_io.hpp: the file under a sealed_file backend, as this instance last saw it.
//
// detail::sealed_file_io reads the whole file (ciphertext, so ordinary memory) after checking its
// directory, replaces it durably (atomic rename), and moves a certainly corrupt file aside. It records the
// file's identity (inode, size, mtime) and the key id and seal counter of its header at every load and
// save, so a change by another process costs one lstat to see, and a file changed or unread since then is
// never overwritten (errc::conflict); the first replacement removes temp files left by dead writers. No
// crypto and no keyring: those are backend::sealed_file and detail::sealed_key_cache. The caller holds the
// store lock around every call. A class template only so that its members compile where they are used.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "../backend/sealed_file_format.hpp"
#include "../diagnostics/events.hpp"
#include "../platform/platform.hpp"
#include "../result.hpp"
#include "temp_files.hpp"

namespace tokenvault::detail {

/// The sealed file on disk: durable reads and replacements, and what the last load or save saw.
template <class = void>
class sealed_file_io {
    using sealed_key_id = backend::sealed_key_id;
    using sealed_file_format = backend::sealed_file_format;

public:
    /// A file read whole, with the identity of the version read.
    using file_read = tokenvault::platform::basic_private_file<tokenvault::platform::plain_bytes>;

    /// The file `file_name` in `directory`; nothing is touched yet.
    sealed_file_io(std::filesystem::path directory, const std::string& file_name)
        : directory_(std::move(directory)), file_(directory_ / file_name) {}

    /// The sealed file.
    [[nodiscard]] const std::filesystem::path& path() const noexcept { return file_; }
    /// Whether identity() describes the file as last loaded or saved.
    [[nodiscard]] bool identity_known() const noexcept { return identity_known_; }
    /// The identity at the last load or save (nullopt: there was no file).
    [[nodiscard]] const std::optional<tokenvault::platform::file_identity>& identity() const noexcept {
        return identity_;
    }
    /// The key id in the header of the file as last loaded or saved (nullopt: no file).
    [[nodiscard]] const std::optional<sealed_key_id>& key_id() const noexcept { return file_key_id_; }
    /// The seal counter in the header of the file as last loaded or saved.
    [[nodiscard]] std::uint64_t seal_counter() const noexcept { return file_counter_; }

    /// One lstat compared with the identity recorded at the last load or save (our own writes do not count).
    [[nodiscard]] result<bool> changed() const {
        if (!identity_known_) return true;
        auto now = tokenvault::platform::stat_identity(file_);
        if (!now) return now.error();
        return *now != identity_;
    }

    /// Checks the directory and reads the file; nullopt when there is none. The recorded identity is
    /// forgotten until record_file().
    template <class Context>
    [[nodiscard]] result<std::optional<file_read>> read(Context& ctx) {
        identity_known_ = false;
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
        if (!*read) return read;
        ctx.diagnostics.on(events::file_read{(*read)->bytes.size(), {}});
        return read;
    }

    /// The seal counter of the next seal by `key_id`: one more than the file's when the file is sealed by
    /// that key (it stays at the maximum), else 1.
    [[nodiscard]] std::uint64_t next_seal_counter(const sealed_key_id& key_id) const {
        std::uint64_t counter = 1;
        if (file_key_id_ && *file_key_id_ == key_id)
            counter = file_counter_ == ~std::uint64_t{0} ? file_counter_ : file_counter_ + 1;
        return counter;
    }

    /// Before a replacement: refuses (errc::conflict) a file changed or unread since the last load or save,
    /// creates the directory if needed and, once, removes temp files of dead writers.
    [[nodiscard]] result<void> prepare_replace() {
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
        return {};
    }

    /// Replaces the file by `out` (sealed by `key_id` with seal counter `counter`) and records it. The
    /// directory flush that makes the rename durable goes to `ctx.sync_after_unlock` when the store offers
    /// it, else it runs here.
    template <class Context>
    [[nodiscard]] result<void> replace(Context& ctx, std::span<const std::byte> out,
                                       const sealed_key_id& key_id, std::uint64_t counter) {
        auto written = tokenvault::platform::replace_file(file_, out);
        ctx.diagnostics.on(events::file_write{out.size(), written.code()});
        if (!written) {
            identity_known_ = false;  // the rename may have happened: reload before the next write
            return written.error();
        }
        record_file(written->identity, key_id, counter);
        if (ctx.sync_after_unlock != nullptr) {
            *ctx.sync_after_unlock = std::move(written->sync);
            return {};
        }
        auto synced = written->sync.complete();
        if (!synced) identity_known_ = false;  // the store rolls its cache back: reload before the next write
        return synced;
    }

    /// Moves a certainly corrupt file aside (we hold the store lock), reports it, and answers corrupt_file
    /// once.
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

    /// Records what a load or save saw: the file's identity (nullopt: no file) and its header's key id and
    /// seal counter.
    void record_file(std::optional<tokenvault::platform::file_identity> identity,
                     std::optional<sealed_key_id> key_id, std::uint64_t counter) {
        identity_known_ = true;
        identity_ = identity;
        file_key_id_ = key_id;
        file_counter_ = counter;
    }

private:
    std::filesystem::path directory_;
    std::filesystem::path file_;
    bool identity_known_ = false;  // identity_ describes the file as last loaded or saved
    std::optional<tokenvault::platform::file_identity> identity_;  // nullopt: there was no file
    std::optional<sealed_key_id> file_key_id_;                     // the key id in the file's header
    std::uint64_t file_counter_ = 0;                               // the seal counter in the file's header
    bool swept_temp_files_ = false;
};

}  // namespace tokenvault::detail
