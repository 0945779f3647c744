// benchmarks/bench_memory_store.cpp: memory-store get (hit) and put against a bare unordered_map.
//
// Baseline for get: a std::unordered_map<std::string, token> find that produces the same result type
// get returns (result<std::optional<token>>, a copy). Ratios: memory_get_st (locking::none) and
// memory_get_mt (locking::threads, uncontended), and memory_put against a bare insert_or_assign.
#include <tokenvault/tokenvault.hpp>

#include <string>
#include <unordered_map>
#include <vector>

#include "bench_common.hpp"
#include "bench_tokens.hpp"

namespace tv = tokenvault;

namespace {

constexpr int ids = 50;

using tvbench::make_token;

template <class Store>
void bench_get(const char* name, const std::vector<tv::credential_id>& keys) {
    Store store;
    std::unordered_map<std::string, tv::token> bare;
    for (int i = 0; i < ids; ++i) {
        (void)store.put(keys[i], make_token(i));
        bare.emplace(keys[i].hash(), make_token(i));
    }
    const auto subject = [&](int i) {
        auto r = store.get(keys[static_cast<std::size_t>(i % ids)]);
        tvbench::keep(r);
    };
    const auto baseline = [&](int i) {
        const auto found = bare.find(keys[static_cast<std::size_t>(i % ids)].hash());
        tv::result<std::optional<tv::token>> r =
            found == bare.end() ? std::optional<tv::token>{} : std::optional<tv::token>{found->second};
        tvbench::keep(r);
    };
    const auto [value, base] = tvbench::interleaved(subject, baseline, 41, 20000);
    tvbench::report(name, value, "ns", base);
}

}  // namespace

int main() {
    std::vector<tv::credential_id> keys;
    for (int i = 0; i < ids; ++i)
        keys.push_back(
            tv::credential_id::parse("https://mcp" + std::to_string(i) + ".example.com/mcp").value());

    bench_get<tv::presets::memory_st>("memory_get_st", keys);
    bench_get<tv::presets::memory_mt>("memory_get_mt", keys);

    tv::presets::memory_mt store;
    std::unordered_map<std::string, tv::token> bare;
    const auto token = make_token(1);
    const auto subject = [&](int i) { (void)store.put(keys[static_cast<std::size_t>(i % ids)], token); };
    const auto baseline = [&](int i) {
        bare.insert_or_assign(keys[static_cast<std::size_t>(i % ids)].hash(), token);
    };
    const auto [value, base] = tvbench::interleaved(subject, baseline, 21, 5000);
    tvbench::report("memory_put_mt", value, "ns", base);
    return 0;
}
