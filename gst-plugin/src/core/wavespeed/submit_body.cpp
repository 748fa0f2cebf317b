// SPDX-License-Identifier: LGPL-2.1-or-later
#include "core/wavespeed/submit_body.h"

#include <json-glib/json-glib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "core/util/json_util.h"

namespace kling {

namespace {

// One field of the body and where it came from.
struct Field {
  std::string name;
  const char* property;  // the element property that set it; nullptr: params
  ParamValue value;
  bool chosen;  // set by the user (false: a property's default)
};

struct NodeFree {
  void operator()(JsonNode* n) const { json_node_unref(n); }
};
using Node = std::unique_ptr<JsonNode, NodeFree>;

// Who set a field, in the user's words.
std::string who(const Field& f) {
  return f.property ? std::string(f.property) : "\"" + f.name + "\" (in params)";
}

// The schema's type, or the one its enum implies when it gives none.
std::string effective_type(const FieldSpec& f) {
  if (!f.type.empty() || f.enum_json.empty()) return f.type;
  const std::string& v = f.enum_json.front();
  if (!v.empty() && v[0] == '"') return "string";
  if (v == "true" || v == "false") return "boolean";
  return v.find_first_of(".eE") == std::string::npos ? "integer" : "number";
}

std::string number_text(double d) {
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  return g_ascii_formatd(buf, sizeof buf, "%.15g", d);
}

// The value as a string field takes it.
std::string as_text(const ParamValue& v) {
  switch (v.kind) {
    case ParamValue::Kind::String:
      return v.text;
    case ParamValue::Kind::Integer:
      return std::to_string(v.integer);
    case ParamValue::Kind::Number:
      return number_text(v.number);
    case ParamValue::Kind::Boolean:
      break;
  }
  return v.boolean ? "true" : "false";
}

// The value as an integer field takes it ("5", 5.0): a whole number within 9e15.
std::optional<int64_t> as_integer(const ParamValue& v) {
  using K = ParamValue::Kind;
  std::optional<double> d;
  if (v.kind == K::Integer) return v.integer;
  if (v.kind == K::String) {
    gint64 i = 0;
    if (g_ascii_string_to_signed(v.text.c_str(), 10, G_MININT64, G_MAXINT64, &i, nullptr)) return i;
    d = json::parse_number(v.text);
  } else if (v.kind == K::Number) {
    d = v.number;
  }
  if (!d || std::trunc(*d) != *d || std::fabs(*d) > 9e15) return std::nullopt;
  return static_cast<int64_t>(*d);
}

// The value as the schema's type wants it: "5" for an integer field is 5, 5 for a
// string field is "5", a string for an array or object field is parsed as JSON.
// nullptr when it cannot be that type.
Node coerce(const ParamValue& v, const std::string& type) {
  using K = ParamValue::Kind;
  Node n(json_node_new(JSON_NODE_VALUE));
  if (type == "string") {
    json_node_set_string(n.get(), as_text(v).c_str());
    return n;
  }
  if (type == "integer") {
    const auto i = as_integer(v);
    if (!i) return nullptr;
    json_node_set_int(n.get(), *i);
    return n;
  }
  if (type == "number") {
    std::optional<double> d = v.kind == K::Integer
                                  ? std::optional<double>(static_cast<double>(v.integer))
                              : v.kind == K::Number ? std::optional<double>(v.number)
                              : v.kind == K::String ? json::parse_number(v.text)
                                                    : std::nullopt;
    if (!d || !std::isfinite(*d)) return nullptr;
    json_node_set_double(n.get(), *d);
    return n;
  }
  if (type == "boolean") {
    if (v.kind == K::Boolean)
      json_node_set_boolean(n.get(), v.boolean);
    else if (v.kind == K::String && (g_ascii_strcasecmp(v.text.c_str(), "true") == 0 ||
                                     g_ascii_strcasecmp(v.text.c_str(), "false") == 0))
      json_node_set_boolean(n.get(), g_ascii_strcasecmp(v.text.c_str(), "true") == 0);
    else if (v.kind == K::Integer && (v.integer == 0 || v.integer == 1))
      json_node_set_boolean(n.get(), v.integer == 1);
    else
      return nullptr;
    return n;
  }
  if (type == "array" || type == "object") {
    if (v.kind != K::String) return nullptr;
    Node root(json::parse(v.text, nullptr));
    if (!root || (type == "array" ? !JSON_NODE_HOLDS_ARRAY(root.get())
                                  : !JSON_NODE_HOLDS_OBJECT(root.get())))
      return nullptr;
    return root;
  }
  // No type given: the value as it came (NaN or infinity is no JSON at all).
  if (v.kind == K::Number && !std::isfinite(v.number)) return nullptr;
  return Node(json::parse(v.json(), nullptr));
}

// As a person reads it: a number in its shortest form (0.3, where JSON has 0.29999999999999999).
std::string shown(JsonNode* value) {
  if (JSON_NODE_HOLDS_VALUE(value) && json_node_get_value_type(value) == G_TYPE_DOUBLE)
    return number_text(json_node_get_double(value));
  return json::compact(value);
}

bool in_enum(const FieldSpec& spec, JsonNode* value, const std::string& type) {
  if (spec.enum_json.empty()) return true;
  const std::string text = json::compact(value);
  const bool numeric = type == "integer" || type == "number";
  for (const std::string& allowed : spec.enum_json) {
    if (allowed == text) return true;
    if (numeric) {  // 5 is in ["5", "10"] and in [5.0, 10.0]
      auto a = number_text_value(allowed), b = json::parse_number(text);
      if (a && b && *a == *b) return true;
    }
  }
  return false;
}

bool in_range(const FieldSpec& spec, JsonNode* value, const std::string& type) {
  if (type == "integer" || type == "number") {
    double d = json_node_get_double(value);
    return (!spec.minimum || d >= *spec.minimum) && (!spec.maximum || d <= *spec.maximum);
  }
  if (type == "string") {
    const char* s = json_node_get_string(value);
    const int64_t chars = g_utf8_strlen(s, -1);
    return (!spec.min_length || chars >= *spec.min_length) &&
           (!spec.max_length || chars <= *spec.max_length);
  }
  return true;
}

bool sounds_like_audio(const std::string& name) {
  return name.find("audio") != std::string::npos || name.find("sound") != std::string::npos;
}

// The request's fields: the ones the user set, then params, then property defaults.
std::vector<Field> gather(const Request& r, const ModelSchema* schema,
                          const std::string& image_url) {
  std::vector<Field> named = {
      {"prompt", "prompt", ParamValue::of(r.prompt), !r.prompt.empty()},
      {"negative_prompt", "negative-prompt", ParamValue::of(r.negative_prompt),
       !r.negative_prompt.empty()},
      {"image", "image", ParamValue::of(image_url.empty() ? r.image : image_url), !r.image.empty()},
      {"aspect_ratio", "aspect-ratio", ParamValue::of(r.aspect_ratio), r.aspect_ratio_set},
      {"duration", "duration", ParamValue::of(static_cast<int64_t>(r.duration)), r.duration_set},
      {"guidance_scale", "guidance-scale", ParamValue::of(r.guidance_scale.value_or(0.0)),
       r.guidance_scale.has_value()},
  };
  std::vector<Field> fields;
  auto has = [&fields](const std::string& name) {
    for (const Field& f : fields)
      if (f.name == name) return true;
    return false;
  };
  for (const Field& f : named)
    if (f.chosen) fields.push_back(f);
  for (const Param& p : r.params)
    if (!has(p.name)) fields.push_back({p.name, nullptr, p.value, true});
  // A property's default goes where the model takes the field (without a schema:
  // the text-to-video fields, aspect_ratio only without an image).
  for (const Field& f : named) {
    const bool has_default = f.name == "duration" || f.name == "aspect_ratio";
    if (f.chosen || !has_default || has(f.name)) continue;
    const bool takes = schema
                           ? schema->field(f.name) != nullptr
                           : f.name == "duration" || (f.name == "aspect_ratio" && r.image.empty());
    if (takes) fields.push_back(f);
  }
  return fields;
}

const char* property_for(const std::string& field) {
  static const char* const kNames[][2] = {
      {"prompt", "prompt"},     {"negative_prompt", "negative-prompt"},
      {"image", "image"},       {"aspect_ratio", "aspect-ratio"},
      {"duration", "duration"}, {"guidance_scale", "guidance-scale"}};
  for (const auto& n : kNames)
    if (field == n[0]) return n[1];
  return nullptr;
}

// A field typed as the schema says: its spec (nullptr: the schema does not know it),
// the type it wants and the value as that type (nullptr: it cannot be that type).
struct Typed {
  const FieldSpec* spec;
  std::string type;
  Node value;
};

Typed type_field(const Field& f, const ModelSchema* schema) {
  const FieldSpec* spec = schema ? schema->field(f.name) : nullptr;
  std::string type = spec ? effective_type(*spec) : std::string();
  Node value = coerce(f.value, type);
  return {spec, std::move(type), std::move(value)};
}

// The required fields no one gave, each with its default as the body sends it
// (nullptr: it has none, a refusal).
std::vector<std::pair<const FieldSpec*, Node>> missing_required(
    const ModelSchema* schema, const std::vector<std::string>& sent) {
  std::vector<std::pair<const FieldSpec*, Node>> out;
  if (!schema) return out;
  for (const FieldSpec& spec : schema->fields) {
    if (!spec.required || std::find(sent.begin(), sent.end(), spec.name) != sent.end()) continue;
    Node value(spec.default_json.empty() ? nullptr : json::parse(spec.default_json, nullptr));
    out.emplace_back(&spec, std::move(value));
  }
  return out;
}

}  // namespace

std::optional<Error> build_submit_body(const Request& r, const ModelSchema* schema,
                                       const std::string& image_url, SubmitBody* out) {
  const std::vector<Field> fields = gather(r, schema, image_url);
  out->summary.clear();
  const std::string model = "Model " + r.model;
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  bool has_audio = schema && schema->has_audio;
  std::vector<std::string> sent;
  for (const Field& f : fields) {
    Typed typed = type_field(f, schema);
    const FieldSpec* spec = typed.spec;
    if (schema && !spec) {
      std::string hint = f.name == "image" ? "; use an image-to-video model" : "";
      return settings_error(model + " takes no " +
                            (f.property ? f.property : "field \"" + f.name + "\" (in params)") +
                            "; it takes: " + schema->describe_fields() + hint);
    }
    const std::string& type = typed.type;
    Node value = std::move(typed.value);
    if (spec &&
        (!value || !in_enum(*spec, value.get(), type) || !in_range(*spec, value.get(), type)))
      return settings_error(model + ": " + who(f) + " must be " + describe_accepts(*spec) +
                            ", not " + f.value.json());
    if (!value) return settings_error(model + ": " + who(f) + " cannot be sent as JSON");
    if (json_node_get_value_type(value.get()) == G_TYPE_BOOLEAN && sounds_like_audio(f.name))
      has_audio = json_node_get_boolean(value.get());
    if (f.name != "prompt" && f.name != "negative_prompt" && f.name != "image")
      out->summary += (out->summary.empty() ? "" : ", ") + f.name + "=" + shown(value.get());
    json_builder_set_member_name(b, f.name.c_str());
    json_builder_add_value(b, value.release());
    sent.push_back(f.name);
  }
  for (auto& [spec, value] : missing_required(schema, sent)) {
    if (!value) {
      const char* property = property_for(spec->name);
      return settings_error(
          model + " needs \"" + spec->name + "\" (" + describe_accepts(*spec) + "): " +
          (property ? "set the " + std::string(property) + " property" : "give it in params"));
    }
    json_builder_set_member_name(b, spec->name.c_str());  // required, with a default: sent as such
    json_builder_add_value(b, value.release());
  }
  json_builder_end_object(b);
  out->json = json::to_string(b);
  out->has_audio = has_audio;
  return std::nullopt;
}

std::map<std::string, std::string> body_fields(const Request& r, const ModelSchema* schema,
                                               const std::string& image_url) {
  std::map<std::string, std::string> out;
  std::vector<std::string> sent;
  for (const Field& f : gather(r, schema, image_url)) {
    Typed typed = type_field(f, schema);
    // What the schema cannot type goes as given: the catalogue the worker reads may know better.
    Node value = typed.value ? std::move(typed.value) : coerce(f.value, std::string());
    out[f.name] = value ? json::compact(value.get()) : f.value.json();
    sent.push_back(f.name);
  }
  for (auto& [spec, value] : missing_required(schema, sent))
    if (value) out[spec->name] = json::compact(value.get());
  return out;
}

}  // namespace kling
