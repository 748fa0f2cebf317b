// SPDX-License-Identifier: LGPL-2.1-or-later
// klingsrc end to end against a scripted WaveSpeed API + CDN on loopback.
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <json-glib/json-glib.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/ledger/ledger.h"
#include "support/fake_wavespeed.h"
#include "support/pipeline_run.h"

namespace {

constexpr const char* kPrompt = "a red fox in snow";

// Builds `desc` (with a `klingsrc name=src` and maybe a `fakesink name=sink`)
// pointed at the fake server, with test-speed polling.
std::unique_ptr<Run> make_run(FakeWaveSpeed& fake, const std::string& desc) {
  auto run = parse_run(desc);
  // No journal unless a test asks: a journaled unfinished task would be picked up by the next test.
  g_object_set(run->src, "api-url", fake.api_url().c_str(), "api-key", fake.key.c_str(),
               "poll-interval", 20u, "journal", "", nullptr);
  return run;
}

std::unique_ptr<Run> make_run(FakeWaveSpeed& fake) {
  auto run = make_run(fake, "klingsrc name=src ! fakesink name=sink");
  g_object_set(run->src, "prompt", kPrompt, nullptr);
  return run;
}

struct Fixture {
  std::unique_ptr<FakeWaveSpeed> fake;
};

void setup(Fixture* f, gconstpointer) {
  f->fake = std::make_unique<FakeWaveSpeed>();
  f->fake->video = random_bytes(3 * 1024 * 1024 + 17);
}

void teardown(Fixture* f, gconstpointer) {
  f->fake.reset();
}

// ------------------------------------------------------------------ happy path

void test_bytes_identical_and_body(Fixture* f, gconstpointer) {
  auto run = make_run(*f->fake);
  const std::string prompt = "a \"red\" fox\\ in\nsnow \xF0\x9F\xA6\x8A, \xE9\x9B\xAA";
  gst_util_set_object_arg(G_OBJECT(run->src), "duration", "10");
  gst_util_set_object_arg(G_OBJECT(run->src), "aspect-ratio", "9:16");
  g_object_set(run->src, "prompt", prompt.c_str(), nullptr);
  play_to_end(*run);
  g_assert_no_error(run->error);
  g_assert_true(run->eos);
  g_assert_cmpuint(run->bytes.size(), ==, f->fake->video.size());
  g_assert_true(run->bytes == f->fake->video);

  auto reqs = f->fake->requests();
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);
  for (const auto& r : reqs) {
    if (r.server != "api" || r.method != "POST") continue;
    assert_str_eq(r.path, "/api/v3/kwaivgi/kling-v2.0-t2v-master");
    g_autoptr(JsonParser) parser = json_parser_new();
    g_assert_true(json_parser_load_from_data(parser, r.body.c_str(), r.body.size(), nullptr));
    JsonObject* o = json_node_get_object(json_parser_get_root(parser));
    g_assert_cmpstr(json_object_get_string_member(o, "prompt"), ==, prompt.c_str());
    JsonNode* d = json_object_get_member(o, "duration");
    g_assert_cmpint(json_node_get_value_type(d), ==, G_TYPE_INT64);
    g_assert_cmpint(json_node_get_int(d), ==, 10);
    g_assert_cmpstr(json_object_get_string_member(o, "aspect_ratio"), ==, "9:16");
    g_assert_false(json_object_has_member(o, "negative_prompt"));
  }
  // The key goes to the API (its predictions and its catalogue) and nowhere else.
  for (const auto& r : reqs) {
    if (r.server == "cdn")
      assert_str_eq(r.authorization, "");
    else
      assert_str_eq(r.authorization, "Bearer test-key");
  }
  g_assert_cmpint(f->fake->count("api", "GET"), ==, f->fake->polls_until_done + 1);
}

void test_filesink_saves_exact_file(Fixture* f, gconstpointer) {
  g_autofree char* dir = g_dir_make_tmp("klingsrc-XXXXXX", nullptr);
  g_autofree char* path = g_build_filename(dir, "out.mp4", nullptr);
  auto run = make_run(*f->fake, std::string("klingsrc name=src ! filesink location=") + path);
  g_object_set(run->src, "prompt", kPrompt, nullptr);
  play_to_end(*run);
  g_assert_true(run->eos);
  gchar* data = nullptr;
  gsize size = 0;
  g_assert_true(g_file_get_contents(path, &data, &size, nullptr));
  g_assert_true(std::string(data, size) == f->fake->video);
  g_free(data);
  g_unlink(path);
  g_rmdir(dir);
}

void test_progress_and_task_messages(Fixture* f, gconstpointer) {
  auto run = make_run(*f->fake);
  play_to_end(*run);
  g_assert_true(run->eos);
  bool submit = false, poll = false, id_in_text = false;
  for (const auto& p : run->progress) {
    submit |= p.code == "submit";
    poll |= p.code == "poll";
    id_in_text |= contains(p.text, f->fake->task_id);
    g_assert_false(contains(p.text, f->fake->key));
  }
  g_assert_true(submit);
  g_assert_true(poll);
  g_assert_true(id_in_text);
  // gst-launch waits for a COMPLETE before playing: it must come before the first byte.
  g_assert_true(run->saw_progress_complete);
  g_assert_false(run->buffer_before_complete);
  assert_str_eq(run->last_task_status, "completed");
  assert_str_eq(run->last_task_output, f->fake->output_url());
  g_assert_true(contains(run->task_messages.back(), "inference-time=(gint64)4321"));
  g_assert_true(contains(run->task_messages.back(), "has-nsfw-contents=(boolean)< false >"));
  gchar* id = nullptr;
  g_object_get(run->src, "task-id", &id, nullptr);
  g_assert_cmpstr(id, ==, f->fake->task_id.c_str());
  g_free(id);
}

void test_poll_url_bare_form(Fixture* f, gconstpointer) {
  f->fake->get_url_is_bare = true;
  auto run = make_run(*f->fake);
  play_to_end(*run);
  g_assert_true(run->eos);
  g_assert_true(run->bytes == f->fake->video);
}

void test_env_defaults(Fixture* f, gconstpointer) {
  g_setenv("WAVESPEED_API_KEY", f->fake->key.c_str(), TRUE);
  g_setenv("WAVESPEED_BASE_URL", f->fake->api_url().c_str(), TRUE);
  g_autoptr(GError) error = nullptr;
  auto run = std::make_unique<Run>();
  run->pipeline = gst_parse_launch(
      "klingsrc name=src prompt=\"a red fox\" poll-interval=20 ! fakesink name=sink", &error);
  g_assert_no_error(error);
  run->src = gst_bin_get_by_name(GST_BIN(run->pipeline), "src");
  play_to_end(*run);
  g_unsetenv("WAVESPEED_API_KEY");
  g_unsetenv("WAVESPEED_BASE_URL");
  g_assert_no_error(run->error);
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);
}

void test_request_id_resumes_without_submit(Fixture* f, gconstpointer) {
  auto run = make_run(*f->fake, "klingsrc name=src ! fakesink name=sink");
  g_object_set(run->src, "request-id", f->fake->task_id.c_str(), nullptr);
  play_to_end(*run);
  g_assert_no_error(run->error);
  g_assert_true(run->bytes == f->fake->video);
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 0);
}

// ------------------------------------------------------------------ decoding

void decode(Fixture* f, bool faststart, bool push_mode) {
  f->fake->video = make_mp4(faststart);
  std::string desc = std::string("klingsrc name=src ! ") + (push_mode ? "queue ! " : "") +
                     "decodebin ! videoconvert ! fakesink name=sink";
  auto run = make_run(*f->fake, desc);
  g_object_set(run->src, "prompt", kPrompt, nullptr);
  play_to_end(*run, 60);
  g_assert_no_error(run->error);
  g_assert_true(run->eos);
  g_assert_cmpint(run->buffers, ==, 45);  // every frame of the clip
  // The random-access probe (start/stop/start) must not have billed twice.
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);
}

