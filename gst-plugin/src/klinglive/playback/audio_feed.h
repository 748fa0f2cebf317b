// SPDX-License-Identifier: LGPL-2.1-or-later
// The sound klinglivesrc's `audio` pad plays: the current clip's decoded samples
// (from its audio appsink) as the clip plays, silence when it has none, while
// the slate shows, or while its samples are late. The video side sets the
// source at each switch; the audio output reads a buffer's worth at a time.
#pragma once

#include <gst/app/gstappsink.h>
#include <gst/base/gstadapter.h>

#include <mutex>

namespace kling::live {

class AudioFeed {
 public:
  AudioFeed();
  ~AudioFeed();
  AudioFeed(const AudioFeed&) = delete;
  AudioFeed& operator=(const AudioFeed&) = delete;

  // The appsink of the clip now on air (nullptr: silence); a new source, or the
  // same one looped, starts from its first sample.
  void set_source(GstAppSink* sink);
  // Fills `size` bytes: the source's samples, then zeros.
  void read(guint8* data, gsize size);

 private:
  std::mutex mutex_;
  GstAppSink* sink_ = nullptr;
  GstAdapter* adapter_;
};

}  // namespace kling::live
