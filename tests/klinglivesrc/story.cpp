// SPDX-License-Identifier: LGPL-2.1-or-later
// klinglivesrc's story mode (continue=true), against kling-emulator and its request
// log: the second request is made from the first clip's last frame, uploaded once and
// sent as the `image` of the image-to-video model (continue-model); a replay of the
// same story (same first prompt, so the same frames) submits and uploads nothing new.
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <json-glib/json-glib.h>
#include <utime.h>

#include <mutex>
#include <string>
#include <vector>

#include "support/emulator_process.h"
#include "support/fake_wavespeed.h"

namespace {

constexpr const char* kFirstModel = "kwaivgi/kling-v1.6-t2v-standard";
constexpr const char* kContinueModel = "kwaivgi/kling-v2.1-i2v-master";  // the default

struct Request {
  std::string server, method, path, body;
};

std::vector<Request> requests(const Emulator& emu) {
  std::vector<Request> out;
  g_auto(GStrv) lines = g_strsplit(emu.log().c_str(), "\n", -1);
  for (char** line = lines; *line; line++) {
    if (!**line) continue;
    g_autoptr(JsonParser) parser = json_parser_new();
    g_assert_true(json_parser_load_from_data(parser, *line, -1, nullptr));
    JsonObject* o = json_node_get_object(json_parser_get_root(parser));
    auto str = [o](const char* name) {
      const char* s =
          json_object_get_null_member(o, name) ? nullptr : json_object_get_string_member(o, name);
      return std::string(s ? s : "");
    };
    out.push_back({str("server"), str("method"), str("path"), str("body")});
  }
  return out;
}

bool is_submit(const Request& r) {
  return r.server == "api" && r.method == "POST" && g_str_has_prefix(r.path.c_str(), "/api/v3/") &&
         r.path != "/api/v3/model/price" && !g_str_has_prefix(r.path.c_str(), "/api/v3/media/");
}

struct Tally {
  std::vector<Request> submits, tickets, puts;
};

Tally tally(const Emulator& emu) {
  Tally t;
  for (const auto& r : requests(emu)) {
    if (is_submit(r)) t.submits.push_back(r);
    if (r.server == "api" && r.method == "POST" && r.path == "/api/v3/media/uploads")
      t.tickets.push_back(r);
    if (r.server == "storage" && r.method == "PUT") t.puts.push_back(r);
  }
  return t;
}

std::string json_field(const std::string& body, const char* name) {
  g_autoptr(JsonParser) parser = json_parser_new();
  if (!json_parser_load_from_data(parser, body.c_str(), -1, nullptr)) return "";
  JsonObject* o = json_node_get_object(json_parser_get_root(parser));
  return json_object_has_member(o, name) ? json_object_get_string_member(o, name) : "";
}

struct Starts {
  std::mutex mutex;
  std::vector<std::string> task_ids;  // of each clip-start
};

GstBusSyncReply on_bus(GstBus*, GstMessage* msg, gpointer data) {
  auto* starts = static_cast<Starts*>(data);
  if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ELEMENT && gst_message_has_name(msg, "kling/live")) {
    const GstStructure* s = gst_message_get_structure(msg);
    if (!g_strcmp0(gst_structure_get_string(s, "event"), "clip-start")) {
      std::lock_guard<std::mutex> lock(starts->mutex);
      starts->task_ids.push_back(gst_structure_get_string(s, "task-id"));
    }
  } else if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_WARNING ||
             GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
    GError* error = nullptr;
    gchar* debug = nullptr;
    if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR)
      gst_message_parse_error(msg, &error, &debug);
    else
      gst_message_parse_warning(msg, &error, &debug);
    g_error("unexpected: %s (%s)", error->message, debug);
  }
  return GST_BUS_PASS;
}

