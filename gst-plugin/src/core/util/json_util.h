// SPDX-License-Identifier: LGPL-2.1-or-later
// The few json-glib idioms the core writes with, and the one way it reads JSON
// that came from the network or the disk.
#pragma once

#include <json-glib/json-glib.h>

#include <cstdint>
#include <string>
#include <string_view>

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

// Exactly one JSON value (RFC 8259: UTF-8, nesting at most 128, no comments, no
// trailing text) as a tree the caller owns (g_autoptr(JsonNode)), or nullptr and
// `*error` saying why ("not JSON: more after the first value at byte 2"). Any
// bytes at all, on json-glib 1.6 and 1.10 alike: never an abort, never a critical.
// Every JSON the core did not build itself is read through here, never through a
// JsonParser of its own (json_util.cpp says what json-glib alone lets through).
JsonNode* parse(std::string_view text, std::string* error);
// The same for a file's contents; `*error` is the I/O error when it cannot be read.
JsonNode* parse_file(const std::string& path, std::string* error);
// The syntax check parse() makes before json-glib sees the text.
bool is_one_value(std::string_view text, std::string* error);

}  // namespace kling::json