void test_decode_faststart_pull(Fixture* f, gconstpointer) {
  decode(f, true, false);
}
void test_decode_moov_at_end_pull(Fixture* f, gconstpointer) {
  decode(f, false, false);
}
void test_decode_faststart_push(Fixture* f, gconstpointer) {
  decode(f, true, true);
}
void test_decode_moov_at_end_push(Fixture* f, gconstpointer) {
  decode(f, false, true);
}

// ------------------------------------------------------------------ errors

void test_missing_prompt(Fixture* f, gconstpointer) {
  auto run = make_run(*f->fake, "klingsrc name=src ! fakesink name=sink");
  play_to_end(*run);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS, "prompt");
  g_assert_cmpuint(f->fake->requests().size(), ==, 0);
}

void test_missing_key(Fixture* f, gconstpointer) {
  g_unsetenv("WAVESPEED_API_KEY");
  auto run = make_run(*f->fake);
  g_object_set(run->src, "api-key", "", nullptr);
  play_to_end(*run);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS, "API key");
  g_assert_cmpuint(f->fake->requests().size(), ==, 0);
}

void test_bad_duration(Fixture* f, gconstpointer) {
  g_autoptr(GError) error = nullptr;
  GstElement* p = gst_parse_launch("klingsrc prompt=x duration=7 ! fakesink", &error);
  g_assert_error(error, GST_PARSE_ERROR, GST_PARSE_ERROR_COULD_NOT_SET_PROPERTY);
  if (p) gst_object_unref(p);
  g_assert_cmpuint(f->fake->requests().size(), ==, 0);
}

void test_plain_http_key_refused(Fixture* f, gconstpointer) {
  auto run = make_run(*f->fake);
  g_object_set(run->src, "api-url", "http://api.wavespeed.example", nullptr);
  play_to_end(*run);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS, "plain http");
  g_assert_false(contains(run->error->message, f->fake->key));
}

void test_401(Fixture* f, gconstpointer) {
  auto run = make_run(*f->fake);
  g_object_set(run->src, "api-key", "wrong-key", nullptr);
  play_to_end(*run);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_AUTHORIZED, "Invalid API key");
  g_assert_false(contains(run->error->message, "wrong-key"));
  g_assert_false(contains(run->debug, "wrong-key"));
}

void test_403(Fixture* f, gconstpointer) {
  f->fake->on_submit = [](int) -> std::optional<FakeReply> {
    return FakeReply{403, R"({"code":403,"message":"Account suspended"})"};
  };
  auto run = make_run(*f->fake);
  play_to_end(*run);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_AUTHORIZED, "Account suspended");
}

void test_400_bare_error(Fixture* f, gconstpointer) {
  f->fake->on_submit = [](int) -> std::optional<FakeReply> {
    return FakeReply{400, R"({"error":"prompt must not be empty"})"};
  };
  auto run = make_run(*f->fake);
  play_to_end(*run);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS, "prompt must not be empty");
}

void test_submit_gateway_not_retried(Fixture* f, gconstpointer) {
  f->fake->on_submit = [](int) -> std::optional<FakeReply> {
    return FakeReply{502, "<html><h1>502 Bad Gateway</h1></html>", "text/html"};
  };
  auto run = make_run(*f->fake);
  play_to_end(*run);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ, "502 Bad Gateway");
  // The POST may have created a task: a second one could bill twice.
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);
}

void test_error_envelope_inside_200(Fixture* f, gconstpointer) {
  f->fake->on_poll = [](int) -> std::optional<FakeReply> {
    return FakeReply{200, R"({"code":401,"message":"token expired"})"};
  };
  auto run = make_run(*f->fake);
  play_to_end(*run);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_AUTHORIZED, "token expired");
  g_assert_true(contains(run->debug, f->fake->task_id));
}

void test_failed_task_input_fault(Fixture* f, gconstpointer) {
  f->fake->final_status = "failed";
  auto run = make_run(*f->fake);
  play_to_end(*run);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS, f->fake->fail_error.c_str());
  g_assert_true(contains(run->error->message, "1200"));
  g_assert_true(contains(run->error->message, f->fake->task_id));
  g_assert_true(contains(run->debug, f->fake->task_id));
  g_assert_cmpint(f->fake->count("cdn", "GET"), ==, 0);
}

void test_failed_task_transient(Fixture* f, gconstpointer) {
  f->fake->final_status = "failed";
  f->fake->fail_code = 5003;
  f->fake->fail_error = "service unavailable";
  auto run = make_run(*f->fake);
  play_to_end(*run);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_FAILED, "service unavailable");
  g_assert_true(contains(run->debug, "transient"));
}

void test_malformed_poll_reply(Fixture* f, gconstpointer) {
  f->fake->on_poll = [](int) -> std::optional<FakeReply> {
    return FakeReply{200, "{\"code\":200,\"data\":{\"id\":"};
  };
  auto run = make_run(*f->fake);
  play_to_end(*run);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ, "Unreadable");
  g_assert_true(contains(run->debug, f->fake->task_id));
}

// A whole "completed" reply with more JSON after it is no reply: json-glib 1.6 took its
// first value (and the video was fetched), 1.10 aborted the process. An error naming the task.
void test_poll_reply_with_more_after_it(Fixture* f, gconstpointer) {
  FakeWaveSpeed* fake = f->fake.get();
  f->fake->on_poll = [fake](int) -> std::optional<FakeReply> {
    return FakeReply{200, fake->task_json("completed") + " {}"};
  };
  auto run = make_run(*f->fake);
  play_to_end(*run);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ, "Unreadable");
  g_assert_true(contains(run->debug, f->fake->task_id));
  g_assert_cmpint(f->fake->count("cdn", "GET"), ==, 0);
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);
}

void test_output_404(Fixture* f, gconstpointer) {
  f->fake->on_download = [](int, const std::string&) -> std::optional<FakeReply> {
    return FakeReply{404, "gone", "text/plain"};
  };
  auto run = make_run(*f->fake);
  play_to_end(*run);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND, f->fake->task_id.c_str());
  g_assert_true(contains(run->debug, f->fake->task_id));
  // The prediction was read again for a fresh URL before giving up.
  g_assert_cmpint(f->fake->count("api", "GET"), ==, f->fake->polls_until_done + 2);
}

void test_deadline(Fixture* f, gconstpointer) {
  f->fake->polls_until_done = 1 << 30;
  auto run = make_run(*f->fake);
  g_object_set(run->src, "timeout", 1u, nullptr);
  auto t0 = std::chrono::steady_clock::now();
  play_to_end(*run);
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ, "did not finish");
  g_assert_true(contains(run->error->message, f->fake->task_id));
  g_assert_cmpfloat(secs, <, 5.0);
}

// ------------------------------------------------------------------ retries

void test_poll_retries_on_5xx_and_gateway(Fixture* f, gconstpointer) {
  f->fake->on_poll = [](int n) -> std::optional<FakeReply> {
    if (n == 1) return FakeReply{500, R"({"code":500,"message":"internal"})"};
    if (n == 2) return FakeReply{502, "<html>Bad Gateway</html>", "text/html"};
    return std::nullopt;
  };
  f->fake->polls_until_done = 3;
  auto run = make_run(*f->fake);
  play_to_end(*run);
  g_assert_no_error(run->error);
  g_assert_true(run->bytes == f->fake->video);
}

void test_submit_429_retried(Fixture* f, gconstpointer) {
  f->fake->on_submit = [](int n) -> std::optional<FakeReply> {
    if (n == 1) {
      FakeReply r{429, R"({"code":429,"message":"rate limited"})"};
      r.headers["Retry-After"] = "0";
      return r;
    }
    return std::nullopt;
  };
  auto run = make_run(*f->fake);
  play_to_end(*run);
  g_assert_no_error(run->error);
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 2);
}

