// tests/fuzz/fuzz_mcp_remote.cpp: libFuzzer harness for the mcp-remote importer (migration::from_mcp_remote).
//
// Input: 4 bytes of file time (seconds, little-endian, from 1970 to 2106), then the tokens file, optionally
// followed by a NUL byte and the client_info file. Oracle: an imported credential is storable and reads
// back equal, and an expiry from expires_in never lies beyond now + 1e9 s (a file dated in the future does
// not extend a token's life); the import never fails the store.
#include <sys/stat.h>

#include <tokenvault/cipher/xchacha20poly1305.hpp>
#include <tokenvault/detail/md5.hpp>
#include <tokenvault/diagnostics/none.hpp>
#include <tokenvault/locking/threads.hpp>
#include <tokenvault/migration/mcp_remote.hpp>
#include <tokenvault/store.hpp>

#include "fuzz_support.hpp"

namespace fuzz_mcp_remote {  // one namespace per harness: see TOKENVAULT_FUZZ_TARGET

namespace tv = tokenvault;

namespace {
const std::string server = "https://mcp.example.com/sse";
struct fuzz_mcp_remote_config : tv::migration::mcp_remote_config {
    static std::filesystem::path base_directory(const tv::store_options&) {
        return tvfuzz::scratch() / "mcp-auth";
    }
    static std::vector<tv::migration::mcp_remote_server> servers(const tv::store_options&) {
        return {{server, {}, {}}};
    }
};
using import_store =
    tv::token_store<tv::backend::memory, tv::cipher::xchacha20poly1305, tv::locking::threads,
                    tv::migration::from_mcp_remote<fuzz_mcp_remote_config>, tv::diagnostics::none>;
}  // namespace

TOKENVAULT_FUZZ_TARGET(mcp_remote) {
    if (size < 4) return 0;
    static const auto directory = [] {
        auto d = tvfuzz::scratch() / "mcp-auth" / "mcp-remote-0.1.37";
        std::filesystem::create_directories(d);
        return d;
    }();
    static const auto hash = tv::detail::md5_hex(server);
    const std::uint32_t mtime =
        data[0] | (data[1] << 8) | (data[2] << 16) | (static_cast<std::uint32_t>(data[3]) << 24);
    const std::string_view rest(reinterpret_cast<const char*>(data + 4), size - 4);
    const auto nul = rest.find('\0');
    const auto tokens_path = directory / (hash + "_tokens.json");
    const auto info_path = directory / (hash + "_client_info.json");
    tvfuzz::write_file(tokens_path, rest.substr(0, nul));
    if (nul != std::string_view::npos)
        tvfuzz::write_file(info_path, rest.substr(nul + 1));
    else
        std::filesystem::remove(info_path);
    const struct timespec times[2] = {{static_cast<time_t>(mtime), 0}, {static_cast<time_t>(mtime), 0}};
    ::utimensat(AT_FDCWD, tokens_path.c_str(), times, 0);

    import_store s;
    tvfuzz::check_imported(s, [&](const tv::credential_id&, const tv::token& t) {
        // With no absolute expiry in the file (and no escape that could spell one), the expiry comes from
        // expires_in (at most 1e9 s), counted from no later than now.
        if (t.expires_at && rest.find("expires_at") == std::string_view::npos &&
            rest.find('\\') == std::string_view::npos)
            tvfuzz::require(*t.expires_at <= tv::clock::now() + std::chrono::seconds(1'000'000'000),
                            "expires_in counts from no later than now");
    });
    return 0;
}

}  // namespace fuzz_mcp_remote
