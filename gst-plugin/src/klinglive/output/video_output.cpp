// SPDX-License-Identifier: LGPL-2.1-or-later
#include "klinglive/output/video_output.h"

#include <gst/video/video.h>

#include "klinglive/output/live_clock.h"

GST_DEBUG_CATEGORY_EXTERN(gst_kling_live_src_debug);
#define GST_CAT_DEFAULT gst_kling_live_src_debug

#define KLING_LIVE_FORMATS                                                                     \
  "{ I420, NV12, YV12, Y42B, Y444, BGRx, RGBx, xRGB, xBGR, BGRA, RGBA, ARGB, ABGR, RGB, BGR, " \
  "UYVY, YUY2, GRAY8 }"

struct _GstKlingLiveOutput {
  GstPushSrc parent;
  kling::live::LiveSchedule* schedule;
  GstVideoInfo info;
  gboolean have_info;
  guint64 n;           // frames pushed since start
  GstClockTime first;  // running time of frame 0
  kling::live::ClockWaiter* waiter;
};

G_DEFINE_TYPE(GstKlingLiveOutput, gst_kling_live_output, GST_TYPE_PUSH_SRC);

GstCaps* kling_live_output_template_caps() {
  return gst_caps_from_string(
      "video/x-raw, format=(string)" KLING_LIVE_FORMATS
      ", width=(int)[1, 16384], height=(int)[1, 16384], framerate=(fraction)[1/1000, 1000/1], "
      "pixel-aspect-ratio=(fraction)1/1, interlace-mode=(string)progressive");
}

void kling_live_output_set_schedule(GstKlingLiveOutput* self, kling::live::LiveSchedule* schedule) {
  self->schedule = schedule;
}

static GstClockTime frame_time(GstKlingLiveOutput* self, guint64 n) {
  return self->first + gst_util_uint64_scale(n, GST_VIDEO_INFO_FPS_D(&self->info) * GST_SECOND,
                                             GST_VIDEO_INFO_FPS_N(&self->info));
}

static GstClockTime period(GstKlingLiveOutput* self) {
  if (!self->have_info) return GST_SECOND / 30;
  return gst_util_uint64_scale(GST_SECOND, GST_VIDEO_INFO_FPS_D(&self->info),
                               GST_VIDEO_INFO_FPS_N(&self->info));
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
  GST_OBJECT_LOCK(self);
  // A new rate continues from the running time reached, not from frame 0's.
  if (self->have_info && self->n > 0 && GST_CLOCK_TIME_IS_VALID(self->first)) {
    self->first = frame_time(self, self->n);
    self->n = 0;
  }
  self->info = info;
  self->have_info = TRUE;
  GST_OBJECT_UNLOCK(self);
  gst_base_src_set_blocksize(base, GST_VIDEO_INFO_SIZE(&info));
  if (self->schedule) self->schedule->set_caps(caps);
  return TRUE;
}

static gboolean gst_kling_live_output_start(GstBaseSrc* base) {
  auto* self = GST_KLING_LIVE_OUTPUT(base);
  GST_OBJECT_LOCK(self);
  self->n = 0;
  self->first = GST_CLOCK_TIME_NONE;
  self->have_info = FALSE;
  GST_OBJECT_UNLOCK(self);
  return TRUE;
}

static gboolean gst_kling_live_output_stop(GstBaseSrc* base) {
  auto* self = GST_KLING_LIVE_OUTPUT(base);
  if (self->schedule) self->schedule->stop();
  return TRUE;
}

static gboolean gst_kling_live_output_unlock(GstBaseSrc* base) {
  GST_KLING_LIVE_OUTPUT(base)->waiter->unlock();
  return TRUE;
}

static gboolean gst_kling_live_output_unlock_stop(GstBaseSrc* base) {
  GST_KLING_LIVE_OUTPUT(base)->waiter->unlock_stop();
  return TRUE;
}

