// SPDX-License-Identifier: LGPL-2.1-or-later
// Registered enum types for the properties gst-launch writes as `duration=10`
// and `aspect-ratio=9:16`.
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

typedef enum {
  GST_KLING_DURATION_5 = 5,
  GST_KLING_DURATION_10 = 10,
} GstKlingDuration;

typedef enum {
  GST_KLING_ASPECT_RATIO_16_9,
  GST_KLING_ASPECT_RATIO_9_16,
  GST_KLING_ASPECT_RATIO_1_1,
} GstKlingAspectRatio;

#define GST_TYPE_KLING_DURATION (gst_kling_duration_get_type())
GType gst_kling_duration_get_type(void);

#define GST_TYPE_KLING_ASPECT_RATIO (gst_kling_aspect_ratio_get_type())
GType gst_kling_aspect_ratio_get_type(void);

// The API's spelling of an aspect ratio ("16:9").
const char* gst_kling_aspect_ratio_to_string(GstKlingAspectRatio ratio);

G_END_DECLS
