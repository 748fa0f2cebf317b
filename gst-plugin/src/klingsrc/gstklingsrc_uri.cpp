// SPDX-License-Identifier: LGPL-2.1-or-later
// klingsrc's URI handler: kling://MODEL?prompt=...&duration=10. A URI sets
// every field a URI may set (to its default where it is silent); get_uri()
// gives back every one that was set, so the two round-trip.
#include <gst/gst.h>

#include <mutex>
#include <string>

#include "core/request/kling_uri.h"
#include "klingsrc/gstklingsrc_private.h"

static GstURIType gst_kling_src_uri_get_type(GType) {
  return GST_URI_SRC;
}

static const gchar* const* gst_kling_src_uri_get_protocols(GType) {
  static const gchar* protocols[] = {"kling", nullptr};
  return protocols;
}

static gchar* gst_kling_src_uri_get_uri(GstURIHandler* handler) {
  // Every URI-settable field that was set: set_uri() of the result gives the same element.
  const kling::Request r = gst_kling_src_snapshot_request(GST_KLING_SRC(handler));
  return g_strdup(kling::format_kling_uri(kling::kling_uri_for(r)).c_str());
}

static gboolean gst_kling_src_uri_set_uri(GstURIHandler* handler, const gchar* text,
                                          GError** error) {
  GstKlingSrc* self = GST_KLING_SRC(handler);
  if (GST_STATE(self) > GST_STATE_READY) {
    g_set_error(error, GST_URI_ERROR, GST_URI_ERROR_BAD_STATE,
                "Changing the URI of klingsrc while running is not supported");
    return FALSE;
  }
  std::string message;
  auto uri = kling::parse_kling_uri(text, &message);
  if (!uri) {
    g_set_error(error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI, "%s", message.c_str());
    return FALSE;
  }
  // Validate every value before changing anything.
  GObjectClass* klass = G_OBJECT_GET_CLASS(self);
  for (const auto& [name, value] : uri->params) {
    GParamSpec* pspec = g_object_class_find_property(klass, name.c_str());
    GValue v = G_VALUE_INIT;
    bool ok = pspec &&
              gst_value_deserialize_with_pspec((g_value_init(&v, pspec->value_type), &v),
                                               value.c_str(), pspec) &&
              !g_param_value_validate(pspec, &v);
    if (G_IS_VALUE(&v)) g_value_unset(&v);
    if (!ok) {
      g_set_error(error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI,
                  "Invalid value for \"%s\" in the kling:// URI", name.c_str());
      return FALSE;
    }
  }
  // A URI replaces: every field it may set takes its value, or its default when it is silent.
  g_object_freeze_notify(G_OBJECT(self));
  for (const std::string& name : kling::kling_uri_properties()) {
    GParamSpec* pspec = g_object_class_find_property(klass, name.c_str());
    GValue v = G_VALUE_INIT;
    g_param_value_set_default(pspec, (g_value_init(&v, pspec->value_type), &v));
    g_object_set_property(G_OBJECT(self), name.c_str(), &v);
    g_value_unset(&v);
  }
  {
    std::lock_guard<std::mutex> lock(self->priv->settings_lock);
    self->priv->settings.base.aspect_ratio_set = false;  // the defaults, not choices
    self->priv->settings.base.duration_set = false;
  }
  g_object_set(self, "model", uri->model.c_str(), nullptr);
  for (const auto& [name, value] : uri->params)
    gst_util_set_object_arg(G_OBJECT(self), name.c_str(), value.c_str());
  // Other keys are request fields (the model's schema types and checks them before the submit).
  g_autoptr(GstStructure) fields = nullptr;
  if (!uri->fields.empty()) {
    fields = gst_structure_new_empty("params");
    for (const auto& [name, value] : uri->fields)
      gst_structure_set(fields, name.c_str(), G_TYPE_STRING, value.c_str(), nullptr);
  }
  g_object_set(self, "params", fields, nullptr);  // none when the URI has none
  g_object_thaw_notify(G_OBJECT(self));
  return TRUE;
}

void gst_kling_src_uri_handler_init(gpointer g_iface, gpointer) {
  auto* iface = static_cast<GstURIHandlerInterface*>(g_iface);
  iface->get_type = gst_kling_src_uri_get_type;
  iface->get_protocols = gst_kling_src_uri_get_protocols;
  iface->get_uri = gst_kling_src_uri_get_uri;
  iface->set_uri = gst_kling_src_uri_set_uri;
}
