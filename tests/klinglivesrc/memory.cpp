// SPDX-License-Identifier: LGPL-2.1-or-later
// klinglivesrc over a playlist of short clips, against kling-emulator (issue 11): once
// the live pipeline is gone, no clip's klingsrc (nor, with it, its child pipeline's
// decoder and frames) may still be alive: weak references must all be cleared.
#include <glib/gstdio.h>
#include <gst/gst.h>

#include <memory>
#include <string>
#include <vector>

#include "support/emulator_process.h"

namespace {

constexpr int kClips = 6;

// A 0.5 s 320x180 H.264 MP4 for the emulator to serve as every clip.
std::string make_short_clip(const std::string& dir) {
  std::string path = dir + "/short.mp4";
  std::string desc =
      "videotestsrc num-buffers=13 ! video/x-raw,width=320,height=180,framerate=25/1 "
      "! x264enc speed-preset=ultrafast ! mp4mux ! filesink location=" +
      path;
  g_autoptr(GError) error = nullptr;
  g_autoptr(GstElement) pipeline = gst_parse_launch(desc.c_str(), &error);
  g_assert_no_error(error);
  play_to_eos(pipeline);
  return path;
}

// Weak references to the clips' klingsrc elements, taken from the kling/task messages the
// live element forwards (their source is the child's klingsrc).
struct Watched {
  std::vector<std::unique_ptr<GWeakRef>> refs;

  ~Watched() {
    for (auto& r : refs) g_weak_ref_clear(r.get());
  }
  void add(GstObject* obj) {
    for (auto& r : refs) {
      GObject* o = static_cast<GObject*>(g_weak_ref_get(r.get()));
      bool same = o == G_OBJECT(obj);
      if (o) g_object_unref(o);
      if (same) return;
    }
    refs.push_back(std::make_unique<GWeakRef>());
    g_weak_ref_init(refs.back().get(), obj);
  }
  int alive() {
    int n = 0;
    for (auto& r : refs)
      if (GObject* o = static_cast<GObject*>(g_weak_ref_get(r.get()))) {
        n++;
        g_object_unref(o);
      }
    return n;
  }
};

// Plays kClips clips of a playlist (each its own child pipeline), then stops; every
// clip's klingsrc must be finalised. Before the fix no message of a child's bus was ever
// unreffed, each holding its source element: klingsrc, decoder (with its frame pool) and
// appsink stayed alive, and RSS grew clip by clip.
void test_clip_pipelines_released() {
  g_autofree char* dir = g_dir_make_tmp("kling-live-mem-XXXXXX", nullptr);
  std::string clip = make_short_clip(dir);
  std::string playlist = std::string(dir) + "/playlist.txt";
  std::string lines;
  for (int i = 0; i < kClips + 4; i++) lines += "clip number " + std::to_string(i) + "\n";
  g_assert_true(g_file_set_contents(playlist.c_str(), lines.c_str(), -1, nullptr));
  auto emu = start_emulator({"--video-file", clip, "--balance", "100000"}, 50);
  Watched srcs;

  {
    g_autoptr(GError) error = nullptr;
    g_autoptr(GstElement) pipeline = gst_parse_launch(
        "klinglivesrc name=src when-idle=slate ! video/x-raw,width=160,height=90,framerate=30/1 "
        "! fakesink sync=true",
        &error);
    g_assert_no_error(error);
    g_autoptr(GstElement) src = gst_bin_get_by_name(GST_BIN(pipeline), "src");
    g_object_set(src, "api-url", emu->api.c_str(), "api-key", "emulator-key", "poll-interval", 50u,
                 "journal", "", "playlist", playlist.c_str(), nullptr);
    g_assert_cmpint(gst_element_set_state(pipeline, GST_STATE_PLAYING), !=,
                    GST_STATE_CHANGE_FAILURE);
    g_autoptr(GstBus) bus = gst_element_get_bus(pipeline);
    int started = 0;
    gint64 deadline = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;
    while (started < kClips && g_get_monotonic_time() < deadline) {
      GstMessage* msg = gst_bus_timed_pop_filtered(
          bus, GST_SECOND, GstMessageType(GST_MESSAGE_ELEMENT | GST_MESSAGE_ERROR));
      if (!msg) continue;
      g_assert_cmpint(GST_MESSAGE_TYPE(msg), ==, GST_MESSAGE_ELEMENT);
      if (gst_message_has_name(msg, "kling/task")) srcs.add(GST_MESSAGE_SRC(msg));
      if (gst_message_has_name(msg, "kling/live") &&
          !g_strcmp0(gst_structure_get_string(gst_message_get_structure(msg), "event"),
                     "clip-start"))
        started++;
      gst_message_unref(msg);
    }
    g_assert_cmpint(started, ==, kClips);
    gst_element_set_state(pipeline, GST_STATE_NULL);
  }

  // A clip's klingsrc may still be referenced for a moment by a pending async call.
  // Before the fix every one stayed alive, with its pipeline's decoder and frames.
  g_assert_cmpint((int)srcs.refs.size(), >=, kClips);
  int alive = 0;
  for (int i = 0; i < 50; i++) {
    alive = srcs.alive();
    if (alive == 0) break;
    g_usleep(100 * 1000);
  }
  g_assert_cmpint(alive, ==, 0);
  g_unlink(playlist.c_str());
  g_unlink(clip.c_str());
  g_rmdir(dir);
}

}  // namespace

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  g_test_init(&argc, &argv, nullptr);
  g_test_add_func("/klinglivesrc-memory/clip-pipelines-released", test_clip_pipelines_released);
  return g_test_run();
}
