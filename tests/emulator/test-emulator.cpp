// SPDX-License-Identifier: LGPL-2.1-or-later
// Contract tests for kling-emulator: each case spawns the built emulator
// ($KLING_EMULATOR) with the flags it needs and checks what a client of the
// WaveSpeed v3 API would see, over loopback, with a libsoup client.
#include <gio/gio.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include <sys/prctl.h>
#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

constexpr char kKey[] = "emulator-key";
constexpr char kModel[] = "kwaivgi/kling-v2.0-t2v-master";
constexpr gsize kFixtureSize = 300000;

char* g_tmpdir = nullptr;  // per-run scratch directory
std::string g_fixture;     // --video-file served by most cases
std::string g_fixture_bytes;

// ---------------------------------------------------------------- emulator

struct Emulator {
  GSubprocess* process = nullptr;
  std::string api;
  std::string cdn;
  std::string storage;
  std::string log_path;

  ~Emulator() {
    if (!process) return;
    g_subprocess_send_signal(process, SIGTERM);
    g_autoptr(GError) error = nullptr;
    g_subprocess_wait(process, nullptr, &error);
    g_assert_no_error(error);
    // SIGTERM is a clean exit.
    g_assert_true(g_subprocess_get_if_exited(process));
    g_assert_cmpint(g_subprocess_get_exit_status(process), ==, 0);
    g_object_unref(process);
  }

  // The request log as parsed JSON objects.
  std::vector<JsonObject*> log() const;
};

std::unique_ptr<Emulator> start_emulator(std::vector<std::string> extra, bool use_fixture = true) {
  static int counter = 0;
  auto emulator = std::make_unique<Emulator>();
  g_autofree char* log_name = g_strdup_printf("requests-%d.jsonl", ++counter);
  g_autofree char* log_path = g_build_filename(g_tmpdir, log_name, NULL);
  emulator->log_path = log_path;

  std::vector<std::string> args = {g_getenv("KLING_EMULATOR"), "--latency-ms", "200",
                                   "--request-log", log_path};
  if (use_fixture) {
    args.push_back("--video-file");
    args.push_back(g_fixture);
  }
  args.insert(args.end(), extra.begin(), extra.end());
  std::vector<const char*> argv;
  for (auto& a : args) argv.push_back(a.c_str());
  argv.push_back(nullptr);

  g_autoptr(GError) error = nullptr;
  g_autoptr(GSubprocessLauncher) launcher =
      g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  // If this test aborts, the emulator must not outlive it (and hold meson's pipes).
  g_subprocess_launcher_set_child_setup(
      launcher, [](gpointer) { prctl(PR_SET_PDEATHSIG, SIGTERM); }, nullptr, nullptr);
  emulator->process = g_subprocess_launcher_spawnv(launcher, argv.data(), &error);
  g_assert_no_error(error);

  g_autoptr(GDataInputStream) out =
      g_data_input_stream_new(g_subprocess_get_stdout_pipe(emulator->process));
  // Three lines first, in this order.
  const char* prefixes[] = {"API: ", "CDN: ", "Storage: "};
  std::string* urls[] = {&emulator->api, &emulator->cdn, &emulator->storage};
  for (int i = 0; i < 3; i++) {
    g_autofree char* line = g_data_input_stream_read_line_utf8(out, nullptr, nullptr, &error);
    g_assert_no_error(error);
    g_assert_nonnull(line);
    g_assert_true(g_str_has_prefix(line, prefixes[i]));
    g_assert_true(g_str_has_prefix(line + strlen(prefixes[i]), "http://"));
    *urls[i] = line + strlen(prefixes[i]);
  }
  return emulator;
}

std::vector<JsonObject*> Emulator::log() const {
  std::vector<JsonObject*> entries;
  g_autofree char* text = nullptr;
  g_assert_true(g_file_get_contents(log_path.c_str(), &text, nullptr, nullptr));
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  for (char** line = lines; *line; line++) {
    if (!**line) continue;
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GError) error = nullptr;
    json_parser_load_from_data(parser, *line, -1, &error);
    g_assert_no_error(error);
    entries.push_back(json_object_ref(json_node_get_object(json_parser_get_root(parser))));
  }
  return entries;
}

void free_log(std::vector<JsonObject*>& entries) {
  for (auto* entry : entries) json_object_unref(entry);
  entries.clear();
}

// ---------------------------------------------------------------- client

struct Reply {
  guint status = 0;
  std::string body;
  SoupMessageHeaders* headers = nullptr;  // response headers
  GError* error = nullptr;                // transport error, if any
  JsonNode* json = nullptr;               // parsed body, if JSON

  Reply() = default;
  Reply(const Reply&) = delete;
  Reply& operator=(const Reply&) = delete;
  ~Reply() {
    if (headers) soup_message_headers_unref(headers);
    g_clear_error(&error);
    if (json) json_node_unref(json);
  }

  JsonObject* object() const {
    g_assert_nonnull(json);
    g_assert_true(JSON_NODE_HOLDS_OBJECT(json));
    return json_node_get_object(json);
  }
  JsonObject* data() const { return json_object_get_object_member(object(), "data"); }
  const char* header(const char* name) const { return soup_message_headers_get_one(headers, name); }
};

// Sends one request and reads the body as a stream, keeping what arrived
// before any error (so a cut download shows how many bytes came).
using Headers = std::vector<std::pair<std::string, std::string>>;

std::unique_ptr<Reply> request(const char* method, const std::string& url, const char* key,
                               const std::string& body = "", const char* range = nullptr,
                               guint timeout_s = 10, const Headers& extra = {},
                               const char* content_type = "application/json") {
  auto reply = std::make_unique<Reply>();
  g_autoptr(SoupSession) session = soup_session_new_with_options("timeout", timeout_s, NULL);
  g_autoptr(SoupMessage) msg = soup_message_new(method, url.c_str());
  g_assert_nonnull(msg);
  SoupMessageHeaders* headers = soup_message_get_request_headers(msg);
  if (key) {
    g_autofree char* value = g_strdup_printf("Bearer %s", key);
    soup_message_headers_replace(headers, "Authorization", value);
  }
  if (range) soup_message_headers_replace(headers, "Range", range);
  for (const auto& header : extra)
    soup_message_headers_replace(headers, header.first.c_str(), header.second.c_str());
  if (!body.empty() || g_str_equal(method, "POST") || g_str_equal(method, "PUT")) {
    g_autoptr(GBytes) bytes = g_bytes_new(body.data(), body.size());
    soup_message_set_request_body_from_bytes(msg, content_type, bytes);
  }

  g_autoptr(GInputStream) stream = soup_session_send(session, msg, nullptr, &reply->error);
  if (stream) {
    char buffer[65536];
    for (;;) {
      gssize n = g_input_stream_read(stream, buffer, sizeof buffer, nullptr, &reply->error);
      if (n <= 0) break;
      reply->body.append(buffer, gsize(n));
    }
  }
  reply->status = soup_message_get_status(msg);
  reply->headers = soup_message_headers_ref(soup_message_get_response_headers(msg));
  g_autoptr(JsonParser) parser = json_parser_new();
  if (!reply->body.empty() &&
      json_parser_load_from_data(parser, reply->body.data(), gssize(reply->body.size()), nullptr))
    reply->json = json_node_copy(json_parser_get_root(parser));
  return reply;
}

std::unique_ptr<Reply> submit(const Emulator& e, const std::string& body, const char* key = kKey,
                              const char* model = kModel, guint timeout_s = 10) {
  return request("POST", e.api + "/api/v3/" + model, key, body, nullptr, timeout_s);
}

std::unique_ptr<Reply> poll(const Emulator& e, const std::string& id, bool result_form = true,
                            const char* key = kKey) {
  return request("GET", e.api + "/api/v3/predictions/" + id + (result_form ? "/result" : ""), key);
}

std::string submit_ok(const Emulator& e, const std::string& body = "{\"prompt\":\"a red fox\"}",
                      const char* model = kModel) {
  auto reply = submit(e, body, kKey, model);
  g_assert_no_error(reply->error);
  g_assert_cmpuint(reply->status, ==, 200);
  return json_object_get_string_member(reply->data(), "id");
}

// Polls every 50 ms until a final status; returns the last reply.
std::unique_ptr<Reply> poll_until_final(const Emulator& e, const std::string& id,
                                        std::vector<std::string>* seen = nullptr) {
  const gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
  for (;;) {
    auto reply = poll(e, id);
    g_assert_no_error(reply->error);
    g_assert_cmpuint(reply->status, ==, 200);
    const std::string status = json_object_get_string_member(reply->data(), "status");
    if (seen && (seen->empty() || seen->back() != status)) seen->push_back(status);
    if (status == "completed" || status == "failed" || status == "deleted") return reply;
    g_assert_cmpint(g_get_monotonic_time(), <, deadline);
    g_usleep(50000);
  }
}

void assert_envelope_error(const Reply& reply, guint status, const char* message_part) {
  g_assert_no_error(reply.error);
  g_assert_cmpuint(reply.status, ==, status);
  g_assert_cmpint(json_object_get_int_member(reply.object(), "code"), ==, status);
  const char* message = json_object_get_string_member(reply.object(), "message");
  g_assert_nonnull(strstr(message, message_part));
}

// ---------------------------------------------------------------- mp4