// The first download stops after `cut` bytes (a plain or a chunked reply):
// the element must resume with Range from there and deliver every byte.
void assert_cut_download_resumed(Fixture* f, size_t cut, bool chunked) {
  const std::string video = f->fake->video;
  f->fake->on_download = [video, cut, chunked](int n,
                                               const std::string&) -> std::optional<FakeReply> {
    if (n != 1) return std::nullopt;
    FakeReply r{200, video, "video/mp4"};
    r.cut_after = cut;
    r.chunked = chunked;
    return r;
  };
  auto run = make_run(*f->fake);
  play_to_end(*run);
  g_assert_no_error(run->error);
  g_assert_true(run->bytes == f->fake->video);
  bool ranged = false;
  for (const auto& r : f->fake->requests())
    ranged |= r.server == "cdn" && r.range == "bytes=" + std::to_string(cut) + "-";
  g_assert_true(ranged);
}

void test_download_resumes_with_range(Fixture* f, gconstpointer) {
  assert_cut_download_resumed(f, 1000000, false);  // shorter than its Content-Length
}

// ------------------------------------------------------------------ bytes let go, read again

constexpr size_t kChunk = 256 * 1024;  // DownloadStore::kChunkSize

// The CDN's first reply stops after ten chunks and the resume waits a backoff
// (poll-interval 300 ms): meanwhile the reader takes every chunk there is, so in
// push mode the early ones leave memory without being written to disk.
void cut_first_download_after_ten_chunks(Fixture* f, std::unique_ptr<Run>& run) {
  const std::string video = f->fake->video;
  f->fake->on_download = [video](int n, const std::string&) -> std::optional<FakeReply> {
    if (n != 1) return std::nullopt;
    FakeReply r{200, video, "video/mp4"};
    r.cut_after = 10 * kChunk;
    return r;
  };
  g_object_set(run->src, "poll-interval", 300u, nullptr);
}

// Seeks a pipeline at EOS to byte `offset` and plays to the end again.
void seek_and_play_to_end(Run& run, guint64 offset) {
  {
    std::lock_guard<std::mutex> lock(run.mutex);
    run.bytes.clear();
  }
  run.eos = false;
  g_assert_true(
      gst_element_seek_simple(run.pipeline, GST_FORMAT_BYTES, GST_SEEK_FLAG_FLUSH, offset));
  play_to_end(run);
}

// True when the CDN was asked for bytes from `from` on (to the end or to a bound).
bool cdn_got_range(FakeWaveSpeed& fake, guint64 from) {
  const std::string prefix = "bytes=" + std::to_string(from) + "-";
  for (const auto& r : fake.requests())
    if (r.server == "cdn" && r.range.rfind(prefix, 0) == 0) return true;
  return false;
}

void test_push_seek_back_reads_let_go_bytes_again(Fixture* f, gconstpointer) {
  auto run = make_run(*f->fake);
  cut_first_download_after_ten_chunks(f, run);
  play_to_end(*run);
  g_assert_no_error(run->error);
  g_assert_true(run->bytes == f->fake->video);
  g_assert_cmpint(f->fake->count("cdn", "GET"), ==, 2);

  // Chunk 3 was taken by the reader and let go: the seek reads it again from the CDN.
  const guint64 offset = 3 * kChunk + 1000;
  seek_and_play_to_end(*run, offset);
  g_assert_no_error(run->error);
  g_assert_true(run->eos);
  g_assert_cmpuint(run->bytes.size(), ==, f->fake->video.size() - offset);
  g_assert_true(run->bytes == f->fake->video.substr(offset));
  g_assert_true(cdn_got_range(*f->fake, offset));
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);
  for (const auto& r : f->fake->requests())  // the key never goes to the CDN, read again or not
    g_assert_true(r.server != "cdn" || r.authorization.empty());
}

void test_refused_reread_is_a_clear_error(Fixture* f, gconstpointer) {
  auto run = make_run(*f->fake);
  cut_first_download_after_ten_chunks(f, run);
  play_to_end(*run);
  g_assert_true(run->eos);
  const std::string video = f->fake->video;
  f->fake->on_download = [video](int n, const std::string&) -> std::optional<FakeReply> {
    if (n <= 2) return FakeReply{200, video, "video/mp4"};
    return FakeReply{410, "expired", "text/plain"};
  };
  auto t0 = std::chrono::steady_clock::now();
  seek_and_play_to_end(*run, 3 * kChunk);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND, "HTTP 410");
  g_assert_true(contains(run->error->message, f->fake->task_id));
  g_assert_true(contains(run->error->message, "again"));
  g_assert_cmpint(f->fake->count("cdn", "GET"), ==, 3);  // a 410 is not retried
  g_assert_cmpfloat(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), <,
                    5.0);
}

// Pull mode (qtdemux, typefind) reads anywhere: every byte stays on disk and
// reading a part again makes no request.
void test_pull_mode_keeps_every_byte(Fixture* f, gconstpointer) {
  auto run = make_run(*f->fake);
  cut_first_download_after_ten_chunks(f, run);
  GstPad* pad = gst_element_get_static_pad(run->src, "src");
  g_assert_cmpint(gst_element_set_state(run->src, GST_STATE_READY), ==, GST_STATE_CHANGE_SUCCESS);
  g_assert_true(gst_pad_activate_mode(pad, GST_PAD_MODE_PULL, TRUE));
  auto read = [&](guint64 offset, guint size) {
    GstBuffer* buffer = nullptr;
    g_assert_cmpint(gst_pad_get_range(pad, offset, size, &buffer), ==, GST_FLOW_OK);
    GstMapInfo map;
    gst_buffer_map(buffer, &map, GST_MAP_READ);
    std::string bytes(reinterpret_cast<const char*>(map.data), map.size);
    gst_buffer_unmap(buffer, &map);
    gst_buffer_unref(buffer);
    return bytes;
  };
  std::string all;
  for (guint64 offset = 0; offset < f->fake->video.size(); offset += kChunk)
    all += read(offset, kChunk);
  g_assert_true(all == f->fake->video);
  g_assert_true(read(3 * kChunk + 5, 2 * kChunk) ==
                f->fake->video.substr(3 * kChunk + 5, 2 * kChunk));
  g_assert_cmpint(f->fake->count("cdn", "GET"), ==, 2);  // the first reply and its resume only
  g_assert_true(gst_pad_activate_mode(pad, GST_PAD_MODE_PULL, FALSE));
  gst_object_unref(pad);
}

// A CDN that answers each Range with 256 KiB and "bytes a-b/*" (no total): no
// reply is the end of the file, the download goes on to the last byte.
void test_capped_ranges_without_total_are_not_the_end(Fixture* f, gconstpointer) {
  const std::string video = f->fake->video;
  f->fake->on_download = [video](int n, const std::string&) -> std::optional<FakeReply> {
    if (n != 1) return std::nullopt;
    FakeReply r{200, video, "video/mp4"};
    r.cut_after = 1000000;
    return r;
  };
  f->fake->range_cap = kChunk;
  f->fake->range_total_unknown = true;
  auto run = make_run(*f->fake);
  play_to_end(*run);
  g_assert_no_error(run->error);
  g_assert_cmpuint(run->bytes.size(), ==, video.size());
  g_assert_true(run->bytes == video);
}

void test_retry_after_past_deadline_fails_at_once(Fixture* f, gconstpointer) {
  f->fake->on_poll = [](int) -> std::optional<FakeReply> {
    FakeReply r{429, R"({"code":429,"message":"slow down"})"};
    r.headers["Retry-After"] = "3600";
    return r;
  };
  auto run = make_run(*f->fake);
  g_object_set(run->src, "timeout", 60u, nullptr);
  auto t0 = std::chrono::steady_clock::now();
  play_to_end(*run);
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ, "past the deadline");
  g_assert_true(contains(run->error->message, f->fake->task_id));
  g_assert_cmpfloat(secs, <, 5.0);
}

