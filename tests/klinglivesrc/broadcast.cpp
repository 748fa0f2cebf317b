// SPDX-License-Identifier: LGPL-2.1-or-later
// klinglivesrc in the pipelines a broadcaster runs, against kling-emulator: H.264 in
// streamable FLV (what rtmpsink sends) and HLS segments from hlssink2, across the
// switch from the slate to a clip. Each recording is read back and its timestamps
// must run on, frame after frame, without a gap.
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <json-glib/json-glib.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "disclosure_frames.h"
#include "support/emulator_process.h"

namespace {

constexpr GstClockTime kPeriod = GST_SECOND / 30;
constexpr const char* kLive =
    "klinglivesrc name=src prompt=\"a red fox\" ! video/x-raw,width=320,height=180,framerate=30/1 "
    "! videoconvert ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 ! h264parse ";

// Runs `desc` live for `seconds`, then EOS; true if the EOS got through in time.
// `setup` sees the pipeline before it plays.
bool record(const Emulator& emu, const std::string& desc, int seconds,
            const std::function<void(GstElement*)>& setup = {}) {
  g_autoptr(GError) error = nullptr;
  g_autoptr(GstElement) pipeline = gst_parse_launch(desc.c_str(), &error);
  g_assert_no_error(error);
  g_autoptr(GstElement) src = gst_bin_get_by_name(GST_BIN(pipeline), "src");
  g_object_set(src, "api-url", emu.api.c_str(), "api-key", "emulator-key", "poll-interval", 50u,
               "journal", "", nullptr);
  if (setup) setup(pipeline);
  g_assert_cmpint(gst_element_set_state(pipeline, GST_STATE_PLAYING), !=, GST_STATE_CHANGE_FAILURE);
  g_autoptr(GstBus) bus = gst_element_get_bus(pipeline);
  GstMessage* msg = gst_bus_timed_pop_filtered(bus, seconds * GST_SECOND, GST_MESSAGE_ERROR);
  g_assert_null(msg);
  gst_element_send_event(pipeline, gst_event_new_eos());
  msg = gst_bus_timed_pop_filtered(bus, 10 * GST_SECOND,
                                   GstMessageType(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  bool eos = msg && GST_MESSAGE_TYPE(msg) == GST_MESSAGE_EOS;
  if (msg) {
    g_assert_cmpint(GST_MESSAGE_TYPE(msg), ==, GST_MESSAGE_EOS);
    gst_message_unref(msg);
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
  return eos;
}

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

struct Marked {
  std::mutex mutex;
  std::vector<FrameMarks> frames;
  std::vector<std::string> generated, comments;  // tag events, in order
};

GstPadProbeReturn mark(GstPad* pad, GstPadProbeInfo* info, gpointer data) {
  auto* m = static_cast<Marked*>(data);
  std::lock_guard<std::mutex> lock(m->mutex);
  if (GstEvent* event = GST_PAD_PROBE_INFO_EVENT(info); event && GST_IS_EVENT(event)) {
    std::string generated, comment;
    // The encoder and the parser send the tags again with their own (bitrate...): one
    // entry per clip.
    if (generated_tags(event, &generated, &comment) &&
        (m->generated.empty() || m->generated.back() != generated)) {
      m->generated.push_back(generated);
      m->comments.push_back(comment);
    }
  } else {
    m->frames.push_back(frame_marks(pad, GST_PAD_PROBE_INFO_BUFFER(info)));
  }
  return GST_PAD_PROBE_OK;
}

// Plays `desc` (a recording made) to its end, with `into` getting each frame of the
// element named "sink" (I420).
void decoded_marks(const std::string& desc, Marked* into) {
  g_autoptr(GstElement) pipeline = gst_parse_launch(desc.c_str(), nullptr);
  g_assert_nonnull(pipeline);
  g_autoptr(GstElement) sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink");
  g_autoptr(GstPad) pad = gst_element_get_static_pad(sink, "sink");
  gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, mark, into, nullptr);
  play_to_eos(pipeline);
}

// A story of two clips with a disclosure, recorded through x264enc ! `tail` for `seconds`
// into `dir`: the muxer received the kling-generated tags of each clip (the second from
// the i2v model) with the text as comment; the frame the second clip was made from (the
// image uploaded, read back from the emulator's storage) is the clip's own, black,
// without the text: the disclosure never feeds back into the story.
void record_story(const std::string& dir, const std::string& tail, int seconds) {
  DisclosureFixtures fx;
  auto emu = start_emulator({"--video-file", fx.clip});
  const std::string playlist = dir + "/story.txt";
  g_assert_true(g_file_set_contents(playlist.c_str(), "a black fox\nthe fox turns\n", -1, nullptr));
  Marked sent;
  record(*emu,
         "klinglivesrc name=src continue=true when-idle=slate disclosure=AI-generated "
         "model=kwaivgi/kling-v1.6-t2v-standard slate-location=" +
             fx.slate + " playlist=" + playlist +
             " ! video/x-raw,width=320,height=180,framerate=30/1 ! videoconvert ! x264enc "
             "tune=zerolatency speed-preset=ultrafast key-int-max=30 ! h264parse name=parse ! " +
             tail,
         seconds, [&sent](GstElement* pipeline) {
           // What the muxer receives (its pad is requested only once the caps are known).
           g_autoptr(GstElement) parse = gst_bin_get_by_name(GST_BIN(pipeline), "parse");
           g_autoptr(GstPad) pad = gst_element_get_static_pad(parse, "src");
           gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, mark, &sent, nullptr);
         });
  g_assert_cmpuint(sent.generated.size(), ==, 2);
  g_assert_true(g_str_has_prefix(sent.generated[0].c_str(),
                                 "model=kwaivgi/kling-v1.6-t2v-standard, task-id="));
  g_assert_true(
      g_str_has_prefix(sent.generated[1].c_str(), "model=kwaivgi/kling-v2.1-i2v-master, task-id="));
  for (const auto& c : sent.comments) g_assert_cmpstr(c.c_str(), ==, "AI-generated");

  // The image the second submit sent, fetched back from the emulator's storage.
  std::string image;
  g_auto(GStrv) lines = g_strsplit(emu->log().c_str(), "\n", -1);
  for (char** line = lines; *line; line++) {
    if (!strstr(*line, "\"path\":\"/api/v3/kwaivgi/kling-v2.1-i2v-master\"")) continue;
    g_autoptr(JsonParser) entry = json_parser_new();
    g_assert_true(json_parser_load_from_data(entry, *line, -1, nullptr));
    const char* body =
        json_object_get_string_member(json_node_get_object(json_parser_get_root(entry)), "body");
    g_autoptr(JsonParser) submit = json_parser_new();
    g_assert_true(json_parser_load_from_data(submit, body, -1, nullptr));
    image =
        json_object_get_string_member(json_node_get_object(json_parser_get_root(submit)), "image");
  }
  g_assert_true(g_str_has_prefix(image.c_str(), "http://127.0.0.1:"));
  Marked png;
  decoded_marks("souphttpsrc location=" + image +
                    " ! pngdec ! videoconvert ! video/x-raw,format=I420 ! fakesink name=sink",
                &png);
  g_assert_cmpuint(png.frames.size(), ==, 1);
  g_assert_true(png.frames[0].black);
  g_assert_cmpint(png.frames[0].bright, ==, 0);
}

// Decoded back, every clip frame of the recording carries the text and no slate frame does.
void assert_text_on_clip_frames_only(const Marked& seen) {
  int clip = 0, clip_text = 0, slate = 0, slate_text = 0;
  for (const auto& f : seen.frames) {
    if (f.black) clip++, clip_text += f.bright > 20;
    if (f.red) slate++, slate_text += f.bright > 0;
  }
  g_test_message("recording: %zu frames, clip %d (with text %d), slate %d (with text %d)",
                 seen.frames.size(), clip, clip_text, slate, slate_text);
  g_assert_cmpint(clip, >=, 50);  // two clips of 1 s at 30 fps, give or take a switch
  g_assert_cmpint(clip_text, ==, clip);
  g_assert_cmpint(slate, >=, 15);
  g_assert_cmpint(slate_text, ==, 0);
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