uint32_t be32(const std::string& s, size_t at) {
  return (uint32_t(uint8_t(s[at])) << 24) | (uint32_t(uint8_t(s[at + 1])) << 16) |
         (uint32_t(uint8_t(s[at + 2])) << 8) | uint32_t(uint8_t(s[at + 3]));
}

struct Box {
  std::string type;
  size_t start, header, end;  // offsets in the file
};

std::vector<Box> boxes(const std::string& s, size_t from, size_t to) {
  std::vector<Box> out;
  while (from + 8 <= to) {
    uint64_t size = be32(s, from);
    size_t header = 8;
    if (size == 1) {
      size = (uint64_t(be32(s, from + 8)) << 32) | be32(s, from + 12);
      header = 16;
    } else if (size == 0) {
      size = to - from;
    }
    g_assert_cmpuint(size, >=, header);
    g_assert_cmpuint(from + size, <=, to);
    out.push_back({s.substr(from + 4, 4), from, header, size_t(from + size)});
    from += size;
  }
  return out;
}

const Box* find_box(const std::vector<Box>& list, const char* type) {
  for (auto& box : list)
    if (box.type == type) return &box;
  return nullptr;
}

struct Mp4Facts {
  bool moov_first = false;
  double duration_s = 0;
  uint32_t width = 0, height = 0;
  std::vector<std::string> handlers;  // one per track: vide, soun...
};

// moov/trak/mdia/hdlr's handler type of every track.
std::vector<std::string> track_handlers(const std::string& file, const std::vector<Box>& top) {
  std::vector<std::string> out;
  const Box* moov = find_box(top, "moov");
  g_assert_nonnull(moov);
  for (const Box& trak : boxes(file, moov->start + moov->header, moov->end)) {
    if (trak.type != "trak") continue;
    auto track = boxes(file, trak.start + trak.header, trak.end);
    const Box* mdia = find_box(track, "mdia");
    g_assert_nonnull(mdia);
    auto inside = boxes(file, mdia->start + mdia->header, mdia->end);
    const Box* hdlr = find_box(inside, "hdlr");
    g_assert_nonnull(hdlr);
    out.push_back(
        file.substr(hdlr->start + hdlr->header + 8, 4));  // after version/flags, pre_defined
  }
  return out;
}

Mp4Facts inspect_mp4(const std::string& file) {
  Mp4Facts facts;
  auto top = boxes(file, 0, file.size());
  facts.handlers = track_handlers(file, top);
  g_assert_cmpuint(top.size(), >, 0);
  g_assert_cmpstr(top[0].type.c_str(), ==, "ftyp");
  const Box* moov = find_box(top, "moov");
  const Box* mdat = find_box(top, "mdat");
  g_assert_nonnull(moov);
  g_assert_nonnull(mdat);
  facts.moov_first = moov->start < mdat->start;

  auto inside = boxes(file, moov->start + moov->header, moov->end);
  const Box* mvhd = find_box(inside, "mvhd");
  g_assert_nonnull(mvhd);
  const size_t p = mvhd->start + mvhd->header;
  const bool v1 = file[p] == 1;
  const uint32_t timescale = be32(file, p + (v1 ? 20 : 12));
  const uint64_t duration =
      v1 ? (uint64_t(be32(file, p + 24)) << 32) | be32(file, p + 28) : be32(file, p + 16);
  facts.duration_s = double(duration) / timescale;

  const Box* trak = find_box(inside, "trak");
  g_assert_nonnull(trak);
  auto track = boxes(file, trak->start + trak->header, trak->end);
  const Box* tkhd = find_box(track, "tkhd");
  g_assert_nonnull(tkhd);
  facts.width = be32(file, tkhd->end - 8) >> 16;
  facts.height = be32(file, tkhd->end - 4) >> 16;
  return facts;
}

// The RGB of pixel (x, y) of the first frame of an MP4, decoded with GStreamer.
std::vector<int> first_frame_pixel(const std::string& mp4, int x, int y) {
  g_autofree char* path = g_build_filename(g_tmpdir, "frame-probe.mp4", NULL);
  g_assert_true(g_file_set_contents(path, mp4.data(), gssize(mp4.size()), nullptr));
  g_autofree char* description = g_strdup_printf(
      "filesrc location=\"%s\" ! decodebin ! videoconvert ! video/x-raw,format=RGB ! appsink "
      "name=sink sync=false",
      path);
  g_autoptr(GError) error = nullptr;
  g_autoptr(GstElement) pipeline = gst_parse_launch(description, &error);
  g_assert_no_error(error);
  g_autoptr(GstElement) sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink");
  g_assert_cmpint(gst_element_set_state(pipeline, GST_STATE_PLAYING), !=, GST_STATE_CHANGE_FAILURE);
  GstSample* sample = nullptr;
  g_signal_emit_by_name(sink, "pull-sample", &sample);
  g_assert_nonnull(sample);
  GstStructure* caps = gst_caps_get_structure(gst_sample_get_caps(sample), 0);
  int width = 0;
  g_assert_true(gst_structure_get_int(caps, "width", &width));
  const int stride = GST_ROUND_UP_4(width * 3);
  GstMapInfo map;
  g_assert_true(gst_buffer_map(gst_sample_get_buffer(sample), &map, GST_MAP_READ));
  const guint8* p = map.data + y * stride + x * 3;
  std::vector<int> rgb = {p[0], p[1], p[2]};
  gst_buffer_unmap(gst_sample_get_buffer(sample), &map);
  gst_sample_unref(sample);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  g_unlink(path);
  return rgb;
}

// ---------------------------------------------------------------- cases

void test_start_prints_urls() {
  auto e = start_emulator({"--cdn-host", "127.0.0.2", "--storage-host", "127.0.0.3"});
  g_assert_true(g_str_has_prefix(e->api.c_str(), "http://127.0.0.1:"));
  g_assert_true(g_str_has_prefix(e->cdn.c_str(), "http://127.0.0.2:"));
  g_assert_true(g_str_has_prefix(e->storage.c_str(), "http://127.0.0.3:"));
}

void test_start_refuses_non_loopback() {
  const char* argv[] = {g_getenv("KLING_EMULATOR"), "--host", "192.0.2.1", nullptr};
  g_autoptr(GError) error = nullptr;
  g_autoptr(GSubprocess) p = g_subprocess_newv(
      argv, GSubprocessFlags(G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE),
      &error);
  g_assert_no_error(error);
  g_autofree char *out = nullptr, *err = nullptr;
  g_subprocess_communicate_utf8(p, nullptr, nullptr, &out, &err, &error);
  g_assert_no_error(error);
  g_assert_cmpint(g_subprocess_get_exit_status(p), !=, 0);
  g_assert_cmpstr(out, ==, "");
  g_assert_nonnull(strstr(err, "--allow-remote"));
}

void test_flow_submit_poll_download() {
  // "processing" lasts three quarters of the latency: 1.5 s, seen by polls every 50 ms on a busy
  // machine too (200 ms left it 150 ms).
  auto e = start_emulator({"--cdn-host", "127.0.0.2", "--latency-ms", "2000"});
  auto sub = submit(*e, "{\"prompt\":\"a red fox\",\"duration\":10,\"aspect_ratio\":\"9:16\"}");
  g_assert_no_error(sub->error);
  g_assert_cmpuint(sub->status, ==, 200);
  g_assert_cmpint(json_object_get_int_member(sub->object(), "code"), ==, 200);
  g_assert_cmpstr(json_object_get_string_member(sub->object(), "message"), ==, "success");
  JsonObject* data = sub->data();
  const std::string id = json_object_get_string_member(data, "id");
  g_assert_cmpuint(id.size(), ==, 32);
  g_assert_cmpstr(json_object_get_string_member(data, "status"), ==, "created");
  g_assert_cmpstr(json_object_get_string_member(data, "model"), ==, kModel);
  g_assert_cmpuint(json_array_get_length(json_object_get_array_member(data, "outputs")), ==, 0);
  g_assert_cmpstr(json_object_get_string_member(data, "error"), ==, "");
  g_assert_true(g_regex_match_simple("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z$",
                                     json_object_get_string_member(data, "created_at"),
                                     GRegexCompileFlags(0), GRegexMatchFlags(0)));
  const std::string get_url =
      json_object_get_string_member(json_object_get_object_member(data, "urls"), "get");
  const std::string expected_get = e->api + "/api/v3/predictions/" + id + "/result";
  g_assert_cmpstr(get_url.c_str(), ==, expected_get.c_str());

  std::vector<std::string> seen;
  auto done = poll_until_final(*e, id, &seen);
  g_assert_cmpstr(seen.back().c_str(), ==, "completed");
  g_assert_true(std::find(seen.begin(), seen.end(), "processing") != seen.end());
  data = done->data();
  JsonArray* outputs = json_object_get_array_member(data, "outputs");
  g_assert_cmpuint(json_array_get_length(outputs), ==, 1);
  const std::string output = json_array_get_string_element(outputs, 0);
  const std::string expected_output = e->cdn + "/outputs/" + id + ".mp4";
  g_assert_cmpstr(output.c_str(), ==, expected_output.c_str());
  JsonArray* nsfw = json_object_get_array_member(data, "has_nsfw_contents");
  g_assert_cmpuint(json_array_get_length(nsfw), ==, 1);
  g_assert_false(json_array_get_boolean_element(nsfw, 0));
  g_assert_cmpint(
      json_object_get_int_member(json_object_get_object_member(data, "timings"), "inference"), >=,
      200);

  // The REST-overview poll form answers the same.
  auto other = poll(*e, id, false);
  g_assert_cmpuint(other->status, ==, 200);
  g_assert_cmpstr(json_object_get_string_member(other->data(), "status"), ==, "completed");
  g_assert_cmpstr(json_object_get_string_member(other->data(), "id"), ==, id.c_str());

  auto download = request("GET", output, nullptr);
  g_assert_no_error(download->error);
  g_assert_cmpuint(download->status, ==, 200);
  g_assert_cmpstr(download->header("Content-Type"), ==, "video/mp4");
  g_assert_cmpstr(download->header("Accept-Ranges"), ==, "bytes");
  g_assert_cmpint(soup_message_headers_get_content_length(download->headers), ==, kFixtureSize);
  g_assert_true(download->body == g_fixture_bytes);

  // Every request was logged; the CDN never saw a key, the API always did.
  auto log = e->log();
  bool saw_cdn = false;
  for (auto* entry : log) {
    const std::string server = json_object_get_string_member(entry, "server");
    if (server == "cdn") {
      saw_cdn = true;
      g_assert_true(json_object_get_null_member(entry, "authorization"));
      g_assert_cmpint(json_object_get_int_member(entry, "status"), ==, 200);
    } else {
      g_assert_cmpstr(json_object_get_string_member(entry, "authorization"), ==,
                      "Bearer emulator-key");
    }
  }
  g_assert_true(saw_cdn);
  g_assert_cmpstr(json_object_get_string_member(log[0], "method"), ==, "POST");
  g_assert_cmpstr(json_object_get_string_member(log[0], "path"), ==,
                  "/api/v3/kwaivgi/kling-v2.0-t2v-master");
  g_assert_nonnull(
      strstr(json_object_get_string_member(log[0], "body"), "\"aspect_ratio\":\"9:16\""));
  free_log(log);
}