// Plays the two-prompt story until its second clip is on air; the task ids of both.
std::vector<std::string> play_story(const Emulator& emu, const std::string& ledger) {
  g_autoptr(GstElement) pipeline = gst_parse_launch(
      "klinglivesrc name=src continue=true when-idle=slate ! "
      "video/x-raw,width=160,height=90,framerate=25/1 ! fakesink sync=true",
      nullptr);
  g_assert_nonnull(pipeline);
  g_autoptr(GstElement) src = gst_bin_get_by_name(GST_BIN(pipeline), "src");
  g_object_set(src, "api-url", emu.api.c_str(), "api-key", "emulator-key", "poll-interval", 50u,
               "journal", ledger.c_str(), "model", kFirstModel, "prompt", "the fox wakes up",
               nullptr);
  Starts starts;
  g_autoptr(GstBus) bus = gst_element_get_bus(pipeline);
  gst_bus_set_sync_handler(bus, on_bus, &starts, nullptr);
  g_assert_cmpint(gst_element_set_state(pipeline, GST_STATE_PLAYING), !=, GST_STATE_CHANGE_FAILURE);
  gboolean queued = FALSE;
  g_signal_emit_by_name(src, "queue", "the fox runs into the forest", &queued);
  g_assert_true(queued);
  std::vector<std::string> ids;
  for (gint64 end = g_get_monotonic_time() + 40 * G_USEC_PER_SEC; ids.size() < 2;
       g_usleep(50 * 1000)) {
    g_assert_cmpint(g_get_monotonic_time(), <, end);
    std::lock_guard<std::mutex> lock(starts.mutex);
    ids = starts.task_ids;
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_bus_set_sync_handler(bus, nullptr, nullptr, nullptr);
  return ids;
}

void test_continues_from_the_last_frame() {
  g_autofree char* dir = g_dir_make_tmp("kling-story-XXXXXX", nullptr);
  g_setenv("XDG_CACHE_HOME", dir, TRUE);  // the frames and the upload records: this test's
  const std::string ledger = std::string(dir) + "/ledger.db";
  auto emu = start_emulator({});

  std::vector<std::string> ids = play_story(*emu, ledger);
  Tally t = tally(*emu);
  g_assert_cmpuint(t.submits.size(), ==, 2);
  const std::string first_path = std::string("/api/v3/") + kFirstModel;
  const std::string continue_path = std::string("/api/v3/") + kContinueModel;
  g_assert_cmpstr(t.submits[0].path.c_str(), ==, first_path.c_str());
  g_assert_true(json_field(t.submits[0].body, "image").empty());
  // The second: the image-to-video model, from the uploaded frame.
  g_assert_cmpstr(t.submits[1].path.c_str(), ==, continue_path.c_str());
  const std::string prompt = json_field(t.submits[1].body, "prompt");
  g_assert_cmpstr(prompt.c_str(), ==, "the fox runs into the forest");
  g_assert_cmpuint(t.tickets.size(), ==, 1);
  g_assert_cmpuint(t.puts.size(), ==, 1);
  const std::string image = json_field(t.submits[1].body, "image");
  g_assert_true(g_str_has_prefix(image.c_str(), "http://"));
  g_assert_true(g_str_has_suffix(image.c_str(), t.puts[0].path.c_str()));  // what was PUT
  const std::string content_type = json_field(t.tickets[0].body, "content_type");
  g_assert_cmpstr(content_type.c_str(), ==, "image/png");
  // The frame is kept as a PNG named by its bytes.
  g_autofree char* frames = g_build_filename(dir, "gst-kling", "story", nullptr);
  g_autoptr(GDir) d = g_dir_open(frames, 0, nullptr);
  g_assert_nonnull(d);
  const char* name = g_dir_read_name(d);
  g_assert_nonnull(name);
  g_autofree char* path = g_build_filename(frames, name, nullptr);
  g_autofree char* data = nullptr;
  gsize size = 0;
  g_assert_true(g_file_get_contents(path, &data, &size, nullptr));
  g_autofree char* sum =
      g_compute_checksum_for_data(G_CHECKSUM_SHA256, reinterpret_cast<guchar*>(data), size);
  const std::string named = std::string(sum) + ".png";
  g_assert_cmpstr(name, ==, named.c_str());
  g_assert_cmpuint(size, >, 0);
  g_assert_null(g_dir_read_name(d));  // one frame: the second clip's is not needed yet
  g_test_message("story: %s then %s, from %s", ids[0].c_str(), ids[1].c_str(), image.c_str());

  // The same story again: the first clip replays from the ledger, its last frame is the
  // same PNG, so the second request is the same request: nothing new is paid or uploaded.
  std::vector<std::string> again = play_story(*emu, ledger);
  Tally t2 = tally(*emu);
  g_assert_cmpuint(t2.submits.size(), ==, 2);
  g_assert_cmpuint(t2.tickets.size(), ==, 1);
  g_assert_cmpuint(t2.puts.size(), ==, 1);
  g_assert_true(again == ids);
  remove_scratch_dir(g_steal_pointer(&dir));
}

// A channel in story mode writes a frame a clip: frames over an hour old go when a new
// one is written; a younger frame and any other file in the folder stay.
void test_old_frames_are_removed() {
  g_autofree char* dir = g_dir_make_tmp("kling-story-XXXXXX", nullptr);
  g_setenv("XDG_CACHE_HOME", dir, TRUE);
  g_autofree char* frames = g_build_filename(dir, "gst-kling", "story", nullptr);
  g_assert_cmpint(g_mkdir_with_parents(frames, 0700), ==, 0);
  auto plant = [&](const std::string& name, gint64 age_s) {
    g_autofree char* path = g_build_filename(frames, name.c_str(), nullptr);
    g_assert_true(g_file_set_contents(path, "x", 1, nullptr));
    const time_t when = time(nullptr) - age_s;
    struct utimbuf times = {when, when};
    g_assert_cmpint(g_utime(path, &times), ==, 0);
    return std::string(path);
  };
  const std::string old_frame = plant(std::string(64, 'a') + ".png", 2 * 3600);
  const std::string young_frame = plant(std::string(64, 'b') + ".png", 10 * 60);
  const std::string other = plant("notes.png", 2 * 3600);
  auto emu = start_emulator({});
  play_story(*emu, std::string(dir) + "/ledger.db");
  g_assert_false(g_file_test(old_frame.c_str(), G_FILE_TEST_EXISTS));
  g_assert_true(g_file_test(young_frame.c_str(), G_FILE_TEST_EXISTS));
  g_assert_true(g_file_test(other.c_str(), G_FILE_TEST_EXISTS));
  g_autoptr(GDir) d = g_dir_open(frames, 0, nullptr);
  int entries = 0;
  while (g_dir_read_name(d)) entries++;
  g_assert_cmpint(entries, ==, 3);  // the young frame, the other file, the new frame
  remove_scratch_dir(g_steal_pointer(&dir));
}

}  // namespace

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  g_test_init(&argc, &argv, nullptr);
  g_test_add_func("/klinglivesrc/story/continues-from-the-last-frame",
                  test_continues_from_the_last_frame);
  g_test_add_func("/klinglivesrc/story/frames-over-an-hour-old-are-removed",
                  test_old_frames_are_removed);
  return g_test_run();
}
