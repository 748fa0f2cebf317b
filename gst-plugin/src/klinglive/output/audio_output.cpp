// SPDX-License-Identifier: LGPL-2.1-or-later
#include "klinglive/output/audio_output.h"

#include <gst/audio/audio.h>

#include <cstring>

GST_DEBUG_CATEGORY_EXTERN(gst_kling_live_src_debug);
#define GST_CAT_DEFAULT gst_kling_live_src_debug

namespace {
constexpr gint kBuffersPerSecond = 50;  // 20 ms
}

struct _GstKlingLiveAudio {
  GstKlingLivePushSrc parent;
  kling::live::AudioFeed* feed;
  void (*on_caps)(GstCaps*, gpointer);
  gpointer on_caps_data;
  GDestroyNotify on_caps_destroy;
  GstAudioInfo info;  // streaming thread only
};

G_DEFINE_TYPE(GstKlingLiveAudio, gst_kling_live_audio, GST_TYPE_KLING_LIVE_PUSH_SRC);

GstCaps* kling_live_audio_template_caps() {
  return gst_caps_from_string("audio/x-raw, format=(string)" GST_AUDIO_NE(
      S16) ", layout=(string)interleaved, "
           "rate=(int)[8000, 192000], channels=(int)[1, 2]");
}

void kling_live_audio_set_feed(GstKlingLiveAudio* self, kling::live::AudioFeed* feed,
                               void (*on_caps)(GstCaps*, gpointer), gpointer data,
                               GDestroyNotify destroy) {
  if (self->on_caps_destroy) self->on_caps_destroy(self->on_caps_data);
  self->feed = feed;
  self->on_caps = on_caps;
  self->on_caps_data = data;
  self->on_caps_destroy = destroy;
}

static void gst_kling_live_audio_finalize(GObject* object) {
  auto* self = GST_KLING_LIVE_AUDIO(object);
  if (self->on_caps_destroy) self->on_caps_destroy(self->on_caps_data);
  G_OBJECT_CLASS(gst_kling_live_audio_parent_class)->finalize(object);
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
  gst_kling_live_push_src_set_rate(GST_KLING_LIVE_PUSH_SRC(self), GST_AUDIO_INFO_RATE(&info), 1,
                                   GST_AUDIO_INFO_RATE(&info) / kBuffersPerSecond);
  if (self->on_caps) self->on_caps(caps, self->on_caps_data);
  return TRUE;
}

static GstFlowReturn gst_kling_live_audio_make(GstKlingLivePushSrc* src, GstClockTime pts,
                                               GstClockTime, GstBuffer** out) {
  auto* self = GST_KLING_LIVE_AUDIO(src);
  gsize size = static_cast<gsize>(GST_AUDIO_INFO_RATE(&self->info) / kBuffersPerSecond) *
               GST_AUDIO_INFO_BPF(&self->info);
  GstBuffer* buffer = gst_buffer_new_allocate(nullptr, size, nullptr);
  GstMapInfo map;
  gst_buffer_map(buffer, &map, GST_MAP_WRITE);
  if (self->feed)
    self->feed->read(pts, GST_AUDIO_INFO_RATE(&self->info), GST_AUDIO_INFO_BPF(&self->info),
                     map.data, size);
  else
    memset(map.data, 0, size);
  gst_buffer_unmap(buffer, &map);
  *out = buffer;
  return GST_FLOW_OK;
}

static void gst_kling_live_audio_init(GstKlingLiveAudio* self) {
  gst_kling_live_push_src_set_rate(GST_KLING_LIVE_PUSH_SRC(self), 48000, 1,
                                   48000 / kBuffersPerSecond);
}

static void gst_kling_live_audio_class_init(GstKlingLiveAudioClass* klass) {
  G_OBJECT_CLASS(klass)->finalize = gst_kling_live_audio_finalize;
  auto* element_class = GST_ELEMENT_CLASS(klass);
  auto* base_class = GST_BASE_SRC_CLASS(klass);
  GstCaps* caps = kling_live_audio_template_caps();
  gst_element_class_add_pad_template(
      element_class, gst_pad_template_new("src", GST_PAD_SRC, GST_PAD_ALWAYS, caps));
  gst_caps_unref(caps);
  gst_element_class_set_static_metadata(element_class, "Kling live audio", "Source/Audio",
                                        "The sound of klinglivesrc (internal)", "gst-kling");
  base_class->fixate = gst_kling_live_audio_fixate;
  base_class->set_caps = gst_kling_live_audio_set_caps;
  GST_KLING_LIVE_PUSH_SRC_CLASS(klass)->make = gst_kling_live_audio_make;
}
