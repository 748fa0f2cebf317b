// SPDX-License-Identifier: LGPL-2.1-or-later
#include "support/fake_wavespeed.h"

#include "support/catalog_fixture.h"
#include "support/pipeline_run.h"

#include <glib/gstdio.h>
#include <gst/gst.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include <chrono>
#include <thread>

FakeWaveSpeed::FakeWaveSpeed() {
  server_thread_ = std::make_unique<ServerThread>(
      [this] {
        api_ = soup_server_new(nullptr, nullptr);
        cdn_ = soup_server_new(nullptr, nullptr);
        storage_ = soup_server_new(nullptr, nullptr);
        for (SoupServer* s : {api_, cdn_, storage_})
          soup_server_add_handler(s, nullptr, handle, this, nullptr);
        api_url_ = listen_loopback(api_, "127.0.0.1", false);
        cdn_url_ = listen_loopback(cdn_, "127.0.0.2", false);  // another host, as a real CDN is
        if (cdn_url_.empty()) cdn_url_ = listen_loopback(cdn_, "127.0.0.1", false);
        storage_url_ =
            listen_loopback(storage_, "127.0.0.3", false);  // neither the API nor the CDN
        if (storage_url_.empty()) storage_url_ = listen_loopback(storage_, "127.0.0.1", false);
        forget_catalogue(api_url_);
      },
      [this] {
        for (SoupServer* s : {api_, cdn_, storage_}) {
          soup_server_disconnect(s);
          g_object_unref(s);
        }
      });
}

// The servers go first: their handlers use this object.
FakeWaveSpeed::~FakeWaveSpeed() {
  server_thread_.reset();
}

std::string RecordedRequest::header(const std::string& name) const {
  for (const auto& [n, v] : headers)
    if (g_ascii_strcasecmp(n.c_str(), name.c_str()) == 0) return v;
  return "";
}

std::vector<std::string> FakeWaveSpeed::uploaded() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return uploaded_;
}

std::vector<RecordedRequest> FakeWaveSpeed::requests() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return requests_;
}

std::vector<RecordedRequest> FakeWaveSpeed::money_requests() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return money_requests_;
}

int FakeWaveSpeed::count(const std::string& server, const std::string& method) const {
  std::lock_guard<std::mutex> lock(mutex_);
  int n = 0;
  for (const auto& r : requests_) n += r.server == server && r.method == method;
  return n;
}

bool FakeWaveSpeed::wait_for_count(const std::string& server, const std::string& method, int n,
                                   unsigned timeout_ms) const {
  std::unique_lock<std::mutex> lock(mutex_);
  return changed_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
    int c = 0;
    for (const auto& r : requests_) c += r.server == server && r.method == method;
    return c >= n;
  });
}

std::string FakeWaveSpeed::task_json(const std::string& status) const {
  const bool done = status == "completed";
  const bool failed = status == "failed";
  std::string get =
      api_url_ + "/api/v3/predictions/" + task_id + (get_url_is_bare ? "" : "/result");
  std::string json = "{\"code\":200,\"message\":\"success\",\"data\":{\"id\":\"" + task_id +
                     "\",\"model\":\"kwaivgi/kling-v2.0-t2v-master\",\"outputs\":[";
  if (done) json += "\"" + output_url() + "\"";
  json += "],\"urls\":{\"get\":\"" + get + "\"},\"has_nsfw_contents\":[";
  if (done) json += "false";
  json +=
      "],\"status\":\"" + status + "\",\"created_at\":\"2026-11-24T12:34:56.789Z\",\"error\":\"";
  if (failed) json += fail_error;
  json += "\"";
  if (failed) json += ",\"code\":" + std::to_string(fail_code);
  json += ",\"timings\":{\"inference\":" + std::string(done ? "4321" : "0") + "}}}";
  return json;
}

