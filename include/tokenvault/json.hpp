// tokenvault/json.hpp: JSON mapping of tokens and bundles.
//
// Tokens: token_json.hpp. Bundles (docs/FORMAT.md): serialize_bundle writes the text directly into wiped
// memory (detail/bundle_text.hpp); parse_bundle reads it with a strict pull reader, without an
// intermediate document (detail/bundle_reader.hpp).
#pragma once

#include <string_view>

#include "detail/bundle_reader.hpp"
#include "detail/bundle_text.hpp"
#include "detail/secure_buffer.hpp"
#include "entry.hpp"
#include "result.hpp"
#include "token_json.hpp"

namespace tokenvault {

/// Serializes a bundle to JSON text in secure memory, writing the text directly (no JSON document).
template <class = void>
[[nodiscard]] inline result<detail::secure_buffer> serialize_bundle(const bundle& b) {
    auto written = detail::write_bundle_text(b);
    if (!written) return written.error();
    return detail::secure_buffer::copy_of(std::string_view(written->text.data(), written->text.size()));
}

/// Parses a bundle from JSON text. Text that is not JSON, or a wrong header, fails the whole parse; an
/// entry that breaks the schema goes to bundle::unreadable (kept verbatim) and the others load.
template <class = void>
[[nodiscard]] inline result<bundle> parse_bundle(std::string_view text) {
    return detail::bundle_reader<>(text).read();
}

}  // namespace tokenvault
