// SPDX-License-Identifier: LGPL-2.1-or-later
// kling:// URIs: kling://<model path>?prompt=...&duration=10&aspect-ratio=1:1
// The model is the host and path (empty: the default model); the query sets
// properties; other keys (letters, digits, '_') are request fields for `params`.
// Secrets and endpoints (api-key, api-url) never come from a URI.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace kling {

struct Request;

struct KlingUri {
  std::string model;                                        // "" in a URI means the default model
  std::vector<std::pair<std::string, std::string>> params;  // property name, value
  std::vector<std::pair<std::string, std::string>> fields;  // request field, value (as text)
};

// Every property a URI may set (a URI silent on one sets it to its default).
const std::vector<std::string>& kling_uri_properties();

std::optional<KlingUri> parse_kling_uri(const char* uri, std::string* error);
std::string format_kling_uri(const KlingUri& uri);
// The URI of `request`: its model, prompt and duration, and every other URI-settable field
// that is not at its default (params as text, typed again by the model's schema when read
// back). set_uri() of it asks for the same generation (the same fingerprint).
KlingUri kling_uri_for(const Request& request);

}  // namespace kling
