// tests/fuzz/fuzz_import_toml_lite.cpp: libFuzzer harness for detail::toml_lite, the minimal TOML reader
// of Codex's config.toml. Oracle: reading is deterministic, bounded (at most max_values values), and every
// kept string value written back as a TOML basic string reads back the same.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <tokenvault/detail/toml_lite.hpp>

#include "fuzz_support.hpp"

namespace fuzz_import_toml_lite {  // one namespace per harness: see TOKENVAULT_FUZZ_TARGET

namespace {
std::string as_basic_string(std::string_view text) {
    std::string out = "\"";
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20 || u == 0x7f) {
            static constexpr char hex[] = "0123456789ABCDEF";
            out += "\\u00";
            out += hex[u >> 4];
            out += hex[u & 15];
        } else {
            out += c;
        }
    }
    return out + "\"";
}
}  // namespace

TOKENVAULT_FUZZ_TARGET(import_toml_lite) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto values = tokenvault::detail::toml_lite::read(text);
    if (values.size() > tokenvault::detail::toml_lite::max_values) tvfuzz::broken("more values than the cap");
    if (tokenvault::detail::toml_lite::read(text).size() != values.size())
        tvfuzz::broken("not deterministic");
    for (const auto& v : values) {
        if (v.type != tokenvault::detail::toml_value::kind::string) continue;
        const auto again = tokenvault::detail::toml_lite::read("k = " + as_basic_string(v.text) + "\n");
        if (again.size() != 1 || again[0].text != v.text)
            tvfuzz::broken("a string value does not round-trip");
    }
    return 0;
}

}  // namespace fuzz_import_toml_lite