void test_processing_5004_keeps_polling(Fixture* f, gconstpointer) {
  f->fake->polls_until_done = 3;
  FakeWaveSpeed* fake = f->fake.get();
  f->fake->on_poll = [fake](int n) -> std::optional<FakeReply> {
    if (n > 3) return std::nullopt;
    std::string json = fake->task_json("processing");
    json.replace(json.find("\"error\":\"\""), 10,
                 "\"error\":\"sync wait timed out\",\"code\":5004");
    return FakeReply{200, json};
  };
  auto run = make_run(*f->fake);
  play_to_end(*run);
  g_assert_no_error(run->error);
  g_assert_true(run->bytes == f->fake->video);
}

void test_final_statuses_cancelled_and_timeout(Fixture* f, gconstpointer) {
  for (const char* status : {"cancelled", "timeout"}) {
    FakeWaveSpeed fake;
    fake.video = "x";
    fake.final_status = status;
    auto run = make_run(fake);
    play_to_end(*run);
    assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_FAILED, status);
    g_assert_true(contains(run->error->message, fake.task_id));
    g_assert_cmpint(fake.count("cdn", "GET"), ==, 0);
  }
  (void)f;
}

void test_output_must_be_http(Fixture* f, gconstpointer) {
  FakeWaveSpeed* fake = f->fake.get();
  f->fake->on_poll = [fake](int n) -> std::optional<FakeReply> {
    if (n < 2) return std::nullopt;
    std::string json = fake->task_json("completed");
    json.replace(json.find(fake->output_url()), fake->output_url().size(), "file:///etc/passwd");
    return FakeReply{200, json};
  };
  f->fake->polls_until_done = 1;
  auto run = make_run(*f->fake);
  play_to_end(*run);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ, "not an http(s) URL");
}

void test_oversized_reply_refused(Fixture* f, gconstpointer) {
  f->fake->on_poll = [](int) -> std::optional<FakeReply> {
    return FakeReply{200,
                     "{\"code\":200,\"message\":\"" + std::string(5 * 1024 * 1024, 'a') + "\"}"};
  };
  auto run = make_run(*f->fake);
  g_object_set(run->src, "retries", 1u, nullptr);
  play_to_end(*run);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ, "larger than 4 MiB");
}

void test_stalled_poll_caught_by_request_timeout(Fixture* f, gconstpointer) {
  f->fake->on_poll = [](int n) -> std::optional<FakeReply> {
    if (n == 1) return FakeReply{200, "", "", {}, true};  // this one never answers
    return std::nullopt;
  };
  f->fake->polls_until_done = 2;
  auto run = make_run(*f->fake);
  g_object_set(run->src, "request-timeout", 1u, nullptr);
  play_to_end(*run);
  g_assert_no_error(run->error);
  g_assert_true(run->bytes == f->fake->video);
}

void test_206_stopping_short_is_resumed(Fixture* f, gconstpointer) {
  const std::string video = f->fake->video;
  f->fake->on_download = [video](int n, const std::string& range) -> std::optional<FakeReply> {
    if (n == 1) {  // cut: the element resumes with Range...
      FakeReply r{200, video, "video/mp4"};
      r.cut_after = 1000000;
      return r;
    }
    if (n == 2) {  // ...and gets a well-formed 206 covering only part of what is left
      unsigned long long start = 0;
      sscanf(range.c_str(), "bytes=%llu-", &start);
      FakeReply r{206, video.substr(start, 50000), "video/mp4"};
      r.headers["Content-Range"] = "bytes " + std::to_string(start) + "-" +
                                   std::to_string(start + 49999) + "/" +
                                   std::to_string(video.size());
      return r;
    }
    return std::nullopt;
  };
  auto run = make_run(*f->fake);
  play_to_end(*run);
  g_assert_no_error(run->error);
  g_assert_true(run->bytes == f->fake->video);
  g_assert_cmpint(f->fake->count("cdn", "GET"), ==, 3);
}

void test_cut_chunked_reply_is_not_taken_whole(Fixture* f, gconstpointer) {
  // A chunked reply cut before its last chunk ends like a whole one to libsoup.
  assert_cut_download_resumed(f, 700000, true);
}

// A submit answered already completed (a synchronous mode): straight to the download.
void test_submit_answered_completed(Fixture* f, gconstpointer) {
  FakeWaveSpeed* fake = f->fake.get();
  f->fake->on_submit = [fake](int) -> std::optional<FakeReply> {
    return FakeReply{200, fake->task_json("completed")};
  };
  auto run = make_run(*f->fake);
  play_to_end(*run);
  g_assert_no_error(run->error);
  g_assert_true(run->bytes == f->fake->video);
  g_assert_cmpint(f->fake->count("api", "GET"), ==, 0);
}

void test_failed_task_beside_5xxx_code(Fixture* f, gconstpointer) {
  f->fake->on_poll = [](int) -> std::optional<FakeReply> {
    return FakeReply{200,
                     R"({"code":5003,"message":"service unavailable","data":{"id":"task-0123abcd",)"
                     R"("status":"failed","error":"GPU pool unavailable","code":5003}})"};
  };
  auto run = make_run(*f->fake);
  play_to_end(*run);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_FAILED, "GPU pool unavailable");
  g_assert_true(contains(run->error->message, "5003"));
}

void test_uppercase_status(Fixture* f, gconstpointer) {
  FakeWaveSpeed* fake = f->fake.get();
  f->fake->on_poll = [fake](int) -> std::optional<FakeReply> {
    std::string json = fake->task_json("completed");
    json.replace(json.find("\"completed\""), 11, "\"COMPLETED\"");
    return FakeReply{200, json};
  };
  auto run = make_run(*f->fake);
  play_to_end(*run);
  g_assert_no_error(run->error);
  g_assert_true(run->bytes == f->fake->video);
}

// ------------------------------------------------------------------ state changes

double seconds_to_null(Run& run) {
  auto t0 = std::chrono::steady_clock::now();
  g_assert_cmpint(gst_element_set_state(run.pipeline, GST_STATE_NULL), ==,
                  GST_STATE_CHANGE_SUCCESS);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void test_null_during_polling(Fixture* f, gconstpointer) {
  f->fake->polls_until_done = 1 << 30;
  auto run = make_run(*f->fake);
  gst_element_set_state(run->pipeline, GST_STATE_PLAYING);
  g_assert_true(f->fake->wait_for_count("api", "GET", 2, 10000));
  g_assert_cmpfloat(seconds_to_null(*run), <, 0.2);
  // The paid task is not cancelled remotely.
  g_assert_cmpint(f->fake->count("api", "DELETE"), ==, 0);
}

void test_null_during_hung_submit(Fixture* f, gconstpointer) {
  f->fake->on_submit = [](int) -> std::optional<FakeReply> {
    return FakeReply{200, "", "", {}, true};
  };
  auto run = make_run(*f->fake);
  gst_element_set_state(run->pipeline, GST_STATE_PLAYING);
  g_assert_true(f->fake->wait_for_count("api", "POST", 1, 10000));
  g_usleep(50 * 1000);
  g_assert_cmpfloat(seconds_to_null(*run), <, 0.2);
}

void test_null_during_hung_download(Fixture* f, gconstpointer) {
  f->fake->on_download = [](int, const std::string&) -> std::optional<FakeReply> {
    return FakeReply{200, "", "", {}, true};
  };
  auto run = make_run(*f->fake);
  gst_element_set_state(run->pipeline, GST_STATE_PLAYING);
  g_assert_true(f->fake->wait_for_count("cdn", "GET", 1, 10000));
  g_usleep(50 * 1000);
  g_assert_cmpfloat(seconds_to_null(*run), <, 0.2);
}

void test_null_during_backoff(Fixture* f, gconstpointer) {
  f->fake->on_poll = [](int) -> std::optional<FakeReply> {
    FakeReply r{503, "<html>busy</html>", "text/html"};
    r.headers["Retry-After"] = "30";
    return r;
  };
  auto run = make_run(*f->fake);
  gst_element_set_state(run->pipeline, GST_STATE_PLAYING);
  g_assert_true(f->fake->wait_for_count("api", "GET", 1, 10000));
  g_usleep(100 * 1000);  // now in the 30 s wait
  g_assert_cmpfloat(seconds_to_null(*run), <, 0.2);
}

// gst-launch -e sends EOS on Ctrl-C: the pipeline ends at once and says the task goes on.
void test_eos_while_polling(Fixture* f, gconstpointer) {
  f->fake->polls_until_done = 1 << 30;
  auto run = make_run(*f->fake);
  gst_element_set_state(run->pipeline, GST_STATE_PLAYING);
  g_assert_true(f->fake->wait_for_count("api", "GET", 2, 10000));
  gst_element_send_event(run->pipeline, gst_event_new_eos());
  g_autoptr(GstBus) bus = gst_element_get_bus(run->pipeline);
  GstMessage* msg = gst_bus_timed_pop_filtered(
      bus, 2 * GST_SECOND, static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  g_assert_nonnull(msg);
  g_assert_cmpint(GST_MESSAGE_TYPE(msg), ==, GST_MESSAGE_EOS);
  gst_message_unref(msg);
  size_t said = 0;
  {
    std::lock_guard<std::mutex> lock(run->mutex);
    g_assert_true(run->progress.back().type == GST_PROGRESS_TYPE_CANCELED);
    g_assert_true(contains(run->progress.back().text, "request-id=" + f->fake->task_id));
    said = run->progress.size();
  }
  gst_element_set_state(run->pipeline, GST_STATE_NULL);  // said once, not again at stop
  std::lock_guard<std::mutex> lock(run->mutex);
  g_assert_cmpuint(run->progress.size(), ==, said);
}

// NULL while a submit is in flight: the task may exist. Playing again must not pay twice.
void test_no_resubmit_after_unanswered_submit(Fixture* f, gconstpointer) {
  f->fake->on_submit = [](int) -> std::optional<FakeReply> {
    return FakeReply{200, "", "", {}, true};
  };
  auto run = make_run(*f->fake);
  gst_element_set_state(run->pipeline, GST_STATE_PLAYING);
  g_assert_true(f->fake->wait_for_count("api", "POST", 1, 10000));
  g_usleep(50 * 1000);
  gst_element_set_state(run->pipeline, GST_STATE_NULL);
  play_to_end(*run);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS, "avoid a second charge");
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);

  // The user who wants it anyway says so.
  f->fake->on_submit = nullptr;
  gst_element_set_state(run->pipeline, GST_STATE_NULL);
  g_clear_error(&run->error);
  g_object_set(run->src, "resume-unfinished", FALSE, nullptr);
  play_to_end(*run);
  g_assert_no_error(run->error);
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 2);
}

