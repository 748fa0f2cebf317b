// SPDX-License-Identifier: LGPL-2.1-or-later
// klinglivesrc's `audio` request pad: a live source on the shared skeleton
// (live_push_src.h), counted in samples: 20 ms buffers of interleaved S16 from
// the AudioFeed (the clip's sound, or silence), sample-exact timestamps.
#pragma once

#include "klinglive/output/live_push_src.h"
#include "klinglive/playback/audio_feed.h"

G_BEGIN_DECLS

#define GST_TYPE_KLING_LIVE_AUDIO (gst_kling_live_audio_get_type())
G_DECLARE_FINAL_TYPE(GstKlingLiveAudio, gst_kling_live_audio, GST, KLING_LIVE_AUDIO,
                     GstKlingLivePushSrc)

G_END_DECLS

GstCaps* kling_live_audio_template_caps();
// `on_caps` learns the negotiated caps; `data` is the element's until it goes (then
// `destroy`), and keeps `feed` alive (the feed's owner, shared).
void kling_live_audio_set_feed(GstKlingLiveAudio* self, kling::live::AudioFeed* feed,
                               void (*on_caps)(GstCaps* caps, gpointer data), gpointer data,
                               GDestroyNotify destroy);