static gboolean gst_kling_live_output_query(GstBaseSrc* base, GstQuery* query) {
  auto* self = GST_KLING_LIVE_OUTPUT(base);
  if (GST_QUERY_TYPE(query) == GST_QUERY_LATENCY) {
    // A frame is pushed at its own timestamp: one period to reach the sink. Frames
    // are made when due, never lost by waiting: no maximum.
    GST_OBJECT_LOCK(self);
    GstClockTime latency = period(self);
    GST_OBJECT_UNLOCK(self);
    gst_query_set_latency(query, TRUE, latency, GST_CLOCK_TIME_NONE);
    return TRUE;
  }
  return GST_BASE_SRC_CLASS(gst_kling_live_output_parent_class)->query(base, query);
}

static GstFlowReturn gst_kling_live_output_create(GstPushSrc* src, GstBuffer** out) {
  auto* self = GST_KLING_LIVE_OUTPUT(src);
  if (!self->have_info) return GST_FLOW_NOT_NEGOTIATED;
  if (!GST_CLOCK_TIME_IS_VALID(self->first))  // frame 0 is due now: PLAYING was just reached
    self->first = kling::live::ClockWaiter::running_time(GST_ELEMENT(self));
  GstClockTime pts = frame_time(self, self->n);
  GstClockTime next = frame_time(self, self->n + 1);
  if (!self->waiter->wait_until(GST_ELEMENT(self), pts)) return GST_FLOW_FLUSHING;

  GstBuffer* frame = self->schedule ? self->schedule->frame(pts) : nullptr;
  GstBuffer* buffer;
  if (frame) {
    buffer = gst_buffer_copy(frame);  // shares the memory; our own timestamps
    gst_buffer_unref(frame);
  } else {
    // Nothing to show at all (no slate drawn): black, never a stall.
    buffer = gst_buffer_new_allocate(nullptr, GST_VIDEO_INFO_SIZE(&self->info), nullptr);
    GstVideoFrame vf;
    if (gst_video_frame_map(&vf, &self->info, buffer, GST_MAP_WRITE)) {
      for (guint p = 0; p < GST_VIDEO_FRAME_N_PLANES(&vf); p++)
        memset(GST_VIDEO_FRAME_PLANE_DATA(&vf, p),
               GST_VIDEO_INFO_IS_YUV(&self->info) && p > 0 ? 128 : 16,
               GST_VIDEO_FRAME_PLANE_STRIDE(&vf, p) * GST_VIDEO_FRAME_COMP_HEIGHT(&vf, p));
      gst_video_frame_unmap(&vf);
    }
  }
  GST_BUFFER_PTS(buffer) = pts;
  GST_BUFFER_DTS(buffer) = GST_CLOCK_TIME_NONE;
  GST_BUFFER_DURATION(buffer) = next - pts;
  GST_BUFFER_OFFSET(buffer) = self->n;
  GST_BUFFER_OFFSET_END(buffer) = self->n + 1;
  GST_BUFFER_FLAG_UNSET(buffer, GST_BUFFER_FLAG_DISCONT);
  if (self->n == 0) GST_BUFFER_FLAG_SET(buffer, GST_BUFFER_FLAG_DISCONT);
  self->n++;
  *out = buffer;
  return GST_FLOW_OK;
}

static void gst_kling_live_output_init(GstKlingLiveOutput* self) {
  self->waiter = new kling::live::ClockWaiter();
  self->first = GST_CLOCK_TIME_NONE;
  gst_base_src_set_live(GST_BASE_SRC(self), TRUE);
  gst_base_src_set_format(GST_BASE_SRC(self), GST_FORMAT_TIME);
}

static void gst_kling_live_output_finalize(GObject* object) {
  delete GST_KLING_LIVE_OUTPUT(object)->waiter;
  G_OBJECT_CLASS(gst_kling_live_output_parent_class)->finalize(object);
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
  base_class->unlock = gst_kling_live_output_unlock;
  base_class->unlock_stop = gst_kling_live_output_unlock_stop;
  base_class->query = gst_kling_live_output_query;
  GST_PUSH_SRC_CLASS(klass)->create = gst_kling_live_output_create;
}
