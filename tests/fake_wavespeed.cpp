#include "fake_wavespeed.h"

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
        soup_server_add_handler(api_, nullptr, handle, this, nullptr);
        soup_server_add_handler(cdn_, nullptr, handle, this, nullptr);
        api_url_ = listen_loopback(api_, "127.0.0.1", false);
        cdn_url_ = listen_loopback(cdn_, "127.0.0.2", false);  // another host, as a real CDN is
        if (cdn_url_.empty())
          cdn_url_ = listen_loopback(cdn_, "127.0.0.1", false);
      },
      [this] {
        for (SoupServer* s : {api_, cdn_}) {
          soup_server_disconnect(s);
          g_object_unref(s);
        }
      });
}

// The servers go first: their handlers use this object.
FakeWaveSpeed::~FakeWaveSpeed() { server_thread_.reset(); }

std::vector<RecordedRequest> FakeWaveSpeed::requests() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return requests_;
}

int FakeWaveSpeed::count(const std::string& server, const std::string& method) const {
  std::lock_guard<std::mutex> lock(mutex_);
  int n = 0;
  for (const auto& r : requests_)
    n += r.server == server && r.method == method;
  return n;
}

bool FakeWaveSpeed::wait_for_count(const std::string& server, const std::string& method, int n,
                                   unsigned timeout_ms) const {
  std::unique_lock<std::mutex> lock(mutex_);
  return changed_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
    int c = 0;
    for (const auto& r : requests_)
      c += r.server == server && r.method == method;
    return c >= n;
  });
}

std::string FakeWaveSpeed::task_json(const std::string& status) const {
  const bool done = status == "completed";
  const bool failed = status == "failed";
  std::string get = api_url_ + "/api/v3/predictions/" + task_id + (get_url_is_bare ? "" : "/result");
  std::string json = "{\"code\":200,\"message\":\"success\",\"data\":{\"id\":\"" + task_id +
                     "\",\"model\":\"kwaivgi/kling-v2.0-t2v-master\",\"outputs\":[";
  if (done)
    json += "\"" + output_url() + "\"";
  json += "],\"urls\":{\"get\":\"" + get + "\"},\"has_nsfw_contents\":[";
  if (done)
    json += "false";
  json += "],\"status\":\"" + status + "\",\"created_at\":\"2026-11-24T12:34:56.789Z\",\"error\":\"";
  if (failed)
    json += fail_error;
  json += "\"";
  if (failed)
    json += ",\"code\":" + std::to_string(fail_code);
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
    std::string raw = "HTTP/1.1 " + std::to_string(reply.status) + " OK\r\nContent-Type: " +
                      reply.content_type + "\r\nConnection: close\r\n";
    for (const auto& [name, value] : reply.headers)
      raw += name + ": " + value + "\r\n";
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
  rec.server = server == self->api_ ? "api" : "cdn";
  rec.method = soup_server_message_get_method(msg);
  rec.path = path;
  SoupMessageHeaders* req_headers = soup_server_message_get_request_headers(msg);
  const char* auth = soup_message_headers_get_one(req_headers, "Authorization");
  rec.authorization = auth ? auth : "";
  const char* range = soup_message_headers_get_one(req_headers, "Range");
  rec.range = range ? range : "";
  const char* if_range = soup_message_headers_get_one(req_headers, "If-Range");
  rec.if_range = if_range ? if_range : "";
  SoupMessageBody* body = soup_server_message_get_request_body(msg);
  if (body && body->length)
    rec.body.assign(body->data, static_cast<size_t>(body->length));

  // Recorded before the reply: a raw reply (cut_after) may reach the client,
  // and the test go on, before this handler returns.
  {
    std::lock_guard<std::mutex> lock(self->mutex_);
    self->requests_.push_back(rec);
  }
  self->changed_.notify_all();
  if (rec.server == "api")
    self->handle_api(msg, path, rec);
  else
    self->handle_cdn(msg, path, rec);
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
    int n;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      n = ++submits_;
    }
    if (on_submit)
      if (auto reply = on_submit(n)) {
        send(msg, *reply);
        return;
      }
    send(msg, {200, task_json("created")});
    return;
  }
  if (rec.method == "GET" && (path == predictions + "/result" || path == predictions)) {
    int n;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      n = ++polls_;
    }
    if (on_poll)
      if (auto reply = on_poll(n)) {
        send(msg, *reply);
        return;
      }
    send(msg, {200, task_json(n <= polls_until_done ? "processing" : final_status)});
    return;
  }
  send(msg, {404, "{\"code\":404,\"message\":\"Prediction not found\"}"});
}

