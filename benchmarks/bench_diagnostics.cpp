// benchmarks/bench_diagnostics.cpp: what diagnostics cost on the hot paths.
//
// diagnostics_overhead: a cached get on the embedded store's policies (sealed file, key file, process
// locking: one stat to notice other processes' writes, then the cache) with diagnostics::counters,
// against the same store with diagnostics::none (target: ratio <= 1.1). diagnostics_overhead_memory:
// the same on the memory store. diagnostics_overhead_put: a memory-store put (which emits events) with
// counters against none. diagnostics_none_size: the memory store's size with none against the same
// store with counters (none adds no state).
#include <stdlib.h>

#include <tokenvault/tokenvault.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "bench_tokens.hpp"

namespace tv = tokenvault;

namespace {

constexpr int ids = 50;

using tvbench::make_token;

template <class Diagnostics>
using embedded_with = tv::token_store<tv::presets::embedded::backend_type, tv::cipher::xchacha20poly1305,
                                      tv::locking::process, tv::migration::none, Diagnostics>;
template <class Diagnostics>
using memory_with = tv::token_store<tv::backend::memory, tv::cipher::xchacha20poly1305, tv::locking::none,
                                    tv::migration::none, Diagnostics>;

template <class Subject, class Baseline>
void bench_get(const char* name, Subject& subject, Baseline& baseline,
               const std::vector<tv::credential_id>& keys, int iterations) {
    const auto with = [&](int i) {
        auto r = subject.get(keys[static_cast<std::size_t>(i % ids)]);
        tvbench::keep(r);
    };
    const auto without = [&](int i) {
        auto r = baseline.get(keys[static_cast<std::size_t>(i % ids)]);
        tvbench::keep(r);
    };
    const auto [value, base] = tvbench::interleaved(with, without, 31, iterations);
    tvbench::report(name, value, "ns", base);
}

}  // namespace

int main() {
    std::vector<tv::credential_id> keys;
    for (int i = 0; i < ids; ++i)
        keys.push_back(
            tv::credential_id::parse("https://mcp" + std::to_string(i) + ".example.com/mcp").value());

    std::string pattern = (std::filesystem::temp_directory_path() / "tv-bench-diag-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) return 1;
    const std::filesystem::path root = pattern;
    int code = 0;
    {
        tv::store_options counted_options, plain_options;
        counted_options.app_name = plain_options.app_name = "tv-bench-diag";
        counted_options.directory = root / "counted";
        plain_options.directory = root / "plain";
        embedded_with<tv::diagnostics::counters> counted(counted_options);
        embedded_with<tv::diagnostics::none> plain(plain_options);
        for (int i = 0; i < ids; ++i) {
            if (!counted.put(keys[static_cast<std::size_t>(i)], make_token(i)) ||
                !plain.put(keys[static_cast<std::size_t>(i)], make_token(i)))
                code = 1;
        }
        if (code == 0) bench_get("diagnostics_overhead", counted, plain, keys, 5000);
    }
    {
        memory_with<tv::diagnostics::counters> counted;
        memory_with<tv::diagnostics::none> plain;
        for (int i = 0; i < ids; ++i) {
            (void)counted.put(keys[static_cast<std::size_t>(i)], make_token(i));
            (void)plain.put(keys[static_cast<std::size_t>(i)], make_token(i));
        }
        bench_get("diagnostics_overhead_memory", counted, plain, keys, 20000);

        const auto token = make_token(1);
        const auto with = [&](int i) { (void)counted.put(keys[static_cast<std::size_t>(i % ids)], token); };
        const auto without = [&](int i) { (void)plain.put(keys[static_cast<std::size_t>(i % ids)], token); };
        const auto [value, base] = tvbench::interleaved(with, without, 21, 5000);
        tvbench::report("diagnostics_overhead_put", value, "ns", base);
    }
    tvbench::report("diagnostics_none_size", static_cast<double>(sizeof(memory_with<tv::diagnostics::none>)),
                    "bytes", static_cast<double>(sizeof(memory_with<tv::diagnostics::counters>)));
    std::error_code ignored;
    std::filesystem::remove_all(root, ignored);
    return code;
}
