// SPDX-License-Identifier: LGPL-2.1-or-later
#include "core/wavespeed/image_upload.h"

#include <json-glib/json-glib.h>

#include <glib/gstdio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "core/storage/cache_paths.h"
#include "core/task/retry_policy.h"
#include "core/util/json_util.h"
#include "core/wavespeed/api_client.h"

namespace kling {

namespace {

// One call, again while it fails for a passing reason (no reply, 408, 429, 5xx), at most `retries`
// times.
template <typename Call>
HttpResult with_retries(Call call, const Request& r, const ImageUploader::Sleep& sleep,
                        bool* cancelled) {
  for (unsigned attempt = 1;; attempt++) {
    HttpResult res = call();
    *cancelled = res.cancelled;
    const bool transient = !res.tls_failed && (res.status == 0 || res.status == 408 ||
                                               res.status == 429 || res.status >= 500);
    if (res.cancelled || !transient || attempt > r.retries) return res;
    if (!sleep(retry_wait_ms(r.poll_interval_ms, res.retry_after, attempt))) {
      *cancelled = true;
      return res;
    }
  }
}

Error refusal(const char* what, const HttpResult& r) {
  std::string text = r.status ? "HTTP " + std::to_string(r.status) : r.transport_error;
  if (r.status) {
    api::Reply reply = api::parse_reply(r.status, r.body);
    if (reply.kind == api::ReplyKind::ApiError || reply.kind == api::ReplyKind::Gateway)
      text += ": " + reply.message;
  }
  ErrorKind kind = r.status == 401 || r.status == 403 ? ErrorKind::NotAuthorized
                   : r.status >= 400 && r.status < 500 && r.status != 408 && r.status != 429
                       ? ErrorKind::InvalidInput
                       : ErrorKind::Network;
  return {
      kind, std::string(what) + " failed: " + text + "; nothing was submitted", {}, r.status, {}};
}

// A ticket the image must not be sent with: another method, or plain http off this machine.
std::optional<Error> refuse_ticket(const UploadTicket& ticket) {
  if (g_ascii_strcasecmp(ticket.method.c_str(), "PUT") != 0)
    return Error{ErrorKind::BadReply,
                 "The upload ticket asks for a " + ticket.method + " upload; only PUT is supported",
                 {},
                 0,
                 {}};
  // The image goes in clear over plain http only on this machine.
  g_autoptr(GUri) target = g_uri_parse(ticket.upload_url.c_str(), G_URI_FLAGS_NONE, nullptr);
  if (g_ascii_strcasecmp(g_uri_get_scheme(target), "http") == 0 &&
      !is_loopback_host(g_uri_get_host(target)))
    return Error{ErrorKind::BadReply,
                 "The upload ticket names a plain http URL; refusing to send the image there",
                 {},
                 0,
                 {}};
  return std::nullopt;
}

std::string content_type_of(const std::string& path, const guchar* data, gsize size) {
  g_autofree char* guessed = g_content_type_guess(path.c_str(), data, MIN(size, 4096), nullptr);
  g_autofree char* mime = guessed ? g_content_type_get_mime_type(guessed) : nullptr;
  return mime ? mime : "application/octet-stream";
}

// At most one byte past kMaxImageBytes (the file may have grown since start() checked it:
// never read it whole). False and `why` when it cannot be read.
bool read_image(const std::string& path, std::string* out, std::string* why) {
  FILE* f = g_fopen(path.c_str(), "rb");
  if (!f) {
    *why = g_strerror(errno);
    return false;
  }
  std::vector<char> buf(64 * 1024);
  size_t n;
  while (out->size() <= kMaxImageBytes && (n = fread(buf.data(), 1, buf.size(), f)) > 0)
    out->append(buf.data(), std::min<size_t>(n, kMaxImageBytes + 1 - out->size()));
  const bool failed = ferror(f);
  fclose(f);
  if (failed) *why = "read error";
  return !failed;
}

}  // namespace

std::optional<UploadTicket> parse_upload_ticket(std::string_view body, std::string* error) {
  std::string not_json;
  g_autoptr(JsonNode) root = json::parse(body, &not_json);
  if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
    *error = "the upload ticket is not JSON" + (root ? " (not an object)" : " (" + not_json + ")");
    return std::nullopt;
  }
  JsonObject* data = json::object_member(json_node_get_object(root), "data");
  JsonObject* upload = json::object_member(data, "upload");
  UploadTicket t;
  t.download_url = json::string_member(data, "download_url");
  t.upload_url = json::string_member(upload, "url");
  t.method = json::string_member(upload, "method");
  if (t.method.empty()) t.method = "PUT";
  if (JsonObject* headers = json::object_member(upload, "headers")) {
    g_autoptr(GList) names = json_object_get_members(headers);
    for (GList* l = names; l; l = l->next) {
      const char* name = static_cast<const char*>(l->data);
      std::string value = json::string_member(headers, name);
      t.headers.emplace_back(name, value);
    }
  }
  if (!is_http_url(t.download_url) || !is_http_url(t.upload_url)) {
    *error = "the upload ticket has no download_url and upload.url";
    return std::nullopt;
  }
  return t;
}

