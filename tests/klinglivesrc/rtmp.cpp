// SPDX-License-Identifier: LGPL-2.1-or-later
// klinglivesrc on air: published through x264enc ! flvmux ! rtmpsink (the README's
// pipeline, and the sink most ingest guides give) to a real RTMP server the test starts
// (nginx's RTMP module, on loopback), while a player reads the stream back from that
// server with rtmp2src (what playbin and gst-play-1.0 pick for rtmp://, by rank).
// What the player decodes must show the disclosure on clip frames only.
#include <gst/gst.h>

#include <string>

#include "broadcast_story.h"
#include "support/rtmp_server.h"

namespace {

// The player: the stream read from `url`, decoded, each frame marked into `seen`.
GstElement* start_player(const std::string& url, Marked* seen) {
  g_autoptr(GError) error = nullptr;
  GstElement* player = gst_parse_launch(("rtmp2src location=" + url +
                                         " ! flvdemux ! h264parse ! avdec_h264 ! videoconvert ! "
                                         "video/x-raw,format=I420 ! fakesink name=sink")
                                            .c_str(),
                                        &error);
  g_assert_no_error(error);
  g_autoptr(GstElement) sink = gst_bin_get_by_name(GST_BIN(player), "sink");
  g_autoptr(GstPad) pad = gst_element_get_static_pad(sink, "sink");
  gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, mark, seen, nullptr);
  g_assert_cmpint(gst_element_set_state(player, GST_STATE_PLAYING), !=, GST_STATE_CHANGE_FAILURE);
  return player;
}

// The two-clip story with `disclosure=AI-generated` published for 5 s: the muxer got each
// clip's tags (record_story), the player every frame, the text on clip frames only.
void test_rtmp_disclosure_story() {
  for (const char* name : {"rtmpsink", "rtmp2src"}) {
    g_autoptr(GstElementFactory) factory = gst_element_factory_find(name);
    if (!factory) {
      g_test_skip((std::string("no ") + name + " (gstreamer1.0-plugins-bad)").c_str());
      return;
    }
  }
  std::string missing;
  auto server = RtmpServer::start(&missing);
  if (!server) {
    g_test_skip(missing.c_str());
    return;
  }
  const std::string url = server->url("story");
  Marked seen;
  g_autoptr(GstElement) player = start_player(url, &seen);
  // The player waits on the server before anything is published: it sees the first frame.
  g_assert_true(server->wait_for_log("play: name='story'"));
  g_autofree char* dir = g_dir_make_tmp("kling-live-rtmp-XXXXXX", nullptr);
  record_story(dir, "flvmux streamable=true ! rtmpsink location=" + url, 5);
  g_assert_true(server->log().find("publish: name='story'") != std::string::npos);
  // The publisher's EOS ends the stream on the server, which tells the player: its EOS.
  play_to_eos(player);
  assert_text_on_clip_frames_only(seen);
  remove_scratch_dir(g_steal_pointer(&dir));
}

}  // namespace

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  g_test_init(&argc, &argv, nullptr);
  g_test_add_func("/klinglivesrc-rtmp/nginx-player-sees-disclosure-on-clip-frames-and-tags",
                  test_rtmp_disclosure_story);
  return g_test_run();
}
