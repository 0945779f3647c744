// tests/fuzz/fuzz_bundle_reader.cpp: libFuzzer harness for the bundle reader (the plaintext of a sealed file,
// the content of a keyring_bundle item).
//
// Oracles: an accepted bundle is written again and reads back equal, also through the writer that copies
// the text of unchanged entries; the reader refuses as "not JSON" exactly the texts a document parser
// refuses; every refusal is one of the documented codes.
#include <nlohmann/json.hpp>

#include "fuzz_support.hpp"

namespace tv = tokenvault;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    tv::detail::bundle_text record;
    auto parsed = tv::detail::parse_bundle_text(text, record);
    // nlohmann ends a document at a NUL byte ("{}\0junk" is accepted); the bundle reader refuses NUL bytes.
    const bool is_json = text.find('\0') == std::string_view::npos && nlohmann::json::accept(text);
    if (!parsed) {
        const auto& e = parsed.error();
        tvfuzz::require(e == tv::errc::malformed_json || e == tv::errc::wrong_type ||
                            e == tv::errc::missing_field || e == tv::errc::unsupported_format_version ||
                            e == tv::errc::value_out_of_range || e == tv::errc::too_large,
                        "a refused bundle has a documented code");
        tvfuzz::require((e == tv::errc::malformed_json) == !is_json,
                        "not JSON exactly when a document parser says so");
        return 0;
    }
    tvfuzz::require(is_json, "an accepted bundle is JSON");
    tvfuzz::check_bundle_round_trip(*parsed);
    // The writer that reuses the text of unchanged entries gives the same bundle.
    auto reused = tv::detail::write_bundle_text(*parsed, &record);
    tvfuzz::require(reused.has_value(), "an accepted bundle is written again with its entry texts");
    auto back = tv::parse_bundle(std::string_view(reused->text.data(), reused->text.size()));
    tvfuzz::require(back.has_value() && tvfuzz::same_bundle(*parsed, *back),
                    "reused entry texts read back equal");
    return 0;
}
