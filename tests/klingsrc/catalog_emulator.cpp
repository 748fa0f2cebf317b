// SPDX-License-Identifier: LGPL-2.1-or-later
// klingsrc against kling-emulator's model catalogue: a model only the catalogue
// describes, a refusal that sends nothing, image to video from a local file
// uploaded to the storage origin without the key, a model whose videos have
// sound (decodebin exposes the audio), `deleted`, `error_code`, the built-in
// table when /models is gone, and the attribution headers in the request log.
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/storage/cache_paths.h"
#include "support/emulator_process.h"
#include "support/pipeline_run.h"

namespace {

constexpr const char* kKey = "emulator-key";

std::unique_ptr<Emulator> emulator(std::vector<std::string> flags = {}, int latency_ms = 300) {
  // The storage origin on a host of its own: neither the API's nor the CDN's.
  flags.insert(flags.begin(), {"--storage-host", "127.0.0.3"});
  auto emu = start_emulator(flags, latency_ms);
  // An emulator that listened on this port within the hour left its catalogue: start afresh.
  g_autofree char* cached =
      g_build_filename(kling::user_cache_dir().c_str(),
                       ("models-" + kling::origin_key(emu->api) + ".json").c_str(), nullptr);
  g_unlink(cached);
  return emu;
}

std::unique_ptr<Run> make_run(const Emulator& emu, const char* desc, const char* model) {
  auto run = parse_run(desc);
  g_object_set(run->src, "api-url", emu.api.c_str(), "api-key", kKey, "poll-interval", 50u,
               "journal", "", "prompt", "a red fox in snow", "model", model, nullptr);
  return run;
}

// The request log's lines as JSON objects the caller reads through `parsers`.
std::vector<JsonObject*> log_lines(const Emulator& emu, std::vector<JsonParser*>* parsers) {
  std::vector<JsonObject*> out;
  g_auto(GStrv) lines = g_strsplit(emu.log().c_str(), "\n", -1);
  for (char** l = lines; *l; l++) {
    if (!**l) continue;
    JsonParser* p = json_parser_new();
    g_assert_true(json_parser_load_from_data(p, *l, -1, nullptr));
    parsers->push_back(p);
    out.push_back(json_node_get_object(json_parser_get_root(p)));
  }
  return out;
}

struct Log {
  explicit Log(const Emulator& emu) : lines(log_lines(emu, &parsers)) {}
  ~Log() {
    for (JsonParser* p : parsers) g_object_unref(p);
  }
  std::vector<JsonParser*> parsers;
  std::vector<JsonObject*> lines;
  static std::string get(JsonObject* o, const char* name) {
    JsonNode* n = json_object_get_member(o, name);
    return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING
               ? json_node_get_string(n)
               : "";
  }
  int count(const char* method, const char* path_prefix) const {
    int n = 0;
    for (JsonObject* o : lines)
      n += get(o, "method") == method && g_str_has_prefix(get(o, "path").c_str(), path_prefix);
    return n;
  }
  // The body of the one submit to `model`.
  std::string submit_body(const char* model) const {
    std::string body;
    for (JsonObject* o : lines)
      if (get(o, "method") == "POST" && get(o, "path") == std::string("/api/v3/") + model) {
        g_assert_true(body.empty());
        body = get(o, "body");
      }
    return body;
  }
};

// ------------------------------------------------------------------ any model

void test_unknown_model_with_params() {
  auto emu = emulator();
  auto run = make_run(*emu, "klingsrc name=src ! decodebin ! fakesink name=sink",
                      "kwaivgi/kling-v9-t2v-test");
  gst_util_set_object_arg(G_OBJECT(run->src), "params", "p,cfg_scale=(string)0.7,camera=zoom_in");
  play_to_end(*run, 60);
  g_assert_no_error(run->error);
  g_assert_true(run->eos);
  g_assert_cmpint(run->buffers, >, 10);  // decoded frames
  Log log(*emu);
  const std::string body = log.submit_body("kwaivgi/kling-v9-t2v-test");
  g_assert_true(contains(body, "\"camera\":\"zoom_in\""));
  g_assert_true(contains(body, "\"cfg_scale\":0.7") || contains(body, "\"cfg_scale\":0.6999"));
  // Every API request names the client; the CDN's do not carry the key or the names.
  for (JsonObject* o : log.lines) {
    if (Log::get(o, "server") == "api") {
      assert_str_eq(Log::get(o, "x_client_name"), "gst-kling");
      g_assert_false(Log::get(o, "x_client_version").empty());
      g_assert_false(Log::get(o, "x_client_os").empty());
    } else {
      assert_str_eq(Log::get(o, "authorization"), "");
    }
  }
}

void test_refusal_sends_nothing() {
  auto emu = emulator();
  auto run = make_run(*emu, "klingsrc name=src ! fakesink name=sink", "kwaivgi/kling-v9-t2v-test");
  gst_util_set_object_arg(G_OBJECT(run->src), "params", "p,camera=spin");
  play_to_end(*run, 30);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS, "camera");
  g_assert_true(contains(run->error->message, "zoom_in"));
  Log log(*emu);
  g_assert_cmpint(log.count("POST", "/"), ==, 0);  // no quote, no upload, no submit
  g_assert_cmpint(log.count("GET", "/api/v3/models"), ==, 1);
}

