// SPDX-License-Identifier: LGPL-2.1-or-later
#include "klinglive/playback/black_frame.h"

#include <cstring>

namespace kling::live {

GstBuffer* black_frame(const GstVideoInfo& info) {
  // A small AYUV picture scaled up: a solid colour survives scaling and subsampling.
  constexpr int kSide = 16;
  GstVideoInfo ayuv;
  gst_video_info_set_format(&ayuv, GST_VIDEO_FORMAT_AYUV, kSide, kSide);
  GST_VIDEO_INFO_FPS_N(&ayuv) = GST_VIDEO_INFO_FPS_N(&info);  // the converter wants equal rates
  GST_VIDEO_INFO_FPS_D(&ayuv) = GST_VIDEO_INFO_FPS_D(&info);
  g_autoptr(GstBuffer) src = gst_buffer_new_allocate(nullptr, GST_VIDEO_INFO_SIZE(&ayuv), nullptr);
  GstBuffer* dst = gst_buffer_new_allocate(nullptr, GST_VIDEO_INFO_SIZE(&info), nullptr);
  bool ok = false;
  GstVideoFrame in, out;
  if (gst_video_frame_map(&in, &ayuv, src, GST_MAP_WRITE)) {
    for (int y = 0; y < kSide; y++) {
      guint8* row = static_cast<guint8*>(GST_VIDEO_FRAME_PLANE_DATA(&in, 0)) +
                    y * GST_VIDEO_FRAME_PLANE_STRIDE(&in, 0);
      for (int x = 0; x < kSide; x++) {
        const guint8 black[4] = {255, 16, 128, 128};  // A, Y, U, V: opaque, limited-range black
        memcpy(row + 4 * x, black, 4);
      }
    }
    if (gst_video_frame_map(&out, &info, dst, GST_MAP_WRITE)) {
      if (GstVideoConverter* conv = gst_video_converter_new(&ayuv, &info, nullptr)) {
        gst_video_converter_frame(conv, &in, &out);
        gst_video_converter_free(conv);
        ok = true;
      }
      gst_video_frame_unmap(&out);
    }
    gst_video_frame_unmap(&in);
  }
  if (!ok) gst_clear_buffer(&dst);
  return dst;
}

}  // namespace kling::live
