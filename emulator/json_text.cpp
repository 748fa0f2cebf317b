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

JsonObject* parse_object(JsonParser* parser, const char* data, size_t size, std::string* error) {
  auto fail = [error](const std::string& why) -> JsonObject* {
    if (error) *error = why;
    return nullptr;
  };
  if (size == 0) return fail("request body is empty, expected a JSON object");
  g_autoptr(GError) parse_error = nullptr;
  if (!json_parser_load_from_data(parser, data, gssize(size), &parse_error))
    return fail(std::string("invalid JSON body: ") + parse_error->message);
  JsonNode* root = json_parser_get_root(parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT(root)) return fail("invalid JSON body: expected an object");
  return json_node_get_object(root);
}

}  // namespace emu