// A submit that never left the machine (nothing listens) made no task: trying again is fine.
void test_unsent_submit_is_not_held_against_a_rerun(Fixture* f, gconstpointer) {
  g_autoptr(GSocket) sock =
      g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, nullptr);
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new(lo, 0);
  g_assert_true(g_socket_bind(sock, any, TRUE, nullptr));  // a port of ours, never listened on
  g_autoptr(GSocketAddress) bound = g_socket_get_local_address(sock, nullptr);
  const std::string url =
      "http://127.0.0.1:" +
      std::to_string(g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound)));
  auto run = make_run(*f->fake);
  g_object_set(run->src, "api-url", url.c_str(), "retries", 1u, nullptr);
  for (int cycle = 0; cycle < 2; cycle++) {
    play_to_end(*run);
    assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ, "Could not submit");
    g_assert_false(contains(run->error->message, "second charge"));
    g_assert_true(progress_says(*run, "no task was made"));
    gst_element_set_state(run->pipeline, GST_STATE_NULL);
    g_clear_error(&run->error);
  }
}

// An application that restarts the pipeline from a bus sync handler (on the
// element's own worker thread): no deadlock, no second submit, the whole video.
struct Restart {
  GstElement* pipeline;
  std::atomic<bool> done{false};
};

GstBusSyncReply restart_on_first_poll(GstBus*, GstMessage* msg, gpointer data) {
  auto* r = static_cast<Restart*>(data);
  GstProgressType type;
  gchar *code = nullptr, *text = nullptr;
  if (GST_MESSAGE_TYPE(msg) != GST_MESSAGE_PROGRESS) return GST_BUS_PASS;
  gst_message_parse_progress(msg, &type, &code, &text);
  const bool polling = g_str_equal(code, "poll") && type == GST_PROGRESS_TYPE_CONTINUE;
  g_free(code);
  g_free(text);
  if (polling && !r->done.exchange(true)) {
    gst_element_set_state(r->pipeline, GST_STATE_NULL);
    gst_element_set_state(r->pipeline, GST_STATE_PLAYING);
  }
  return GST_BUS_PASS;
}

void test_restart_from_a_sync_handler(Fixture* f, gconstpointer) {
  f->fake->polls_until_done = 3;
  auto run = make_run(*f->fake, "klingsrc name=src ! fakesink name=sink");
  g_object_set(run->src, "prompt", kPrompt, nullptr);
  Restart restart{run->pipeline};
  g_autoptr(GstBus) bus = gst_element_get_bus(run->pipeline);
  gst_bus_set_sync_handler(bus, restart_on_first_poll, &restart, nullptr);
  play_to_end(*run, 20);
  g_assert_no_error(run->error);
  g_assert_true(restart.done);
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);
  gst_element_set_state(run->pipeline, GST_STATE_NULL);
  gst_bus_set_sync_handler(bus, nullptr, nullptr, nullptr);
}

void test_no_second_submit_across_state_cycles(Fixture* f, gconstpointer) {
  auto run = make_run(*f->fake);
  GstState state;
  for (int cycle = 0; cycle < 2; cycle++) {
    gst_element_set_state(run->pipeline, GST_STATE_PAUSED);
    g_assert_cmpint(gst_element_get_state(run->pipeline, &state, nullptr, 20 * GST_SECOND), ==,
                    GST_STATE_CHANGE_SUCCESS);
    gst_element_set_state(run->pipeline, GST_STATE_READY);
  }
  play_to_end(*run);
  g_assert_true(run->eos);
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);
}

// A run set to NULL while its task is being polled (the task goes on).
std::unique_ptr<Run> stopped_while_polling(Fixture* f) {
  f->fake->polls_until_done = 6;
  auto run = make_run(*f->fake);
  gst_element_set_state(run->pipeline, GST_STATE_PLAYING);
  g_assert_true(f->fake->wait_for_count("api", "GET", 2, 10000));
  gst_element_set_state(run->pipeline, GST_STATE_NULL);
  return run;
}

void test_resume_after_stop_while_polling(Fixture* f, gconstpointer) {
  auto run = stopped_while_polling(f);
  {
    std::lock_guard<std::mutex> lock(run->mutex);
    run->bytes.clear();
  }
  play_to_end(*run);
  g_assert_no_error(run->error);
  g_assert_true(run->bytes == f->fake->video);
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);
}

// ------------------------------------------------------------------ the key

void test_key_not_readable(Fixture* f, gconstpointer) {
  auto run = make_run(*f->fake);
  GParamSpec* pspec = g_object_class_find_property(G_OBJECT_GET_CLASS(run->src), "api-key");
  g_assert_nonnull(pspec);
  g_assert_false(pspec->flags & G_PARAM_READABLE);
  g_autofree char* dot =
      gst_debug_bin_to_dot_data(GST_BIN(run->pipeline), GST_DEBUG_GRAPH_SHOW_ALL);
  g_assert_false(contains(dot, f->fake->key));
}

std::mutex log_mutex;
std::string captured_log;

void capture_log(GstDebugCategory*, GstDebugLevel, const gchar*, const gchar*, gint, GObject*,
                 GstDebugMessage* message, gpointer) {
  std::lock_guard<std::mutex> lock(log_mutex);
  const gchar* text = gst_debug_message_get(message);
  if (text) captured_log += text;
}