void FakeWaveSpeed::send(SoupServerMessage* msg, const FakeReply& reply) {
  if (reply.hang) {
    std::lock_guard<std::mutex> lock(mutex_);
    soup_server_message_pause(msg);
    hung_.push_back(msg);
    return;
  }
  if (reply.cut_after) {
    // Take the socket from the server and write a reply that stops short.
    GIOStream* stream = soup_server_message_steal_connection(msg);
    std::string raw = "HTTP/1.1 " + std::to_string(reply.status) +
                      " OK\r\nContent-Type: " + reply.content_type + "\r\nConnection: close\r\n";
    for (const auto& [name, value] : reply.headers) raw += name + ": " + value + "\r\n";
    if (reply.chunked) {
      char size[32];
      g_snprintf(size, sizeof size, "%zx", *reply.cut_after);
      raw += "Transfer-Encoding: chunked\r\n\r\n" + std::string(size) + "\r\n" +
             reply.body.substr(0, *reply.cut_after) + "\r\n";  // no 0-chunk: cut
    } else if (reply.until_close) {
      raw += "\r\n" + reply.body.substr(0, *reply.cut_after);
    } else {
      raw += "Content-Length: " + std::to_string(reply.content_length.value_or(reply.body.size())) +
             "\r\n\r\n" + reply.body.substr(0, *reply.cut_after);
    }
    std::thread([stream, raw] {
      if (G_IS_SOCKET_CONNECTION(stream))
        g_socket_set_blocking(g_socket_connection_get_socket(G_SOCKET_CONNECTION(stream)), TRUE);
      g_output_stream_write_all(g_io_stream_get_output_stream(stream), raw.data(), raw.size(),
                                nullptr, nullptr, nullptr);
      g_io_stream_close(stream, nullptr, nullptr);
      g_object_unref(stream);
    }).detach();
    return;
  }
  SoupMessageHeaders* headers = soup_server_message_get_response_headers(msg);
  for (const auto& [name, value] : reply.headers)
    soup_message_headers_replace(headers, name.c_str(), value.c_str());
  soup_server_message_set_status(msg, reply.status, nullptr);
  soup_server_message_set_response(msg, reply.content_type.c_str(), SOUP_MEMORY_COPY,
                                   reply.body.data(), reply.body.size());
}

void FakeWaveSpeed::handle(SoupServer* server, SoupServerMessage* msg, const char* path,
                           GHashTable*, gpointer user_data) {
  auto* self = static_cast<FakeWaveSpeed*>(user_data);
  RecordedRequest rec;
  const std::string p = path;
  rec.server = server == self->cdn_                ? "cdn"
               : server == self->storage_          ? "storage"
               : p == "/api/v3/models"             ? "catalog"
               : p.rfind("/api/v3/media/", 0) == 0 ? "media"
                                                   : "api";
  rec.method = soup_server_message_get_method(msg);
  rec.path = path;
  SoupMessageHeaders* req_headers = soup_server_message_get_request_headers(msg);
  SoupMessageHeadersIter it;
  soup_message_headers_iter_init(&it, req_headers);
  const char *hname, *hvalue;
  while (soup_message_headers_iter_next(&it, &hname, &hvalue)) rec.headers[hname] = hvalue;
  const char* auth = soup_message_headers_get_one(req_headers, "Authorization");
  rec.authorization = auth ? auth : "";
  const char* range = soup_message_headers_get_one(req_headers, "Range");
  rec.range = range ? range : "";
  const char* if_range = soup_message_headers_get_one(req_headers, "If-Range");
  rec.if_range = if_range ? if_range : "";
  SoupMessageBody* body = soup_server_message_get_request_body(msg);
  if (body && body->length) rec.body.assign(body->data, static_cast<size_t>(body->length));

  if (rec.server == "api" && (rec.path == "/api/v3/model/price" || rec.path == "/api/v3/balance")) {
    std::optional<FakeReply> reply;
    {
      std::lock_guard<std::mutex> lock(self->mutex_);
      reply = rec.path == "/api/v3/balance" ? self->balance_reply : self->price_reply;
      self->money_requests_.push_back(rec);
    }
    self->send(msg, reply.value_or(FakeReply{404, "{\"code\":404,\"message\":\"Not found\"}"}));
    return;
  }
  // Recorded before the reply leaves, as a server's log is: a reply written raw on
  // another thread can reach the client before this handler returns.
  {
    std::lock_guard<std::mutex> lock(self->mutex_);
    self->requests_.push_back(rec);
  }
  if (rec.server == "api")
    self->handle_api(msg, path, rec);
  else if (rec.server == "catalog" || rec.server == "media")
    self->handle_meta(msg, path, rec);
  else if (rec.server == "storage")
    self->handle_storage(msg, path, rec);
  else
    self->handle_cdn(msg, path, rec);
  self->changed_.notify_all();
}