void test_cdn_ranges() {
  auto e = start_emulator({});
  const std::string id = submit_ok(*e);
  auto done = poll_until_final(*e, id);
  const std::string url =
      json_array_get_string_element(json_object_get_array_member(done->data(), "outputs"), 0);

  auto part = request("GET", url, nullptr, "", "bytes=100-199");
  g_assert_cmpuint(part->status, ==, 206);
  g_assert_cmpstr(part->header("Content-Range"), ==, "bytes 100-199/300000");
  g_assert_true(part->body == g_fixture_bytes.substr(100, 100));

  auto open = request("GET", url, nullptr, "", "bytes=299990-");
  g_assert_cmpuint(open->status, ==, 206);
  g_assert_cmpstr(open->header("Content-Range"), ==, "bytes 299990-299999/300000");
  g_assert_true(open->body == g_fixture_bytes.substr(299990));

  auto suffix = request("GET", url, nullptr, "", "bytes=-5");
  g_assert_cmpuint(suffix->status, ==, 206);
  g_assert_true(suffix->body == g_fixture_bytes.substr(kFixtureSize - 5));

  auto past = request("GET", url, nullptr, "", "bytes=300000-");
  g_assert_cmpuint(past->status, ==, 416);
  g_assert_cmpstr(past->header("Content-Range"), ==, "bytes */300000");

  auto head = request("HEAD", url, nullptr);
  g_assert_cmpuint(head->status, ==, 200);
  g_assert_cmpint(soup_message_headers_get_content_length(head->headers), ==, kFixtureSize);
  g_assert_cmpuint(head->body.size(), ==, 0);

  auto unknown = request("GET", e->cdn + "/outputs/0123.mp4", nullptr);
  g_assert_cmpuint(unknown->status, ==, 404);
}

void test_auth_401() {
  auto e = start_emulator({"--api-key", "sekrit"});
  assert_envelope_error(*submit(*e, "{\"prompt\":\"x\"}", nullptr), 401, "Invalid API key");
  assert_envelope_error(*submit(*e, "{\"prompt\":\"x\"}", "emulator-key"), 401, "Invalid API key");
  auto ok = submit(*e, "{\"prompt\":\"x\"}", "sekrit");
  g_assert_cmpuint(ok->status, ==, 200);
  const std::string task = json_object_get_string_member(ok->data(), "id");
  assert_envelope_error(*poll(*e, task, true, "wrong"), 401, "Invalid API key");
  assert_envelope_error(*request("DELETE", e->api + "/api/v3/predictions/" + task, nullptr), 401,
                        "Invalid API key");
}

void test_submit_validation_400() {
  auto e = start_emulator({});
  struct Case {
    std::string body;
    const char* message;  // nullptr: accepted
  };
  std::string long_ok, too_long;
  for (int i = 0; i < 2500; i++) long_ok += "\xc3\xa9";  // é: 2500 characters, 5000 bytes
  too_long = long_ok + "e";
  const Case cases[] = {
      {"{}", "Missing required parameter: prompt"},
      {"{\"prompt\":\"\"}", "prompt must be between 1 and 2500 characters"},
      {"{\"prompt\":\"" + too_long + "\"}", "prompt must be between 1 and 2500 characters"},
      {"{\"prompt\":\"" + long_ok + "\"}", nullptr},
      {"{\"prompt\":42}", "prompt must be a string"},
      {"{\"prompt\":\"x\",\"duration\":7}", "duration must be an integer, one of 5, 10"},
      {"{\"prompt\":\"x\",\"duration\":\"5\"}", "duration must be an integer, one of 5, 10"},
      {"{\"prompt\":\"x\",\"duration\":5.5}", "duration must be an integer, one of 5, 10"},
      {"{\"prompt\":\"x\",\"duration\":10,\"aspect_ratio\":\"1:1\"}", nullptr},
      {"{\"prompt\":\"x\",\"aspect_ratio\":\"4:3\"}",
       "aspect_ratio must be one of 16:9, 9:16, 1:1"},
      {"{\"prompt\":\"x\",\"guidance_scale\":1.5}",
       "guidance_scale must be a number between 0 and 1"},
      {"{\"prompt\":\"x\",\"negative_prompt\":[]}", "negative_prompt must be a string"},
  };
  for (const auto& c : cases) {
    auto reply = submit(*e, c.body);
    if (!c.message) {
      g_assert_cmpuint(reply->status, ==, 200);
      continue;
    }
    assert_envelope_error(*reply, 400, c.message);
  }

  // A body that is not JSON gets the bare {"error": ...} shape.
  auto bad = submit(*e, "{prompt:");
  g_assert_cmpuint(bad->status, ==, 400);
  g_assert_true(json_object_has_member(bad->object(), "error"));
  g_assert_false(json_object_has_member(bad->object(), "code"));
  // Nor is a value followed by more (json-glib 1.6 reads `{...} {}` as its first object,
  // 1.10 as an array of both), nor a nesting that overflowed 1.6's stack: a 400 on both.
  for (const std::string& body : {std::string("{\"prompt\":\"x\"} {}"), std::string("1 {}"),
                                  std::string("\"a\" {\"prompt\":\"x\"}"),
                                  std::string(200000, '[') + std::string(200000, ']')}) {
    auto refused = submit(*e, body);
    g_assert_cmpuint(refused->status, ==, 400);
    g_assert_true(json_object_has_member(refused->object(), "error"));
  }
  g_assert_cmpuint(submit(*e, "{\"prompt\":\"x\"}")->status, ==, 200);  // and still serving

  // image-to-video models need an image.
  assert_envelope_error(*submit(*e, "{\"prompt\":\"x\"}", kKey, "kwaivgi/kling-v2.0-i2v-master"),
                        400, "Missing required parameter: image");
}

void test_unknown_id_and_delete() {
  auto e = start_emulator({});
  assert_envelope_error(*poll(*e, "0000000000000000000000000000dead"), 404, "not found");
  assert_envelope_error(*poll(*e, "0000000000000000000000000000dead", false), 404, "not found");

  const std::string id = submit_ok(*e);
  auto deleted = request("DELETE", e->api + "/api/v3/predictions/" + id, kKey);
  g_assert_cmpuint(deleted->status, ==, 200);
  g_assert_cmpint(json_object_get_int_member(deleted->object(), "code"), ==, 200);
  g_assert_cmpstr(json_object_get_string_member(deleted->data(), "id"), ==, id.c_str());
  g_assert_cmpstr(json_object_get_string_member(deleted->data(), "status"), ==, "deleted");
  // Polls then say so (a final status), with no output, in both forms.
  for (bool result_form : {true, false}) {
    auto after = poll(*e, id, result_form);
    g_assert_cmpuint(after->status, ==, 200);
    g_assert_cmpstr(json_object_get_string_member(after->data(), "status"), ==, "deleted");
    g_assert_cmpuint(json_array_get_length(json_object_get_array_member(after->data(), "outputs")),
                     ==, 0);
  }
  g_assert_cmpuint(request("GET", e->cdn + "/outputs/" + id + ".mp4", nullptr)->status, ==, 404);
  assert_envelope_error(*request("DELETE", e->api + "/api/v3/predictions/" + id, kKey), 404,
                        "not found");
}

