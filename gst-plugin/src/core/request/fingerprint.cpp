// SPDX-License-Identifier: LGPL-2.1-or-later
#include "core/request/fingerprint.h"

#include <glib.h>
#include <json-glib/json-glib.h>

#include <cstring>
#include <map>
#include <optional>

#include "core/util/json_util.h"
#include "core/util/url.h"
#include "core/wavespeed/catalog_loader.h"
#include "core/wavespeed/submit_body.h"

namespace kling {

namespace {

// The API origin as the identity names it: one spelling per service, so that a
// trailing slash, an upper-case host or the default port written out does not make
// the same request a new one (and pay for it again). The usual spelling
// ("https://api.wavespeed.ai") is kept as is: fingerprints already on a ledger stay valid.
std::string api_identity(const std::string& url) {
  g_autoptr(GUri) uri = g_uri_parse(url.c_str(), G_URI_FLAGS_NONE, nullptr);
  const auto origin = origin_of(uri);
  if (!origin || g_uri_get_query(uri) || g_uri_get_fragment(uri) || g_uri_get_userinfo(uri))
    return without_trailing_slashes(url);
  return without_trailing_slashes(*origin + g_uri_get_path(uri));
}

// The hash of the named fields, the origin, the account, request-id and variation,
// as every fingerprint was made before params existed, then `rest` when not empty.
// Ledger rows and cache entries on users' disks are named by it: a request without
// params must keep its fingerprint, or its paid video is not found and is paid again.
std::string named_fingerprint(const Request& r, const std::string& rest) {
  // Length-prefixed fields, so no two requests share a fingerprint by concatenation.
  g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
  auto add = [&sum](const std::string& field) {
    std::string len = std::to_string(field.size()) + ":";
    g_checksum_update(sum, reinterpret_cast<const guchar*>(len.data()), len.size());
    g_checksum_update(sum, reinterpret_cast<const guchar*>(field.data()), field.size());
  };
  add(r.model);
  add(r.prompt);
  add(r.negative_prompt);
  add(r.aspect_ratio);
  add(std::to_string(r.duration));
  // A local file is named by its bytes: the upload's URL changes, the generation does not.
  add(r.image_sha256.empty() ? r.image : "file:sha256:" + r.image_sha256);
  char scale[G_ASCII_DTOSTR_BUF_SIZE] = "";
  if (r.guidance_scale) g_ascii_dtostr(scale, sizeof scale, *r.guidance_scale);
  add(scale);
  add(api_identity(r.api_url));
  add(r.request_id);
  add(r.account());
  add(std::to_string(r.variation));
  if (!rest.empty()) add(rest);
  return g_checksum_get_string(sum);
}

using Fields = std::map<std::string, std::string>;  // body_fields(): name -> compact JSON

// A body field's JSON value when it is what `want` asks (G_TYPE_STRING, G_TYPE_INT64,
// G_TYPE_DOUBLE: an integer too); nullopt otherwise.
struct Value {
  std::optional<std::string> text;
  std::optional<int64_t> integer;
  std::optional<double> number;
};
Value read_value(const Fields& body, const char* name) {
  Value v;
  auto it = body.find(name);
  if (it == body.end()) return v;
  g_autoptr(JsonNode) n = json::parse(it->second, nullptr);
  if (!n || !JSON_NODE_HOLDS_VALUE(n)) return v;
  const GType type = json_node_get_value_type(n);
  if (type == G_TYPE_STRING) {
    v.text = json_node_get_string(n);
    gint64 i = 0;  // "10" where a schema makes duration a string
    if (g_ascii_string_to_signed(v.text->c_str(), 10, G_MININT, G_MAXINT, &i, nullptr))
      v.integer = i;
  } else if (type == G_TYPE_INT64) {
    v.number = static_cast<double>(json_node_get_int(n));
    if (json_node_get_int(n) >= G_MININT && json_node_get_int(n) <= G_MAXINT)
      v.integer = json_node_get_int(n);
  } else if (type == G_TYPE_DOUBLE) {
    v.number = json_node_get_double(n);
  }
  return v;
}

// The request without params that asks for `body` through the named properties
// alone, as far as they can: the fields of the body that are theirs, the property
// defaults for the others. What names the generation, not how it was asked.
Request as_properties(const Request& r, const Fields& body) {
  Request c;
  c.model = r.model;
  c.api_url = r.api_url;
  c.api_key = r.api_key;
  c.request_id = r.request_id;
  c.variation = r.variation;
  if (auto v = read_value(body, "prompt"); v.text) c.prompt = *v.text;
  if (auto v = read_value(body, "negative_prompt"); v.text) c.negative_prompt = *v.text;
  if (auto v = read_value(body, "aspect_ratio"); v.text) {
    c.aspect_ratio = *v.text;
    c.aspect_ratio_set = true;
  }
  if (auto v = read_value(body, "duration"); v.integer) {
    c.duration = static_cast<int>(*v.integer);
    c.duration_set = true;
  }
  if (auto v = read_value(body, "image"); v.text) {
    c.image = *v.text;
    if (!r.image.empty()) {  // the property wins over params: the body's image is this file's
      c.image_file = r.image_file;
      c.image_sha256 = r.image_sha256;
    }
  }
  if (auto v = read_value(body, "guidance_scale"); v.number) c.guidance_scale = *v.number;
  return c;
}

}  // namespace

std::string request_identity(const Request& r, const ModelSchema* schema) {
  if (r.params.empty())  // named fields only: the fingerprint it always had
    return named_fingerprint(r, {});
  // The body's fields, merged and typed by the code that builds the submit, then
  // the request of properties only that asks for it: when its body is the same
  // field for field, it is that request and has its fingerprint.
  const Fields body = body_fields(r, schema, {});
  const Request named = as_properties(r, body);
  const Fields named_body = body_fields(named, schema, {});
  // Else what the properties cannot say: each field where the bodies differ, as
  // the body has it (or absent). The named request and these give the body back,
  // so two different bodies never share a fingerprint.
  std::string rest;
  auto note = [&rest](const std::string& name, const std::string& value) {
    const std::string entry = name + value;
    rest += std::to_string(entry.size()) + ":" + entry;
  };
  for (const auto& [name, value] : body) {
    auto it = named_body.find(name);
    if (it == named_body.end() || it->second != value) note(name, "=" + value);
  }
  for (const auto& [name, value] : named_body)
    if (!body.count(name)) note(name, " absent");
  // Tagged: never equal to a params fingerprint of older versions (params as given).
  return named_fingerprint(named, rest.empty() ? std::string() : "body v2:" + rest);
}

std::string Request::fingerprint() const {
  if (params.empty())  // no schema needed: no catalogue read
    return request_identity(*this, nullptr);
  const auto schema = ModelCatalogue(api_url).offline(model);
  return request_identity(*this, schema ? &*schema : nullptr);
}

}  // namespace kling
