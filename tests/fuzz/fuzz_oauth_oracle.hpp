// tests/fuzz/fuzz_oauth_oracle.hpp: what the OAuth fuzz harnesses share: an oracle check that aborts (so
// libFuzzer records the input) instead of an assertion that NDEBUG would remove.
#pragma once

#include <cstdlib>

namespace tvfuzz {

/// Aborts when an oracle does not hold.
inline void require(bool condition) {
    if (!condition) std::abort();
}

}  // namespace tvfuzz
