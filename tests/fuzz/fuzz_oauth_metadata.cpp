// tests/fuzz/fuzz_oauth_metadata.cpp: libFuzzer harness of the discovery document parsers (RFC 9728, RFC 8414).
//
// Oracles: whatever the reader accepts, nlohmann::json accepts too and reads the same values for every
// field (differential); the accepted document written back by nlohmann reads back to the same struct
// (round trip). Nothing may crash, leak or recurse on the input's depth.
#include <tokenvault/oauth/metadata.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "fuzz_oauth_oracle.hpp"

namespace oauth = tokenvault::oauth;
using tvfuzz::require;

namespace {

void same_text(const nlohmann::json& doc, const char* name, const std::string& value) {
    if (doc.contains(name)) require(doc[name].get<std::string>() == value);
    else require(value.empty());
}

void same_list(const nlohmann::json& doc, const char* name, const std::vector<std::string>& value) {
    if (doc.contains(name)) require(doc[name].get<std::vector<std::string>>() == value);
    else require(value.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);

    if (auto prm = oauth::parse_protected_resource_metadata(text)) {
        const auto doc = nlohmann::json::parse(text, nullptr, false);
        require(!doc.is_discarded() && doc.is_object());
        same_text(doc, "resource", prm->resource);
        same_list(doc, "authorization_servers", prm->authorization_servers);
        same_list(doc, "scopes_supported", prm->scopes_supported);
        const nlohmann::json written = {{"resource", prm->resource},
                                        {"authorization_servers", prm->authorization_servers},
                                        {"scopes_supported", prm->scopes_supported}};
        auto again = oauth::parse_protected_resource_metadata(written.dump());
        require(again && *again == *prm);
    }

    if (auto as = oauth::parse_authorization_server_metadata(text)) {
        const auto doc = nlohmann::json::parse(text, nullptr, false);
        require(!doc.is_discarded() && doc.is_object());
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
                    as->authorization_response_iss_parameter_supported);
        nlohmann::json written = {
            {"issuer", as->issuer},
            {"authorization_endpoint", as->authorization_endpoint},
            {"token_endpoint", as->token_endpoint},
            {"registration_endpoint", as->registration_endpoint},
            {"revocation_endpoint", as->revocation_endpoint},
            {"response_types_supported", as->response_types_supported},
            {"grant_types_supported", as->grant_types_supported},
            {"code_challenge_methods_supported", as->code_challenge_methods_supported},
            {"token_endpoint_auth_methods_supported", as->token_endpoint_auth_methods_supported},
            {"scopes_supported", as->scopes_supported},
            {"authorization_response_iss_parameter_supported", as->authorization_response_iss_parameter_supported}};
        auto again = oauth::parse_authorization_server_metadata(written.dump());
        require(again && *again == *as);
    }
    return 0;
}
