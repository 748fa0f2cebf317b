// SPDX-License-Identifier: LGPL-2.1-or-later
// The sound klinglivesrc's `audio` pad plays: the clip on air's decoded samples
// (from its audio appsink), placed by their timestamps against the picture.
// The video side says, frame by frame, which of the clip's frames it shows at
// which running time (or that it repeats one while decoding is behind); the
// audio output asks for the samples due at a running time and gets the clip's
// sound for the clip time the picture shows then: silence is filled while the
// picture holds, samples are dropped when the sound is late, at every switch
// and loop (as livesync or an aggregator does). Silence while the slate shows.
#pragma once

#include <gst/app/gstappsink.h>
#include <gst/base/gstadapter.h>

#include <deque>
#include <mutex>

namespace kling::live {

class AudioFeed {
 public:
  AudioFeed();
  ~AudioFeed();
  AudioFeed(const AudioFeed&) = delete;
  AudioFeed& operator=(const AudioFeed&) = delete;

  // The appsink of the clip now on air (nullptr: silence). A new source, or the
  // same one looped, starts over: its clip times restart.
  void set_source(GstAppSink* sink);
  // From running time `at` for `duration` the picture shows the source's frame
  // at clip running time `clip_time`; GST_CLOCK_TIME_NONE: it repeats the last one.
  void shown(GstClockTime at, GstClockTime duration, GstClockTime clip_time);
  // Fills `size` bytes (`rate` frames a second of `bpf` bytes) due from running
  // time `pts`: the source's samples for what the picture shows, else zeros.
  void read(GstClockTime pts, gint rate, gsize bpf, guint8* data, gsize size);

 private:
  struct Shown {
    guint64 epoch;
    GstClockTime at, duration, clip_time;  // clip_time NONE: a repeat
  };
  // The clip time the picture is at, at running time `t`: `frozen` when it holds a
  // frame (the sound may not pass it); NONE when no clip of this source is shown.
  GstClockTime target(GstClockTime t, bool* frozen, GstClockTime* until) const;
  void pull();
  GstClockTime head() const;  // clip time of the next sample kept, NONE when none

  std::mutex mutex_;
  GstAppSink* sink_ = nullptr;
  GstAdapter* adapter_;  // the source's samples, timestamped in clip running time
  GstClockTime pulled_end_ = GST_CLOCK_TIME_NONE;
  guint64 epoch_ = 0;
  std::deque<Shown> shown_;
  gint rate_ = 0;
  gsize bpf_ = 0;
};

}  // namespace kling::live
