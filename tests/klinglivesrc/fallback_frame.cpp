// SPDX-License-Identifier: LGPL-2.1-or-later
// The black frame klinglivesrc shows when it has no picture of the output's format
// is black and opaque in every format its video pad offers: read back through each
// format's own unpack function, every pixel of every line is Y 16, U and V 128 (YUV,
// grey) or R, G, B 0 (RGB), alpha 255. A memset of 16 and 128 by plane made YUY2 and
// UYVY green (one plane: chroma 16) and left formats with alpha transparent.
#include <gst/video/video.h>

#include <vector>

#include "klinglive/playback/black_frame.h"

namespace {

// The formats klinglivesrc's video pad offers (its template).
std::vector<GstVideoFormat> offered_formats() {
  g_autoptr(GstElementFactory) factory = gst_element_factory_find("klinglivesrc");
  g_assert_nonnull(factory);
  std::vector<GstVideoFormat> out;
  for (const GList* l = gst_element_factory_get_static_pad_templates(factory); l; l = l->next) {
    auto* templ = static_cast<GstStaticPadTemplate*>(l->data);
    if (g_strcmp0(templ->name_template, "video")) continue;
    g_autoptr(GstCaps) caps = gst_static_pad_template_get_caps(templ);
    const GValue* formats = gst_structure_get_value(gst_caps_get_structure(caps, 0), "format");
    for (guint i = 0; i < gst_value_list_get_size(formats); i++)
      out.push_back(
          gst_video_format_from_string(g_value_get_string(gst_value_list_get_value(formats, i))));
  }
  return out;
}

void check_black(GstVideoFormat format, int width, int height) {
  GstVideoInfo info;
  g_assert_true(gst_video_info_set_format(&info, format, width, height));
  GST_VIDEO_INFO_FPS_N(&info) = 30;
  GST_VIDEO_INFO_FPS_D(&info) = 1;
  g_autoptr(GstBuffer) buffer = kling::live::black_frame(info);
  const char* name = gst_video_format_to_string(format);
  if (!buffer) g_error("no black frame in %s", name);
  GstVideoFrame frame;
  g_assert_true(gst_video_frame_map(&frame, &info, buffer, GST_MAP_READ));
  const GstVideoFormatInfo* finfo = info.finfo;
  const bool yuv = GST_VIDEO_FORMAT_INFO_IS_YUV(finfo) || GST_VIDEO_FORMAT_INFO_IS_GRAY(finfo);
  // 8-bit formats unpack to AYUV (A Y U V) or ARGB (A R G B).
  const guint8 want[4] = {255, yuv ? guint8(16) : guint8(0), yuv ? guint8(128) : guint8(0),
                          yuv ? guint8(128) : guint8(0)};
  std::vector<guint8> line(4 * width);
  for (int y = 0; y < height; y++) {
    finfo->unpack_func(finfo, GST_VIDEO_PACK_FLAG_NONE, line.data(), frame.data, frame.info.stride,
                       0, y, width);
    for (int x = 0; x < width; x++)
      for (int c = 0; c < 4; c++)
        if (line[4 * x + c] != want[c])
          g_error("%s %dx%d: pixel %d,%d component %d is %d, not %d", name, width, height, x, y, c,
                  line[4 * x + c], want[c]);
  }
  gst_video_frame_unmap(&frame);
}

void test_black_and_opaque_in_every_format() {
  auto formats = offered_formats();
  g_assert_cmpuint(formats.size(), >=, 18);
  for (GstVideoFormat f : formats) {
    check_black(f, 320, 180);
    check_black(f, 34, 18);  // not a multiple of 4: subsampled edges too
  }
}

}  // namespace

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  g_test_init(&argc, &argv, nullptr);
  g_test_add_func("/klinglivesrc/fallback-frame/black-and-opaque-in-every-format",
                  test_black_and_opaque_in_every_format);
  return g_test_run();
}