// ------------------------------------------------------------------ a local image

std::string make_png() {
  g_autofree char* dir = g_dir_make_tmp("kling-png-XXXXXX", nullptr);
  g_autofree char* path = g_build_filename(dir, "fox.png", nullptr);
  write_png(path, "smpte", 320, 180);
  return path;
}

void test_i2v_from_a_local_file() {
  auto emu = emulator();
  const std::string png = make_png();
  auto run = make_run(*emu, "klingsrc name=src ! decodebin ! fakesink name=sink",
                      "kwaivgi/kling-v2.0-i2v-master");
  g_object_set(run->src, "image", png.c_str(), nullptr);
  play_to_end(*run, 60);
  g_assert_no_error(run->error);
  g_assert_true(run->eos);
  g_assert_cmpint(run->buffers, >, 10);
  Log log(*emu);
  g_assert_cmpint(log.count("POST", "/api/v3/media/uploads"), ==, 1);
  int puts = 0;
  std::string storage;
  for (JsonObject* o : log.lines)
    if (Log::get(o, "method") == "PUT") {
      puts++;
      storage = Log::get(o, "server");
      assert_str_eq(Log::get(o, "authorization"), "");  // the storage origin never sees the key
    }
  g_assert_cmpint(puts, ==, 1);
  g_assert_true(storage != "api");
  // The image sent is the upload's download URL, which the emulator fetched (else: 1402).
  const std::string body = log.submit_body("kwaivgi/kling-v2.0-i2v-master");
  g_assert_true(contains(body, "\"image\":\"http://"));
  g_assert_false(contains(body, png));
  bool started = false;
  for (const auto& p : run->progress)
    started |= p.code == "upload" && p.type == GST_PROGRESS_TYPE_START;
  g_assert_true(started);
}

// ------------------------------------------------------------------ sound

struct Pads {
  std::mutex mutex;
  std::set<std::string> kinds;  // "audio", "video"
};

void on_pad_added(GstElement* decodebin, GstPad* pad, gpointer data) {
  auto* pads = static_cast<Pads*>(data);
  g_autoptr(GstCaps) caps = gst_pad_query_caps(pad, nullptr);
  const char* name = gst_structure_get_name(gst_caps_get_structure(caps, 0));
  {
    std::lock_guard<std::mutex> lock(pads->mutex);
    pads->kinds.insert(g_str_has_prefix(name, "audio/") ? "audio" : "video");
  }
  GstElement* sink = gst_element_factory_make("fakesink", nullptr);
  g_object_set(sink, "sync", FALSE, "async", FALSE, nullptr);
  GstElement* bin = GST_ELEMENT(gst_element_get_parent(decodebin));
  gst_bin_add(GST_BIN(bin), sink);
  gst_element_sync_state_with_parent(sink);
  g_autoptr(GstPad) sinkpad = gst_element_get_static_pad(sink, "sink");
  gst_pad_link(pad, sinkpad);
  gst_object_unref(bin);
}

