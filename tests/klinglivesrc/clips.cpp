// SPDX-License-Identifier: LGPL-2.1-or-later
#include "clips.h"

#include <gst/app/gstappsrc.h>
#include <gst/gst.h>

#include <cstring>

namespace {

constexpr int kRate = 48000;
constexpr int kIndexU = 200;  // an indexed clip's chroma: told from the slate's grey
constexpr int kIndexStep = 3;

GstBuffer* video_frame(const ClipSpec& spec, int i) {
  const int w = spec.width, h = spec.height;
  const gsize ysize = static_cast<gsize>(w) * h, csize = ysize / 4;
  GstBuffer* buffer = gst_buffer_new_allocate(nullptr, ysize + 2 * csize, nullptr);
  Yuv c = spec.colour(i);
  GstMapInfo map;
  gst_buffer_map(buffer, &map, GST_MAP_WRITE);
  memset(map.data, c.y, ysize);
  memset(map.data + ysize, c.u, csize);
  memset(map.data + ysize + csize, c.v, csize);
  gst_buffer_unmap(buffer, &map);
  GST_BUFFER_PTS(buffer) = gst_util_uint64_scale(i, GST_SECOND, spec.fps);
  GST_BUFFER_DURATION(buffer) =
      gst_util_uint64_scale(i + 1, GST_SECOND, spec.fps) - GST_BUFFER_PTS(buffer);
  return buffer;
}

GstBuffer* audio_chunk(const ClipSpec& spec, guint64 first, guint64 n) {
  GstBuffer* buffer = gst_buffer_new_allocate(nullptr, n * 4, nullptr);
  GstMapInfo map;
  gst_buffer_map(buffer, &map, GST_MAP_WRITE);
  auto* s = reinterpret_cast<gint16*>(map.data);
  for (guint64 k = 0; k < n; k++) s[2 * k] = s[2 * k + 1] = spec.sound(first + k);
  gst_buffer_unmap(buffer, &map);
  GST_BUFFER_PTS(buffer) = gst_util_uint64_scale(first, GST_SECOND, kRate);
  GST_BUFFER_DURATION(buffer) =
      gst_util_uint64_scale(first + n, GST_SECOND, kRate) - GST_BUFFER_PTS(buffer);
  return buffer;
}

}  // namespace

void make_clip(const std::string& path, const ClipSpec& spec) {
  g_autofree char* desc = g_strdup_printf(
      "appsrc name=v format=time caps=video/x-raw,format=I420,width=%d,height=%d,framerate=%d/1"
      " ! x264enc speed-preset=ultrafast pass=quant quantizer=12 key-int-max=%d ! h264parse"
      " ! mp4mux name=m ! filesink location=\"%s\"%s",
      spec.width, spec.height, spec.fps, spec.fps, path.c_str(),
      spec.audio_samples ? " appsrc name=a format=time"
                           " caps=audio/x-raw,format=S16LE,layout=interleaved,rate=48000,channels=2"
                           " ! audioconvert ! avenc_aac ! aacparse ! m."
                         : "");
  g_autoptr(GError) error = nullptr;
  g_autoptr(GstElement) pipeline = gst_parse_launch(desc, &error);
  g_assert_no_error(error);
  g_autoptr(GstElement) v = gst_bin_get_by_name(GST_BIN(pipeline), "v");
  g_autoptr(GstElement) a = gst_bin_get_by_name(GST_BIN(pipeline), "a");
  g_assert_cmpint(gst_element_set_state(pipeline, GST_STATE_PLAYING), !=, GST_STATE_CHANGE_FAILURE);
  for (int i = 0; i < spec.frames; i++)
    gst_app_src_push_buffer(GST_APP_SRC(v), video_frame(spec, i));
  gst_app_src_end_of_stream(GST_APP_SRC(v));
  if (a) {
    for (guint64 s = 0; s < spec.audio_samples; s += 1024)
      gst_app_src_push_buffer(GST_APP_SRC(a),
                              audio_chunk(spec, s, MIN(1024, spec.audio_samples - s)));
    gst_app_src_end_of_stream(GST_APP_SRC(a));
  }
  g_autoptr(GstBus) bus = gst_element_get_bus(pipeline);
  g_autoptr(GstMessage) msg = gst_bus_timed_pop_filtered(
      bus, 60 * GST_SECOND, GstMessageType(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  g_assert_nonnull(msg);
  g_assert_cmpint(GST_MESSAGE_TYPE(msg), ==, GST_MESSAGE_EOS);
  gst_element_set_state(pipeline, GST_STATE_NULL);
}

ClipSpec indexed_clip(int frames) {
  ClipSpec spec;
  spec.frames = frames;
  spec.colour = [](int i) {
    return Yuv{static_cast<guint8>(16 + kIndexStep * i), static_cast<guint8>(kIndexU), 128};
  };
  return spec;
}

int frame_index(const guint8* y, int stride, int width, int height, int u_mean) {
  if (u_mean < kIndexU - 20) return -1;
  guint64 sum = 0, n = 0;
  for (int r = height / 4; r < height * 3 / 4; r++)
    for (int x = width / 4; x < width * 3 / 4; x++, n++) sum += y[r * stride + x];
  return static_cast<int>((static_cast<double>(sum) / n - 16 + kIndexStep / 2.0) / kIndexStep);
}
