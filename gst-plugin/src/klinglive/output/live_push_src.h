// SPDX-License-Identifier: LGPL-2.1-or-later
// The skeleton both of klinglivesrc's outputs (video and audio) share: a live
// GstPushSrc in GST_FORMAT_TIME whose buffers are counted in units (frames or
// samples) from the running time at which the first was made. Buffer k's pts
// is that origin + units pushed x unit duration, so timestamps are continuous
// by construction; get_times() hands them to GstBaseSrc, which waits on the
// pipeline clock for each buffer (but the first after PLAYING, due at once) and
// unschedules that wait on flush and on PAUSED, as it does for videotestsrc
// and audiotestsrc with is-live=true. LATENCY is
// answered with one buffer's duration: a buffer is made, then pushed when due.
#pragma once

#include <gst/base/gstpushsrc.h>

G_BEGIN_DECLS

#define GST_TYPE_KLING_LIVE_PUSH_SRC (gst_kling_live_push_src_get_type())
G_DECLARE_DERIVABLE_TYPE(GstKlingLivePushSrc, gst_kling_live_push_src, GST, KLING_LIVE_PUSH_SRC,
                         GstPushSrc)

struct _GstKlingLivePushSrcClass {
  GstPushSrcClass parent_class;
  // The content of the buffer at running time `pts` lasting `duration`, its
  // timestamps still unset (the skeleton sets them).
  GstFlowReturn (*make)(GstKlingLivePushSrc* src, GstClockTime pts, GstClockTime duration,
                        GstBuffer** out);
};

// From set_caps: `units_per_buffer` units a buffer, `rate_n`/`rate_d` units a
// second; a new rate continues from the running time reached. From _init: the
// default that LATENCY answers with before caps (buffers wait for set_caps).
void gst_kling_live_push_src_set_rate(GstKlingLivePushSrc* src, gint rate_n, gint rate_d,
                                      guint units_per_buffer);

G_END_DECLS
