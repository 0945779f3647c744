// tests/fuzz/fuzz_main.cpp: the entry point of the combined fuzz binary, tokenvault_fuzz.
//
// Every harness of tests/fuzz/ is linked in and registered by name (TOKENVAULT_FUZZ_TARGET in
// fuzz_support.hpp); $TOKENVAULT_FUZZ_TARGET names the one this process runs, e.g.
//   TOKENVAULT_FUZZ_TARGET=bundle_reader build-fuzz/tests/fuzz/tokenvault_fuzz CORPUS_DIR...
// One binary instead of one per harness: the harnesses share their compiled headers (unity blocks), which
// makes the fuzz build several times faster. Only the named harness runs, so its coverage guides the run.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "fuzz_support.hpp"

namespace {

tvfuzz::target_function selected = nullptr;

}  // namespace

// Picks the harness before the first input: a wrong name stops here, not as a "crash" of the first input.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
    const char* wanted = std::getenv("TOKENVAULT_FUZZ_TARGET");
    for (const auto& t : tvfuzz::targets())
        if (wanted != nullptr && std::strcmp(wanted, t.name) == 0) selected = t.run;
    if (selected != nullptr) return 0;
    std::fprintf(stderr, "tokenvault_fuzz: set TOKENVAULT_FUZZ_TARGET to one of:");
    for (const auto& t : tvfuzz::targets()) std::fprintf(stderr, " %s", t.name);
    std::fprintf(stderr, "\n");
    std::exit(2);
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    return selected(data, size);
}