void test_audio_model_exposes_audio() {
  auto emu = emulator();
  auto run =
      make_run(*emu, "klingsrc name=src ! decodebin name=dec", "kwaivgi/kling-v2.6-t2v-audio");
  Pads pads;
  g_autoptr(GstElement) dec = gst_bin_get_by_name(GST_BIN(run->pipeline), "dec");
  g_signal_connect(dec, "pad-added", G_CALLBACK(on_pad_added), &pads);
  play_to_end(*run, 60);
  g_assert_no_error(run->error);
  g_assert_true(run->eos);
  {
    std::lock_guard<std::mutex> lock(pads.mutex);
    g_assert_true(pads.kinds.count("audio") == 1);
    g_assert_true(pads.kinds.count("video") == 1);
  }
  g_assert_false(run->task_messages.empty());
  g_assert_true(contains(run->task_messages.back(), "has-audio=(boolean)true"));

  // A model without sound says so too.
  auto silent =
      make_run(*emu, "klingsrc name=src ! fakesink name=sink", "kwaivgi/kling-v2.0-t2v-master");
  play_to_end(*silent, 60);
  g_assert_true(silent->eos);
  g_assert_true(contains(silent->task_messages.back(), "has-audio=(boolean)false"));
}

// ------------------------------------------------------------------ statuses, errors, fallback

void test_deleted_is_an_error() {
  auto emu = emulator({}, 20000);  // long enough to delete it while it runs
  auto run =
      make_run(*emu, "klingsrc name=src ! fakesink name=sink", "kwaivgi/kling-v2.0-t2v-master");
  gst_element_set_state(run->pipeline, GST_STATE_PLAYING);
  std::string id;
  for (int i = 0; i < 200 && id.empty(); i++) {
    g_usleep(50 * 1000);
    g_autofree char* task = nullptr;
    g_object_get(run->src, "task-id", &task, nullptr);
    id = task ? task : "";
  }
  g_assert_false(id.empty());
  g_autoptr(SoupSession) session = soup_session_new();
  g_autoptr(SoupMessage) msg =
      soup_message_new("DELETE", (emu->api + "/api/v3/predictions/" + id).c_str());
  soup_message_headers_replace(soup_message_get_request_headers(msg), "Authorization",
                               (std::string("Bearer ") + kKey).c_str());
  g_autoptr(GBytes) reply = soup_session_send_and_read(session, msg, nullptr, nullptr);
  g_assert_cmpuint(soup_message_get_status(msg), ==, 200);
  play_to_end(*run, 30);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_FAILED, "deleted");
  g_assert_true(contains(run->error->message, id));
}

void test_error_code_is_shown() {
  auto emu = emulator({"--key-role", "viewer"});
  auto run =
      make_run(*emu, "klingsrc name=src ! fakesink name=sink", "kwaivgi/kling-v2.0-t2v-master");
  play_to_end(*run, 30);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_AUTHORIZED, "PERMISSION_DENIED");
}

void test_no_models_falls_back_to_builtin() {
  auto emu = emulator({"--no-models"});
  auto run =
      make_run(*emu, "klingsrc name=src ! fakesink name=sink", "kwaivgi/kling-v2.0-i2v-master");
  g_object_set(run->src, "image", "https://example.com/fox.png", nullptr);
  gst_util_set_object_arg(G_OBJECT(run->src), "aspect-ratio",
                          "1:1");  // the built-in i2v takes none
  play_to_end(*run, 30);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS, "takes no aspect-ratio");
  auto ok =
      make_run(*emu, "klingsrc name=src ! fakesink name=sink", "kwaivgi/kling-v2.1-t2v-master");
  play_to_end(*ok, 60);
  g_assert_true(ok->eos);
  Log log(*emu);
  g_assert_cmpint(log.count("GET", "/api/v3/models"), ==, 2);  // a 404 is not kept
  g_assert_cmpint(log.count("POST", "/api/v3/kwaivgi/"), ==, 1);
}

}  // namespace

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  g_test_init(&argc, &argv, nullptr);
  g_test_add_func("/klingsrc/catalog-emulator/unknown-model-with-params-and-client-headers",
                  test_unknown_model_with_params);
  g_test_add_func("/klingsrc/catalog-emulator/refusal-sends-nothing", test_refusal_sends_nothing);
  g_test_add_func("/klingsrc/catalog-emulator/i2v-from-a-local-file-uploaded-without-the-key",
                  test_i2v_from_a_local_file);
  g_test_add_func("/klingsrc/catalog-emulator/audio-model-exposes-an-audio-pad",
                  test_audio_model_exposes_audio);
  g_test_add_func("/klingsrc/catalog-emulator/deleted-is-an-error", test_deleted_is_an_error);
  g_test_add_func("/klingsrc/catalog-emulator/error-code-is-shown", test_error_code_is_shown);
  g_test_add_func("/klingsrc/catalog-emulator/no-models-falls-back-to-builtin",
                  test_no_models_falls_back_to_builtin);
  return g_test_run();
}