void FakeWaveSpeed::handle_api(SoupServerMessage* msg, const std::string& path,
                               RecordedRequest& rec) {
  if (rec.authorization != "Bearer " + key) {
    send(msg, {401, "{\"code\":401,\"message\":\"Invalid API key\"}"});
    return;
  }
  const std::string predictions = "/api/v3/predictions/" + task_id;
  if (rec.method == "POST" && path.rfind("/api/v3/", 0) == 0 &&
      path.rfind("/api/v3/predictions", 0) != 0) {
    const int n = next(&submits_);
    if (scripted(on_submit, msg, n)) return;
    send(msg, {200, task_json("created")});
    return;
  }
  if (rec.method == "GET" && (path == predictions + "/result" || path == predictions)) {
    const int n = next(&polls_);
    if (scripted(on_poll, msg, n)) return;
    send(msg, {200, task_json(n <= polls_until_done ? "processing" : final_status)});
    return;
  }
  send(msg, {404, "{\"code\":404,\"message\":\"Prediction not found\"}"});
}

// The catalogue and the upload tickets, behind the key as the rest of the API.
void FakeWaveSpeed::handle_meta(SoupServerMessage* msg, const std::string& path,
                                RecordedRequest& rec) {
  if (rec.authorization != "Bearer " + key) {
    send(msg, {401, "{\"code\":401,\"message\":\"Invalid API key\"}"});
    return;
  }
  if (rec.server == "catalog" && rec.method == "GET") {
    const int n = next(&catalogs_);
    if (scripted(on_catalog, msg, n)) return;
    if (catalog.empty())
      send(msg, {404, "{\"code\":404,\"message\":\"Not found\"}"});
    else
      send(msg, {200, catalog});
    return;
  }
  if (path == "/api/v3/media/uploads" && rec.method == "POST") {
    const int n = next(&tickets_);
    std::string headers;
    for (const auto& [name, value] : upload_headers)
      headers += std::string(headers.empty() ? "" : ",") + "\"" + name + "\":\"" + value + "\"";
    const std::string id = std::to_string(n);
    send(msg, {200, "{\"code\":200,\"message\":\"success\",\"data\":{\"download_url\":\"" +
                        cdn_url_ + "/media/upload-" + id + ".png\",\"upload\":{\"url\":\"" +
                        storage_url_ + "/bucket/upload-" + id +
                        "?sig=abc\",\"method\":\"PUT\",\"headers\":{" + headers + "}}}}"});
    return;
  }
  send(msg, {404, "{\"code\":404,\"message\":\"Not found\"}"});
}

