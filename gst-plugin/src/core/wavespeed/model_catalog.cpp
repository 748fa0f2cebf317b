// SPDX-License-Identifier: LGPL-2.1-or-later
#include "core/wavespeed/model_catalog.h"

#include <json-glib/json-glib.h>

#include <cmath>
#include <cstring>

#include "core/util/json_util.h"

namespace kling {

using json::array_member;
using json::bool_member;
using json::compact;
using json::member;
using json::number_member;
using json::object_member;
using json::string_member;

namespace {

// The built-in table in the catalogue's own shape: one parser for both.
// From WaveSpeed's model pages (shared/wavespeed-api.md); all share the v3 contract.
constexpr const char* kT2vFields = R"(
  "prompt": {"type": "string", "minLength": 1, "maxLength": 2500},
  "negative_prompt": {"type": "string", "maxLength": 2500},
  "aspect_ratio": {"type": "string", "enum": ["16:9", "9:16", "1:1"], "default": "16:9"},
  "duration": {"type": "integer", "enum": [5, 10], "default": 5},
  "guidance_scale": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.5})";
constexpr const char* kI2vFields = R"(
  "prompt": {"type": "string", "minLength": 1, "maxLength": 2500},
  "negative_prompt": {"type": "string", "maxLength": 2500},
  "image": {"type": "string"},
  "duration": {"type": "integer", "enum": [5, 10], "default": 5},
  "guidance_scale": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.5})";

