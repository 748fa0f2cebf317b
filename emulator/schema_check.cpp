// SPDX-License-Identifier: LGPL-2.1-or-later
// kling-emulator: request schema checks.
#include "schema_check.h"

#include <cmath>

namespace emu {

namespace {

std::string number_text(double value) {
  char text[G_ASCII_DTOSTR_BUF_SIZE];
  g_ascii_formatd(text, sizeof text, "%g", value);
  return text;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

GType value_type(JsonNode* node) {
  return JSON_NODE_HOLDS_VALUE(node) ? json_node_get_value_type(node) : G_TYPE_INVALID;
}

// What the field accepts, for the message: "a number between 0 and 1", "one of a, b".
std::string accepted(const FieldSpec& f) {
  if (f.type == "string") {
    if (!f.enum_strings.empty()) return "one of " + join(f.enum_strings);
    if (f.max_length > 0 && f.min_length > 0)
      return "between " + std::to_string(f.min_length) + " and " + std::to_string(f.max_length) +
             " characters";
    if (f.max_length > 0) return "at most " + std::to_string(f.max_length) + " characters";
    if (f.min_length > 0) return "a non-empty string";
    return "a string";
  }
  if (f.type == "integer" && !f.enum_ints.empty()) {
    std::vector<std::string> values;
    for (int v : f.enum_ints) values.push_back(std::to_string(v));
    return "an integer, one of " + join(values);
  }
  if (f.type == "integer" || f.type == "number") {
    std::string what = f.type == "integer" ? "an integer" : "a number";
    if (f.minimum && f.maximum)
      return what + " between " + number_text(*f.minimum) + " and " + number_text(*f.maximum);
    if (f.minimum) return what + " of at least " + number_text(*f.minimum);
    if (f.maximum) return what + " of at most " + number_text(*f.maximum);
    return what;
  }
  return "a boolean";
}

// "" if the value suits the field.
std::string check_field(const FieldSpec& f, JsonNode* node) {
  const std::string refused = "Invalid parameter: " + f.name + " must be ";
  const GType type = value_type(node);
  if (f.type == "string") {
    if (type != G_TYPE_STRING) return refused + (f.enum_strings.empty() ? "a string" : accepted(f));
    const std::string value = json_node_get_string(node);
    if (!f.enum_strings.empty()) {
      for (const std::string& allowed : f.enum_strings)
        if (value == allowed) return {};
      return refused + accepted(f);
    }
    const glong chars = g_utf8_strlen(value.c_str(), -1);
    if (chars < f.min_length || (f.max_length > 0 && chars > f.max_length))
      return refused + accepted(f) + ", got " + std::to_string(chars);
    return {};
  }
  if (f.type == "boolean") return type == G_TYPE_BOOLEAN ? std::string() : refused + accepted(f);

  // integer or number; JSON 5.0 is not an integer (WaveSpeed's "5" and 5.5 are refused too).
  const bool is_number = type == G_TYPE_INT64 || type == G_TYPE_DOUBLE;
  if (!is_number || (f.type == "integer" && type != G_TYPE_INT64)) return refused + accepted(f);
  const double value = json_node_get_double(node);
  if (!f.enum_ints.empty()) {
    for (int allowed : f.enum_ints)
      if (value == allowed) return {};
    return refused + accepted(f);
  }
  if (!std::isfinite(value) || (f.minimum && value < *f.minimum) ||
      (f.maximum && value > *f.maximum))
    return refused + accepted(f);
  return {};
}

}  // namespace

bool is_control_field(const std::string& name) {
  return name == "enable_sync_mode";
}

std::string check_request(const ModelSpec& model, JsonObject* body, TaskRequest* request) {
  std::vector<std::string> names;
  for (const FieldSpec& f : model.fields) {
    names.push_back(f.name);
    JsonNode* node = json_object_get_member(body, f.name.c_str());
    if (!node || JSON_NODE_HOLDS_NULL(node)) {
      if (f.required) return "Missing required parameter: " + f.name;
      continue;
    }
    const std::string problem = check_field(f, node);
    if (!problem.empty()) return problem;
  }

  g_autoptr(GList) members = json_object_get_members(body);
  for (GList* m = members; m; m = m->next) {
    const std::string name = static_cast<const char*>(m->data);
    bool known = is_control_field(name);
    for (const std::string& field : names) known = known || field == name;
    if (!known)
      return "Invalid parameter: " + name + " is not a parameter of " + model.id + " (it takes " +
             join(names) + ")";
  }
  JsonNode* sync = json_object_get_member(body, "enable_sync_mode");
  if (sync && !JSON_NODE_HOLDS_NULL(sync) && value_type(sync) != G_TYPE_BOOLEAN)
    return "Invalid parameter: enable_sync_mode must be a boolean";

  auto string_or = [body](const char* name, const char* fallback) {
    JsonNode* node = json_object_get_member(body, name);
    return node && value_type(node) == G_TYPE_STRING ? std::string(json_node_get_string(node))
                                                     : std::string(fallback);
  };
  request->model = model.id;
  request->prompt = string_or("prompt", "");
  request->aspect_ratio = string_or("aspect_ratio", "16:9");
  request->image = string_or("image", "");
  JsonNode* duration = json_object_get_member(body, "duration");
  request->duration =
      duration && value_type(duration) == G_TYPE_INT64 ? int(json_node_get_int(duration)) : 5;
  request->audio = model.audio;
  request->sync = sync && value_type(sync) == G_TYPE_BOOLEAN && json_node_get_boolean(sync);
  return {};
}

}  // namespace emu