void test_key_never_logged(Fixture* f, gconstpointer) {
  gst_debug_set_threshold_for_name("klingsrc", GST_LEVEL_MEMDUMP);
  gst_debug_add_log_function(capture_log, nullptr, nullptr);
  gst_debug_remove_log_function(gst_debug_log_default);  // capture only, keep stderr quiet
  auto run = make_run(*f->fake);
  play_to_end(*run);
  gst_debug_remove_log_function(capture_log);
  gst_debug_add_log_function(gst_debug_log_default, nullptr, nullptr);
  gst_debug_set_threshold_for_name("klingsrc", GST_LEVEL_NONE);
  g_assert_true(run->eos);
  std::lock_guard<std::mutex> lock(log_mutex);
  g_assert_true(contains(captured_log, f->fake->task_id));  // logging did happen
  g_assert_false(contains(captured_log, f->fake->key));
}

// ------------------------------------------------------------------ journal and cache

std::string temp_path(const char* name) {
  g_autofree char* dir = g_dir_make_tmp("klingsrc-XXXXXX", nullptr);
  g_autofree char* path = g_build_filename(dir, name, nullptr);
  return path;
}

std::string read_file(const std::string& path) {
  gchar* data = nullptr;
  gsize size = 0;
  if (!g_file_get_contents(path.c_str(), &data, &size, nullptr)) return "";
  std::string out(data, size);
  g_free(data);
  return out;
}

// The ledger (an SQLite database) read as kling-tasks reads it.
std::optional<kling::LedgerRow> ledger_row(const std::string& path, const std::string& task_id) {
  std::string error;
  auto ledger = kling::Ledger::open(path, &error);
  return ledger ? ledger->find_task(task_id) : std::nullopt;
}

void test_journal_before_first_poll(Fixture* f, gconstpointer) {
  const std::string journal = temp_path("ledger.db");
  std::optional<kling::LedgerRow> at_first_poll;
  f->fake->on_poll = [&](int n) -> std::optional<FakeReply> {
    if (n == 1) at_first_poll = ledger_row(journal, f->fake->task_id);
    return std::nullopt;
  };
  auto run = make_run(*f->fake);
  g_object_set(run->src, "journal", journal.c_str(), nullptr);
  play_to_end(*run);
  g_assert_true(run->eos);
  g_assert_true(at_first_poll.has_value());
  g_assert_cmpstr(at_first_poll->state.c_str(), ==, kling::Ledger::kSubmitted);
  g_assert_cmpstr(at_first_poll->prompt.c_str(), ==, kPrompt);
  auto last = ledger_row(journal, f->fake->task_id);
  g_assert_true(last && last->state == kling::Ledger::kDelivered);
  g_assert_true(last->outputs.at(0) == f->fake->output_url());
  g_assert_false(contains(read_file(journal), f->fake->key));
}

void test_rerun_picks_up_journaled_task(Fixture* f, gconstpointer) {
  const std::string journal = temp_path("ledger.db");
  f->fake->polls_until_done = 4;
  {
    auto first = make_run(*f->fake);
    g_object_set(first->src, "journal", journal.c_str(), nullptr);
    gst_element_set_state(first->pipeline, GST_STATE_PLAYING);
    g_assert_true(f->fake->wait_for_count("api", "GET", 2, 10000));
  }  // interrupted: the pipeline is torn down while the task runs
  auto second = make_run(*f->fake);
  g_object_set(second->src, "journal", journal.c_str(), nullptr);
  play_to_end(*second);
  g_assert_no_error(second->error);
  g_assert_true(second->bytes == f->fake->video);
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);
  g_assert_true(progress_says(*second, "from the ledger instead of paying"));

  // Delivered now: a third run replays it (a new one is asked for with variation).
  auto third = make_run(*f->fake);
  g_object_set(third->src, "journal", journal.c_str(), nullptr);
  play_to_end(*third);
  g_assert_true(third->bytes == f->fake->video);
  g_assert_true(progress_says(*third, "costs nothing"));
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);
  auto fourth = make_run(*f->fake);
  g_object_set(fourth->src, "journal", journal.c_str(), "variation", 1u, nullptr);
  play_to_end(*fourth);
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 2);
}

void test_resume_unfinished_off_submits_anew(Fixture* f, gconstpointer) {
  const std::string journal = temp_path("ledger.db");
  f->fake->polls_until_done = 1 << 30;
  {
    auto first = make_run(*f->fake);
    g_object_set(first->src, "journal", journal.c_str(), nullptr);
    gst_element_set_state(first->pipeline, GST_STATE_PLAYING);
    g_assert_true(f->fake->wait_for_count("api", "GET", 1, 10000));
  }
  auto second = make_run(*f->fake);
  g_object_set(second->src, "journal", journal.c_str(), "resume-unfinished", FALSE, nullptr);
  gst_element_set_state(second->pipeline, GST_STATE_PLAYING);
  g_assert_true(f->fake->wait_for_count("api", "POST", 2, 10000));
}

void test_gone_task_not_picked_up_again(Fixture* f, gconstpointer) {
  const std::string journal = temp_path("ledger.db");
  f->fake->on_poll = [](int) -> std::optional<FakeReply> {
    return FakeReply{404, R"({"code":404,"message":"Prediction not found"})"};
  };
  auto first = make_run(*f->fake);
  g_object_set(first->src, "journal", journal.c_str(), nullptr);
  play_to_end(*first);
  assert_error(*first, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND, "not found");
  f->fake->on_poll = nullptr;
  auto second = make_run(*f->fake);
  g_object_set(second->src, "journal", journal.c_str(), nullptr);
  play_to_end(*second);
  g_assert_no_error(second->error);
  g_assert_false(progress_says(*second, "from the ledger"));
  g_assert_true(progress_says(*second, "is gone"));
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 2);
}

void test_task_delivered_by_request_id_replays(Fixture* f, gconstpointer) {
  const std::string journal = temp_path("ledger.db");
  f->fake->polls_until_done = 3;
  {
    auto first = make_run(*f->fake);
    g_object_set(first->src, "journal", journal.c_str(), nullptr);
    gst_element_set_state(first->pipeline, GST_STATE_PLAYING);
    g_assert_true(f->fake->wait_for_count("api", "GET", 1, 10000));
  }  // interrupted while polling
  auto resumed = make_run(*f->fake, "klingsrc name=src ! fakesink name=sink");
  g_object_set(resumed->src, "journal", journal.c_str(), "request-id", f->fake->task_id.c_str(),
               nullptr);
  play_to_end(*resumed);
  g_assert_true(resumed->bytes == f->fake->video);
  // The task is delivered and its output lives: the original request run again replays it.
  auto again = make_run(*f->fake);
  g_object_set(again->src, "journal", journal.c_str(), nullptr);
  play_to_end(*again);
  g_assert_true(again->bytes == f->fake->video);
  g_assert_true(progress_says(*again, ("Replay of task " + f->fake->task_id).c_str()));
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);
}

void test_cache_dir_keeps_nothing_of_an_interrupted_run(Fixture* f, gconstpointer) {
  g_autofree char* dir = g_dir_make_tmp("kling-cache-XXXXXX", nullptr);
  f->fake->on_download = [](int, const std::string&) -> std::optional<FakeReply> {
    return FakeReply{200, "", "", {}, true};
  };
  {
    auto run = make_run(*f->fake);
    g_object_set(run->src, "cache-dir", dir, nullptr);
    gst_element_set_state(run->pipeline, GST_STATE_PLAYING);
    g_assert_true(f->fake->wait_for_count("cdn", "GET", 1, 10000));
  }
  g_autoptr(GDir) listing = g_dir_open(dir, 0, nullptr);
  const char* name = g_dir_read_name(listing);
  if (name) g_error("left in the cache folder: %s", name);
}

void test_cache_replays_without_submit(Fixture* f, gconstpointer) {
  g_autofree char* dir = g_dir_make_tmp("kling-cache-XXXXXX", nullptr);
  auto first = make_run(*f->fake);
  g_object_set(first->src, "cache-dir", dir, nullptr);
  play_to_end(*first);
  g_assert_true(first->eos);
  gst_element_set_state(first->pipeline, GST_STATE_NULL);
  auto second = make_run(*f->fake);
  g_object_set(second->src, "cache-dir", dir, nullptr);
  play_to_end(*second);
  g_assert_true(second->eos);
  g_assert_true(second->bytes == f->fake->video);
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);
  g_assert_true(progress_says(*second, "Replaying the cached video of task "));
  // Another prompt is another entry.
  auto third = make_run(*f->fake);
  g_object_set(third->src, "cache-dir", dir, "prompt", "a blue fox", nullptr);
  play_to_end(*third);
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 2);
}

