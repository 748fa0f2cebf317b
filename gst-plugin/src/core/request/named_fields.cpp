// SPDX-License-Identifier: LGPL-2.1-or-later
#include "core/request/named_fields.h"

#include <glib.h>
#include <json-glib/json-glib.h>

#include <algorithm>

namespace kling {

std::string ParamValue::json() const {
  g_autoptr(JsonNode) node = json_node_new(JSON_NODE_VALUE);
  switch (kind) {
    case Kind::String:
      json_node_set_string(node, text.c_str());
      break;
    case Kind::Integer:
      json_node_set_int(node, integer);
      break;
    case Kind::Number:
      json_node_set_double(node, number);
      break;
    case Kind::Boolean:
      json_node_set_boolean(node, boolean);
      break;
  }
  g_autofree char* out = json_to_string(node, FALSE);
  return out;
}

bool is_param_name(const std::string& name) {
  return !name.empty() && name.size() <= 128 && std::all_of(name.begin(), name.end(), [](char c) {
    return g_ascii_isalnum(c) || c == '_';
  });
}

}  // namespace kling
