// SPDX-License-Identifier: LGPL-2.1-or-later
#include "klinglive/playback/audio_feed.h"

#include <algorithm>
#include <cstring>

GST_DEBUG_CATEGORY_EXTERN(gst_kling_live_src_debug);
#define GST_CAT_DEFAULT gst_kling_live_src_debug

namespace kling::live {

namespace {
// Sound this close to the picture plays on unchanged, well inside what a viewer
// notices (ITU-R BT.1359: 45 ms leading, 125 ms lagging): ahead, it waits in
// silence; late, it is dropped (a beep decoded a little late is heard late,
// not lost).
constexpr GstClockTime kTolerance = 15 * GST_MSECOND;
constexpr GstClockTime kLagTolerance = 60 * GST_MSECOND;
constexpr size_t kShownKept = 240;  // frames: 8 s at 30 fps, far more than the audio lags
// A sample this much earlier than the last: a loop's seek went through.
constexpr GstClockTime kSeekBack = 100 * GST_MSECOND;
}  // namespace

AudioFeed::AudioFeed() : adapter_(gst_adapter_new()) {}

AudioFeed::~AudioFeed() {
  gst_clear_object(&sink_);
  g_object_unref(adapter_);
}

void AudioFeed::set_source(GstAppSink* sink) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (sink) gst_object_ref(sink);
  gst_clear_object(&sink_);
  sink_ = sink;
  gst_adapter_clear(adapter_);
  pulled_end_ = GST_CLOCK_TIME_NONE;
  epoch_++;
}

void AudioFeed::shown(GstClockTime at, GstClockTime duration, GstClockTime clip_time) {
  std::lock_guard<std::mutex> lock(mutex_);
  shown_.push_back({epoch_, at, duration, clip_time});
  while (shown_.size() > kShownKept) shown_.pop_front();
}

GstClockTime AudioFeed::target(GstClockTime t, bool* frozen, GstClockTime* until) const {
  *frozen = false;
  *until = GST_CLOCK_TIME_NONE;
  auto it = std::find_if(shown_.rbegin(), shown_.rend(), [t](const Shown& s) { return s.at <= t; });
  if (it != shown_.rbegin()) *until = std::prev(it)->at;  // the next frame decided
  if (it == shown_.rend() || it->epoch != epoch_) return GST_CLOCK_TIME_NONE;
  if (GST_CLOCK_TIME_IS_VALID(it->clip_time) && t < it->at + it->duration) {
    *until = it->at + it->duration;
    return it->clip_time + (t - it->at);  // a new frame: the picture moves on
  }
  // A repeat, or past the last frame decided (the picture may yet hold): where the
  // last new frame of this source ended.
  auto fresh = std::find_if(it, shown_.rend(), [this](const Shown& s) {
    return s.epoch != epoch_ || GST_CLOCK_TIME_IS_VALID(s.clip_time);
  });
  if (fresh == shown_.rend() || fresh->epoch != epoch_) return GST_CLOCK_TIME_NONE;
  if (t < it->at + it->duration) *until = it->at + it->duration;
  *frozen = true;
  return fresh->clip_time + fresh->duration;
}

void AudioFeed::pull() {
  if (!sink_) return;
  while (GstSample* sample = gst_app_sink_try_pull_sample(sink_, 0)) {
    GstBuffer* buffer = gst_sample_get_buffer(sample);
    const GstSegment* segment = gst_sample_get_segment(sample);
    const gsize size = buffer ? gst_buffer_get_size(buffer) / bpf_ * bpf_ : 0;
    if (size > 0) {
      GstClockTime t = GST_BUFFER_PTS(buffer);
      if (GST_CLOCK_TIME_IS_VALID(t) && segment && segment->format == GST_FORMAT_TIME)
        t = gst_segment_to_running_time(segment, GST_FORMAT_TIME, t);
      if (!GST_CLOCK_TIME_IS_VALID(t)) t = GST_CLOCK_TIME_IS_VALID(pulled_end_) ? pulled_end_ : 0;
      if (GST_CLOCK_TIME_IS_VALID(pulled_end_) && t + kSeekBack < pulled_end_)
        gst_adapter_clear(adapter_);  // what was kept is the previous pass's
      GstBuffer* timed = gst_buffer_copy_region(buffer, GST_BUFFER_COPY_MEMORY, 0, size);
      GST_BUFFER_PTS(timed) = t;
      pulled_end_ = t + gst_util_uint64_scale(size / bpf_, GST_SECOND, rate_);
      gst_adapter_push(adapter_, timed);
    }
    gst_sample_unref(sample);
  }
}