// A storage host: it refuses a bearer key (it is not the API) and a PUT without the ticket's
// headers.
void FakeWaveSpeed::handle_storage(SoupServerMessage* msg, const std::string& path,
                                   RecordedRequest& rec) {
  if (rec.method != "PUT" || path.rfind("/bucket/", 0) != 0) {
    send(msg, {404, "not found", "text/plain"});
    return;
  }
  if (!rec.authorization.empty()) {
    send(msg, {400, "<Error>Authorization header not allowed</Error>", "application/xml"});
    return;
  }
  for (const auto& [name, value] : upload_headers)
    if (rec.header(name) != value) {
      send(msg, {403, "<Error>SignatureDoesNotMatch: " + name + "</Error>", "application/xml"});
      return;
    }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    uploaded_.push_back(rec.body);
  }
  send(msg, {200, "", "text/plain"});
}

void FakeWaveSpeed::handle_cdn(SoupServerMessage* msg, const std::string& path,
                               RecordedRequest& rec) {
  const int n = next(&downloads_);
  if (scripted(on_download, msg, n, rec.range)) return;
  if (path != output_path) {
    send(msg, {404, "not found", "text/plain"});
    return;
  }
  FakeReply reply{200, video, "video/mp4"};
  reply.headers["Accept-Ranges"] = "bytes";
  if (!etag.empty()) reply.headers["ETag"] = etag;
  unsigned long long start = 0, last = 0;
  const int fields =
      rec.range.empty() ? 0 : sscanf(rec.range.c_str(), "bytes=%llu-%llu", &start, &last);
  if (fields >= 1 && !rec.if_range.empty() && rec.if_range != etag) {
    reply.cut_after =
        video.size();  // the whole file: written raw, or SoupServer would answer the Range
    send(msg, reply);
    return;
  }
  if (fields >= 1) {
    if (start >= video.size()) {
      send(msg, {416, "", "text/plain"});
      return;
    }
    if (fields == 1 || last >= video.size()) last = video.size() - 1;
    if (range_cap) last = std::min<unsigned long long>(last, start + *range_cap - 1);
    reply.status = 206;
    reply.body = video.substr(start, last - start + 1);
    reply.headers["Content-Range"] = "bytes " + std::to_string(start) + "-" + std::to_string(last) +
                                     "/" +
                                     (range_total_unknown ? "*" : std::to_string(video.size()));
  }
  send(msg, reply);
}

std::string make_mp4(bool faststart) {
  static std::mutex mutex;
  static std::map<bool, std::string> cache;
  std::lock_guard<std::mutex> lock(mutex);
  if (cache.count(faststart)) return cache[faststart];

  g_autofree char* path = g_build_filename(
      g_get_tmp_dir(), faststart ? "kling-fast-XXXXXX.mp4" : "kling-slow-XXXXXX.mp4", nullptr);
  int fd = g_mkstemp(path);
  close(fd);
  g_autofree char* desc = g_strdup_printf(
      "videotestsrc num-buffers=45 pattern=ball ! video/x-raw,width=320,height=240,framerate=15/1 "
      "! x264enc speed-preset=ultrafast key-int-max=15 ! mp4mux faststart=%s ! filesink "
      "location=%s",
      faststart ? "true" : "false", path);
  run_to_eos(desc);

  gchar* data = nullptr;
  gsize size = 0;
  g_assert_true(g_file_get_contents(path, &data, &size, nullptr));
  g_unlink(path);
  cache[faststart] = std::string(data, size);
  g_free(data);
  return cache[faststart];
}

// g_test_add() gives zeroed memory: the C++ members are constructed in it.
void fake_api_setup(FakeApiFixture* f, size_t video_size, const char* dir_template) {
  new (f) FakeApiFixture();
  f->fake = std::make_unique<FakeWaveSpeed>();
  f->fake->video = random_bytes(video_size);
  f->dir = g_dir_make_tmp(dir_template, nullptr);
}

void fake_api_teardown(FakeApiFixture* f) {
  f->fake.reset();
  remove_scratch_dir(f->dir);
  f->~FakeApiFixture();
}

void remove_scratch_dir(char* dir) {
  g_autofree char* cmd = g_strdup_printf("rm -rf '%s'", dir);
  g_assert_cmpint(system(cmd), ==, 0);
  g_free(dir);
}
