// SPDX-License-Identifier: LGPL-2.1-or-later
// kling-emulator: output file serving, byte ranges, cut and expired downloads.
#include "cdn_server.h"

#include "server_util.h"

#include <cinttypes>
#include <cstring>

namespace emu {

namespace {

constexpr char kOutputs[] = "/outputs/";
constexpr char kSuffix[] = ".mp4";

enum class RangeResult { kNone, kSatisfiable, kUnsatisfiable };

// Parses a single "bytes=a-b", "bytes=a-" or "bytes=-n". Anything else
// (several ranges, garbage) is ignored and the whole file is served, as RFC 9110 allows.
RangeResult parse_range(const char* header, int64_t size, int64_t* start, int64_t* end) {
  if (!header) return RangeResult::kNone;
  while (*header == ' ') header++;
  if (g_ascii_strncasecmp(header, "bytes=", 6) != 0) return RangeResult::kNone;
  const char* spec = header + 6;
  if (strchr(spec, ',')) return RangeResult::kNone;
  const char* dash = strchr(spec, '-');
  if (!dash) return RangeResult::kNone;
  char* tail = nullptr;
  if (dash == spec) {  // suffix range: last n bytes
    const gint64 n = g_ascii_strtoll(dash + 1, &tail, 10);
    if (tail == dash + 1 || *tail || n < 0) return RangeResult::kNone;
    if (n == 0 || size == 0) return RangeResult::kUnsatisfiable;
    *start = n >= size ? 0 : size - n;
    *end = size - 1;
    return RangeResult::kSatisfiable;
  }
  const gint64 first = g_ascii_strtoll(spec, &tail, 10);
  if (tail != dash || first < 0) return RangeResult::kNone;
  gint64 last = size - 1;
  if (dash[1]) {
    last = g_ascii_strtoll(dash + 1, &tail, 10);
    if (*tail || last < first) return RangeResult::kNone;
  }
  if (first >= size) return RangeResult::kUnsatisfiable;
  *start = first;
  *end = MIN(last, size - 1);
  return RangeResult::kSatisfiable;
}

void close_connection(SoupServerMessage* msg) {
  GSocket* socket = soup_server_message_get_socket(msg);
  if (socket) g_socket_shutdown(socket, TRUE, TRUE, nullptr);
}

// --cut-downloads: after the first K bytes went out, drop the connection.
void on_cut_point(SoupServerMessage* msg, gpointer) {
  g_signal_handlers_disconnect_by_func(msg, reinterpret_cast<gpointer>(on_cut_point), nullptr);
  close_connection(msg);
  // Let libsoup finish the (now failing) write and clean the connection up.
  soup_message_body_complete(soup_server_message_get_response_body(msg));
  soup_server_message_unpause(msg);
}

}  // namespace

CdnServer::CdnServer(const Config& config, TaskStore& tasks, RequestLog& log)
    : config_(config), tasks_(tasks), log_(log) {
  server_ = soup_server_new("server-header", "kling-emulator-cdn ", NULL);
  soup_server_add_handler(server_, nullptr, on_request, this, nullptr);
}

CdnServer::~CdnServer() {
  soup_server_disconnect(server_);
  g_object_unref(server_);
}

bool CdnServer::start(GError** error) {
  base_url_ = listen_on(server_, config_.cdn_host, config_.cdn_port, error);
  return !base_url_.empty();
}

void CdnServer::on_request(SoupServer*, SoupServerMessage* msg, const char* path, GHashTable*,
                           gpointer self) {
  static_cast<CdnServer*>(self)->handle(msg, path ? path : "/");
}

void CdnServer::reply_text(SoupServerMessage* msg, int status, const char* content_type,
                           const std::string& body) {
  reply_logged(log_, "cdn", msg, status, content_type, body);
}

void CdnServer::handle(SoupServerMessage* msg, const std::string& path) {
  static const std::string not_found =
      s3_error_xml("NoSuchKey", "The specified key does not exist.");
  const std::string method = soup_server_message_get_method(msg);
  const size_t prefix = strlen(kOutputs), suffix = strlen(kSuffix);
  if (path.compare(0, prefix, kOutputs) != 0 || path.size() <= prefix + suffix ||
      path.compare(path.size() - suffix, suffix, kSuffix) != 0)
    return reply_text(msg, SOUP_STATUS_NOT_FOUND, "application/xml", not_found);
  if (method != "GET" && method != "HEAD")
    return reply_text(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "text/plain", "Method Not Allowed\n");
  if (config_.expire_outputs)
    return reply_text(msg, SOUP_STATUS_NOT_FOUND, "application/xml", not_found);

  const std::string id = path.substr(prefix, path.size() - prefix - suffix);
  auto view = tasks_.view(id);
  if (!view || view->status != "completed")
    return reply_text(msg, SOUP_STATUS_NOT_FOUND, "application/xml", not_found);

  g_autoptr(GError) error = nullptr;
  g_autoptr(GMappedFile) mapped = g_mapped_file_new(view->output_path.c_str(), FALSE, &error);
  if (!mapped)
    return reply_text(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "text/plain",
                      std::string("cannot open the output: ") + error->message + "\n");
  const int64_t size = int64_t(g_mapped_file_get_length(mapped));

  SoupMessageHeaders* request_headers = soup_server_message_get_request_headers(msg);
  SoupMessageHeaders* headers = soup_server_message_get_response_headers(msg);
  soup_message_headers_replace(headers, "Accept-Ranges", "bytes");
  soup_message_headers_replace(headers, "Content-Type", "video/mp4");

  int64_t start = 0, end = size - 1;
  const RangeResult range =
      parse_range(soup_message_headers_get_one(request_headers, "Range"), size, &start, &end);
  if (range == RangeResult::kUnsatisfiable) {
    g_autofree char* content_range = g_strdup_printf("bytes */%" G_GINT64_FORMAT, int64_t(size));
    soup_message_headers_replace(headers, "Content-Range", content_range);
    return reply_text(msg, SOUP_STATUS_REQUESTED_RANGE_NOT_SATISFIABLE, "text/plain",
                      "Requested Range Not Satisfiable\n");
  }

  const int status =
      range == RangeResult::kSatisfiable ? SOUP_STATUS_PARTIAL_CONTENT : SOUP_STATUS_OK;
  const int64_t length = size == 0 ? 0 : end - start + 1;
  if (status == SOUP_STATUS_PARTIAL_CONTENT) {
    g_autofree char* content_range =
        g_strdup_printf("bytes %" G_GINT64_FORMAT "-%" G_GINT64_FORMAT "/%" G_GINT64_FORMAT,
                        int64_t(start), int64_t(end), int64_t(size));
    soup_message_headers_replace(headers, "Content-Range", content_range);
  }

  const bool cut = method == "GET" && downloads_seen_ < config_.cut_downloads &&
                   config_.cut_after_bytes < length;
  if (method == "GET") downloads_seen_++;

  log_.write("cdn", msg, status);
  soup_server_message_set_status(msg, guint(status), nullptr);
  soup_message_headers_set_content_length(headers, goffset(length));
  if (method == "HEAD") return;

  SoupMessageBody* body = soup_server_message_get_response_body(msg);
  soup_message_body_set_accumulate(body, FALSE);
  g_autoptr(GBytes) whole = g_mapped_file_get_bytes(mapped);
  const int64_t sent = cut ? config_.cut_after_bytes : length;
  if (sent > 0) {
    g_autoptr(GBytes) part = g_bytes_new_from_bytes(whole, gsize(start), gsize(sent));
    soup_message_body_append_bytes(body, part);
  }
  if (cut)
    g_signal_connect(msg, sent > 0 ? "wrote-chunk" : "wrote-headers", G_CALLBACK(on_cut_point),
                     nullptr);
  else
    soup_message_body_complete(body);
}

}  // namespace emu
