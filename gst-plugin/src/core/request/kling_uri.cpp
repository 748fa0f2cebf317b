// SPDX-License-Identifier: LGPL-2.1-or-later
#include "core/request/kling_uri.h"

#include <glib.h>

#include <algorithm>

#include "core/request/named_fields.h"
#include "core/request/request.h"

namespace kling {

namespace {

// Properties a URI may set. Anything else is refused, the key and URL above all.
const char* const kUriProperties[] = {"prompt",     "negative-prompt", "duration", "aspect-ratio",
                                      "request-id", "poll-interval",   "timeout",  "variation"};

// A URI can come from anyone (a playlist, a media library): it may not poll
// hard, nor wait forever on the user's account.
constexpr unsigned kUriMinPollMs = 1000;

bool allowed(const std::string& name) {
  return std::any_of(std::begin(kUriProperties), std::end(kUriProperties),
                     [&](const char* p) { return name == p; });
}

}  // namespace

const std::vector<std::string>& kling_uri_properties() {
  static const std::vector<std::string> names(std::begin(kUriProperties), std::end(kUriProperties));
  return names;
}

std::optional<KlingUri> parse_kling_uri(const char* text, std::string* error) {
  g_autoptr(GError) gerr = nullptr;
  g_autoptr(GUri) uri = g_uri_parse(text ? text : "", G_URI_FLAGS_ENCODED_QUERY, &gerr);
  if (!uri || g_ascii_strcasecmp(g_uri_get_scheme(uri), "kling") != 0) {
    *error = "Not a kling:// URI";
    return std::nullopt;
  }
  KlingUri out;
  std::string model =
      std::string(g_uri_get_host(uri) ? g_uri_get_host(uri) : "") + g_uri_get_path(uri);
  model.erase(0, model.find_first_not_of('/'));
  while (!model.empty() && model.back() == '/') model.pop_back();
  out.model = model.empty() ? kDefaultModel : model;

  if (const char* query = g_uri_get_query(uri)) {
    GUriParamsIter iter;
    g_uri_params_iter_init(&iter, query, -1, "&", G_URI_PARAMS_NONE);
    char* name = nullptr;
    char* value = nullptr;
    while (g_uri_params_iter_next(&iter, &name, &value, &gerr)) {
      g_autofree char* n = name;
      g_autofree char* v = value;
      std::string key = n;
      std::replace(key.begin(), key.end(), '_', '-');
      if (key == "api-key" || key == "api-url") {
        *error =
            "The API key and base URL never come from a URI: use the environment or "
            "the element's properties";
        return std::nullopt;
      }
      if (!allowed(key)) {
        if (!is_param_name(n)) {
          *error = "Unknown parameter \"" + key + "\" in the kling:// URI";
          return std::nullopt;
        }
        out.fields.emplace_back(n, v ? v : "");  // a request field, checked by the model's schema
        continue;
      }
      if (key == "poll-interval" && g_ascii_strtoull(v ? v : "", nullptr, 10) < kUriMinPollMs) {
        *error = "A kling:// URI may not set poll-interval below " + std::to_string(kUriMinPollMs) +
                 " ms";
        return std::nullopt;
      }
      if (key == "timeout" && g_ascii_strtoull(v ? v : "", nullptr, 10) == 0) {
        *error = "A kling:// URI may not set timeout=0 (no deadline)";
        return std::nullopt;
      }
      out.params.emplace_back(key, v ? v : "");
    }
    if (gerr) {
      *error = std::string("Invalid query in the kling:// URI: ") + gerr->message;
      return std::nullopt;
    }
  }
  return out;
}

KlingUri kling_uri_for(const Request& r) {
  const Request defaults;
  KlingUri uri;
  uri.model = r.model;
  uri.params = {{"prompt", r.prompt}, {"duration", std::to_string(r.duration)}};
  if (r.aspect_ratio_set) uri.params.emplace_back("aspect-ratio", r.aspect_ratio);
  if (!r.negative_prompt.empty()) uri.params.emplace_back("negative-prompt", r.negative_prompt);
  if (!r.request_id.empty()) uri.params.emplace_back("request-id", r.request_id);
  for (const Param& p : r.params)
    uri.fields.emplace_back(
        p.name, p.value.kind == ParamValue::Kind::String ? p.value.text : p.value.json());
  if (r.variation) uri.params.emplace_back("variation", std::to_string(r.variation));
  if (r.poll_interval_ms != defaults.poll_interval_ms)
    uri.params.emplace_back("poll-interval", std::to_string(r.poll_interval_ms));
  if (r.timeout_s != defaults.timeout_s)
    uri.params.emplace_back("timeout", std::to_string(r.timeout_s));
  return uri;
}

std::string format_kling_uri(const KlingUri& uri) {
  g_autofree char* model = g_uri_escape_string(uri.model.c_str(), "/", FALSE);
  std::string out = std::string("kling://") + model;
  char sep = '?';
  for (const auto* list : {&uri.params, &uri.fields})
    for (const auto& [name, value] : *list) {
      g_autofree char* v = g_uri_escape_string(value.c_str(), ":", FALSE);
      out += sep + name + "=" + v;
      sep = '&';
    }
  return out;
}

}  // namespace kling