ImageUploader::ImageUploader(const Request& request, std::string dir)
    : request_(request), record_([&] {
        g_autofree char* p = g_build_filename(
            dir.empty() ? user_cache_dir().c_str() : dir.c_str(), "uploads",
            (origin_key(request.api_url) + "-" + request.image_sha256 + ".json").c_str(), nullptr);
        return std::string(p);
      }()) {}

std::optional<std::string> ImageUploader::remembered(int64_t* age_s) const {
  g_autoptr(JsonNode) root = json::parse_file(record_, nullptr);  // unreadable: upload again
  if (!root || !JSON_NODE_HOLDS_OBJECT(root)) return std::nullopt;
  JsonObject* o = json_node_get_object(root);
  *age_s = g_get_real_time() / G_USEC_PER_SEC - json::int_member(o, "time").value_or(0);
  std::string url = json::string_member(o, "download_url");
  if (*age_s < 0 || *age_s >= kReuseSeconds || !is_http_url(url)) return std::nullopt;
  return url;
}

void ImageUploader::remember(const std::string& url) const {
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json::add_string(b, "download_url", url);
  json::add_string(b, "sha256", request_.image_sha256);
  json::add_int(b, "time", g_get_real_time() / G_USEC_PER_SEC);
  json_builder_end_object(b);
  save_cache_file(record_, json::to_string(b));  // when it cannot, the next run uploads again
}

// The image's bytes, which must be the bytes the request was named by at start();
// nullptr and `error` otherwise.
GBytes* ImageUploader::read_checked(Error* error) const {
  std::string contents;
  std::string unreadable;
  if (!read_image(request_.image_file, &contents, &unreadable)) {
    *error = settings_error("Cannot read the image file: " + unreadable);
    return nullptr;
  }
  const gsize size = contents.size();
  g_autoptr(GBytes) bytes = g_bytes_new(contents.data(), size);
  contents.clear();
  contents.shrink_to_fit();
  g_autofree char* sum = g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, bytes);
  if (request_.image_sha256 != sum || size > kMaxImageBytes) {
    *error = settings_error("The image file " + request_.image_file +
                            " changed since the pipeline started");
    return nullptr;
  }
  return static_cast<GBytes*>(g_steal_pointer(&bytes));
}

ImageUploader::Outcome ImageUploader::upload(HttpTransport& http, GCancellable* cancellable,
                                             const Progress& progress, const Sleep& sleep,
                                             std::string* url, Error* error) const {
  g_autofree char* name = g_path_get_basename(request_.image_file.c_str());
  int64_t age = 0;
  if (auto known = remembered(&age)) {
    *url = *known;
    progress(true, std::string("Reusing the upload of ") + name + " made " +
                       std::to_string(age / 60) + " min ago (same bytes): " + *url);
    return Outcome::Done;
  }
  g_autoptr(GBytes) bytes = read_checked(error);
  if (!bytes) return Outcome::Failed;
  const gsize size = g_bytes_get_size(bytes);
  const std::string type = content_type_of(
      request_.image_file, static_cast<const guchar*>(g_bytes_get_data(bytes, nullptr)), size);
  progress(false, std::string("Uploading ") + name + " (" + std::to_string(size) + " bytes, " +
                      type + ")");

  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json::add_string(b, "filename", name);
  json::add_int(b, "size", static_cast<int64_t>(size));
  json::add_string(b, "content_type", type);
  json_builder_end_object(b);
  const std::string body = json::to_string(b);
  const std::string ticket_url = api::v3_url(request_.api_url, "media/uploads");
  bool cancelled = false;
  HttpResult r = with_retries([&] { return http.api_call("POST", ticket_url, &body, cancellable); },
                              request_, sleep, &cancelled);
  if (cancelled) return Outcome::Cancelled;
  std::string why;
  std::optional<UploadTicket> ticket;
  if (r.status == 200) ticket = parse_upload_ticket(r.body, &why);
  if (!ticket) {
    *error =
        r.status == 200
            ? Error{ErrorKind::BadReply, "Unreadable upload ticket: " + why, ticket_url, 200, {}}
            : refusal("Asking WaveSpeed for an upload ticket", r);
    return Outcome::Failed;
  }
  if (auto refused = refuse_ticket(*ticket)) {
    *error = *refused;
    return Outcome::Failed;
  }
  r = with_retries(
      [&] { return http.put(ticket->upload_url, ticket->headers, bytes, cancellable); }, request_,
      sleep, &cancelled);
  if (cancelled) return Outcome::Cancelled;
  if (r.status < 200 || r.status >= 300) {
    *error = refusal("Uploading the image to WaveSpeed's storage", r);
    return Outcome::Failed;
  }
  remember(ticket->download_url);
  *url = ticket->download_url;
  progress(true, std::string("Uploaded ") + name + ": " + *url);
  return Outcome::Done;
}

}  // namespace kling