// cache-dir set on an element stopped while polling: the resumed download is
// kept whole and cached, and a new element replays it without a submit.
void test_cache_dir_set_after_a_stop_while_polling(Fixture* f, gconstpointer) {
  auto run = stopped_while_polling(f);
  g_autofree char* dir = g_dir_make_tmp("kling-cache-XXXXXX", nullptr);
  g_object_set(run->src, "cache-dir", dir, nullptr);
  play_to_end(*run);
  g_assert_no_error(run->error);
  g_assert_true(progress_says(*run, "Saved the video of task "));
  auto replay = make_run(*f->fake);
  g_object_set(replay->src, "cache-dir", dir, nullptr);
  play_to_end(*replay);
  g_assert_true(replay->eos);
  g_assert_true(replay->bytes == f->fake->video);
  g_assert_true(progress_says(*replay, "Replaying the cached video of task "));
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);
}

// ------------------------------------------------------------------ models, tags

void test_i2v_sends_image_not_aspect_ratio(Fixture* f, gconstpointer) {
  auto run = make_run(*f->fake);
  g_object_set(run->src, "model", "kwaivgi/kling-v2.0-i2v-master", "image",
               "https://example.com/fox.png", "guidance-scale", 0.25, nullptr);
  play_to_end(*run);
  g_assert_no_error(run->error);
  for (const auto& r : f->fake->requests()) {
    if (r.method != "POST") continue;
    assert_str_eq(r.path, "/api/v3/kwaivgi/kling-v2.0-i2v-master");
    g_autoptr(JsonParser) parser = json_parser_new();
    g_assert_true(json_parser_load_from_data(parser, r.body.c_str(), r.body.size(), nullptr));
    JsonObject* o = json_node_get_object(json_parser_get_root(parser));
    g_assert_cmpstr(json_object_get_string_member(o, "image"), ==, "https://example.com/fox.png");
    g_assert_cmpfloat(json_object_get_double_member(o, "guidance_scale"), ==, 0.25);
    g_assert_false(json_object_has_member(o, "aspect_ratio"));
  }
}

void test_fields_a_model_does_not_take(Fixture* f, gconstpointer) {
  struct Case {
    const char* model;
    const char* image;
    const char* ratio;
    const char* words;
  };
  const Case cases[] = {
      {"kwaivgi/kling-v2.0-i2v-master", nullptr, nullptr, "image"},
      {"kwaivgi/kling-v2.0-t2v-master", "https://example.com/a.png", nullptr, "takes no image"},
      {"kwaivgi/kling-v2.0-i2v-master", "https://example.com/a.png", "1:1",
       "takes no aspect-ratio"},
  };
  for (const Case& c : cases) {
    auto run = make_run(*f->fake);
    g_object_set(run->src, "model", c.model, nullptr);
    if (c.image) g_object_set(run->src, "image", c.image, nullptr);
    if (c.ratio) gst_util_set_object_arg(G_OBJECT(run->src), "aspect-ratio", c.ratio);
    play_to_end(*run);
    assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS, c.words);
  }
  // Only the model catalogue was asked for: nothing submitted.
  for (const auto& r : f->fake->requests()) assert_str_eq(r.server, "catalog");
}

void test_tags(Fixture* f, gconstpointer) {
  auto run = make_run(*f->fake);
  play_to_end(*run);
  g_assert_true(run->eos);
  g_assert_nonnull(run->tags);
  gchar* title = nullptr;
  gchar* encoder = nullptr;
  g_assert_true(gst_tag_list_get_string(run->tags, GST_TAG_TITLE, &title));
  g_assert_true(gst_tag_list_get_string(run->tags, GST_TAG_ENCODER, &encoder));
  g_assert_cmpstr(title, ==, kPrompt);
  g_assert_cmpstr(encoder, ==, "kwaivgi/kling-v2.0-t2v-master");
  g_free(title);
  g_free(encoder);
}

void on_source_setup(GstElement*, GstElement* source, gpointer) {
  g_object_set(source, "journal", "", "poll-interval", 20u, nullptr);
}

void test_playbin_plays_a_kling_uri(Fixture* f, gconstpointer) {
  f->fake->video = make_mp4(true);
  // The key and base URL come from the environment, never from the URI.
  g_setenv("WAVESPEED_API_KEY", f->fake->key.c_str(), TRUE);
  g_setenv("WAVESPEED_BASE_URL", f->fake->api_url().c_str(), TRUE);
  g_autoptr(GError) error = nullptr;
  g_autoptr(GstElement) playbin = gst_parse_launch(
      "playbin uri=kling://kwaivgi/kling-v2.1-t2v-master?prompt=a%20red%20fox&duration=10 "
      "video-sink=fakesink audio-sink=fakesink",
      &error);
  g_assert_no_error(error);
  g_signal_connect(playbin, "source-setup", G_CALLBACK(on_source_setup), nullptr);
  gst_element_set_state(playbin, GST_STATE_PLAYING);
  g_autoptr(GstBus) bus = gst_element_get_bus(playbin);
  GstMessage* msg = gst_bus_timed_pop_filtered(
      bus, 30 * GST_SECOND, static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  g_assert_nonnull(msg);
  g_assert_cmpint(GST_MESSAGE_TYPE(msg), ==, GST_MESSAGE_EOS);
  gst_message_unref(msg);
  gst_element_set_state(playbin, GST_STATE_NULL);
  g_unsetenv("WAVESPEED_API_KEY");
  g_unsetenv("WAVESPEED_BASE_URL");
  bool posted = false;
  for (const auto& r : f->fake->requests()) {
    if (r.method != "POST") continue;
    posted = true;
    assert_str_eq(r.path, "/api/v3/kwaivgi/kling-v2.1-t2v-master");
    g_assert_true(contains(r.body, "\"prompt\":\"a red fox\""));
    g_assert_true(contains(r.body, "\"duration\":10"));
  }
  g_assert_true(posted);
}

void test_element_exists() {
  g_autoptr(GstElementFactory) factory = gst_element_factory_find("klingsrc");
  g_assert_nonnull(factory);
  g_autoptr(GstElement) e = gst_element_factory_make("klingsrc", nullptr);
  // No key anywhere: NULL -> READY -> NULL works and posts nothing remote.
  g_assert_cmpint(gst_element_set_state(e, GST_STATE_READY), ==, GST_STATE_CHANGE_SUCCESS);
  g_assert_cmpint(gst_element_set_state(e, GST_STATE_NULL), ==, GST_STATE_CHANGE_SUCCESS);
}

void test_uri_handler(Fixture* f, gconstpointer) {
  g_autoptr(GError) error = nullptr;
  g_autoptr(GstElement) src = gst_element_make_from_uri(
      GST_URI_SRC,
      "kling://kwaivgi/kling-v2.1-t2v-master?prompt=a%20red%20fox&duration=10&aspect-ratio=1:1",
      nullptr, &error);
  g_assert_no_error(error);
  gchar *model = nullptr, *prompt = nullptr;
  gint duration = 0, ratio = -1;
  g_object_get(src, "model", &model, "prompt", &prompt, "duration", &duration, "aspect-ratio",
               &ratio, nullptr);
  g_assert_cmpstr(model, ==, "kwaivgi/kling-v2.1-t2v-master");
  g_assert_cmpstr(prompt, ==, "a red fox");
  g_assert_cmpint(duration, ==, 10);
  g_assert_cmpint(ratio, ==, 2);
  g_free(model);
  g_free(prompt);
  g_assert_false(gst_uri_handler_set_uri(GST_URI_HANDLER(src), "kling://?api-key=stolen", nullptr));
  (void)f;
}

}  // namespace

