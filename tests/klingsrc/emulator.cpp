// SPDX-License-Identifier: LGPL-2.1-or-later
// klingsrc end to end against kling-emulator, the project's offline WaveSpeed:
// real generated videos, and each fault flag the element must survive or report.
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <gst/gst.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "support/emulator_process.h"

namespace {

constexpr const char* kKey = "emulator-key";

struct Result {
  GError* error = nullptr;
  std::string debug;
  bool eos = false;
  int frames = 0;
  int width = 0, height = 0;
  std::string bytes;
  std::vector<std::string> progress;
  std::mutex mutex;
  ~Result() { g_clear_error(&error); }
};

void on_handoff(GstElement*, GstBuffer* buffer, GstPad* pad, gpointer data) {
  auto* r = static_cast<Result*>(data);
  std::lock_guard<std::mutex> lock(r->mutex);
  r->frames++;
  if (g_object_get_data(G_OBJECT(pad), "raw")) {
    GstMapInfo map;
    gst_buffer_map(buffer, &map, GST_MAP_READ);
    r->bytes.append(reinterpret_cast<const char*>(map.data), map.size);
    gst_buffer_unmap(buffer, &map);
  }
  if (r->width == 0) {
    g_autoptr(GstCaps) caps = gst_pad_get_current_caps(pad);
    if (caps) {
      GstStructure* s = gst_caps_get_structure(caps, 0);
      gst_structure_get_int(s, "width", &r->width);
      gst_structure_get_int(s, "height", &r->height);
    }
  }
}

// Runs `desc` (klingsrc name=src ... fakesink name=sink) to EOS or an error.
std::unique_ptr<Result> run(const Emulator& emu, const std::string& desc, bool raw = false,
                            const char* prompt = "a red fox in snow") {
  auto r = std::make_unique<Result>();
  g_autoptr(GError) error = nullptr;
  g_autoptr(GstElement) pipeline = gst_parse_launch(desc.c_str(), &error);
  g_assert_no_error(error);
  g_autoptr(GstElement) src = gst_bin_get_by_name(GST_BIN(pipeline), "src");
  g_object_set(src, "api-url", emu.api.c_str(), "api-key", kKey, "poll-interval", 50u, "journal",
               "", "prompt", prompt, nullptr);
  g_autoptr(GstElement) sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink");
  g_object_set(sink, "signal-handoffs", TRUE, nullptr);
  g_autoptr(GstPad) sinkpad = gst_element_get_static_pad(sink, "sink");
  if (raw) g_object_set_data(G_OBJECT(sinkpad), "raw", GINT_TO_POINTER(1));
  g_signal_connect(sink, "handoff", G_CALLBACK(on_handoff), r.get());

  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  g_autoptr(GstBus) bus = gst_element_get_bus(pipeline);
  for (;;) {
    GstMessage* msg = gst_bus_timed_pop_filtered(
        bus, 60 * GST_SECOND,
        static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_PROGRESS));
    g_assert_nonnull(msg);
    if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_PROGRESS) {
      GstProgressType type;
      gchar *code = nullptr, *text = nullptr;
      gst_message_parse_progress(msg, &type, &code, &text);
      r->progress.push_back(text);
      g_free(code);
      g_free(text);
      gst_message_unref(msg);
      continue;
    }
    if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
      gchar* debug = nullptr;
      gst_message_parse_error(msg, &r->error, &debug);
      r->debug = debug ? debug : "";
      g_free(debug);
    } else {
      r->eos = true;
    }
    gst_message_unref(msg);
    break;
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
  return r;
}

std::string only_output(const Emulator& emu) {
  g_autoptr(GDir) dir = g_dir_open(emu.output_dir.c_str(), 0, nullptr);
  const char* name;
  std::string found;
  while ((name = g_dir_read_name(dir)))
    if (g_str_has_suffix(name, ".mp4")) found = emu.output_dir + "/" + name;
  gchar* data = nullptr;
  gsize size = 0;
  g_assert_true(g_file_get_contents(found.c_str(), &data, &size, nullptr));
  std::string out(data, size);
  g_free(data);
  return out;
}

const char* kDecode = "klingsrc name=src %s ! %sdecodebin ! videoconvert ! fakesink name=sink";

std::string decode_desc(const char* props, bool push) {
  g_autofree char* d = g_strdup_printf(kDecode, props, push ? "queue ! " : "");
  return d;
}

