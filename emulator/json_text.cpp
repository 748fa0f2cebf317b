// SPDX-License-Identifier: LGPL-2.1-or-later
// kling-emulator: JSON writing helpers.
#include "json_text.h"

#include <cmath>
#include <cstring>

namespace emu {

namespace {

// Rewrites every number with a fraction or exponent outside strings to the
// shortest of %.15g/%.17g that reads back as the same double, and escapes the
// U+001F json-glib 1.6 leaves raw in strings (invalid JSON).
std::string tidy(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  bool in_string = false;
  for (size_t i = 0; i < text.size(); i++) {
    const char c = text[i];
    if (in_string) {
      if (c == '\x1f') {
        out += "\\u001f";
        continue;
      }
      out += c;
      if (c == '\\' && i + 1 < text.size())
        out += text[++i];
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
      out += c;
      continue;
    }
    if (c != '-' && !g_ascii_isdigit(c)) {
      out += c;
      continue;
    }
    size_t end = i;
    while (end < text.size() && strchr("0123456789+-.eE", text[end])) end++;
    const std::string token = text.substr(i, end - i);
    i = end - 1;
    if (token.find_first_of(".eE") == std::string::npos) {
      out += token;
      continue;
    }
    const double value = g_ascii_strtod(token.c_str(), nullptr);
    char shorter[G_ASCII_DTOSTR_BUF_SIZE];
    g_ascii_formatd(shorter, sizeof shorter, "%.15g", value);
    if (g_ascii_strtod(shorter, nullptr) != value) {
      out += token;
      continue;
    }
    out += shorter;
    // Keep it a JSON double for readers that tell 1 from 1.0.
    if (!strpbrk(shorter, ".eEn")) out += ".0";
  }
  return out;
}

}  // namespace

std::string to_json(JsonBuilder* b) {
  g_autoptr(JsonNode) root = json_builder_get_root(b);
  g_autofree char* text = json_to_string(root, FALSE);
  return tidy(text);
}

void begin_success_envelope(JsonBuilder* b, bool array) {
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "code");
  json_builder_add_int_value(b, 200);
  json_builder_set_member_name(b, "message");
  json_builder_add_string_value(b, "success");
  json_builder_set_member_name(b, "data");
  if (array)
    json_builder_begin_array(b);
  else
    json_builder_begin_object(b);
}

std::string envelope_error(int code, const std::string& message, const std::string& error_code) {
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "code");
  json_builder_add_int_value(b, code);
  json_builder_set_member_name(b, "message");
  json_builder_add_string_value(b, message.c_str());
  if (!error_code.empty()) {
    json_builder_set_member_name(b, "error_code");
    json_builder_add_string_value(b, error_code.c_str());
  }
  json_builder_end_object(b);
  return to_json(b);
}

namespace {

// Where the first top-level value ends (skipping strings), or `why` set: more than
// one value, or nesting past a depth json-glib 1.6 survives (it has no limit, and a
// body of 200000 '[' overflows its stack). json-glib alone reads `{} {}` as `{}` on
// 1.6 and as an array of both on 1.10; a client sending that must get a 400 on both.
bool one_shallow_value(const char* data, size_t size, std::string* why) {
  constexpr int kMaxDepth = 64;
  int depth = 0;
  bool in_string = false, seen = false;
  for (size_t i = 0; i < size; i++) {
    const char c = data[i];
    if (in_string) {
      if (c == '\\') {
        i++;
      } else if (c == '"') {
        in_string = false;
        seen = seen || depth == 0;
      }
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
    if (seen && depth == 0) {
      *why = "more than one JSON value";
      return false;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxDepth) {
        *why = "nested deeper than " + std::to_string(kMaxDepth);
        return false;
      }
    } else if (c == '}' || c == ']') {
      depth = depth > 0 ? depth - 1 : 0;
      seen = seen || depth == 0;
    } else if (depth == 0 && (i + 1 == size || strchr(" \t\n\r{[\"", data[i + 1]))) {
      seen = true;  // a scalar at the top ends at white space or where another value starts
    }
  }
  return true;
}

}  // namespace

JsonObject* parse_object(JsonParser* parser, const char* data, size_t size, std::string* error) {
  auto fail = [error](const std::string& why) -> JsonObject* {
    if (error) *error = why;
    return nullptr;
  };
  if (size == 0) return fail("request body is empty, expected a JSON object");
  std::string why;
  if (!one_shallow_value(data, size, &why)) return fail("invalid JSON body: " + why);
  g_autoptr(GError) parse_error = nullptr;
  if (!json_parser_load_from_data(parser, data, gssize(size), &parse_error))
    return fail(std::string("invalid JSON body: ") + parse_error->message);
  JsonNode* root = json_parser_get_root(parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT(root)) return fail("invalid JSON body: expected an object");
  return json_node_get_object(root);
}

}  // namespace emu
