// SPDX-License-Identifier: LGPL-2.1-or-later
// klingsrc: a GstBaseSrc that generates a video from a text prompt with
// WaveSpeed's Kling API and streams the MP4 it gets back. This file and its
// .cpp are GStreamer glue only: properties, state changes, pads, messages.
#pragma once

#include <gst/base/gstbasesrc.h>
#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_KLING_SRC (gst_kling_src_get_type())
G_DECLARE_FINAL_TYPE(GstKlingSrc, gst_kling_src, GST, KLING_SRC, GstBaseSrc)

GST_ELEMENT_REGISTER_DECLARE(klingsrc);

G_END_DECLS
