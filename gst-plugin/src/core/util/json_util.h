// SPDX-License-Identifier: LGPL-2.1-or-later
// The few json-glib idioms the core writes with, in one place.
#pragma once

#include <json-glib/json-glib.h>

#include <cstdint>
#include <string>

namespace kling::json {

inline void add_string(JsonBuilder* b, const char* name, const std::string& value) {
  json_builder_set_member_name(b, name);
  json_builder_add_string_value(b, value.c_str());
}

inline void add_int(JsonBuilder* b, const char* name, int64_t value) {
  json_builder_set_member_name(b, name);
  json_builder_add_int_value(b, value);
}

// The finished builder as compact JSON text (any UTF-8 kept as it is).
inline std::string to_string(JsonBuilder* b) {
  g_autoptr(JsonNode) root = json_builder_get_root(b);
  g_autoptr(JsonGenerator) gen = json_generator_new();
  json_generator_set_root(gen, root);
  g_autofree char* text = json_generator_to_data(gen, nullptr);
  return text;
}

}  // namespace kling::json
