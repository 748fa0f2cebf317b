// SPDX-License-Identifier: LGPL-2.1-or-later
// GstStructure <-> the core's request fields (`params`), for every element.
#include "common/params_structure.h"

#include <string>

// The params structure's fields as the core takes them (GStreamer-free plain values).
kling::Params gst_kling_params_from_structure(const GstStructure* structure) {
  kling::Params params;
  if (!structure) return params;
  gst_structure_foreach(
      structure,
      [](GQuark field, const GValue* v, gpointer data) -> gboolean {
        kling::Param p{g_quark_to_string(field), {}};
        switch (G_TYPE_FUNDAMENTAL(G_VALUE_TYPE(v))) {
          case G_TYPE_STRING:
            p.value = kling::ParamValue::of(
                std::string(g_value_get_string(v) ? g_value_get_string(v) : ""));
            break;
          case G_TYPE_BOOLEAN:
            p.value = kling::ParamValue::of_bool(g_value_get_boolean(v));
            break;
          case G_TYPE_INT:
            p.value = kling::ParamValue::of(static_cast<int64_t>(g_value_get_int(v)));
            break;
          case G_TYPE_UINT:
            p.value = kling::ParamValue::of(static_cast<int64_t>(g_value_get_uint(v)));
            break;
          case G_TYPE_INT64:
            p.value = kling::ParamValue::of(static_cast<int64_t>(g_value_get_int64(v)));
            break;
          case G_TYPE_DOUBLE:
            p.value = kling::ParamValue::of(g_value_get_double(v));
            break;
          case G_TYPE_FLOAT:
            p.value = kling::ParamValue::of(static_cast<double>(g_value_get_float(v)));
            break;
          default: {  // anything else as its text: the model's schema types it
            g_autofree gchar* text = gst_value_serialize(v);
            p.value = kling::ParamValue::of(std::string(text ? text : ""));
          }
        }
        static_cast<kling::Params*>(data)->push_back(std::move(p));
        return TRUE;
      },
      &params);
  return params;
}
