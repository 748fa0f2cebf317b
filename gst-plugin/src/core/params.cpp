#include "params.h"

#include <glib.h>
#include <json-glib/json-glib.h>

#include <algorithm>

namespace kling {

std::string ParamValue::json() const {
  g_autoptr(JsonNode) node = json_node_new(JSON_NODE_VALUE);
  switch (kind) {
    case Kind::String: json_node_set_string(node, text.c_str()); break;
    case Kind::Integer: json_node_set_int(node, integer); break;
    case Kind::Number: json_node_set_double(node, number); break;
    case Kind::Boolean: json_node_set_boolean(node, boolean); break;
  }
  g_autofree char* out = json_to_string(node, FALSE);
  return out;
}

bool is_param_name(const std::string& name) {
  return !name.empty() && name.size() <= 128 &&
         std::all_of(name.begin(), name.end(), [](char c) { return g_ascii_isalnum(c) || c == '_'; });
}

std::string params_identity(const Params& params) {
  std::vector<std::string> fields;
  for (const Param& p : params)
    fields.push_back(p.name + "=" + p.value.json());
  std::sort(fields.begin(), fields.end());
  std::string out;
  for (const std::string& f : fields)
    out += std::to_string(f.size()) + ":" + f;
  return out;
}

}  // namespace kling