GstClockTime AudioFeed::head() const {
  if (gst_adapter_available(adapter_) < bpf_) return GST_CLOCK_TIME_NONE;
  guint64 distance = 0;
  GstClockTime pts = gst_adapter_prev_pts(adapter_, &distance);
  if (!GST_CLOCK_TIME_IS_VALID(pts)) return GST_CLOCK_TIME_NONE;
  return pts + gst_util_uint64_scale(distance / bpf_, GST_SECOND, rate_);
}

void AudioFeed::read(GstClockTime pts, gint rate, gsize bpf, guint8* data, gsize size) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (rate != rate_ || bpf != bpf_) {
    rate_ = rate;
    bpf_ = bpf;
    gst_adapter_clear(adapter_);
    pulled_end_ = GST_CLOCK_TIME_NONE;
  }
  pull();
  const guint64 n = size / bpf;
  auto samples_in = [rate](GstClockTime d) { return gst_util_uint64_scale(d, rate, GST_SECOND); };
  auto silence = [&](guint64 from, guint64 count) { memset(data + from * bpf, 0, count * bpf); };
  memset(data + n * bpf, 0, size - n * bpf);
  for (guint64 i = 0; i < n;) {
    const GstClockTime t = pts + gst_util_uint64_scale(i, GST_SECOND, rate);
    bool frozen = false;
    GstClockTime until = GST_CLOCK_TIME_NONE;
    const GstClockTime want = target(t, &frozen, &until);
    guint64 piece = n - i;  // up to the next change of what the picture does
    if (GST_CLOCK_TIME_IS_VALID(until) && until > t)
      piece = std::clamp<guint64>(samples_in(until - t), 1, piece);
    const GstClockTime have = head();
    if (!GST_CLOCK_TIME_IS_VALID(want) || !GST_CLOCK_TIME_IS_VALID(have)) {
      silence(i, piece);  // no clip shown, or its sound not decoded yet
      i += piece;
    } else if (have > want + kTolerance) {
      // The sound is ahead of the picture (it holds a frame, or is late): wait in silence.
      guint64 wait = frozen ? piece : std::clamp<guint64>(samples_in(have - want), 1, piece);
      GST_LOG("sound %" GST_STIME_FORMAT " ahead at %" GST_TIME_FORMAT "%s: %" G_GUINT64_FORMAT
              " samples of silence",
              GST_STIME_ARGS(GST_CLOCK_DIFF(want, have)), GST_TIME_ARGS(t),
              frozen ? " (picture held)" : "", wait);
      silence(i, wait);
      i += wait;
    } else if (have + kLagTolerance < want) {
      // The sound is late: drop what the picture has passed.
      gsize drop = std::min<gsize>(samples_in(want - have) * bpf, gst_adapter_available(adapter_));
      GST_DEBUG("sound %" GST_STIME_FORMAT " late at %" GST_TIME_FORMAT ": %" G_GSIZE_FORMAT
                " samples dropped",
                GST_STIME_ARGS(GST_CLOCK_DIFF(have, want)), GST_TIME_ARGS(t), drop / bpf);
      gst_adapter_flush(adapter_, std::max<gsize>(drop / bpf * bpf, bpf));
      pull();
    } else {
      // In step; over a held frame, no further than the tolerance.
      guint64 count = piece;
      if (frozen) count = std::min<guint64>(count, samples_in(want + kTolerance - have));
      gsize bytes = std::min<gsize>(count * bpf, gst_adapter_available(adapter_) / bpf * bpf);
      if (bytes == 0) {
        silence(i, piece);
        i += piece;
        continue;
      }
      gst_adapter_copy(adapter_, data + i * bpf, 0, bytes);
      gst_adapter_flush(adapter_, bytes);
      i += bytes / bpf;
    }
  }
}

}  // namespace kling::live