std::string builtin_entry(const char* id, const char* type, const char* fields,
                          const char* required) {
  return std::string(R"({"model_id": ")") + id + R"(", "type": ")" + type +
         R"(", "api_schema": {"api_schemas": [{"request_schema": {"type": "object", "properties": {)" +
         fields + "}, \"required\": " + required + "}}]}}";
}

}  // namespace

std::optional<double> number_text_value(const std::string& text) {
  // A JSON string literal ("\"5\"") or the bare text.
  std::string t = text.size() >= 2 && text.front() == '"' && text.back() == '"'
                      ? text.substr(1, text.size() - 2)
                      : text;
  return json::parse_number(t);
}

namespace {

bool mentions(const std::string& text, const char* word) {
  g_autofree char* lower = g_ascii_strdown(text.c_str(), -1);
  return std::strstr(lower, word) != nullptr;
}

// What the model says of its output ("output": {"video": true, "audio": true}), else a flag
// of its own, else the model's type or words ("audio", "sound") in its name or description.
bool model_has_audio(JsonObject* m, const ModelSchema& s) {
  JsonObject* output = object_member(m, "output");
  if (member(output, "audio")) return bool_member(output, "audio");
  for (const char* flag : {"has_audio", "audio", "with_audio", "output_audio"})
    if (bool_member(m, flag)) return true;
  const std::string name = string_member(m, "name");
  for (const std::string* text : {&s.type, &name, &s.description})
    if (mentions(*text, "audio") || mentions(*text, "sound")) return true;
  return false;
}

FieldSpec parse_field(const char* name, JsonObject* p) {
  FieldSpec f;
  f.name = name;
  f.type = string_member(p, "type");
  if (JsonArray* values = array_member(p, "enum"))
    for (guint i = 0; i < json_array_get_length(values); i++)
      f.enum_json.push_back(compact(json_array_get_element(values, i)));
  f.minimum = number_member(p, "minimum");
  f.maximum = number_member(p, "maximum");
  if (auto n = number_member(p, "minLength")) f.min_length = static_cast<int64_t>(*n);
  if (auto n = number_member(p, "maxLength")) f.max_length = static_cast<int64_t>(*n);
  if (JsonNode* d = member(p, "default")) f.default_json = compact(d);
  return f;
}

std::optional<ModelSchema> parse_model(JsonObject* m) {
  ModelSchema s;
  s.id = string_member(m, "model_id");
  if (s.id.empty()) return std::nullopt;
  s.type = string_member(m, "type");
  s.description = string_member(m, "description");
  s.base_price = number_member(m, "base_price");
  s.has_audio = model_has_audio(m, s);
  // The first schema with a request_schema: WaveSpeed lists the submit call first.
  JsonObject* request = nullptr;
  if (JsonArray* schemas = array_member(object_member(m, "api_schema"), "api_schemas"))
    for (guint i = 0; i < json_array_get_length(schemas) && !request; i++) {
      JsonNode* n = json_array_get_element(schemas, i);
      if (JSON_NODE_HOLDS_OBJECT(n))
        request = object_member(json_node_get_object(n), "request_schema");
    }
  // No properties: the schema says nothing of the fields (not "takes none"), no better than not
  // listed.
  JsonObject* props = object_member(request, "properties");
  if (!props) return std::nullopt;
  {
    g_autoptr(GList) names = json_object_get_members(props);
    for (GList* l = names; l; l = l->next) {
      const char* name = static_cast<const char*>(l->data);
      JsonNode* n = json_object_get_member(props, name);
      if (JSON_NODE_HOLDS_OBJECT(n)) s.fields.push_back(parse_field(name, json_node_get_object(n)));
    }
  }
  if (JsonArray* required = array_member(request, "required"))
    for (guint i = 0; i < json_array_get_length(required); i++) {
      JsonNode* n = json_array_get_element(required, i);
      const char* name = JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING
                             ? json_node_get_string(n)
                             : nullptr;
      for (FieldSpec& f : s.fields)
        if (name && f.name == name) f.required = true;
    }
  return s;
}

// A JSON string literal shown without its quotes.
std::string show(const std::string& json_value) {
  if (json_value.size() >= 2 && json_value.front() == '"' && json_value.back() == '"')
    return json_value.substr(1, json_value.size() - 2);
  return json_value;
}

std::string show_number(double v) {
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  return g_ascii_formatd(buf, sizeof buf, "%.15g", v);
}

}  // namespace

const FieldSpec* ModelSchema::field(const std::string& name) const {
  for (const FieldSpec& f : fields)
    if (f.name == name) return &f;
  return nullptr;
}

std::string ModelSchema::describe_fields() const {
  std::string out;
  for (const FieldSpec& f : fields)
    out += (out.empty() ? "" : ", ") + f.name + (f.required ? " (required)" : "");
  return out.empty() ? "no fields" : out;
}

std::string describe_accepts(const FieldSpec& f) {
  if (!f.enum_json.empty()) {
    std::string out = "one of ";
    for (size_t i = 0; i < f.enum_json.size(); i++) out += (i ? ", " : "") + show(f.enum_json[i]);
    return out;
  }
  std::string kind = f.type.empty()        ? "a value"
                     : f.type == "integer" ? "an integer"
                                           : "a " + f.type;
  if (f.minimum && f.maximum)
    return kind + " from " + show_number(*f.minimum) + " to " + show_number(*f.maximum);
  if (f.minimum) return kind + " of at least " + show_number(*f.minimum);
  if (f.maximum) return kind + " of at most " + show_number(*f.maximum);
  if (f.max_length) return kind + " of at most " + std::to_string(*f.max_length) + " characters";
  return kind;
}

std::optional<std::vector<ModelSchema>> parse_catalog(std::string_view body, std::string* error) {
  g_autoptr(JsonNode) root = json::parse(body, error);
  if (!root) return std::nullopt;
  JsonArray* data = nullptr;
  if (root && JSON_NODE_HOLDS_ARRAY(root))
    data = json_node_get_array(root);
  else if (root && JSON_NODE_HOLDS_OBJECT(root))
    data = array_member(json_node_get_object(root), "data");
  if (!data) {
    *error = "no \"data\" array of models";
    return std::nullopt;
  }
  std::vector<ModelSchema> models;
  for (guint i = 0; i < json_array_get_length(data); i++) {
    JsonNode* n = json_array_get_element(data, i);
    if (JSON_NODE_HOLDS_OBJECT(n))
      if (auto m = parse_model(json_node_get_object(n))) models.push_back(std::move(*m));
  }
  return models;
}

const std::vector<ModelSchema>& builtin_models() {
  static const std::vector<ModelSchema> models = [] {
    const std::string json = "[" +
                             builtin_entry("kwaivgi/kling-v2.0-t2v-master", "text-to-video",
                                           kT2vFields, R"(["prompt"])") +
                             "," +
                             builtin_entry("kwaivgi/kling-v2.1-t2v-master", "text-to-video",
                                           kT2vFields, R"(["prompt"])") +
                             "," +
                             builtin_entry("kwaivgi/kling-v2.0-i2v-master", "image-to-video",
                                           kI2vFields, R"(["prompt", "image"])") +
                             "," +
                             builtin_entry("kwaivgi/kling-v2.1-i2v-master", "image-to-video",
                                           kI2vFields, R"(["prompt", "image"])") +
                             "]";
    std::string error;
    return parse_catalog(json, &error).value_or(std::vector<ModelSchema>{});
  }();
  return models;
}

const ModelSchema* find_model(const std::vector<ModelSchema>& models, const std::string& id) {
  for (const ModelSchema& m : models)
    if (m.id == id) return &m;
  return nullptr;
}

}  // namespace kling