void test_generated_video_size_and_length() {
  auto emu = start_emulator({});
  auto r = run(*emu, decode_desc("duration=5 aspect-ratio=9:16", false));
  g_assert_no_error(r->error);
  g_assert_cmpint(r->frames, ==, 125);  // 5 s at 25 fps
  g_assert_cmpint(r->width, ==, 720 / 4);
  g_assert_cmpint(r->height, ==, 1280 / 4);
  auto r10 = run(*emu, decode_desc("duration=10 aspect-ratio=1:1", true), false, "a square fox");
  g_assert_no_error(r10->error);
  g_assert_cmpint(r10->frames, ==, 250);
  g_assert_cmpint(r10->width, ==, 960 / 4);
}

void test_moov_at_end_pull_and_push() {
  auto emu = start_emulator({"--moov-at-end"});
  for (bool push : {false, true}) {
    auto r = run(*emu, decode_desc("", push), false, push ? "push" : "pull");
    g_assert_no_error(r->error);
    g_assert_cmpint(r->frames, ==, 125);
  }
}

void test_cut_download_resumed_byte_exact() {
  auto emu = start_emulator({"--cut-downloads", "2:20000"});
  auto r = run(*emu, "klingsrc name=src ! fakesink name=sink", true);
  g_assert_no_error(r->error);
  g_assert_true(r->bytes == only_output(*emu));
  const std::string log = emu->log();
  g_assert_nonnull(strstr(log.c_str(), "\"range\":\"bytes=20000-\""));
  // The key never reached the CDN; the API saw it on every request.
  g_assert_null(strstr(log.c_str(),
                       "\"server\":\"cdn\",\"method\":\"GET\",\"path\":\"/outputs/"
                       "\",\"authorization\":\"Bearer"));
  for (const char* line = log.c_str(); (line = strstr(line, "\"server\":\"cdn\"")); line++) {
    const char* end = strchr(line, '\n');
    std::string one(line, end ? end - line : strlen(line));
    g_assert_true(one.find("\"authorization\":null") != std::string::npos);
  }
}

void test_failed_task_reported() {
  auto emu = start_emulator({"--fail-task", "1200:Content moderation flagged the prompt"});
  auto r = run(*emu, "klingsrc name=src ! fakesink name=sink");
  g_assert_error(r->error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS);
  g_assert_nonnull(strstr(r->error->message, "Content moderation flagged the prompt"));
  g_assert_nonnull(strstr(r->error->message, "1200"));
  g_assert_nonnull(strstr(r->debug.c_str(), "task id: "));
  // Where the element posted it, not the helper that builds the message.
  g_assert_nonnull(strstr(r->debug.c_str(), "gstklingsrc.cpp("));
  g_assert_null(strstr(r->debug.c_str(), "kling_messages.cpp"));
}

void test_transient_faults_survived() {
  auto emu = start_emulator({"--fail-submits-429", "1", "--retry-after", "0", "--fail-polls-500",
                             "1", "--fail-polls-502", "1", "--processing-5004"});
  auto r = run(*emu, decode_desc("", false));
  g_assert_no_error(r->error);
  g_assert_cmpint(r->frames, ==, 125);
}

void test_expired_output_not_found() {
  auto emu = start_emulator({"--expire-outputs"});
  auto r = run(*emu, "klingsrc name=src ! fakesink name=sink");
  g_assert_error(r->error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND);
  g_assert_nonnull(strstr(r->debug.c_str(), "task id: "));
}

void test_wrong_key() {
  auto emu = start_emulator({"--api-key", "another-key"});
  auto r = run(*emu, "klingsrc name=src ! fakesink name=sink");
  g_assert_error(r->error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_AUTHORIZED);
  g_assert_nonnull(strstr(r->error->message, "Invalid API key"));
}

}  // namespace

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  g_test_init(&argc, &argv, nullptr);
  g_test_add_func("/klingsrc/emulator/generated-video-has-requested-size-and-length",
                  test_generated_video_size_and_length);
  g_test_add_func("/klingsrc/emulator/moov-at-end-decodes-in-pull-and-push-mode",
                  test_moov_at_end_pull_and_push);
  g_test_add_func("/klingsrc/emulator/cut-download-resumed-byte-exact-key-never-on-cdn",
                  test_cut_download_resumed_byte_exact);
  g_test_add_func("/klingsrc/emulator/failed-task-reported-with-api-text",
                  test_failed_task_reported);
  g_test_add_func("/klingsrc/emulator/429-500-502-5004-survived", test_transient_faults_survived);
  g_test_add_func("/klingsrc/emulator/expired-output-not-found", test_expired_output_not_found);
  g_test_add_func("/klingsrc/emulator/wrong-key-not-authorized", test_wrong_key);
  return g_test_run();
}
