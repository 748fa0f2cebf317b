// SPDX-License-Identifier: LGPL-2.1-or-later
// The decoded picture as the live output takes it, one chain for a clip and for
// the slate's image: videoconvert ! videoscale add-borders (scaled in and
// bordered, never stretched) [! videorate] ! capsfilter caps ! appsink.
#pragma once

#include <gst/app/gstappsink.h>
#include <gst/gst.h>

namespace kling::live {

struct FramesChain {
  GstElement* convert = nullptr;  // the head: decodebin's video pad is linked here
  GstElement* scale = nullptr;
  GstElement* rate = nullptr;    // with_rate only
  GstElement* filter = nullptr;  // its caps are the output's
  GstAppSink* sink = nullptr;
};

// Makes the chain (with videorate when `with_rate`), adds it to `bin` and links
// it; the elements belong to `bin`. False when an element is missing: nothing added.
bool add_frames_chain(GstBin* bin, GstCaps* caps, bool with_rate, FramesChain* chain);

// Whether a decodebin pad carries `media` ("video/", "audio/").
bool pad_carries(GstPad* pad, const char* media);
// Links `pad` to `head`'s sink pad unless that one is linked already.
void link_once(GstPad* pad, GstElement* head);
// A "pad-added" handler for decodebin: a video pad goes to `convert` (user data),
// once; any other stream is left unlinked.
void link_video_pad(GstElement* decodebin, GstPad* pad, gpointer convert);

}  // namespace kling::live