void test_fault_submit_429() {
  auto e = start_emulator({"--fail-submits-429", "2", "--retry-after", "3"});
  for (int i = 0; i < 2; i++) {
    auto reply = submit(*e, "{\"prompt\":\"x\"}");
    assert_envelope_error(*reply, 429, "");
    g_assert_cmpstr(reply->header("Retry-After"), ==, "3");
  }
  const std::string id = submit_ok(*e);
  // No task was created by the refused submits: only one id exists, and it completes.
  auto done = poll_until_final(*e, id);
  g_assert_cmpstr(json_object_get_string_member(done->data(), "status"), ==, "completed");
}

void test_fault_polls_500() {
  auto e = start_emulator({"--fail-polls-500", "2"});
  const std::string id = submit_ok(*e);
  assert_envelope_error(*poll(*e, id), 500, "");
  assert_envelope_error(*poll(*e, id, false), 500, "");
  g_assert_cmpuint(poll(*e, id)->status, ==, 200);
}

void test_fault_polls_502() {
  auto e = start_emulator({"--fail-polls-502", "1"});
  const std::string id = submit_ok(*e);
  auto gateway = poll(*e, id);
  g_assert_cmpuint(gateway->status, ==, 502);
  g_assert_null(gateway->json);  // not JSON
  g_assert_nonnull(strstr(gateway->body.c_str(), "<html>"));
  g_assert_true(g_str_has_prefix(gateway->header("Content-Type"), "text/html"));
  g_assert_cmpuint(poll(*e, id)->status, ==, 200);
}

void test_fault_fail_task() {
  auto e = start_emulator({"--fail-task", "1200:Content moderation: the prompt was flagged"});
  const std::string id = submit_ok(*e);
  auto done = poll_until_final(*e, id);
  g_assert_cmpuint(done->status, ==, 200);
  JsonObject* data = done->data();
  g_assert_cmpstr(json_object_get_string_member(data, "status"), ==, "failed");
  g_assert_cmpint(json_object_get_int_member(data, "code"), ==, 1200);
  g_assert_cmpstr(json_object_get_string_member(data, "error"), ==,
                  "Content moderation: the prompt was flagged");
  g_assert_cmpuint(json_array_get_length(json_object_get_array_member(data, "outputs")), ==, 0);
}

void test_fault_cut_downloads() {
  auto e = start_emulator({"--cut-downloads", "1:1000"});
  const std::string id = submit_ok(*e);
  auto done = poll_until_final(*e, id);
  const std::string url =
      json_array_get_string_element(json_object_get_array_member(done->data(), "outputs"), 0);

  auto cut = request("GET", url, nullptr);
  g_assert_cmpuint(cut->status, ==, 200);
  g_assert_cmpint(soup_message_headers_get_content_length(cut->headers), ==, kFixtureSize);
  g_assert_nonnull(cut->error);  // the connection closed early
  g_assert_cmpuint(cut->body.size(), ==, 1000);
  g_assert_true(cut->body == g_fixture_bytes.substr(0, 1000));

  // Resuming with Range gets the rest.
  auto rest = request("GET", url, nullptr, "", "bytes=1000-");
  g_assert_no_error(rest->error);
  g_assert_cmpuint(rest->status, ==, 206);
  g_assert_true(cut->body + rest->body == g_fixture_bytes);
}

void test_fault_expire_outputs() {
  auto e = start_emulator({"--expire-outputs"});
  const std::string id = submit_ok(*e);
  auto done = poll_until_final(*e, id);
  g_assert_cmpstr(json_object_get_string_member(done->data(), "status"), ==, "completed");
  const std::string url =
      json_array_get_string_element(json_object_get_array_member(done->data(), "outputs"), 0);
  g_assert_cmpuint(request("GET", url, nullptr)->status, ==, 404);
  g_assert_cmpuint(request("HEAD", url, nullptr)->status, ==, 404);
}

