// tests/fuzz/fuzz_intent.cpp: libFuzzer harness for group commit's records (detail/intent_text.hpp and
// detail/intent_files.hpp).
//
// Input: a mode byte, then
//   mode 0: an intent's plaintext. Oracle: what read_intent_text accepts, write_intent_text writes, and
//           that text reads back equal and is written again byte for byte (a fixed point); its token and
//           id are storable.
//   mode 1: a bundle's plaintext. Oracle: the outcome a waiter finds in it without parsing its entries
//           (peek_intent_outcome) is the one the store finds after the bundle reader parsed it, and it
//           survives a bundle round trip.
//   mode 2: the bytes of an intent file, opened with the harness's fixed data key. Oracle: an intent that
//           opens passes mode 0's oracle.
#include <sodium.h>

#include <tokenvault/detail/intent_files.hpp>
#include <tokenvault/detail/intent_text.hpp>

#include "fuzz_support.hpp"

namespace fuzz_intent {  // one namespace per harness: see TOKENVAULT_FUZZ_TARGET

namespace tv = tokenvault;

namespace {

/// The intent name the harness looks up in mode 1 (its seeds record outcomes under it).
constexpr std::string_view looked_up = "0123456789abcdef";

bool same_intent(const tv::detail::intent& a, const tv::detail::intent& b) {
    return a.kind == b.kind && a.id.hash() == b.id.hash() && a.id.resource() == b.id.resource() &&
           a.id.account() == b.id.account() && a.value.has_value() == b.value.has_value() &&
           (!a.value || *a.value == *b.value) && a.expected_generation == b.expected_generation &&
           a.deadline_ms == b.deadline_ms;
}

void check_intent(const tv::detail::intent& accepted) {
    auto text = tv::detail::write_intent_text(accepted);
    tvfuzz::require(text.has_value(), "an accepted intent is writable");
    auto back = tv::detail::read_intent_text(std::string_view(text->data(), text->size()));
    tvfuzz::require(back.has_value(), "a written intent reads back");
    tvfuzz::require(same_intent(accepted, *back), "a written intent reads back equal");
    auto again = tv::detail::write_intent_text(*back);
    tvfuzz::require(again.has_value() && *again == *text, "an intent's text is a fixed point");
    if (accepted.value) tvfuzz::check_storable(accepted.id, *accepted.value);
}

bool same_outcome(const tv::detail::intent_outcome& a, const tv::detail::intent_outcome& b) {
    return a.generation == b.generation && a.conflict == b.conflict && a.existed == b.existed &&
           a.deadline_ms == b.deadline_ms;
}

}  // namespace

TOKENVAULT_FUZZ_TARGET(intent) {
    if (size == 0) return 0;
    const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch (data[0] % 3) {
    case 0: {
        auto read = tv::detail::read_intent_text(input);
        if (read) check_intent(*read);
        break;
    }
    case 1: {
        const auto peeked = tv::detail::peek_intent_outcome(input, looked_up);
        auto parsed = tv::parse_bundle(input);
        if (!parsed) break;  // the store refuses the text: a waiter's look may still find one, harmlessly
        const auto found = tv::detail::find_intent_outcome(*parsed, looked_up);
        tvfuzz::require(peeked.has_value() == found.has_value(),
                        "a waiter finds an outcome exactly where the store does");
        if (found)
            tvfuzz::require(same_outcome(*peeked, *found), "a waiter reads the outcome the store does");
        tvfuzz::check_bundle_round_trip(*parsed);
        auto copy = *parsed;
        tv::detail::prune_intent_outcomes(copy, [](std::string_view, std::int64_t) { return false; });
        const auto kept = tv::detail::find_intent_outcome(copy, looked_up);
        tvfuzz::require(kept.has_value() == found.has_value(), "pruning nothing keeps every outcome");
        break;
    }
    default: {
        static const auto subkey = [] {
            const auto key =
                std::as_bytes(std::span<const char>(tvfuzz::sealed_key.data(), tvfuzz::sealed_key.size()));
            return tv::detail::intent_files::derive(key).value();
        }();
        static const auto key_id =
            tv::backend::sealed_key_fingerprint(
                std::as_bytes(std::span<const char>(tvfuzz::sealed_key.data(), tvfuzz::sealed_key.size())))
                .value();
        const tv::detail::intent_files files(tvfuzz::scratch(), "tokens.sealed");
        auto opened = files.open_bytes(std::as_bytes(std::span<const char>(input.data(), input.size())),
                                       looked_up, subkey, key_id);
        if (opened) check_intent(*opened);
        break;
    }
    }
    return 0;
}

}  // namespace fuzz_intent
