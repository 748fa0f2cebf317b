// SPDX-License-Identifier: LGPL-2.1-or-later
// klinglivesrc watches its playlist file (a GFileMonitor on a thread of its own)
// instead of stat()ing it from the output's streaming thread once a second: any
// change is read, even one that keeps the file's size and modification second
// (a size+mtime check missed those), and the watching thread ends with the stop.
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <utime.h>

#include <cstring>
#include <string>

#include "support/emulator_process.h"
#include "support/thread_names.h"

namespace {

bool submitted(const Emulator& emu, const char* prompt) {
  std::string log = emu.log();
  g_auto(GStrv) lines = g_strsplit(log.c_str(), "\n", -1);
  for (char** line = lines; *line; line++)
    if (strstr(*line, "\"method\":\"POST\"") && !strstr(*line, "/api/v3/model/price") &&
        strstr(*line, prompt))
      return true;
  return false;
}

bool wait_submitted(const Emulator& emu, const char* prompt, int timeout_s) {
  for (gint64 end = g_get_monotonic_time() + timeout_s * G_USEC_PER_SEC;
       g_get_monotonic_time() < end; g_usleep(50 * 1000))
    if (submitted(emu, prompt)) return true;
  return false;
}

void test_same_size_same_second_change_is_read() {
  auto emu = start_emulator({});
  g_autofree char* dir = g_dir_make_tmp("kling-live-playlist-XXXXXX", nullptr);
  std::string playlist = std::string(dir) + "/prompts.txt";
  const std::string before = "fox one\n#234567\n", after = "fox one\nfox two\n";
  g_assert_cmpuint(before.size(), ==, after.size());
  g_assert_true(g_file_set_contents(playlist.c_str(), before.c_str(), -1, nullptr));
  GStatBuf st;
  g_assert_cmpint(g_stat(playlist.c_str(), &st), ==, 0);

  g_autoptr(GstElement) pipeline = gst_parse_launch(
      "klinglivesrc name=src ! video/x-raw,width=160,height=90 ! fakesink sync=true", nullptr);
  g_autoptr(GstElement) src = gst_bin_get_by_name(GST_BIN(pipeline), "src");
  g_object_set(src, "api-url", emu->api.c_str(), "api-key", "emulator-key", "poll-interval", 50u,
               "journal", "", "playlist", playlist.c_str(), nullptr);
  g_assert_cmpint(gst_element_set_state(pipeline, GST_STATE_PLAYING), !=, GST_STATE_CHANGE_FAILURE);
  g_assert_true(wait_submitted(*emu, "fox one", 20));
  g_assert_cmpint(count_threads_named("kling-playlist"), ==, 1);

  // The second line replaces the comment: same size, and the same modification time.
  g_assert_true(g_file_set_contents(playlist.c_str(), after.c_str(), -1, nullptr));
  struct utimbuf times = {st.st_atime, st.st_mtime};
  g_assert_cmpint(g_utime(playlist.c_str(), &times), ==, 0);
  const bool read = wait_submitted(*emu, "fox two", 10);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  g_assert_true(read);
  // The watch is the element's: it ends with the stop.
  g_assert_cmpint(count_threads_named("kling-playlist"), ==, 0);
  g_unlink(playlist.c_str());
  g_rmdir(dir);
}

}  // namespace

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  g_test_init(&argc, &argv, nullptr);
  g_test_add_func("/klinglivesrc/playlist-watch/same-size-same-second-change-is-read",
                  test_same_size_same_second_change_is_read);
  return g_test_run();
}
