// SPDX-License-Identifier: LGPL-2.1-or-later
// The json-glib idioms the core reads and writes with, and the one way it reads JSON
// that came from the network or the disk.
#pragma once

#include <json-glib/json-glib.h>

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kling::json {

// Members of JSON that came from the network or the disk: each reader takes a null
// object, a missing member and a member of another type alike (nullptr, nothing, the
// default). json-glib's *_member_with_default read the value once its type is known:
// alone they warn (g_critical) on an object or an array and convert between types.

inline JsonNode* member(JsonObject* o, const char* name) {
  return o ? json_object_get_member(o, name) : nullptr;
}

// Whether the member is a value (not null) of `type`: G_TYPE_STRING, G_TYPE_INT64, ...
inline bool holds(JsonObject* o, const char* name, GType type) {
  JsonNode* n = member(o, name);
  return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == type;
}

inline JsonObject* object_member(JsonObject* o, const char* name) {
  JsonNode* n = member(o, name);
  return n && JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : nullptr;
}

inline JsonArray* array_member(JsonObject* o, const char* name) {
  JsonNode* n = member(o, name);
  return n && JSON_NODE_HOLDS_ARRAY(n) ? json_node_get_array(n) : nullptr;
}

// A string member, or nullptr.
inline const char* string_or_null(JsonObject* o, const char* name) {
  return holds(o, name, G_TYPE_STRING)
             ? json_object_get_string_member_with_default(o, name, nullptr)
             : nullptr;
}

// A string member, or "".
inline std::string string_member(JsonObject* o, const char* name) {
  const char* s = string_or_null(o, name);
  return s ? s : "";
}

// A boolean member that is true.
inline bool bool_member(JsonObject* o, const char* name) {
  return holds(o, name, G_TYPE_BOOLEAN) &&
         json_object_get_boolean_member_with_default(o, name, FALSE);
}

// A whole number written as a number (a fraction dropped) or as a decimal string ("42").
inline std::optional<int64_t> int_member(JsonObject* o, const char* name) {
  if (holds(o, name, G_TYPE_INT64)) return json_object_get_int_member_with_default(o, name, 0);
  if (holds(o, name, G_TYPE_DOUBLE)) {
    const double d = json_object_get_double_member_with_default(o, name, 0);
    if (!(d > -9e18 && d < 9e18)) return std::nullopt;  // also NaN: no number we could hold
    return static_cast<int64_t>(d);
  }
  if (const char* s = string_or_null(o, name)) {
    char* end = nullptr;
    const gint64 v = g_ascii_strtoll(s, &end, 10);
    if (end != s && *end == '\0') return v;
  }
  return std::nullopt;
}

// The finite number `text` says ("0.5", "1e3"), all of it.
inline std::optional<double> parse_number(const std::string& text) {
  char* end = nullptr;
  const double d = g_ascii_strtod(text.c_str(), &end);
  if (text.empty() || end == text.c_str() || *end || !std::isfinite(d)) return std::nullopt;
  return d;
}

// A number member, or a string member that is a number ("maximum": "1", "price": "0.4").
inline std::optional<double> number_member(JsonObject* o, const char* name) {
  if (holds(o, name, G_TYPE_INT64) || holds(o, name, G_TYPE_DOUBLE))
    return json_object_get_double_member_with_default(o, name, 0);
  if (const char* s = string_or_null(o, name)) return parse_number(s);
  return std::nullopt;
}

// `node` as compact JSON text.
inline std::string compact(JsonNode* node) {
  g_autofree char* text = json_to_string(node, FALSE);
  return text ? text : "";
}

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
