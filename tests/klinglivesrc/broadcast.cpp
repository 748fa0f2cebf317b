// SPDX-License-Identifier: LGPL-2.1-or-later
// klinglivesrc in the pipelines a broadcaster runs, against kling-emulator: H.264 in
// streamable FLV (what rtmpsink sends) and HLS segments from hlssink2, across the
// switch from the slate to a clip. Each recording is read back and its timestamps
// must run on, frame after frame, without a gap.
#include <glib/gstdio.h>
#include <gst/gst.h>

#include <string>
#include <vector>

#include "broadcast_story.h"

namespace {

constexpr GstClockTime kPeriod = GST_SECOND / 30;
constexpr const char* kLive =
    "klinglivesrc name=src prompt=\"a red fox\" ! video/x-raw,width=320,height=180,framerate=30/1 "
    "! videoconvert ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 ! h264parse ";

GstPadProbeReturn collect(GstPad*, GstPadProbeInfo* info, gpointer data) {
  static_cast<std::vector<GstClockTime>*>(data)->push_back(
      GST_BUFFER_PTS(GST_PAD_PROBE_INFO_BUFFER(info)));
  return GST_PAD_PROBE_OK;
}

// The presentation times of the H.264 frames in `path`, demuxed by `demux`.
std::vector<GstClockTime> frame_times(const std::string& path, const char* demux) {
  std::string desc = "filesrc name=f ! " + std::string(demux) + " ! h264parse name=p ! fakesink";
  g_autoptr(GstElement) pipeline = gst_parse_launch(desc.c_str(), nullptr);
  g_autoptr(GstElement) f = gst_bin_get_by_name(GST_BIN(pipeline), "f");
  g_object_set(f, "location", path.c_str(), nullptr);
  g_autoptr(GstElement) p = gst_bin_get_by_name(GST_BIN(pipeline), "p");
  g_autoptr(GstPad) pad = gst_element_get_static_pad(p, "src");
  std::vector<GstClockTime> times;
  gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, collect, &times, nullptr);
  play_to_eos(pipeline);
  return times;
}

// Each frame one period after the previous, within the container's rounding.
void assert_no_gap(const std::vector<GstClockTime>& times, GstClockTime rounding) {
  for (size_t i = 1; i < times.size(); i++) {
    GstClockTimeDiff step = GST_CLOCK_DIFF(times[i - 1], times[i]);
    if (step < (GstClockTimeDiff)(kPeriod - rounding) ||
        step > (GstClockTimeDiff)(kPeriod + rounding))
      g_error("frame %zu comes %" G_GINT64_FORMAT " us after the previous one", i, step / 1000);
  }
}

// The emulator answers after 1.5 s: the recording holds the slate, then the clip.
void test_flv() {
  auto emu = start_emulator({}, 1500);
  g_autofree char* dir = g_dir_make_tmp("kling-live-flv-XXXXXX", nullptr);
  std::string out = std::string(dir) + "/live.flv";
  g_assert_true(
      record(*emu, std::string(kLive) + "! flvmux streamable=true ! filesink location=" + out, 5));
  auto times = frame_times(out, "flvdemux");
  g_assert_cmpuint(times.size(), >=, 140);  // about 5 s at 30 fps
  assert_no_gap(times, GST_MSECOND);        // FLV keeps milliseconds
  g_assert_true(emu->log().find("\"method\":\"POST\"") != std::string::npos);
}

// The segments live.m3u8 in `d` lists, as one stream as a player joins them (tsdemux
// makes each file start at 0 on its own): d/joined.ts.
std::string join_segments(const std::string& d, int* segments) {
  g_autofree char* playlist = nullptr;
  g_assert_true(g_file_get_contents((d + "/live.m3u8").c_str(), &playlist, nullptr, nullptr));
  g_auto(GStrv) lines = g_strsplit(playlist, "\n", -1);
  std::string joined;
  for (char** l = lines; *l; l++) {
    if (!g_str_has_suffix(*l, ".ts")) continue;
    g_autofree char* data = nullptr;
    gsize size = 0;
    g_assert_true(g_file_get_contents((d + "/" + *l).c_str(), &data, &size, nullptr));
    g_assert_cmpuint(size, >, 0);
    joined.append(data, size);
    (*segments)++;
  }
  const std::string path = d + "/joined.ts";
  g_assert_true(g_file_set_contents(path.c_str(), joined.data(), joined.size(), nullptr));
  return path;
}

void test_hls() {
  auto emu = start_emulator({}, 1500);
  g_autofree char* dir = g_dir_make_tmp("kling-live-hls-XXXXXX", nullptr);
  std::string d = dir;
  // On 1.22 hlssink2 may lose the final EOS (its splitmuxsink): the segments the
  // playlist lists are complete either way.
  record(*emu,
         std::string(kLive) +
             "! hlssink2 target-duration=1 max-files=0 playlist-length=0 location=" + d +
             "/seg%05d.ts playlist-location=" + d + "/live.m3u8",
         6);
  int segments = 0;
  auto all = frame_times(join_segments(d, &segments), "tsdemux");
  g_assert_cmpint(segments, >=, 4);
  g_assert_cmpuint(all.size(), >=, 120);
  // Segment after segment, the frames run on: no gap at a cut, none at the switch.
  assert_no_gap(all, GST_MSECOND / 10);
}

// Through flvmux, which writes neither tag into the file (it keeps title and artist).
void test_flv_disclosure_story() {
  g_autofree char* dir = g_dir_make_tmp("kling-live-flv-story-XXXXXX", nullptr);
  const std::string out = std::string(dir) + "/live.flv";
  record_story(dir, "flvmux streamable=true ! filesink location=" + out, 5);
  Marked seen;
  decoded_marks("filesrc location=" + out +
                    " ! flvdemux ! h264parse ! avdec_h264 ! videoconvert ! "
                    "video/x-raw,format=I420 ! fakesink name=sink",
                &seen);
  assert_text_on_clip_frames_only(seen);
  remove_scratch_dir(g_steal_pointer(&dir));
}

// Through hlssink2 (mpegtsmux keeps no tag): the segments joined as a player does.
void test_hls_disclosure_story() {
  g_autofree char* dir = g_dir_make_tmp("kling-live-hls-story-XXXXXX", nullptr);
  const std::string d = dir;
  record_story(d,
               "hlssink2 target-duration=1 max-files=0 playlist-length=0 location=" + d +
                   "/seg%05d.ts playlist-location=" + d + "/live.m3u8",
               6);
  int segments = 0;
  const std::string joined = join_segments(d, &segments);
  Marked seen;
  decoded_marks("filesrc location=" + joined +
                    " ! tsdemux ! h264parse ! avdec_h264 ! videoconvert ! "
                    "video/x-raw,format=I420 ! fakesink name=sink",
                &seen);
  assert_text_on_clip_frames_only(seen);
  remove_scratch_dir(g_steal_pointer(&dir));
}

}  // namespace

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  g_test_init(&argc, &argv, nullptr);
  g_test_add_func("/klinglivesrc-broadcast/x264-flvmux-timestamps-without-gap", test_flv);
  g_test_add_func("/klinglivesrc-broadcast/hlssink2-segments-without-gap", test_hls);
  g_test_add_func("/klinglivesrc-broadcast/x264-flvmux-disclosure-on-clip-frames-and-tags",
                  test_flv_disclosure_story);
  g_test_add_func("/klinglivesrc-broadcast/hlssink2-disclosure-on-clip-frames-and-tags",
                  test_hls_disclosure_story);
  return g_test_run();
}
