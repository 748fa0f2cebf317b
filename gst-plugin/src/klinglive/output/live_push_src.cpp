// SPDX-License-Identifier: LGPL-2.1-or-later
#include "klinglive/output/live_push_src.h"

#include <new>
#include <utility>

GST_DEBUG_CATEGORY_EXTERN(gst_kling_live_src_debug);
#define GST_CAT_DEFAULT gst_kling_live_src_debug

namespace {

// Under the object lock: set_caps, create and the push (streaming thread), the
// state change and LATENCY (any thread).
struct Timing {
  gint rate_n = 30, rate_d = 1;  // units a second: the subclass's default until caps
  guint units = 1;               // a buffer
  bool negotiated = false;
  guint64 offset = 0;   // units pushed since start: the next buffer's GST_BUFFER_OFFSET
  guint64 rebased = 0;  // the offset `origin` is the running time of
  GstClockTime origin = GST_CLOCK_TIME_NONE;
  bool resync = false;  // the next buffer is the first since PLAYING: due now

  GstClockTime at(guint64 o) const {
    return origin +
           gst_util_uint64_scale(o - rebased, GST_SECOND * static_cast<guint64>(rate_d), rate_n);
  }
  GstClockTime buffer_duration() const {
    return gst_util_uint64_scale(units, GST_SECOND * static_cast<guint64>(rate_d), rate_n);
  }
};

}  // namespace

using GstKlingLivePushSrcPrivate = Timing;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE(GstKlingLivePushSrc, gst_kling_live_push_src, GST_TYPE_PUSH_SRC)

static Timing& timing(GstKlingLivePushSrc* src) {
  return *static_cast<Timing*>(gst_kling_live_push_src_get_instance_private(src));
}

void gst_kling_live_push_src_set_rate(GstKlingLivePushSrc* src, gint rate_n, gint rate_d,
                                      guint units_per_buffer) {
  g_return_if_fail(rate_n > 0 && rate_d > 0 && units_per_buffer > 0);
  GST_OBJECT_LOCK(src);
  Timing& t = timing(src);
  if (GST_CLOCK_TIME_IS_VALID(t.origin)) {
    t.origin = t.at(t.offset);
    t.rebased = t.offset;
  }
  t.rate_n = rate_n;
  t.rate_d = rate_d;
  t.units = units_per_buffer;
  t.negotiated = true;
  GST_OBJECT_UNLOCK(src);
}

static GstClockTime running_time_now(GstElement* element) {
  g_autoptr(GstClock) clock = gst_element_get_clock(element);
  if (!clock) return 0;
  GstClockTime now = gst_clock_get_time(clock), base = gst_element_get_base_time(element);
  return now > base ? now - base : 0;
}

static gboolean gst_kling_live_push_src_start(GstBaseSrc* base) {
  auto* src = GST_KLING_LIVE_PUSH_SRC(base);
  GST_OBJECT_LOCK(src);
  Timing& t = timing(src);
  t.negotiated = false;  // the rate stays: LATENCY is answered before caps too
  t.offset = t.rebased = 0;
  t.origin = GST_CLOCK_TIME_NONE;
  GST_OBJECT_UNLOCK(src);
  return TRUE;
}

static GstFlowReturn gst_kling_live_push_src_create(GstPushSrc* push, GstBuffer** out) {
  auto* src = GST_KLING_LIVE_PUSH_SRC(push);
  GstClockTime now = running_time_now(GST_ELEMENT(src));  // outside the object lock
  GST_OBJECT_LOCK(src);
  Timing& t = timing(src);
  if (!t.negotiated) {
    GST_OBJECT_UNLOCK(src);
    return GST_FLOW_NOT_NEGOTIATED;
  }
  // Unit 0 is due now: PLAYING was just reached (or the pad just added).
  if (!GST_CLOCK_TIME_IS_VALID(t.origin)) t.origin = now;
  const guint64 offset = t.offset;
  const guint units = t.units;
  const GstClockTime pts = t.at(offset), duration = t.at(offset + units) - pts;
  GST_OBJECT_UNLOCK(src);

  GstBuffer* buffer = nullptr;
  GstFlowReturn ret = GST_KLING_LIVE_PUSH_SRC_GET_CLASS(src)->make(src, pts, duration, &buffer);
  if (ret != GST_FLOW_OK) return ret;
  GST_BUFFER_PTS(buffer) = pts;
  GST_BUFFER_DTS(buffer) = GST_CLOCK_TIME_NONE;
  GST_BUFFER_DURATION(buffer) = duration;
  GST_BUFFER_OFFSET(buffer) = offset;
  GST_BUFFER_OFFSET_END(buffer) = offset + units;
  if (offset == 0)
    GST_BUFFER_FLAG_SET(buffer, GST_BUFFER_FLAG_DISCONT);
  else
    GST_BUFFER_FLAG_UNSET(buffer, GST_BUFFER_FLAG_DISCONT);
  *out = buffer;
  return GST_FLOW_OK;
}

