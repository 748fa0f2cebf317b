// SPDX-License-Identifier: LGPL-2.1-or-later
// What the disclosure suites read in a frame: bright pixels (the text, white) in
// the bottom-right quarter, and whether the frame is the black clip or the red
// slate image the fixtures make; and the kling-generated tags of a tag event.
#pragma once

#include <gst/gst.h>
#include <gst/video/video.h>

#include <string>

#include "support/fake_wavespeed.h"
#include "support/pipeline_run.h"

struct FrameMarks {
  int bright = 0;      // luma > 160 in the bottom-right quarter
  bool red = false;    // the slate image (top-left corner red)
  bool black = false;  // the clip (top-left corner black)
};

// `buffer` as negotiated on `pad` (I420).
inline FrameMarks frame_marks(GstPad* pad, GstBuffer* buffer) {
  FrameMarks m;
  g_autoptr(GstCaps) caps = gst_pad_get_current_caps(pad);
  GstVideoInfo info;
  g_assert_true(gst_video_info_from_caps(&info, caps));
  g_assert_cmpint(GST_VIDEO_INFO_FORMAT(&info), ==, GST_VIDEO_FORMAT_I420);
  GstVideoFrame frame;
  g_assert_true(gst_video_frame_map(&frame, &info, buffer, GST_MAP_READ));
  const int w = GST_VIDEO_FRAME_WIDTH(&frame), h = GST_VIDEO_FRAME_HEIGHT(&frame);
  const guint8* y = static_cast<const guint8*>(GST_VIDEO_FRAME_PLANE_DATA(&frame, 0));
  const guint8* v = static_cast<const guint8*>(GST_VIDEO_FRAME_PLANE_DATA(&frame, 2));
  const int ys = GST_VIDEO_FRAME_PLANE_STRIDE(&frame, 0);
  const int vs = GST_VIDEO_FRAME_PLANE_STRIDE(&frame, 2);
  for (int row = h / 2; row < h; row++)
    for (int col = w / 2; col < w; col++)
      if (y[row * ys + col] > 160) m.bright++;
  m.red = v[2 * vs + 2] > 200;  // V of pure red is 240
  m.black = y[4 * ys + 4] < 40 && v[2 * vs + 2] > 100 && v[2 * vs + 2] < 156;
  gst_video_frame_unmap(&frame);
  return m;
}

// The kling-generated tag and the comment of a tag event; false when it has none.
inline bool generated_tags(GstEvent* event, std::string* generated, std::string* comment) {
  if (GST_EVENT_TYPE(event) != GST_EVENT_TAG) return false;
  GstTagList* tags = nullptr;
  gst_event_parse_tag(event, &tags);
  g_autofree char* g = nullptr;
  if (!gst_tag_list_get_string(tags, "kling-generated", &g)) return false;
  g_autofree char* c = nullptr;
  gst_tag_list_get_string(tags, GST_TAG_COMMENT, &c);
  *generated = g;
  *comment = c ? c : "";
  return true;
}

// A 1 s black 320x180 clip (for the emulator's --video-file) and a red PNG (the slate).
struct DisclosureFixtures {
  char* dir = nullptr;
  std::string clip, slate;
  DisclosureFixtures() {
    dir = g_dir_make_tmp("kling-disclosure-XXXXXX", nullptr);
    clip = std::string(dir) + "/black.mp4";
    slate = std::string(dir) + "/red.png";
    run_to_eos(
        "videotestsrc pattern=black num-buffers=25 ! "
        "video/x-raw,width=320,height=180,framerate=25/1 ! x264enc ! mp4mux ! "
        "filesink location=" +
        clip);
    write_png(slate, "red", 320, 180);
  }
  ~DisclosureFixtures() { remove_scratch_dir(dir); }
};
