// SPDX-License-Identifier: LGPL-2.1-or-later
// Plugin entry point: registers the elements, nothing else.
#include <gst/gst.h>

#include "klinglive/gstklinglivesrc.h"
#include "klinglive/playback/disclosure.h"
#include "klingsrc/gstklingsrc.h"

static gboolean plugin_init(GstPlugin* plugin) {
  kling::live::register_disclosure_tags();
  gboolean ok = GST_ELEMENT_REGISTER(klingsrc, plugin);
  ok &= GST_ELEMENT_REGISTER(klinglivesrc, plugin);
  return ok;
}

GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, kling,
                  "Text-to-video generation with WaveSpeed's Kling models", plugin_init, VERSION,
                  GST_LICENSE, GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