void FakeWaveSpeed::handle_cdn(SoupServerMessage* msg, const std::string& path,
                               RecordedRequest& rec) {
  int n;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    n = ++downloads_;
  }
  if (on_download)
    if (auto reply = on_download(n, rec.range)) {
      send(msg, *reply);
      return;
    }
  if (path != output_path) {
    send(msg, {404, "not found", "text/plain"});
    return;
  }
  FakeReply reply{200, video, "video/mp4"};
  reply.headers["Accept-Ranges"] = "bytes";
  if (!etag.empty())
    reply.headers["ETag"] = etag;
  unsigned long long start = 0, last = 0;
  const int fields = rec.range.empty() ? 0 : sscanf(rec.range.c_str(), "bytes=%llu-%llu", &start, &last);
  if (fields >= 1 && !rec.if_range.empty() && rec.if_range != etag) {
    reply.cut_after = video.size();  // the whole file: written raw, or SoupServer would answer the Range
    send(msg, reply);
    return;
  }
  if (fields >= 1) {
    if (start >= video.size()) {
      send(msg, {416, "", "text/plain"});
      return;
    }
    if (fields == 1 || last >= video.size())
      last = video.size() - 1;
    if (range_cap)
      last = std::min<unsigned long long>(last, start + *range_cap - 1);
    reply.status = 206;
    reply.body = video.substr(start, last - start + 1);
    reply.headers["Content-Range"] = "bytes " + std::to_string(start) + "-" + std::to_string(last) +
                                     "/" + (range_total_unknown ? "*" : std::to_string(video.size()));
  }
  send(msg, reply);
}

std::string make_mp4(bool faststart) {
  static std::mutex mutex;
  static std::map<bool, std::string> cache;
  std::lock_guard<std::mutex> lock(mutex);
  if (cache.count(faststart))
    return cache[faststart];

  g_autofree char* path = g_build_filename(g_get_tmp_dir(), faststart ? "kling-fast-XXXXXX.mp4"
                                                                      : "kling-slow-XXXXXX.mp4", nullptr);
  int fd = g_mkstemp(path);
  close(fd);
  g_autofree char* desc = g_strdup_printf(
      "videotestsrc num-buffers=45 pattern=ball ! video/x-raw,width=320,height=240,framerate=15/1 "
      "! x264enc speed-preset=ultrafast key-int-max=15 ! mp4mux faststart=%s ! filesink location=%s",
      faststart ? "true" : "false", path);
  g_autoptr(GError) error = nullptr;
  GstElement* pipeline = gst_parse_launch(desc, &error);
  g_assert_no_error(error);
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  g_autoptr(GstBus) bus = gst_element_get_bus(pipeline);
  GstMessage* m = gst_bus_timed_pop_filtered(bus, 30 * GST_SECOND,
                                             static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  g_assert_nonnull(m);
  g_assert_cmpint(GST_MESSAGE_TYPE(m), ==, GST_MESSAGE_EOS);
  gst_message_unref(m);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);

  gchar* data = nullptr;
  gsize size = 0;
  g_assert_true(g_file_get_contents(path, &data, &size, nullptr));
  g_unlink(path);
  cache[faststart] = std::string(data, size);
  g_free(data);
  return cache[faststart];
}
