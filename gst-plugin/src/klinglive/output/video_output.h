// SPDX-License-Identifier: LGPL-2.1-or-later
// klinglivesrc's cadence: a live GstPushSrc (not a plugin feature of its own)
// that waits on the pipeline clock for each frame, like videotestsrc
// is-live=true. Frame n has pts = running time at PLAYING + n x period, so
// timestamps are continuous by construction; what each frame shows comes from
// the LiveSchedule.
#pragma once

#include <gst/base/gstpushsrc.h>

#include "klinglive/live_schedule.h"

G_BEGIN_DECLS

#define GST_TYPE_KLING_LIVE_OUTPUT (gst_kling_live_output_get_type())
G_DECLARE_FINAL_TYPE(GstKlingLiveOutput, gst_kling_live_output, GST, KLING_LIVE_OUTPUT, GstPushSrc)

G_END_DECLS

// The caps the output offers: raw video, 1280x720 at 30/1 unless downstream fixes others.
GstCaps* kling_live_output_template_caps();
// The schedule stays owned by the caller and must outlive the element's streaming.
void kling_live_output_set_schedule(GstKlingLiveOutput* self, kling::live::LiveSchedule* schedule);
