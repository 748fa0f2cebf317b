// SPDX-License-Identifier: LGPL-2.1-or-later
#include "klinglive/playback/audio_feed.h"

#include <algorithm>
#include <cstring>

namespace kling::live {

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
}

void AudioFeed::read(guint8* data, gsize size) {
  std::lock_guard<std::mutex> lock(mutex_);
  while (sink_ && gst_adapter_available(adapter_) < size) {
    GstSample* sample = gst_app_sink_try_pull_sample(sink_, 0);
    if (!sample) break;
    if (GstBuffer* buffer = gst_sample_get_buffer(sample))
      gst_adapter_push(adapter_, gst_buffer_ref(buffer));
    gst_sample_unref(sample);
  }
  gsize have = std::min(size, gst_adapter_available(adapter_));
  if (have) gst_adapter_copy(adapter_, data, 0, have);
  gst_adapter_flush(adapter_, have);
  memset(data + have, 0, size - have);
}

}  // namespace kling::live
