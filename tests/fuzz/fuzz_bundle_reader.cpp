// tests/fuzz/fuzz_bundle_reader.cpp: libFuzzer harness for the bundle reader (the plaintext of a sealed file,
// the content of a keyring_bundle item).
//
// Oracles: an accepted bundle is written again and reads back equal, also through the writer that copies
// the text of unchanged entries; the reader refuses as "not JSON" exactly the texts a document parser
// refuses; every refusal is one of the documented codes. Re-reads: an input of two texts (`held`
// reread_separator `text`) reads `text` taking over the unchanged entries of `held` read before, and must
// give exactly what a plain read of `text` gives (the same bundle, or the same refusal); a single text is
// re-read taking over the entries of its own read and of its own write.
#include <nlohmann/json.hpp>

#include "fuzz_support.hpp"

namespace fuzz_bundle_reader {  // one namespace per harness: see TOKENVAULT_FUZZ_TARGET

namespace tv = tokenvault;

namespace {

// A re-read of `text` that may take over entries from `previous`/`held` gives what a plain read gave.
void check_reread(std::string_view text, const tv::result<tv::bundle>& plain,
                  const tv::detail::bundle_text& previous, const tv::bundle& held) {
    const tv::detail::reusable_entries reuse{previous, held};
    tv::detail::bundle_text record;
    auto again = tv::detail::parse_owned_bundle_text(tv::detail::secret_text(text), record, &reuse);
    if (!plain) {
        tvfuzz::require(!again && again.error().code == plain.error().code &&
                            again.error().context == plain.error().context && record.entries.empty(),
                        "a re-read refuses what a plain read refuses, for the same reason");
        return;
    }
    tvfuzz::require(again.has_value() && tvfuzz::same_bundle(*plain, *again),
                    "a re-read taking over unchanged entries reads what a plain read does");
    tvfuzz::require(record.entries.size() == again->entries.size(), "a re-read records every readable entry");
}

}  // namespace

TOKENVAULT_FUZZ_TARGET(bundle_reader) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    if (const auto cut = text.find(tvfuzz::reread_separator); cut != std::string_view::npos) {
        const auto held_text = text.substr(0, cut);
        text.remove_prefix(cut + tvfuzz::reread_separator.size());
        tv::detail::bundle_text held_record;
        auto held = tv::detail::parse_bundle_text(held_text, held_record);
        if (!held) return 0;
        tv::detail::bundle_text record;
        check_reread(text, tv::detail::parse_bundle_text(text, record), held_record, *held);
        return 0;
    }
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
    // Re-reads of the same text taking over its entries: from the record of reading it, and from the record
    // of writing it (whose entry texts match the input's wherever the input is written as tokenvault writes).
    auto written = tv::detail::write_bundle_text(*parsed);
    tvfuzz::require(written.has_value(), "an accepted bundle is written");
    check_reread(text, parsed, record, *parsed);
    check_reread(text, parsed, *written, *parsed);
    return 0;
}

}  // namespace fuzz_bundle_reader
