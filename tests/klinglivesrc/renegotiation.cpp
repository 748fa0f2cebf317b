// SPDX-License-Identifier: LGPL-2.1-or-later
// klinglivesrc renegotiated while playing (a capsfilter downstream changed to
// another size): no buffer reaches the sink under caps it does not fit. Frames
// the clip decoded ahead at the old size are dropped, the frame held (hold, or
// between frames) is scaled to the new size, and the clip goes on in the new size.
#include <gst/gst.h>
#include <gst/video/video.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "support/emulator_process.h"

namespace {

struct Seen {
  std::mutex mutex;
  int buffers = 0;
  int misfits = 0;      // size differs from what the caps say
  int at_new_size = 0;  // buffers under the second caps
  int clip_at_new = 0;  // of those, a clip's (the emulator's blue, not the grey slate)
  std::string first_misfit;
  int clip_starts = 0, clip_ends = 0;
};

// The mean U in the middle of an I420 frame: ~128 grey (slate, black), ~147 the emulator's blue.
bool is_clip(const GstVideoInfo& info, GstBuffer* buffer) {
  GstVideoFrame vf;
  if (!gst_video_frame_map(&vf, const_cast<GstVideoInfo*>(&info), buffer, GST_MAP_READ))
    return false;
  const guint8* u = static_cast<const guint8*>(GST_VIDEO_FRAME_PLANE_DATA(&vf, 1));
  const int stride = GST_VIDEO_FRAME_PLANE_STRIDE(&vf, 1);
  const int w = GST_VIDEO_FRAME_COMP_WIDTH(&vf, 1), h = GST_VIDEO_FRAME_COMP_HEIGHT(&vf, 1);
  guint64 sum = 0, n = 0;
  for (int y = h / 4; y < h * 3 / 4; y++)
    for (int x = w * 3 / 8; x < w * 5 / 8; x++, n++) sum += u[y * stride + x];
  gst_video_frame_unmap(&vf);
  return n && sum / n > 136;
}

GstPadProbeReturn on_buffer(GstPad* pad, GstPadProbeInfo* info, gpointer data) {
  auto* seen = static_cast<Seen*>(data);
  GstBuffer* buffer = GST_PAD_PROBE_INFO_BUFFER(info);
  g_autoptr(GstCaps) caps = gst_pad_get_current_caps(pad);
  GstVideoInfo vinfo;
  g_assert_true(caps && gst_video_info_from_caps(&vinfo, caps));
  const bool fits = gst_buffer_get_size(buffer) == GST_VIDEO_INFO_SIZE(&vinfo);
  const bool new_size = GST_VIDEO_INFO_WIDTH(&vinfo) == 160;
  const bool clip = fits && is_clip(vinfo, buffer);
  std::lock_guard<std::mutex> lock(seen->mutex);
  seen->buffers++;
  if (!fits && seen->misfits++ == 0) {
    g_autofree char* text = gst_caps_to_string(caps);
    seen->first_misfit = std::to_string(gst_buffer_get_size(buffer)) + " bytes under " + text;
  }
  if (new_size) {
    seen->at_new_size++;
    seen->clip_at_new += clip;
  }
  return GST_PAD_PROBE_OK;
}

GstBusSyncReply on_message(GstBus*, GstMessage* msg, gpointer data) {
  auto* seen = static_cast<Seen*>(data);
  if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ELEMENT && gst_message_has_name(msg, "kling/live")) {
    const char* event = gst_structure_get_string(gst_message_get_structure(msg), "event");
    std::lock_guard<std::mutex> lock(seen->mutex);
    seen->clip_starts += !g_strcmp0(event, "clip-start");
    seen->clip_ends += !g_strcmp0(event, "clip-end");
  }
  return GST_BUS_PASS;
}

bool wait_for(const std::function<bool()>& done, int timeout_s) {
  for (gint64 end = g_get_monotonic_time() + timeout_s * G_USEC_PER_SEC;
       g_get_monotonic_time() < end; g_usleep(20 * 1000))
    if (done()) return true;
  return false;
}

// Plays a clip with `when_idle`, waits for `moment` (the clip playing, or held after its
// end), then changes the capsfilter from 320x180 to 160x90; every buffer must fit its caps.
void renegotiate(const char* when_idle, bool after_end) {
  auto emu = start_emulator({});
  std::string desc = std::string("klinglivesrc name=src when-idle=") + when_idle +
                     " ! capsfilter name=cf caps=video/x-raw,format=I420,width=320,height=180"
                     " ! fakesink name=sink sync=true";
  g_autoptr(GstElement) pipeline = gst_parse_launch(desc.c_str(), nullptr);
  g_assert_nonnull(pipeline);
  g_autoptr(GstElement) src = gst_bin_get_by_name(GST_BIN(pipeline), "src");
  g_autoptr(GstElement) cf = gst_bin_get_by_name(GST_BIN(pipeline), "cf");
  g_autoptr(GstElement) sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink");
  g_object_set(src, "api-url", emu->api.c_str(), "api-key", "emulator-key", "poll-interval", 50u,
               "journal", "", "prompt", "a fox", nullptr);
  Seen seen;
  g_autoptr(GstPad) pad = gst_element_get_static_pad(sink, "sink");
  gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, on_buffer, &seen, nullptr);
  g_autoptr(GstBus) bus = gst_element_get_bus(pipeline);
  gst_bus_set_sync_handler(bus, on_message, &seen, nullptr);
  g_assert_cmpint(gst_element_set_state(pipeline, GST_STATE_PLAYING), !=, GST_STATE_CHANGE_FAILURE);
  auto started = [&] {
    std::lock_guard<std::mutex> lock(seen.mutex);
    return after_end ? seen.clip_ends > 0 : seen.clip_starts > 0;
  };
  g_assert_true(wait_for(started, 30));
  g_usleep(500 * 1000);  // the appsink has frames decoded ahead at 320x180 by now
  g_autoptr(GstCaps) small = gst_caps_from_string("video/x-raw,format=I420,width=160,height=90");
  g_object_set(cf, "caps", small, nullptr);
  auto enough = [&] {
    std::lock_guard<std::mutex> lock(seen.mutex);
    return seen.at_new_size >= 30;
  };
  const bool renegotiated = wait_for(enough, 10);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  g_assert_true(renegotiated);
  std::lock_guard<std::mutex> lock(seen.mutex);
  if (seen.misfits)
    g_error("%d of %d buffers do not fit their caps; the first: %s", seen.misfits, seen.buffers,
            seen.first_misfit.c_str());
  // The clip (or its held frame) goes on at the new size: not the slate, not black.
  g_assert_cmpint(seen.clip_at_new, >=, 25);
}

void test_while_a_clip_plays() {
  renegotiate("loop", false);
}
void test_while_its_last_frame_is_held() {
  renegotiate("hold", true);
}

}  // namespace

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  g_test_init(&argc, &argv, nullptr);
  g_test_add_func("/klinglivesrc/renegotiation/while-a-clip-plays-every-buffer-fits",
                  test_while_a_clip_plays);
  g_test_add_func("/klinglivesrc/renegotiation/while-the-last-frame-is-held-every-buffer-fits",
                  test_while_its_last_frame_is_held);
  return g_test_run();
}
