// SPDX-License-Identifier: LGPL-2.1-or-later
#include "klinglive/output/video_output.h"

#include <gst/video/video.h>

#include "klinglive/playback/black_frame.h"
#include "klinglive/playback/slate.h"

GST_DEBUG_CATEGORY_EXTERN(gst_kling_live_src_debug);
#define GST_CAT_DEFAULT gst_kling_live_src_debug

#define KLING_LIVE_FORMATS                                                                     \
  "{ I420, NV12, YV12, Y42B, Y444, BGRx, RGBx, xRGB, xBGR, BGRA, RGBA, ARGB, ABGR, RGB, BGR, " \
  "UYVY, YUY2, GRAY8 }"

struct _GstKlingLiveOutput {
  GstKlingLivePushSrc parent;
  kling::live::LiveSchedule* schedule;  // held by `schedule_ref`
  std::shared_ptr<kling::live::LiveSchedule>* schedule_ref;
  GstVideoInfo info;  // streaming thread only
};

G_DEFINE_TYPE(GstKlingLiveOutput, gst_kling_live_output, GST_TYPE_KLING_LIVE_PUSH_SRC);

GstCaps* kling_live_output_template_caps() {
  return gst_caps_from_string(
      "video/x-raw, format=(string)" KLING_LIVE_FORMATS
      ", width=(int)[1, 16384], height=(int)[1, 16384], framerate=(fraction)[1/1000, 1000/1], "
      "pixel-aspect-ratio=(fraction)1/1, interlace-mode=(string)progressive");
}

void kling_live_output_set_schedule(GstKlingLiveOutput* self,
                                    std::shared_ptr<kling::live::LiveSchedule> schedule) {
  delete self->schedule_ref;
  self->schedule = schedule.get();
  self->schedule_ref = new std::shared_ptr<kling::live::LiveSchedule>(std::move(schedule));
}

static void gst_kling_live_output_finalize(GObject* object) {
  delete GST_KLING_LIVE_OUTPUT(object)->schedule_ref;
  G_OBJECT_CLASS(gst_kling_live_output_parent_class)->finalize(object);
}

static GstCaps* gst_kling_live_output_fixate(GstBaseSrc* base, GstCaps* caps) {
  caps = gst_caps_make_writable(caps);
  GstStructure* s = gst_caps_get_structure(caps, 0);
  gst_structure_fixate_field_nearest_int(s, "width", 1280);
  gst_structure_fixate_field_nearest_int(s, "height", 720);
  gst_structure_fixate_field_nearest_fraction(s, "framerate", 30, 1);
  return GST_BASE_SRC_CLASS(gst_kling_live_output_parent_class)->fixate(base, caps);
}

static gboolean gst_kling_live_output_set_caps(GstBaseSrc* base, GstCaps* caps) {
  auto* self = GST_KLING_LIVE_OUTPUT(base);
  GstVideoInfo info;
  if (!gst_video_info_from_caps(&info, caps) || GST_VIDEO_INFO_FPS_N(&info) <= 0) return FALSE;
  self->info = info;
  gst_kling_live_push_src_set_rate(GST_KLING_LIVE_PUSH_SRC(self), GST_VIDEO_INFO_FPS_N(&info),
                                   GST_VIDEO_INFO_FPS_D(&info), 1);
  gst_base_src_set_blocksize(base, GST_VIDEO_INFO_SIZE(&info));
  if (self->schedule) self->schedule->set_caps(caps);
  return TRUE;
}

static gboolean gst_kling_live_output_start(GstBaseSrc* base) {
  kling::live::Slate::load_fonts();  // here, not on the streaming thread at the first frame
  return GST_BASE_SRC_CLASS(gst_kling_live_output_parent_class)->start(base);
}

static gboolean gst_kling_live_output_stop(GstBaseSrc* base) {
  auto* self = GST_KLING_LIVE_OUTPUT(base);
  if (self->schedule) self->schedule->stop();
  return TRUE;
}

static GstFlowReturn gst_kling_live_output_make(GstKlingLivePushSrc* src, GstClockTime pts,
                                                GstClockTime duration, GstBuffer** out) {
  auto* self = GST_KLING_LIVE_OUTPUT(src);
  GstBuffer* frame = self->schedule ? self->schedule->frame(pts, duration) : nullptr;
  if (frame) {
    *out = gst_buffer_copy(frame);  // shares the memory; the skeleton sets our own timestamps
    gst_buffer_unref(frame);
    return GST_FLOW_OK;
  }
  // No schedule (or no caps yet): black, never a stall.
  GstBuffer* buffer = kling::live::black_frame(self->info);
  if (!buffer) return GST_FLOW_NOT_NEGOTIATED;
  *out = buffer;
  return GST_FLOW_OK;
}

static void gst_kling_live_output_init(GstKlingLiveOutput* self) {
  gst_kling_live_push_src_set_rate(GST_KLING_LIVE_PUSH_SRC(self), 30, 1, 1);
}

static void gst_kling_live_output_class_init(GstKlingLiveOutputClass* klass) {
  G_OBJECT_CLASS(klass)->finalize = gst_kling_live_output_finalize;
  auto* element_class = GST_ELEMENT_CLASS(klass);
  auto* base_class = GST_BASE_SRC_CLASS(klass);
  GstCaps* caps = kling_live_output_template_caps();
  gst_element_class_add_pad_template(
      element_class, gst_pad_template_new("src", GST_PAD_SRC, GST_PAD_ALWAYS, caps));
  gst_caps_unref(caps);
  gst_element_class_set_static_metadata(element_class, "Kling live output", "Source/Video",
                                        "The cadence of klinglivesrc (internal)", "gst-kling");
  base_class->fixate = gst_kling_live_output_fixate;
  base_class->set_caps = gst_kling_live_output_set_caps;
  base_class->start = gst_kling_live_output_start;
  base_class->stop = gst_kling_live_output_stop;
  GST_KLING_LIVE_PUSH_SRC_CLASS(klass)->make = gst_kling_live_output_make;
}
