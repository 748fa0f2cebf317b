// SPDX-License-Identifier: LGPL-2.1-or-later
// klinglivesrc: a live source of raw video that never stalls. Queued prompts
// are generated ahead with klingsrc and played back to back at the output's
// own cadence; a slate shows while nothing is ready. This file and its .cpp
// are GStreamer glue: properties, the queue signal, pads, state changes.
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_KLING_LIVE_SRC (gst_kling_live_src_get_type())
G_DECLARE_FINAL_TYPE(GstKlingLiveSrc, gst_kling_live_src, GST, KLING_LIVE_SRC, GstBin)

GST_ELEMENT_REGISTER_DECLARE(klinglivesrc);

G_END_DECLS
