// SPDX-License-Identifier: LGPL-2.1-or-later
// klinglivesrc's `audio` request pad: a live GstPushSrc on the same clock as
// the video, 20 ms buffers of interleaved S16LE from the AudioFeed (the clip's
// sound, or silence). Sample-exact timestamps from the running time at PLAYING.
#pragma once

#include <gst/base/gstpushsrc.h>

#include "klinglive/playback/audio_feed.h"

G_BEGIN_DECLS

#define GST_TYPE_KLING_LIVE_AUDIO (gst_kling_live_audio_get_type())
G_DECLARE_FINAL_TYPE(GstKlingLiveAudio, gst_kling_live_audio, GST, KLING_LIVE_AUDIO, GstPushSrc)

G_END_DECLS

GstCaps* kling_live_audio_template_caps();
// `feed` outlives the element's streaming; `on_caps` learns the negotiated caps.
void kling_live_audio_set_feed(GstKlingLiveAudio* self, kling::live::AudioFeed* feed,
                               void (*on_caps)(GstCaps* caps, gpointer data), gpointer data);
