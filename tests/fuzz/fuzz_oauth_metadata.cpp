// tests/fuzz/fuzz_oauth_metadata.cpp: libFuzzer harness of the discovery document parsers (RFC 9728, RFC
// 8414).
//
// Oracles: whatever the reader accepts, nlohmann::json accepts too and reads the same values for every
// field (differential); the accepted document written back by nlohmann reads back to the same struct
// (round trip, through tvfuzz::metadata_json). Nothing may crash, leak or recurse on the input's depth.
#include <tokenvault/oauth/metadata.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "fuzz_support.hpp"

namespace fuzz_oauth_metadata {  // one namespace per harness: see TOKENVAULT_FUZZ_TARGET

namespace oauth = tokenvault::oauth;
using tvfuzz::require;

namespace {

void same_text(const nlohmann::json& doc, const char* name, const std::string& value) {
    if (doc.contains(name))
        require(doc[name].get<std::string>() == value, "a metadata text field reads as JSON does");
    else
        require(value.empty(), "an absent metadata text field reads empty");
}

void same_list(const nlohmann::json& doc, const char* name, const std::vector<std::string>& value) {
    if (doc.contains(name))
        require(doc[name].get<std::vector<std::string>>() == value, "a metadata list reads as JSON does");
    else
        require(value.empty(), "an absent metadata list reads empty");
}

}  // namespace

TOKENVAULT_FUZZ_TARGET(oauth_metadata) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);

    if (auto prm = oauth::parse_protected_resource_metadata(text)) {
        const auto doc = nlohmann::json::parse(text, nullptr, false);
        require(!doc.is_discarded() && doc.is_object(), "accepted resource metadata is a JSON object");
        same_text(doc, "resource", prm->resource);
        same_list(doc, "authorization_servers", prm->authorization_servers);
        same_list(doc, "scopes_supported", prm->scopes_supported);
        const auto written = tvfuzz::metadata_json(*prm);
        auto again = oauth::parse_protected_resource_metadata(written.dump());
        require(again && *again == *prm, "resource metadata written back reads back equal");
    }

    if (auto as = oauth::parse_authorization_server_metadata(text)) {
        const auto doc = nlohmann::json::parse(text, nullptr, false);
        require(!doc.is_discarded() && doc.is_object(), "accepted server metadata is a JSON object");
        same_text(doc, "issuer", as->issuer);
        same_text(doc, "authorization_endpoint", as->authorization_endpoint);
        same_text(doc, "token_endpoint", as->token_endpoint);
        same_text(doc, "registration_endpoint", as->registration_endpoint);
        same_text(doc, "revocation_endpoint", as->revocation_endpoint);
        same_list(doc, "code_challenge_methods_supported", as->code_challenge_methods_supported);
        same_list(doc, "response_types_supported", as->response_types_supported);
        same_list(doc, "token_endpoint_auth_methods_supported", as->token_endpoint_auth_methods_supported);
        if (doc.contains("authorization_response_iss_parameter_supported"))
            require(doc["authorization_response_iss_parameter_supported"].get<bool>() ==
                        as->authorization_response_iss_parameter_supported,
                    "the iss flag reads as JSON does");
        const auto written = tvfuzz::metadata_json(*as);
        auto again = oauth::parse_authorization_server_metadata(written.dump());
        require(again && *again == *as, "server metadata written back reads back equal");
    }
    return 0;
}

}  // namespace fuzz_oauth_metadata
