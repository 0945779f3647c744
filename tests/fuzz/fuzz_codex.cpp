// tests/fuzz/fuzz_codex.cpp: libFuzzer harness for the Codex importer (migration::from_codex).
//
// Input: the content of $CODEX_HOME/.credentials.json. Oracle: every credential the import takes in is
// storable and reads back equal, under an id that is a fixed point; the import never fails the store.
#include <tokenvault/cipher/xchacha20poly1305.hpp>
#include <tokenvault/diagnostics/none.hpp>
#include <tokenvault/locking/threads.hpp>
#include <tokenvault/migration/codex.hpp>
#include <tokenvault/store.hpp>

#include "fuzz_support.hpp"

namespace fuzz_codex {  // one namespace per harness: see TOKENVAULT_FUZZ_TARGET

namespace tv = tokenvault;

namespace {
struct fuzz_codex_home : tv::migration::codex_config {
    static std::filesystem::path home(const tv::store_options&) { return tvfuzz::scratch() / "codex"; }
};
using import_store = tv::token_store<tv::backend::memory, tv::cipher::xchacha20poly1305, tv::locking::threads,
                                     tv::migration::from_codex<fuzz_codex_home>, tv::diagnostics::none>;
}  // namespace

TOKENVAULT_FUZZ_TARGET(codex) {
    static const bool made = std::filesystem::create_directories(tvfuzz::scratch() / "codex") || true;
    (void)made;
    tvfuzz::write_file(tvfuzz::scratch() / "codex" / ".credentials.json",
                       std::string_view(reinterpret_cast<const char*>(data), size));
    import_store s;
    tvfuzz::check_imported(s, [](const tv::credential_id&, const tv::token&) {});
    return 0;
}

}  // namespace fuzz_codex