#define ADD(path, fn) g_test_add(path, Fixture, nullptr, setup, fn, teardown)

int main(int argc, char** argv) {
  g_unsetenv("WAVESPEED_API_KEY");
  g_unsetenv("WAVESPEED_BASE_URL");
  gst_init(&argc, &argv);
  g_test_init(&argc, &argv, nullptr);

  g_test_add_func("/klingsrc/element/exists-and-cycles-without-key", test_element_exists);
  ADD("/klingsrc/happy/bytes-identical-and-exact-request-body", test_bytes_identical_and_body);
  ADD("/klingsrc/happy/filesink-saves-the-exact-file", test_filesink_saves_exact_file);
  ADD("/klingsrc/happy/progress-before-first-byte-and-task-message",
      test_progress_and_task_messages);
  ADD("/klingsrc/happy/poll-url-bare-form", test_poll_url_bare_form);
  ADD("/klingsrc/happy/key-and-url-from-environment", test_env_defaults);
  ADD("/klingsrc/resume/by-request-id-does-not-submit", test_request_id_resumes_without_submit);
  ADD("/klingsrc/decode/faststart-pull-mode", test_decode_faststart_pull);
  ADD("/klingsrc/decode/moov-at-end-pull-mode", test_decode_moov_at_end_pull);
  ADD("/klingsrc/decode/faststart-push-mode", test_decode_faststart_push);
  ADD("/klingsrc/decode/moov-at-end-push-mode", test_decode_moov_at_end_push);
  ADD("/klingsrc/fail/missing-prompt-before-any-request", test_missing_prompt);
  ADD("/klingsrc/fail/missing-key-before-any-request", test_missing_key);
  ADD("/klingsrc/fail/bad-duration-refused-by-parser", test_bad_duration);
  ADD("/klingsrc/fail/key-over-plain-http-refused", test_plain_http_key_refused);
  ADD("/klingsrc/fail/401-not-authorized", test_401);
  ADD("/klingsrc/fail/403-not-authorized", test_403);
  ADD("/klingsrc/fail/400-bare-error-body", test_400_bare_error);
  ADD("/klingsrc/fail/submit-gateway-page-not-retried", test_submit_gateway_not_retried);
  ADD("/klingsrc/fail/error-envelope-inside-200", test_error_envelope_inside_200);
  ADD("/klingsrc/fail/task-failed-input-fault", test_failed_task_input_fault);
  ADD("/klingsrc/fail/task-failed-transient", test_failed_task_transient);
  ADD("/klingsrc/fail/malformed-json", test_malformed_poll_reply);
  ADD("/klingsrc/fail/reply-with-more-json-after-it", test_poll_reply_with_more_after_it);
  ADD("/klingsrc/fail/output-404-not-found", test_output_404);
  ADD("/klingsrc/fail/deadline", test_deadline);
  ADD("/klingsrc/retry/polls-survive-5xx-and-gateway-pages", test_poll_retries_on_5xx_and_gateway);
  ADD("/klingsrc/retry/submit-429-retried", test_submit_429_retried);
  ADD("/klingsrc/retry/download-resumes-with-range", test_download_resumes_with_range);
  ADD("/klingsrc/retry/capped-ranges-without-total-are-not-the-end",
      test_capped_ranges_without_total_are_not_the_end);
  ADD("/klingsrc/seek/push-seek-back-reads-let-go-bytes-again",
      test_push_seek_back_reads_let_go_bytes_again);
  ADD("/klingsrc/seek/refused-reread-is-a-clear-error", test_refused_reread_is_a_clear_error);
  ADD("/klingsrc/seek/pull-mode-keeps-every-byte", test_pull_mode_keeps_every_byte);
  ADD("/klingsrc/retry/retry-after-past-deadline-fails-at-once",
      test_retry_after_past_deadline_fails_at_once);
  ADD("/klingsrc/retry/processing-5004-keeps-polling", test_processing_5004_keeps_polling);
  ADD("/klingsrc/retry/stalled-poll-caught-by-request-timeout",
      test_stalled_poll_caught_by_request_timeout);
  ADD("/klingsrc/fail/cancelled-and-timeout-are-final", test_final_statuses_cancelled_and_timeout);
  ADD("/klingsrc/fail/output-url-must-be-http", test_output_must_be_http);
  ADD("/klingsrc/fail/oversized-reply-refused", test_oversized_reply_refused);
  ADD("/klingsrc/state/null-during-backoff-is-prompt", test_null_during_backoff);
  ADD("/klingsrc/state/eos-while-polling-ends-and-says-the-task-goes-on", test_eos_while_polling);
  ADD("/klingsrc/state/null-during-polling-is-prompt", test_null_during_polling);
  ADD("/klingsrc/state/no-resubmit-after-an-unanswered-submit",
      test_no_resubmit_after_unanswered_submit);
  ADD("/klingsrc/retry/206-stopping-short-is-resumed", test_206_stopping_short_is_resumed);
  ADD("/klingsrc/retry/cut-chunked-reply-is-not-taken-whole",
      test_cut_chunked_reply_is_not_taken_whole);
  ADD("/klingsrc/happy/uppercase-status", test_uppercase_status);
  ADD("/klingsrc/fail/failed-task-beside-a-5xxx-code-keeps-its-own-error",
      test_failed_task_beside_5xxx_code);
  ADD("/klingsrc/journal/task-delivered-by-request-id-replays",
      test_task_delivered_by_request_id_replays);
  ADD("/klingsrc/state/unsent-submit-is-not-held-against-a-rerun",
      test_unsent_submit_is_not_held_against_a_rerun);
  ADD("/klingsrc/state/restart-from-a-sync-handler-on-the-worker",
      test_restart_from_a_sync_handler);
  ADD("/klingsrc/happy/submit-answered-completed-needs-no-poll", test_submit_answered_completed);
  ADD("/klingsrc/journal/gone-task-not-picked-up-again", test_gone_task_not_picked_up_again);
  ADD("/klingsrc/cache/interrupted-run-leaves-nothing",
      test_cache_dir_keeps_nothing_of_an_interrupted_run);
  ADD("/klingsrc/state/null-during-hung-submit-is-prompt", test_null_during_hung_submit);
  ADD("/klingsrc/state/null-during-hung-download-is-prompt", test_null_during_hung_download);
  ADD("/klingsrc/state/no-second-submit-across-ready-paused-cycles",
      test_no_second_submit_across_state_cycles);
  ADD("/klingsrc/state/stop-while-polling-then-play-resumes-same-task",
      test_resume_after_stop_while_polling);
  ADD("/klingsrc/key/not-readable-not-in-dot-dump", test_key_not_readable);
  ADD("/klingsrc/key/never-in-logs", test_key_never_logged);
  ADD("/klingsrc/uri/kling-scheme-sets-properties", test_uri_handler);
  ADD("/klingsrc/uri/playbin-plays-a-kling-uri", test_playbin_plays_a_kling_uri);
  ADD("/klingsrc/journal/task-journaled-before-first-poll", test_journal_before_first_poll);
  ADD("/klingsrc/journal/rerun-after-interruption-picks-up-the-paid-task",
      test_rerun_picks_up_journaled_task);
  ADD("/klingsrc/journal/resume-unfinished-false-submits-anew",
      test_resume_unfinished_off_submits_anew);
  ADD("/klingsrc/cache/repeated-request-replays-without-submit", test_cache_replays_without_submit);
  ADD("/klingsrc/cache/set-after-a-stop-while-polling",
      test_cache_dir_set_after_a_stop_while_polling);
  ADD("/klingsrc/models/i2v-sends-image-and-guidance-not-aspect-ratio",
      test_i2v_sends_image_not_aspect_ratio);
  ADD("/klingsrc/models/fields-a-model-does-not-take-are-refused",
      test_fields_a_model_does_not_take);
  ADD("/klingsrc/tags/title-from-prompt-encoder-from-model", test_tags);
  return g_test_run();
}