// GstBaseSrc waits until the clock reaches `start` (+ base time) before pushing.
// The first buffer after PLAYING is due now and gets no start: GstBaseSrc would
// otherwise shift every timestamp after it by the time it took to make
// (its ts_offset), and they would no longer be the running times the
// schedule was asked for.
static void gst_kling_live_push_src_get_times(GstBaseSrc* base, GstBuffer* buffer,
                                              GstClockTime* start, GstClockTime* end) {
  auto* src = GST_KLING_LIVE_PUSH_SRC(base);
  GST_OBJECT_LOCK(src);
  const bool resync = std::exchange(timing(src).resync, false);
  GST_OBJECT_UNLOCK(src);
  if (resync) return;
  *start = GST_BUFFER_PTS(buffer);
  if (GST_CLOCK_TIME_IS_VALID(*start) && GST_BUFFER_DURATION_IS_VALID(buffer))
    *end = *start + GST_BUFFER_DURATION(buffer);
}

// The next buffer follows the last one pushed, not the last one made: a buffer
// waiting when the pipeline pauses is dropped by GstBaseSrc, and its time comes again.
static GstPadProbeReturn on_pushed(GstPad*, GstPadProbeInfo* info, gpointer data) {
  auto* src = GST_KLING_LIVE_PUSH_SRC(data);
  GstBuffer* buffer = GST_PAD_PROBE_INFO_BUFFER(info);
  GST_OBJECT_LOCK(src);
  timing(src).offset = GST_BUFFER_OFFSET_END(buffer);
  GST_OBJECT_UNLOCK(src);
  return GST_PAD_PROBE_OK;
}

static GstStateChangeReturn gst_kling_live_push_src_change_state(GstElement* element,
                                                                 GstStateChange transition) {
  auto* src = GST_KLING_LIVE_PUSH_SRC(element);
  if (transition == GST_STATE_CHANGE_PAUSED_TO_PLAYING) {
    GST_OBJECT_LOCK(src);
    timing(src).resync = true;
    GST_OBJECT_UNLOCK(src);
  }
  return GST_ELEMENT_CLASS(gst_kling_live_push_src_parent_class)->change_state(element, transition);
}

static gboolean gst_kling_live_push_src_query(GstBaseSrc* base, GstQuery* query) {
  auto* src = GST_KLING_LIVE_PUSH_SRC(base);
  if (GST_QUERY_TYPE(query) == GST_QUERY_LATENCY) {
    GST_OBJECT_LOCK(src);
    GstClockTime latency = timing(src).buffer_duration();
    GST_OBJECT_UNLOCK(src);
    // A buffer is made, then pushed when due: one buffer's time to reach the
    // sink. Buffers are never dropped by waiting: no maximum.
    gst_query_set_latency(query, TRUE, latency, GST_CLOCK_TIME_NONE);
    return TRUE;
  }
  return GST_BASE_SRC_CLASS(gst_kling_live_push_src_parent_class)->query(base, query);
}

static void gst_kling_live_push_src_init(GstKlingLivePushSrc* src) {
  new (gst_kling_live_push_src_get_instance_private(src)) Timing();  // trivially destructible
  gst_base_src_set_live(GST_BASE_SRC(src), TRUE);
  gst_base_src_set_format(GST_BASE_SRC(src), GST_FORMAT_TIME);
  gst_pad_add_probe(GST_BASE_SRC_PAD(src), GST_PAD_PROBE_TYPE_BUFFER, on_pushed, src, nullptr);
}

static void gst_kling_live_push_src_class_init(GstKlingLivePushSrcClass* klass) {
  auto* base_class = GST_BASE_SRC_CLASS(klass);
  GST_ELEMENT_CLASS(klass)->change_state = gst_kling_live_push_src_change_state;
  base_class->start = gst_kling_live_push_src_start;
  base_class->get_times = gst_kling_live_push_src_get_times;
  base_class->query = gst_kling_live_push_src_query;
  GST_PUSH_SRC_CLASS(klass)->create = gst_kling_live_push_src_create;
}