void test_fault_hang_submit() {
  auto e = start_emulator({"--hang-submit"});
  auto reply =
      request("POST", e->api + "/api/v3/" + kModel, kKey, "{\"prompt\":\"x\"}", nullptr, 1);
  g_assert_error(reply->error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  auto log = e->log();
  g_assert_cmpuint(log.size(), ==, 1);
  g_assert_true(json_object_get_null_member(log[0], "status"));
  free_log(log);
}

void test_fault_hang_polls() {
  auto e = start_emulator({"--hang-polls"});
  const std::string id = submit_ok(*e);
  auto reply =
      request("GET", e->api + "/api/v3/predictions/" + id + "/result", kKey, "", nullptr, 1);
  g_assert_error(reply->error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
}

void test_fault_processing_5004() {
  // The first reply past "created" (the first quarter) is "processing": polled for, not slept
  // for, with seconds of room before the task ends however busy the machine.
  auto e = start_emulator({"--processing-5004", "--latency-ms", "3000"});
  const std::string id = submit_ok(*e);
  auto reply = poll(*e, id);
  for (gint64 end = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
       !g_strcmp0(json_object_get_string_member(reply->data(), "status"), "created");
       reply = poll(*e, id)) {
    g_assert_cmpint(g_get_monotonic_time(), <, end);  // a bound on a hang
    g_usleep(50000);
  }
  g_assert_cmpstr(json_object_get_string_member(reply->data(), "status"), ==, "processing");
  g_assert_cmpint(json_object_get_int_member(reply->data(), "code"), ==, 5004);
  auto done = poll_until_final(*e, id);
  g_assert_cmpstr(json_object_get_string_member(done->data(), "status"), ==, "completed");
}

// Generates a real video and checks it; returns the downloaded file.
std::string generate(const Emulator& e, const char* aspect, int duration) {
  g_autofree char* body = g_strdup_printf(
      "{\"prompt\":\"a red fox running through fresh "
      "snow\",\"duration\":%d,\"aspect_ratio\":\"%s\"}",
      duration, aspect);
  const std::string id = submit_ok(e, body);
  auto done = poll_until_final(e, id);
  g_assert_cmpstr(json_object_get_string_member(done->data(), "status"), ==, "completed");
  const std::string url =
      json_array_get_string_element(json_object_get_array_member(done->data(), "outputs"), 0);
  auto download = request("GET", url, nullptr);
  g_assert_no_error(download->error);
  g_assert_cmpuint(download->status, ==, 200);
  return download->body;
}

void test_generate_faststart() {
  auto e = start_emulator({"--video-scale", "8"}, false);
  const std::string file = generate(*e, "9:16", 5);
  Mp4Facts facts = inspect_mp4(file);
  g_assert_true(facts.moov_first);
  g_assert_cmpfloat_with_epsilon(facts.duration_s, 5.0, 0.05);
  g_assert_cmpuint(facts.width, ==, 90);
  g_assert_cmpuint(facts.height, ==, 160);
}

void test_generate_moov_at_end() {
  auto e = start_emulator({"--video-scale", "8", "--moov-at-end"}, false);
  const std::string file = generate(*e, "1:1", 10);
  Mp4Facts facts = inspect_mp4(file);
  g_assert_false(facts.moov_first);
  g_assert_cmpfloat_with_epsilon(facts.duration_s, 10.0, 0.05);
  g_assert_cmpuint(facts.width, ==, 120);
  g_assert_cmpuint(facts.height, ==, 120);
}

void test_generate_16_9() {
  auto e = start_emulator({"--video-scale", "4"}, false);
  Mp4Facts facts = inspect_mp4(generate(*e, "16:9", 5));
  g_assert_cmpuint(facts.width, ==, 320);
  g_assert_cmpuint(facts.height, ==, 180);
}

// ---------------------------------------------------------------- money

double quote(const Emulator& e, const std::string& body) {
  auto reply = request("POST", e.api + "/api/v3/model/price", kKey, body);
  g_assert_cmpuint(reply->status, ==, 200);
  g_assert_cmpint(json_object_get_int_member(reply->object(), "code"), ==, 200);
  g_assert_cmpstr(json_object_get_string_member(reply->data(), "currency"), ==, "USD");
  const double price = json_object_get_double_member(reply->data(), "price");
  g_assert_cmpfloat(json_object_get_double_member(reply->data(), "discounted_price"), ==, price);
  g_assert_cmpfloat(json_object_get_double_member(reply->data(), "discount_rate"), ==, 0.0);
  return price;
}

double balance_of(const Emulator& e) {
  auto reply = request("GET", e.api + "/api/v3/balance", kKey);
  g_assert_cmpuint(reply->status, ==, 200);
  return json_object_get_double_member(reply->data(), "balance");
}

size_t count_path(const Emulator& e, const char* path) {
  auto log = e.log();
  size_t n = 0;
  for (auto* entry : log) n += g_str_equal(json_object_get_string_member(entry, "path"), path);
  free_log(log);
  return n;
}

void test_price_from_base_and_duration() {
  auto e = start_emulator({});
  g_assert_cmpfloat(quote(*e,
                          "{\"model_id\":\"kwaivgi/"
                          "kling-v2.0-t2v-master\",\"inputs\":{\"prompt\":\"x\",\"duration\":10}}"),
                    ==, 2.60);
  // The model's default duration (5 s) when the inputs do not say.
  g_assert_cmpfloat(
      quote(*e, "{\"model_id\":\"kwaivgi/kling-v2.0-t2v-master\",\"inputs\":{\"prompt\":\"x\"}}"),
      ==, 1.30);
  g_assert_cmpfloat(
      quote(*e, "{\"model_id\":\"kwaivgi/kling-v2.1-i2v-master\",\"inputs\":{\"duration\":5}}"), ==,
      1.30);
  // The reply's number is written short.
  auto raw =
      request("POST", e->api + "/api/v3/model/price", kKey,
              "{\"model_id\":\"kwaivgi/kling-v2.0-t2v-master\",\"inputs\":{\"duration\":10}}");
  g_assert_nonnull(strstr(raw->body.c_str(), "\"price\":2.6,"));

  assert_envelope_error(*request("POST", e->api + "/api/v3/model/price", kKey,
                                 "{\"model_id\":\"kwaivgi/no-such-model\",\"inputs\":{}}"),
                        404, "Model not found: kwaivgi/no-such-model");
  assert_envelope_error(*request("POST", e->api + "/api/v3/model/price", kKey, "{\"inputs\":{}}"),
                        400, "Missing required parameter: model_id");
  assert_envelope_error(*request("POST", e->api + "/api/v3/model/price", nullptr,
                                 "{\"model_id\":\"kwaivgi/kling-v2.0-t2v-master\"}"),
                        401, "Invalid API key");
  g_assert_cmpuint(request("GET", e->api + "/api/v3/model/price", kKey)->status, ==, 405);
  // A quote is free: no task, no charge.
  g_assert_cmpfloat(balance_of(*e), ==, 100.0);
  g_assert_cmpuint(count_path(*e, "/api/v3/model/price"), ==, 8);

  auto flat = start_emulator({"--price", "0.5"});
  g_assert_cmpfloat(
      quote(*flat, "{\"model_id\":\"kwaivgi/kling-v2.0-t2v-master\",\"inputs\":{\"duration\":10}}"),
      ==, 1.0);
  g_assert_cmpfloat(
      quote(*flat, "{\"model_id\":\"kwaivgi/kling-v9-t2v-test\",\"inputs\":{\"duration\":5}}"), ==,
      0.5);
}

void test_balance_charged_and_refunded() {
  auto e = start_emulator({"--balance", "12.4"});
  g_assert_cmpfloat(balance_of(*e), ==, 12.40);
  const std::string id = submit_ok(*e, "{\"prompt\":\"a red fox\",\"duration\":10}");
  g_assert_cmpfloat(balance_of(*e), ==, 9.80);
  submit_ok(*e, "{\"prompt\":\"a red fox\"}");
  g_assert_cmpfloat(balance_of(*e), ==, 8.50);
  // A deleted task was still made: no refund.
  g_assert_cmpuint(request("DELETE", e->api + "/api/v3/predictions/" + id, kKey)->status, ==, 200);
  g_assert_cmpfloat(balance_of(*e), ==, 8.50);
  g_assert_cmpuint(count_path(*e, "/api/v3/balance"), ==, 4);
  assert_envelope_error(*request("GET", e->api + "/api/v3/balance", "wrong"), 401,
                        "Invalid API key");

  // A submit above the balance is refused, and makes no task.
  auto poor = start_emulator({"--balance", "2", "--price", "1.5"});
  submit_ok(*poor, "{\"prompt\":\"x\"}");
  assert_envelope_error(*submit(*poor, "{\"prompt\":\"x\"}"), 402,
                        "Insufficient balance: the task costs $1.50, the balance is $0.50");
  g_assert_cmpfloat(balance_of(*poor), ==, 0.5);

  // A failed task is refunded.
  auto failing = start_emulator({"--balance", "5", "--fail-task", "1200:Content moderation"});
  const std::string failed = submit_ok(*failing, "{\"prompt\":\"x\",\"duration\":10}");
  g_assert_cmpfloat(balance_of(*failing), ==, 2.40);
  poll_until_final(*failing, failed);
  g_assert_cmpfloat(balance_of(*failing), ==, 5.0);

  // Without --balance the credit (100) is shown but never refuses a submit.
  auto rich = start_emulator({"--price", "60"});
  submit_ok(*rich, "{\"prompt\":\"x\"}");
  submit_ok(*rich, "{\"prompt\":\"x\"}");
  g_assert_cmpfloat(balance_of(*rich), ==, -20.0);
}

void test_money_endpoints_absent_or_failing() {
  auto absent = start_emulator({"--no-price", "--no-balance", "--balance", "0"});
  auto price = request("POST", absent->api + "/api/v3/model/price", kKey,
                       "{\"model_id\":\"kwaivgi/kling-v2.0-t2v-master\"}");
  g_assert_cmpuint(price->status, ==, 404);
  g_assert_cmpuint(request("GET", absent->api + "/api/v3/balance", kKey)->status, ==, 404);
  // Without a balance endpoint nothing checks the credit.
  submit_ok(*absent, "{\"prompt\":\"x\"}");

  auto failing = start_emulator({"--fail-price", "--fail-balance"});
  assert_envelope_error(*request("POST", failing->api + "/api/v3/model/price", kKey,
                                 "{\"model_id\":\"kwaivgi/kling-v2.0-t2v-master\"}"),
                        500, "Internal server error");
  assert_envelope_error(*request("GET", failing->api + "/api/v3/balance", kKey), 500,
                        "Internal server error");
  // The key is still checked first.
  assert_envelope_error(*request("GET", failing->api + "/api/v3/balance", nullptr), 401,
                        "Invalid API key");
  g_assert_cmpuint(count_path(*failing, "/api/v3/balance"), ==, 2);
}

// ---------------------------------------------------------------- catalogue and schemas

JsonObject* find_model_entry(JsonArray* models, const char* id) {
  for (guint i = 0; i < json_array_get_length(models); i++) {
    JsonObject* m = json_array_get_object_element(models, i);
    if (g_str_equal(json_object_get_string_member(m, "model_id"), id)) return m;
  }
  return nullptr;
}

JsonObject* request_schema(JsonObject* model) {
  JsonObject* api_schema = json_object_get_object_member(model, "api_schema");
  JsonArray* schemas = json_object_get_array_member(api_schema, "api_schemas");
  g_assert_cmpuint(json_array_get_length(schemas), >=, 1);
  return json_object_get_object_member(json_array_get_object_element(schemas, 0), "request_schema");
}

bool array_has_string(JsonArray* array, const char* value) {
  for (guint i = 0; i < json_array_get_length(array); i++) {
    JsonNode* node = json_array_get_element(array, i);
    if (json_node_get_value_type(node) == G_TYPE_STRING &&
        g_str_equal(json_node_get_string(node), value))
      return true;
  }
  return false;
}

void test_models_catalogue() {
  auto e = start_emulator({});
  assert_envelope_error(*request("GET", e->api + "/api/v3/models", nullptr), 401,
                        "Invalid API key");
  auto reply = request("GET", e->api + "/api/v3/models", kKey);
  g_assert_cmpuint(reply->status, ==, 200);
  JsonArray* models = json_object_get_array_member(reply->object(), "data");
  g_assert_cmpuint(json_array_get_length(models), >=, 6);
  for (guint i = 0; i < json_array_get_length(models); i++) {
    JsonObject* m = json_array_get_object_element(models, i);
    for (const char* member : {"model_id", "name", "type", "description", "formula"})
      g_assert_cmpuint(strlen(json_object_get_string_member(m, member)), >, 0);
    g_assert_cmpfloat(json_object_get_double_member(m, "base_price"), >, 0);
    JsonObject* schema = request_schema(m);
    g_assert_true(
        json_object_has_member(json_object_get_object_member(schema, "properties"), "prompt"));
    g_assert_true(array_has_string(json_object_get_array_member(schema, "required"), "prompt"));
  }
  // The plugin's built-in models, the new ones, and their fields.
  for (const char* id : {"kwaivgi/kling-v2.0-t2v-master", "kwaivgi/kling-v2.1-t2v-master",
                         "kwaivgi/kling-v2.0-i2v-master", "kwaivgi/kling-v2.1-i2v-master",
                         "kwaivgi/kling-v9-t2v-test", "kwaivgi/kling-v2.6-t2v-audio"})
    g_assert_nonnull(find_model_entry(models, id));
  JsonObject* master = find_model_entry(models, "kwaivgi/kling-v2.0-t2v-master");
  g_assert_cmpfloat(json_object_get_double_member(master, "base_price"), ==, 1.30);
  g_assert_cmpstr(json_object_get_string_member(master, "type"), ==, "text-to-video");
  JsonObject* props = json_object_get_object_member(request_schema(master), "properties");
  JsonObject* duration = json_object_get_object_member(props, "duration");
  g_assert_cmpstr(json_object_get_string_member(duration, "type"), ==, "integer");
  g_assert_cmpint(json_object_get_int_member(duration, "default"), ==, 5);
  g_assert_cmpuint(json_array_get_length(json_object_get_array_member(duration, "enum")), ==, 2);
  JsonObject* guidance = json_object_get_object_member(props, "guidance_scale");
  g_assert_cmpfloat(json_object_get_double_member(guidance, "minimum"), ==, 0.0);
  g_assert_cmpfloat(json_object_get_double_member(guidance, "maximum"), ==, 1.0);
  g_assert_true(array_has_string(
      json_object_get_array_member(json_object_get_object_member(props, "aspect_ratio"), "enum"),
      "9:16"));

  JsonObject* i2v = find_model_entry(models, "kwaivgi/kling-v2.0-i2v-master");
  g_assert_cmpstr(json_object_get_string_member(i2v, "type"), ==, "image-to-video");
  g_assert_true(
      array_has_string(json_object_get_array_member(request_schema(i2v), "required"), "image"));

  JsonObject* test = find_model_entry(models, "kwaivgi/kling-v9-t2v-test");
  JsonObject* test_props = json_object_get_object_member(request_schema(test), "properties");
  JsonObject* cfg = json_object_get_object_member(test_props, "cfg_scale");
  g_assert_cmpstr(json_object_get_string_member(cfg, "type"), ==, "number");
  g_assert_cmpfloat(json_object_get_double_member(cfg, "maximum"), ==, 1.0);
  g_assert_true(array_has_string(
      json_object_get_array_member(json_object_get_object_member(test_props, "camera"), "enum"),
      "zoom_in"));
  JsonObject* audio = find_model_entry(models, "kwaivgi/kling-v2.6-t2v-audio");
  g_assert_true(
      json_object_get_boolean_member(json_object_get_object_member(audio, "output"), "audio"));
  g_assert_false(
      json_object_get_boolean_member(json_object_get_object_member(master, "output"), "audio"));

  // Absent or failing, for clients' fallbacks; submits are still checked.
  auto absent = start_emulator({"--no-models"});
  auto gone = request("GET", absent->api + "/api/v3/models", kKey);
  g_assert_cmpuint(gone->status, ==, 404);
  g_assert_cmpstr(json_object_get_string_member(gone->object(), "error"), ==, "404 page not found");
  assert_envelope_error(*submit(*absent, "{\"prompt\":\"x\",\"camera\":\"zoom_in\"}"), 400,
                        "camera is not a parameter");
  auto failing = start_emulator({"--fail-models"});
  assert_envelope_error(*request("GET", failing->api + "/api/v3/models", kKey), 500,
                        "Internal server error");
  assert_envelope_error(*request("GET", failing->api + "/api/v3/models", nullptr), 401,
                        "Invalid API key");

  // --price shows in the catalogue too.
  auto flat = start_emulator({"--price", "0.4"});
  auto priced = request("GET", flat->api + "/api/v3/models", kKey);
  JsonObject* m = find_model_entry(json_object_get_array_member(priced->object(), "data"),
                                   "kwaivgi/kling-v2.0-t2v-master");
  g_assert_cmpfloat(json_object_get_double_member(m, "base_price"), ==, 0.4);
}

void test_schema_refusals() {
  auto e = start_emulator({});
  struct Case {
    const char* model;
    std::string body;
    guint status;
    const char* message;  // part of it; nullptr: accepted
  };
  const char *test = "kwaivgi/kling-v9-t2v-test", *audio = "kwaivgi/kling-v2.6-t2v-audio";
  const char* i2v = "kwaivgi/kling-v2.1-i2v-master";
  const Case cases[] = {
      {"kwaivgi/kling-v7-t2v-imaginary", "{\"prompt\":\"x\"}", 404,
       "Model not found: kwaivgi/kling-v7-t2v-imaginary"},
      {kModel, "{\"prompt\":\"x\",\"cfg_scale\":0.5}", 400,
       "Invalid parameter: cfg_scale is not a parameter of kwaivgi/kling-v2.0-t2v-master (it takes "
       "prompt, "
       "negative_prompt, aspect_ratio, duration, guidance_scale)"},
      {test, "{\"prompt\":\"x\",\"cfg_scale\":0.7,\"camera\":\"zoom_in\"}", 200, nullptr},
      {test, "{\"prompt\":\"x\",\"cfg_scale\":1.5}", 400,
       "Invalid parameter: cfg_scale must be a number between 0 and 1"},
      {test, "{\"prompt\":\"x\",\"cfg_scale\":\"0.5\"}", 400,
       "cfg_scale must be a number between 0 and 1"},
      {test, "{\"prompt\":\"x\",\"camera\":\"dolly\"}", 400,
       "Invalid parameter: camera must be one of none, zoom_in, zoom_out, pan_left, pan_right"},
      {test, "{\"prompt\":\"x\",\"guidance_scale\":0.5}", 400,
       "guidance_scale is not a parameter of kwaivgi/kling-v9-t2v-test"},
      {audio, "{\"prompt\":\"x\",\"sound\":false}", 200, nullptr},
      {audio, "{\"prompt\":\"x\",\"sound\":\"yes\"}", 400,
       "Invalid parameter: sound must be a boolean"},
      {i2v, "{\"prompt\":\"x\"}", 400, "Missing required parameter: image"},
      {i2v, "{\"prompt\":\"x\",\"image\":42}", 400, "Invalid parameter: image must be a string"},
      {i2v, "{\"image\":\"http://127.0.0.1:1/a.png\"}", 400, "Missing required parameter: prompt"},
      {i2v, "{\"prompt\":\"x\",\"image\":\"http://127.0.0.1:1/a.png\",\"aspect_ratio\":\"16:9\"}",
       400, "aspect_ratio is not a parameter of kwaivgi/kling-v2.1-i2v-master"},
      {kModel, "{\"prompt\":\"x\",\"enable_sync_mode\":1}", 400,
       "Invalid parameter: enable_sync_mode must be a boolean"},
      {kModel, "{\"prompt\":\"x\",\"negative_prompt\":null,\"duration\":null}", 200, nullptr},
  };
  int accepted = 0;
  for (const Case& c : cases) {
    auto reply = submit(*e, c.body, kKey, c.model);
    if (!c.message) {
      g_assert_cmpuint(reply->status, ==, 200);
      accepted++;
      continue;
    }
    assert_envelope_error(*reply, c.status, c.message);
  }
  // A refused body makes no task and costs nothing: only the accepted ones were charged.
  g_assert_cmpfloat(balance_of(*e), ==, 100.0 - 0.5 - 0.7 - 1.3);
  g_assert_cmpint(accepted, ==, 3);
}

// ---------------------------------------------------------------- uploads

struct UploadTicket {
  std::string download_url, upload_url;
  Headers headers;
};

UploadTicket ticket(const Emulator& e, const std::string& body) {
  auto reply = request("POST", e.api + "/api/v3/media/uploads", kKey, body);
  g_assert_cmpuint(reply->status, ==, 200);
  g_assert_cmpint(json_object_get_int_member(reply->object(), "code"), ==, 200);
  UploadTicket t;
  t.download_url = json_object_get_string_member(reply->data(), "download_url");
  JsonObject* upload = json_object_get_object_member(reply->data(), "upload");
  g_assert_cmpstr(json_object_get_string_member(upload, "method"), ==, "PUT");
  t.upload_url = json_object_get_string_member(upload, "url");
  JsonObject* headers = json_object_get_object_member(upload, "headers");
  g_autoptr(GList) names = json_object_get_members(headers);
  for (GList* n = names; n; n = n->next)
    t.headers.emplace_back(
        static_cast<const char*>(n->data),
        json_object_get_string_member(headers, static_cast<const char*>(n->data)));
  return t;
}

std::unique_ptr<Reply> put(const UploadTicket& t, const std::string& bytes, const char* key,
                           Headers headers) {
  const char* type = "application/octet-stream";
  for (auto& h : headers)
    if (h.first == "Content-Type") type = h.second.c_str();
  return request("PUT", t.upload_url, key, bytes, nullptr, 10, headers, type);
}

void test_upload_ticket_flow() {
  auto e = start_emulator({"--storage-host", "127.0.0.3"});
  const std::string image = "\x89PNG\r\n\x1a\n-not-really-an-image-\x1f\x01";
  assert_envelope_error(*request("POST", e->api + "/api/v3/media/uploads", nullptr,
                                 "{\"filename\":\"a.png\",\"size\":1}"),
                        401, "Invalid API key");
  assert_envelope_error(*request("POST", e->api + "/api/v3/media/uploads", kKey, "{\"size\":1}"),
                        400, "Missing required parameter: filename");
  g_autofree char* body = g_strdup_printf(
      "{\"filename\":\"fox.png\",\"size\":%zu,\"content_type\":\"image/png\"}", image.size());
  UploadTicket t = ticket(*e, body);
  // On the storage origin: neither the API nor the CDN.
  g_assert_true(g_str_has_prefix(t.upload_url.c_str(), (e->storage + "/").c_str()));
  g_assert_true(g_str_has_prefix(t.download_url.c_str(), (e->storage + "/").c_str()));
  g_assert_true(g_str_has_suffix(t.download_url.c_str(), "/fox.png"));
  g_assert_cmpuint(t.headers.size(), >=, 2);

  g_assert_cmpuint(request("GET", t.download_url, nullptr)->status, ==, 404);
  // The bearer key must not travel to the storage host; nor a PUT without the ticket's headers.
  g_assert_cmpuint(put(t, image, kKey, t.headers)->status, ==, 403);
  g_assert_cmpuint(put(t, image, nullptr, {{"Content-Type", "image/png"}})->status, ==, 403);
  Headers wrong_type = t.headers;
  for (auto& h : wrong_type)
    if (h.first == "Content-Type") h.second = "image/jpeg";
  g_assert_cmpuint(put(t, image, nullptr, wrong_type)->status, ==, 403);
  g_assert_cmpuint(put(t, image + "x", nullptr, t.headers)->status, ==,
                   400);  // not the announced size
  g_assert_cmpuint(request("GET", t.download_url, nullptr)->status, ==, 404);
  g_assert_cmpuint(put(t, image, nullptr, t.headers)->status, ==, 200);

  auto stored = request("GET", t.download_url, nullptr);
  g_assert_cmpuint(stored->status, ==, 200);
  g_assert_cmpstr(stored->header("Content-Type"), ==, "image/png");
  g_assert_true(stored->body == image);

  auto log = e->log();
  int storage_puts = 0;
  for (auto* entry : log) {
    if (!g_str_equal(json_object_get_string_member(entry, "server"), "storage")) continue;
    if (g_str_equal(json_object_get_string_member(entry, "method"), "PUT")) storage_puts++;
  }
  g_assert_cmpint(storage_puts, ==, 5);
  free_log(log);
  // Binary bodies are logged as valid JSON: no raw control character (json-glib 1.6 leaves U+001F
  // raw).
  g_autofree char* raw_log = nullptr;
  g_assert_true(g_file_get_contents(e->log_path.c_str(), &raw_log, nullptr, nullptr));
  for (const char* p = raw_log; *p; p++) g_assert_true(*p == '\n' || guchar(*p) >= 0x20);

  // The older multipart upload.
  g_autoptr(SoupMultipart) multipart = soup_multipart_new("multipart/form-data");
  g_autoptr(GBytes) part = g_bytes_new(image.data(), image.size());
  soup_multipart_append_form_file(multipart, "file", "cat.png", "image/png", part);
  g_autoptr(SoupMessageHeaders) headers = soup_message_headers_new(SOUP_MESSAGE_HEADERS_REQUEST);
  g_autoptr(GBytes) encoded = nullptr;
  soup_multipart_to_message(multipart, headers, &encoded);
  const std::string multipart_body(static_cast<const char*>(g_bytes_get_data(encoded, nullptr)),
                                   g_bytes_get_size(encoded));
  const char* multipart_type = soup_message_headers_get_one(headers, "Content-Type");
  auto binary = request("POST", e->api + "/api/v3/media/upload/binary", kKey, multipart_body,
                        nullptr, 10, {}, multipart_type);
  g_assert_cmpuint(binary->status, ==, 200);
  const std::string url = json_object_get_string_member(binary->data(), "download_url");
  g_assert_true(g_str_has_prefix(url.c_str(), (e->storage + "/").c_str()));
  auto fetched = request("GET", url, nullptr);
  g_assert_cmpuint(fetched->status, ==, 200);
  g_assert_true(fetched->body == image);
  assert_envelope_error(*request("POST", e->api + "/api/v3/media/upload/binary", kKey, "{}"), 400,
                        "multipart");
}

void test_i2v_image_fetch() {
  auto e = start_emulator({});
  // A name that must be escaped in the URL (as the JS SDK sends a local file name).
  UploadTicket t =
      ticket(*e, "{\"filename\":\"first frame.png\",\"size\":4,\"content_type\":\"image/png\"}");
  g_assert_true(g_str_has_suffix(t.download_url.c_str(), "/first%20frame.png"));
  g_assert_cmpuint(put(t, "abcd", nullptr, t.headers)->status, ==, 200);
  const char* i2v = "kwaivgi/kling-v2.0-i2v-master";
  const std::string ok =
      submit_ok(*e, "{\"prompt\":\"x\",\"image\":\"" + t.download_url + "\"}", i2v);
  auto done = poll_until_final(*e, ok);
  g_assert_cmpstr(json_object_get_string_member(done->data(), "status"), ==, "completed");

  // An image the emulator cannot fetch fails the task with 1402, and is refunded.
  for (const std::string& url :
       {e->storage + "/media/0000/missing.png", std::string("http://127.0.0.1:1/a.png"),
        std::string("file:///etc/hostname")}) {
    const std::string id = submit_ok(*e, "{\"prompt\":\"x\",\"image\":\"" + url + "\"}", i2v);
    auto failed = poll_until_final(*e, id);
    g_assert_cmpstr(json_object_get_string_member(failed->data(), "status"), ==, "failed");
    g_assert_cmpint(json_object_get_int_member(failed->data(), "code"), ==, 1402);
    g_assert_nonnull(strstr(json_object_get_string_member(failed->data(), "error"), url.c_str()));
  }
  g_assert_cmpfloat(balance_of(*e), ==, 100.0 - 1.3);
}

// ---------------------------------------------------------------- sync mode, v2, roles, headers

void test_sync_mode() {
  auto e = start_emulator({"--latency-ms", "300"});
  const gint64 start = g_get_monotonic_time();
  auto reply = submit(*e, "{\"prompt\":\"x\",\"enable_sync_mode\":true}");
  g_assert_cmpuint(reply->status, ==, 200);
  g_assert_cmpint(g_get_monotonic_time() - start, >=, 300000);
  g_assert_cmpstr(json_object_get_string_member(reply->data(), "status"), ==, "completed");
  g_assert_cmpuint(json_array_get_length(json_object_get_array_member(reply->data(), "outputs")),
                   ==, 1);
  // One request, no polls.
  g_assert_cmpuint(count_path(*e, ("/api/v3/" + std::string(kModel)).c_str()), ==, 1);
  auto log = e->log();
  g_assert_cmpuint(log.size(), ==, 1);
  free_log(log);

  auto failing = start_emulator({"--latency-ms", "200", "--fail-task", "1200:Content moderation"});
  auto failed = submit(*failing, "{\"prompt\":\"x\",\"enable_sync_mode\":true}");
  g_assert_cmpstr(json_object_get_string_member(failed->data(), "status"), ==, "failed");
  g_assert_cmpint(json_object_get_int_member(failed->data(), "code"), ==, 1200);

  // Past --sync-timeout-ms: processing, 5004, and a URL to poll; the task goes on. The reply
  // came before the task was final (it says "processing"), not after a measured duration.
  auto slow = start_emulator({"--latency-ms", "3000", "--sync-timeout-ms", "200"});
  const gint64 t0 = g_get_monotonic_time();
  auto timed_out = submit(*slow, "{\"prompt\":\"x\",\"enable_sync_mode\":true}");
  g_assert_cmpint(g_get_monotonic_time() - t0, >=, 200000);
  g_assert_cmpstr(json_object_get_string_member(timed_out->data(), "status"), ==, "processing");
  g_assert_cmpint(json_object_get_int_member(timed_out->data(), "code"), ==, 5004);
  g_assert_nonnull(
      strstr(json_object_get_string_member(timed_out->data(), "error"), "Sync mode timed out"));
  const std::string id = json_object_get_string_member(timed_out->data(), "id");
  const std::string get = json_object_get_string_member(
      json_object_get_object_member(timed_out->data(), "urls"), "get");
  const std::string expected_get = slow->api + "/api/v3/predictions/" + id + "/result";
  g_assert_cmpstr(get.c_str(), ==, expected_get.c_str());
  auto later = poll_until_final(*slow, id);
  g_assert_cmpstr(json_object_get_string_member(later->data(), "status"), ==, "completed");

  // A client that hangs up while waiting leaves the server serving (and exiting cleanly).
  auto patient = start_emulator({"--latency-ms", "3000"});
  auto gone = submit(*patient, "{\"prompt\":\"x\",\"enable_sync_mode\":true}", kKey, kModel, 1);
  g_assert_error(gone->error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpuint(submit(*patient, "{\"prompt\":\"x\"}")->status, ==, 200);
}

void test_v2_poll_path() {
  auto e = start_emulator({});
  const std::string id = submit_ok(*e);
  poll_until_final(*e, id);
  auto v2 = request("GET", e->api + "/api/v2/predictions/" + id + "/result", kKey);
  g_assert_cmpuint(v2->status, ==, 200);
  g_assert_cmpstr(json_object_get_string_member(v2->data(), "status"), ==, "completed");
  g_assert_cmpstr(json_object_get_string_member(v2->data(), "id"), ==, id.c_str());
  assert_envelope_error(*request("GET", e->api + "/api/v2/predictions/" + id + "/result", nullptr),
                        401, "Invalid API key");
  assert_envelope_error(*request("GET", e->api + "/api/v2/predictions/00ff/result", kKey), 404,
                        "Prediction not found");
  g_assert_cmpuint(request("DELETE", e->api + "/api/v2/predictions/" + id, kKey)->status, ==, 405);
}

void test_key_role_forbidden() {
  auto e = start_emulator({"--key-role", "viewer"});
  std::unique_ptr<Reply> replies[] = {submit(*e, "{\"prompt\":\"x\"}"),
                                      request("POST", e->api + "/api/v3/media/uploads", kKey,
                                              "{\"filename\":\"a.png\",\"size\":1}")};
  for (auto& reply : replies) {
    assert_envelope_error(*reply, 403, "role 'viewer'");
    g_assert_cmpstr(json_object_get_string_member(reply->object(), "error_code"), ==,
                    "PERMISSION_DENIED");
  }
  // Reading is allowed.
  g_assert_cmpuint(request("GET", e->api + "/api/v3/balance", kKey)->status, ==, 200);
  g_assert_cmpuint(request("GET", e->api + "/api/v3/models", kKey)->status, ==, 200);
}

void test_client_headers_logged() {
  auto e = start_emulator({});
  request(
      "GET", e->api + "/api/v3/balance", kKey, "", nullptr, 10,
      {{"X-Client-Name", "gst-kling"}, {"X-Client-Version", "0.1.0"}, {"X-Client-OS", "linux"}});
  request("GET", e->api + "/api/v3/balance", kKey);
  auto log = e->log();
  g_assert_cmpuint(log.size(), ==, 2);
  g_assert_cmpstr(json_object_get_string_member(log[0], "x_client_name"), ==, "gst-kling");
  g_assert_cmpstr(json_object_get_string_member(log[0], "x_client_version"), ==, "0.1.0");
  g_assert_cmpstr(json_object_get_string_member(log[0], "x_client_os"), ==, "linux");
  g_assert_true(json_object_get_null_member(log[1], "x_client_name"));
  free_log(log);
}

void test_generate_audio_track() {
  auto e = start_emulator({"--video-scale", "8"}, false);
  const std::string id =
      submit_ok(*e, "{\"prompt\":\"a bell\",\"duration\":5}", "kwaivgi/kling-v2.6-t2v-audio");
  auto done = poll_until_final(*e, id);
  g_assert_cmpstr(json_object_get_string_member(done->data(), "status"), ==, "completed");
  auto file = request(
      "GET",
      json_array_get_string_element(json_object_get_array_member(done->data(), "outputs"), 0),
      nullptr);
  Mp4Facts facts = inspect_mp4(file->body);
  g_assert_cmpfloat_with_epsilon(facts.duration_s, 5.0, 0.05);
  g_assert_cmpuint(facts.handlers.size(), ==, 2);
  g_assert_true(std::find(facts.handlers.begin(), facts.handlers.end(), "soun") !=
                facts.handlers.end());
  g_assert_true(std::find(facts.handlers.begin(), facts.handlers.end(), "vide") !=
                facts.handlers.end());
  // A model without sound: one video track.
  Mp4Facts silent = inspect_mp4(generate(*e, "16:9", 5));
  g_assert_cmpuint(silent.handlers.size(), ==, 1);
  g_assert_cmpstr(silent.handlers[0].c_str(), ==, "vide");
}

void test_generate_i2v_shows_the_image() {
  // A 32x18 crimson PNG (220, 20, 60).
  static const char kPng[] =
      "\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52\x00\x00\x00\x20\x00\x00\x00"
      "\x12\x08\x02"
      "\x00\x00\x00\xb5\xaa\x4b\x05\x00\x00\x00\x1f\x49\x44\x41\x54\x78\xda\x63\xb8\x23\x62\x43\x53"
      "\xc4\x30\x6a"
      "\xc1\xa8\x05\xa3\x16\x8c\x5a\x30\x6a\xc1\xa8\x05\xf4\xb0\x00\x00\xd0\xc3\xa3\x1f\x63\xe5\x16"
      "\xc7\x00\x00"
      "\x00\x00\x49\x45\x4e\x44\xae\x42\x60\x82";
  const std::string png(kPng, sizeof kPng - 1);
  auto e = start_emulator({"--video-scale", "8"}, false);
  const char* i2v = "kwaivgi/kling-v2.1-i2v-master";
  auto render = [&](const std::string& bytes) {
    UploadTicket t =
        ticket(*e, "{\"filename\":\"still.png\",\"size\":" + std::to_string(bytes.size()) +
                       ",\"content_type\":\"image/png\"}");
    g_assert_cmpuint(put(t, bytes, nullptr, t.headers)->status, ==, 200);
    auto done = submit(
        *e, "{\"prompt\":\"x\",\"image\":\"" + t.download_url + "\",\"enable_sync_mode\":true}",
        kKey, i2v);
    g_assert_cmpstr(json_object_get_string_member(done->data(), "status"), ==, "completed");
    auto file = request(
        "GET",
        json_array_get_string_element(json_object_get_array_member(done->data(), "outputs"), 0),
        nullptr);
    g_assert_cmpuint(file->status, ==, 200);
    return file->body;
  };
  const std::string clip = render(png);
  Mp4Facts facts = inspect_mp4(clip);
  g_assert_cmpfloat_with_epsilon(facts.duration_s, 5.0, 0.05);
  g_assert_cmpuint(facts.width, ==, 160);
  // The image fills the frame (away from the prompt in the middle and the clock at the bottom).
  auto rgb = first_frame_pixel(clip, 10, 10);
  g_assert_cmpint(std::abs(rgb[0] - 220), <, 25);
  g_assert_cmpint(std::abs(rgb[1] - 20), <, 25);
  g_assert_cmpint(std::abs(rgb[2] - 60), <, 25);
  // Bytes that are no image: the ball instead, still a video.
  const std::string fallback = render("not an image at all");
  g_assert_cmpfloat_with_epsilon(inspect_mp4(fallback).duration_s, 5.0, 0.05);
  auto background = first_frame_pixel(fallback, 10, 10);
  g_assert_cmpint(std::abs(background[0] - 220), >, 60);
}

}  // namespace

int main(int argc, char** argv) {
  g_test_init(&argc, &argv, NULL);
  gst_init(&argc, &argv);
  if (!g_getenv("KLING_EMULATOR")) {
    g_test_skip("KLING_EMULATOR is not set (run through meson test)");
    return g_test_run();
  }

  g_autoptr(GError) error = nullptr;
  g_tmpdir = g_dir_make_tmp("test-emulator-XXXXXX", &error);
  g_assert_no_error(error);
  g_autofree char* fixture = g_build_filename(g_tmpdir, "fixture.mp4", NULL);
  g_fixture = fixture;
  for (gsize i = 0; i < kFixtureSize; i++)
    g_fixture_bytes.push_back(char((i * 7 + i / 251) & 0xff));
  g_assert_true(g_file_set_contents(fixture, g_fixture_bytes.data(), gssize(g_fixture_bytes.size()),
                                    nullptr));

  g_test_add_func("/emulator/start/prints-api-and-cdn-urls", test_start_prints_urls);
  g_test_add_func("/emulator/start/refuses-non-loopback-host", test_start_refuses_non_loopback);
  g_test_add_func("/emulator/flow/submit-poll-download", test_flow_submit_poll_download);
  g_test_add_func("/emulator/cdn/byte-ranges-and-head", test_cdn_ranges);
  g_test_add_func("/emulator/auth/wrong-or-missing-key-is-401", test_auth_401);
  g_test_add_func("/emulator/submit/invalid-input-is-400", test_submit_validation_400);
  g_test_add_func("/emulator/poll/unknown-id-is-404-and-delete-shows-deleted",
                  test_unknown_id_and_delete);
  g_test_add_func("/emulator/fault/submit-429-with-retry-after", test_fault_submit_429);
  g_test_add_func("/emulator/fault/polls-500", test_fault_polls_500);
  g_test_add_func("/emulator/fault/polls-502-html", test_fault_polls_502);
  g_test_add_func("/emulator/fault/task-fails-with-code", test_fault_fail_task);
  g_test_add_func("/emulator/fault/cut-download-resumes-with-range", test_fault_cut_downloads);
  g_test_add_func("/emulator/fault/expired-outputs-are-404", test_fault_expire_outputs);
  g_test_add_func("/emulator/fault/hang-submit", test_fault_hang_submit);
  g_test_add_func("/emulator/fault/hang-polls", test_fault_hang_polls);
  g_test_add_func("/emulator/fault/processing-5004", test_fault_processing_5004);
  g_test_add_func("/emulator/generate/9x16-faststart-exact-duration", test_generate_faststart);
  g_test_add_func("/emulator/generate/1x1-moov-at-end-10s", test_generate_moov_at_end);
  g_test_add_func("/emulator/generate/16x9-size", test_generate_16_9);

  g_test_add_func("/emulator/money/price-from-base-and-duration",
                  test_price_from_base_and_duration);
  g_test_add_func("/emulator/money/balance-charged-and-refunded",
                  test_balance_charged_and_refunded);
  g_test_add_func("/emulator/money/endpoints-absent-or-failing",
                  test_money_endpoints_absent_or_failing);
  g_test_add_func("/emulator/models/catalogue-with-schemas", test_models_catalogue);
  g_test_add_func("/emulator/submit/unknown-model-or-schema-refusal-is-4xx", test_schema_refusals);
  g_test_add_func("/emulator/upload/ticket-put-to-storage-and-binary", test_upload_ticket_flow);
  g_test_add_func("/emulator/upload/i2v-image-fetch-fails-1402", test_i2v_image_fetch);
  g_test_add_func("/emulator/submit/sync-mode", test_sync_mode);
  g_test_add_func("/emulator/poll/v2-path", test_v2_poll_path);
  g_test_add_func("/emulator/auth/key-role-403-with-error-code", test_key_role_forbidden);
  g_test_add_func("/emulator/log/client-headers", test_client_headers_logged);
  g_test_add_func("/emulator/generate/audio-model-has-sound", test_generate_audio_track);
  g_test_add_func("/emulator/generate/i2v-shows-the-image", test_generate_i2v_shows_the_image);

  const int status = g_test_run();

  g_autoptr(GDir) dir = g_dir_open(g_tmpdir, 0, nullptr);
  while (const char* name = dir ? g_dir_read_name(dir) : nullptr) {
    g_autofree char* path = g_build_filename(g_tmpdir, name, NULL);
    g_unlink(path);
  }
  g_rmdir(g_tmpdir);
  g_free(g_tmpdir);
  return status;
}
