// SPDX-License-Identifier: LGPL-2.1-or-later
#include "klinglive/output/audio_output.h"

#include <gst/audio/audio.h>

#include "klinglive/output/live_clock.h"

GST_DEBUG_CATEGORY_EXTERN(gst_kling_live_src_debug);
#define GST_CAT_DEFAULT gst_kling_live_src_debug

struct _GstKlingLiveAudio {
  GstPushSrc parent;
  kling::live::AudioFeed* feed;
  void (*on_caps)(GstCaps*, gpointer);
  gpointer on_caps_data;
  kling::live::ClockWaiter* waiter;
  GstAudioInfo info;
  gboolean have_info;
  guint64 samples;     // pushed since start
  GstClockTime first;  // running time of sample 0
};

G_DEFINE_TYPE(GstKlingLiveAudio, gst_kling_live_audio, GST_TYPE_PUSH_SRC);

GstCaps* kling_live_audio_template_caps() {
  return gst_caps_from_string("audio/x-raw, format=(string)" GST_AUDIO_NE(
      S16) ", layout=(string)interleaved, "
           "rate=(int)[8000, 192000], channels=(int)[1, 2]");
}

void kling_live_audio_set_feed(GstKlingLiveAudio* self, kling::live::AudioFeed* feed,
                               void (*on_caps)(GstCaps*, gpointer), gpointer data) {
  self->feed = feed;
  self->on_caps = on_caps;
  self->on_caps_data = data;
}

static GstCaps* gst_kling_live_audio_fixate(GstBaseSrc* base, GstCaps* caps) {
  caps = gst_caps_make_writable(caps);
  GstStructure* s = gst_caps_get_structure(caps, 0);
  gst_structure_fixate_field_nearest_int(s, "rate", 48000);
  gst_structure_fixate_field_nearest_int(s, "channels", 2);
  return GST_BASE_SRC_CLASS(gst_kling_live_audio_parent_class)->fixate(base, caps);
}

static gboolean gst_kling_live_audio_set_caps(GstBaseSrc* base, GstCaps* caps) {
  auto* self = GST_KLING_LIVE_AUDIO(base);
  GstAudioInfo info;
  if (!gst_audio_info_from_caps(&info, caps)) return FALSE;
  self->info = info;
  self->have_info = TRUE;
  if (self->on_caps) self->on_caps(caps, self->on_caps_data);
  return TRUE;
}

static guint samples_per_buffer(GstKlingLiveAudio* self) {
  return GST_AUDIO_INFO_RATE(&self->info) / 50;  // 20 ms
}

static gboolean gst_kling_live_audio_start(GstBaseSrc* base) {
  auto* self = GST_KLING_LIVE_AUDIO(base);
  self->samples = 0;
  self->first = GST_CLOCK_TIME_NONE;
  self->have_info = FALSE;
  return TRUE;
}

static gboolean gst_kling_live_audio_unlock(GstBaseSrc* base) {
  GST_KLING_LIVE_AUDIO(base)->waiter->unlock();
  return TRUE;
}

static gboolean gst_kling_live_audio_unlock_stop(GstBaseSrc* base) {
  GST_KLING_LIVE_AUDIO(base)->waiter->unlock_stop();
  return TRUE;
}

static gboolean gst_kling_live_audio_query(GstBaseSrc* base, GstQuery* query) {
  if (GST_QUERY_TYPE(query) == GST_QUERY_LATENCY) {
    gst_query_set_latency(query, TRUE, 20 * GST_MSECOND, GST_CLOCK_TIME_NONE);
    return TRUE;
  }
  return GST_BASE_SRC_CLASS(gst_kling_live_audio_parent_class)->query(base, query);
}

static GstClockTime sample_time(GstKlingLiveAudio* self, guint64 n) {
  return self->first + gst_util_uint64_scale(n, GST_SECOND, GST_AUDIO_INFO_RATE(&self->info));
}

static GstFlowReturn gst_kling_live_audio_create(GstPushSrc* src, GstBuffer** out) {
  auto* self = GST_KLING_LIVE_AUDIO(src);
  if (!self->have_info) return GST_FLOW_NOT_NEGOTIATED;
  if (!GST_CLOCK_TIME_IS_VALID(self->first))
    self->first = kling::live::ClockWaiter::running_time(GST_ELEMENT(self));
  guint n = samples_per_buffer(self);
  GstClockTime pts = sample_time(self, self->samples);
  GstClockTime next = sample_time(self, self->samples + n);
  if (!self->waiter->wait_until(GST_ELEMENT(self), pts)) return GST_FLOW_FLUSHING;
  gsize size = static_cast<gsize>(n) * GST_AUDIO_INFO_BPF(&self->info);
  GstBuffer* buffer = gst_buffer_new_allocate(nullptr, size, nullptr);
  GstMapInfo map;
  gst_buffer_map(buffer, &map, GST_MAP_WRITE);
  if (self->feed)
    self->feed->read(map.data, size);
  else
    memset(map.data, 0, size);
  gst_buffer_unmap(buffer, &map);
  GST_BUFFER_PTS(buffer) = pts;
  GST_BUFFER_DURATION(buffer) = next - pts;
  GST_BUFFER_OFFSET(buffer) = self->samples;
  GST_BUFFER_OFFSET_END(buffer) = self->samples + n;
  if (self->samples == 0) GST_BUFFER_FLAG_SET(buffer, GST_BUFFER_FLAG_DISCONT);
  self->samples += n;
  *out = buffer;
  return GST_FLOW_OK;
}

static void gst_kling_live_audio_init(GstKlingLiveAudio* self) {
  self->waiter = new kling::live::ClockWaiter();
  self->first = GST_CLOCK_TIME_NONE;
  gst_base_src_set_live(GST_BASE_SRC(self), TRUE);
  gst_base_src_set_format(GST_BASE_SRC(self), GST_FORMAT_TIME);
}

static void gst_kling_live_audio_finalize(GObject* object) {
  delete GST_KLING_LIVE_AUDIO(object)->waiter;
  G_OBJECT_CLASS(gst_kling_live_audio_parent_class)->finalize(object);
}

static void gst_kling_live_audio_class_init(GstKlingLiveAudioClass* klass) {
  auto* element_class = GST_ELEMENT_CLASS(klass);
  auto* base_class = GST_BASE_SRC_CLASS(klass);
  G_OBJECT_CLASS(klass)->finalize = gst_kling_live_audio_finalize;
  GstCaps* caps = kling_live_audio_template_caps();
  gst_element_class_add_pad_template(
      element_class, gst_pad_template_new("src", GST_PAD_SRC, GST_PAD_ALWAYS, caps));
  gst_caps_unref(caps);
  gst_element_class_set_static_metadata(element_class, "Kling live audio", "Source/Audio",
                                        "The sound of klinglivesrc (internal)", "gst-kling");
  base_class->fixate = gst_kling_live_audio_fixate;
  base_class->set_caps = gst_kling_live_audio_set_caps;
  base_class->start = gst_kling_live_audio_start;
  base_class->unlock = gst_kling_live_audio_unlock;
  base_class->unlock_stop = gst_kling_live_audio_unlock_stop;
  base_class->query = gst_kling_live_audio_query;
  GST_PUSH_SRC_CLASS(klass)->create = gst_kling_live_audio_create;
}
