// SPDX-License-Identifier: LGPL-2.1-or-later
#include "common/kling_enums.h"

// Each value as G_DEFINE_ENUM_VALUE writes it ({value, name, nick}), with a name that
// reads well in gst-inspect instead of the C identifier; the nicks are what gst-launch
// takes (`duration=10`, `aspect-ratio=9:16`).
G_DEFINE_ENUM_TYPE(GstKlingDuration, gst_kling_duration, {GST_KLING_DURATION_5, "5 seconds", "5"},
                   {GST_KLING_DURATION_10, "10 seconds", "10"})

G_DEFINE_ENUM_TYPE(GstKlingAspectRatio, gst_kling_aspect_ratio,
                   {GST_KLING_ASPECT_RATIO_16_9, "16:9 landscape (1280x720)", "16:9"},
                   {GST_KLING_ASPECT_RATIO_9_16, "9:16 portrait (720x1280)", "9:16"},
                   {GST_KLING_ASPECT_RATIO_1_1, "1:1 square (960x960)", "1:1"})

const char* gst_kling_aspect_ratio_to_string(GstKlingAspectRatio ratio) {
  // The nicks are the API's spelling.
  GEnumClass* klass = G_ENUM_CLASS(g_type_class_ref(GST_TYPE_KLING_ASPECT_RATIO));
  GEnumValue* value = g_enum_get_value(klass, ratio);
  const char* nick = value ? value->value_nick : "16:9";
  g_type_class_unref(klass);  // registered statically: the strings outlive the class ref
  return nick;
}
