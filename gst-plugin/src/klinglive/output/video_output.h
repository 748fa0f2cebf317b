// SPDX-License-Identifier: LGPL-2.1-or-later
// klinglivesrc's picture: a live source (not a plugin feature of its own) on the
// shared skeleton (live_push_src.h), one frame a buffer at the negotiated
// framerate; what each frame shows comes from the LiveSchedule.
#pragma once

#include "klinglive/output/live_push_src.h"

#include <memory>

#include "klinglive/live_schedule.h"

G_BEGIN_DECLS

#define GST_TYPE_KLING_LIVE_OUTPUT (gst_kling_live_output_get_type())
G_DECLARE_FINAL_TYPE(GstKlingLiveOutput, gst_kling_live_output, GST, KLING_LIVE_OUTPUT,
                     GstKlingLivePushSrc)

G_END_DECLS

// The caps the output offers: raw video, 1280x720 at 30/1 unless downstream fixes others.
GstCaps* kling_live_output_template_caps();
// The schedule is shared: the output keeps it alive as long as it lives itself.
void kling_live_output_set_schedule(GstKlingLiveOutput* self,
                                    std::shared_ptr<kling::live::LiveSchedule> schedule);
