// SPDX-License-Identifier: LGPL-2.1-or-later
#include "core/net/http_transport.h"

#include <sys/utsname.h>

#include <algorithm>

#include <vector>

#include "core/wavespeed/api_client.h"

namespace kling {

namespace {

// Errors after which the request cannot have reached the server.
bool never_connected(const GError* error) {
  if (error->domain == G_RESOLVER_ERROR) return true;
  return g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED) ||
         g_error_matches(error, G_IO_ERROR, G_IO_ERROR_HOST_UNREACHABLE) ||
         g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NETWORK_UNREACHABLE);
}

gboolean accept_any_certificate(SoupMessage*, GTlsCertificate*, GTlsCertificateFlags, gpointer) {
  return TRUE;
}

// scheme://host:port of `location` resolved against `base`, the part of a
// redirect's target that may be shown (its path and query may hold tokens).
std::string redirect_origin(const std::string& base, const char* location) {
  if (!location || !*location) return "nowhere (no Location header)";
  g_autoptr(GUri) from = g_uri_parse(base.c_str(), G_URI_FLAGS_NONE, nullptr);
  g_autoptr(GUri) to =
      from ? g_uri_parse_relative(from, location, G_URI_FLAGS_NONE, nullptr) : nullptr;
  if (!to || !g_uri_get_host(to)) return "an unreadable Location";
  std::string origin = std::string(g_uri_get_scheme(to)) + "://" + g_uri_get_host(to);
  if (g_uri_get_port(to) > 0) origin += ":" + std::to_string(g_uri_get_port(to));
  return origin;
}

// The version a reply names (`total`: the file's size it announced).
FileVersion version_of(SoupMessageHeaders* reply, std::optional<uint64_t> total) {
  FileVersion v;
  const char* etag = soup_message_headers_get_one(reply, "ETag");
  if (etag && !g_str_has_prefix(etag, "W/")) v.etag = etag;
  const char* modified = soup_message_headers_get_one(reply, "Last-Modified");
  v.last_modified = modified ? modified : "";
  v.total = total;
  return v;
}

// How `got` differs from `want`, or "" when nothing says it is another version.
// A whole file sent for a range asked If-Range must name the same version.
std::string version_change(const FileVersion& want, const FileVersion& got,
                           bool whole_for_if_range) {
  if (!want.etag.empty() && !got.etag.empty() && want.etag != got.etag)
    return "ETag " + want.etag + ", now " + got.etag;
  if (!want.last_modified.empty() && !got.last_modified.empty() &&
      want.last_modified != got.last_modified)
    return "Last-Modified " + want.last_modified + ", now " + got.last_modified;
  if (want.total && got.total && *want.total != *got.total)
    return std::to_string(*want.total) + " bytes, now " + std::to_string(*got.total);
  if (whole_for_if_range && (want.etag.empty() ? got.last_modified.empty() : got.etag.empty()))
    return "the whole file sent again under no version";
  return {};
}

}  // namespace

Error redirect_error(const HttpResult& r, const char* method, const std::string& url,
                     const std::string& task_id) {
  return {ErrorKind::BadReply,
          "The API answered " + std::string(method) + " with a redirect (HTTP " +
              std::to_string(r.status) + ") to " + r.redirect_to +
              "; it is not followed, so the key goes nowhere else: check api-url",
          std::string(method) + " " + url + " answered HTTP " + std::to_string(r.status), r.status,
          task_id};
}

HttpTransport::HttpTransport(const Request& request)
    : api_url_(request.api_url),
      api_key_(request.api_key),
      ssl_strict_(request.ssl_strict),
      request_timeout_s_(request.request_timeout_s),
      proxy_id_(request.proxy_id),
      proxy_pw_(request.proxy_pw) {
  auto new_session = [&request] {
    auto session = GRef<SoupSession>::adopt(
        soup_session_new_with_options("user-agent", "gst-kling/0.1 ", "timeout",
                                      request.request_timeout_s, "idle-timeout", 60u, nullptr));
    if (request.tls_database)
      g_object_set(session.get(), "tls-database", request.tls_database.get(), nullptr);
    return session;
  };
  // As souphttpsrc: the proxy property, else the system's resolver (the environment's proxy).
  session_ = new_session();
  if (!request.proxy.empty()) {
    g_autoptr(GProxyResolver) proxy = g_simple_proxy_resolver_new(request.proxy.c_str(), nullptr);
    g_object_set(session_.get(), "proxy-resolver", proxy, nullptr);
  }
  // A loopback request stays on this machine: a proxy would carry it (and the key) off it.
  direct_session_ = new_session();
  g_object_set(direct_session_.get(), "proxy-resolver", nullptr, nullptr);
}

SoupSession* HttpTransport::session_for(GUri* uri) const {
  return is_loopback_host(g_uri_get_host(uri)) ? direct_session_.get() : session_.get();
}

GProxyResolver* HttpTransport::proxy_resolver_for(const std::string& url) const {
  g_autoptr(GUri) uri =
      g_uri_parse(url.c_str(), static_cast<GUriFlags>(SOUP_HTTP_URI_FLAGS), nullptr);
  return uri ? soup_session_get_proxy_resolver(session_for(uri)) : nullptr;
}

GRef<SoupMessage> HttpTransport::new_message(const char* method, const std::string& url,
                                             SoupSession** session, std::string* error) {
  g_autoptr(GError) gerr = nullptr;
  g_autoptr(GUri) uri =
      g_uri_parse(url.c_str(), static_cast<GUriFlags>(SOUP_HTTP_URI_FLAGS), &gerr);
  if (!uri) {
    *error = std::string("invalid URL: ") + (gerr ? gerr->message : url.c_str());
    return {};
  }
  auto msg = GRef<SoupMessage>::adopt(soup_message_new_from_uri(method, uri));
  if (!ssl_strict_)
    g_signal_connect(msg.get(), "accept-certificate", G_CALLBACK(accept_any_certificate), nullptr);
  if (!proxy_id_.empty())
    g_signal_connect(
        msg.get(), "authenticate",
        G_CALLBACK(+[](SoupMessage*, SoupAuth* auth, gboolean retrying, gpointer self) {
          // Once, as souphttpsrc: wrong credentials end in the proxy's 407.
          auto* t = static_cast<const HttpTransport*>(self);
          if (soup_auth_is_for_proxy(auth) && !retrying)
            soup_auth_authenticate(auth, t->proxy_id_.c_str(), t->proxy_pw_.c_str());
          return FALSE;
        }),
        this);
  *session = session_for(uri);
  return msg;
}

HttpResult HttpTransport::api_call(const char* method, const std::string& url,
                                   const std::string* json_body, GCancellable* cancellable,
                                   unsigned timeout_s) {
  HttpResult result;
  SoupSession* session = nullptr;
  GRef<SoupMessage> msg = new_message(method, url, &session, &result.transport_error);
  if (!msg) {
    result.never_connected = true;
    return result;
  }
  SoupMessageHeaders* headers = soup_message_get_request_headers(msg.get());
  if (api::same_origin(url, api_url_)) {
    std::string auth = "Bearer " + api_key_;
    soup_message_headers_replace(headers, "Authorization", auth.c_str());
    // Who is calling, as WaveSpeed's own clients say it (to the API only).
    for (const auto& [name, value] : client_headers())
      soup_message_headers_replace(headers, name.c_str(), value.c_str());
  }
  soup_message_headers_replace(headers, "Accept", "application/json");
  if (json_body) {
    g_autoptr(GBytes) bytes = g_bytes_new(json_body->data(), json_body->size());
    soup_message_set_request_body_from_bytes(msg.get(), "application/json", bytes);
  }
  return exchange(session, msg.get(), cancellable, timeout_s);
}

HttpResult HttpTransport::put(const std::string& url, const std::vector<Header>& headers,
                              GBytes* body, GCancellable* cancellable) {
  HttpResult result;
  SoupSession* session = nullptr;
  GRef<SoupMessage> msg = new_message("PUT", url, &session, &result.transport_error);
  if (!msg) {
    result.never_connected = true;
    return result;
  }
  // Exactly the headers given: never the key, whatever the host.
  SoupMessageHeaders* h = soup_message_get_request_headers(msg.get());
  for (const auto& [name, value] : headers)
    if (g_ascii_strcasecmp(name.c_str(), "Authorization") != 0)
      soup_message_headers_replace(h, name.c_str(), value.c_str());
  soup_message_set_request_body_from_bytes(msg.get(), nullptr, body);
  return exchange(session, msg.get(), cancellable);
}

std::vector<HttpTransport::Header> HttpTransport::client_headers() {
  const char* name = g_getenv("WAVESPEED_CLIENT_NAME");
  struct utsname u {};
  std::string os = uname(&u) == 0 ? std::string(u.sysname) + " " + u.machine : "unknown";
  return {{"X-Client-Name", name && *name ? name : "gst-kling"},
          {"X-Client-Version", KLING_VERSION},
          {"X-Client-OS", os}};
}

HttpResult HttpTransport::exchange(SoupSession* session, SoupMessage* msg,
                                   GCancellable* cancellable, unsigned timeout_s) {
  HttpResult result;
  // Redirects would carry the Authorization header elsewhere: the API does not redirect.
  soup_message_add_flags(msg, SOUP_MESSAGE_NO_REDIRECT);
  // Whether the request left this machine whole decides whether a failed submit may have billed.
  // The handler points into this call's frame: disconnected when it returns, though
  // the session may keep the message a little longer.
  struct Handler {
    SoupMessage* msg;
    gulong id;
    ~Handler() { g_signal_handler_disconnect(msg, id); }
  } wrote_body{msg,
               g_signal_connect(msg, "wrote-body", G_CALLBACK(+[](SoupMessage*, gpointer sent) {
                                  *static_cast<bool*>(sent) = true;
                                }),
                                &result.request_sent)};
  // One session, one thread: its timeout can be set for this call alone.
  unsigned wait_s = timeout_s ? timeout_s : request_timeout_s_;
  if (deadline_) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        *deadline_ - std::chrono::steady_clock::now());
    wait_s = std::min<unsigned>(
        wait_s, static_cast<unsigned>(std::max<int64_t>(1, (left.count() + 999) / 1000)));
  }
  soup_session_set_timeout(session, wait_s);
  g_autoptr(GError) error = nullptr;
  g_autoptr(GInputStream) stream = soup_session_send(session, msg, cancellable, &error);
  if (!stream) {
    result.cancelled = g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    // Only a refused certificate or handshake proves the request was never written.
    result.tls_failed = g_error_matches(error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE) ||
                        g_error_matches(error, G_TLS_ERROR, G_TLS_ERROR_NOT_TLS) ||
                        g_error_matches(error, G_TLS_ERROR, G_TLS_ERROR_HANDSHAKE) ||
                        g_error_matches(error, G_TLS_ERROR, G_TLS_ERROR_CERTIFICATE_REQUIRED);
    result.never_connected = never_connected(error) || result.tls_failed;
    result.transport_error = error->message;
    return result;
  }
  result.status = soup_message_get_status(msg);
  SoupMessageHeaders* reply_headers = soup_message_get_response_headers(msg);
  result.retry_after =
      api::parse_retry_after(soup_message_headers_get_one(reply_headers, "Retry-After"),
                             g_get_real_time() / G_USEC_PER_SEC);
  if (SOUP_STATUS_IS_REDIRECTION(result.status)) {
    g_autofree char* url = g_uri_to_string(soup_message_get_uri(msg));
    result.redirect_to =
        redirect_origin(url, soup_message_headers_get_one(reply_headers, "Location"));
    g_input_stream_close(stream, nullptr, nullptr);
    return result;
  }

  // Read at most kMaxApiBody: a reply is untrusted input.
  std::vector<char> buf(64 * 1024);
  for (;;) {
    gssize n = g_input_stream_read(stream, buf.data(), buf.size(), cancellable, &error);
    if (n < 0) {
      result.cancelled = g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      result.transport_error = error->message;
      result.status = 0;  // a half-read reply is no reply
      break;
    }
    if (n == 0) break;
    if (result.body.size() + static_cast<size_t>(n) > kMaxApiBody) {
      result.transport_error = "reply larger than 4 MiB";
      result.status = 0;
      break;
    }
    result.body.append(buf.data(), static_cast<size_t>(n));
  }
  g_input_stream_close(stream, nullptr, nullptr);
  return result;
}

GRef<SoupMessage> HttpTransport::download_message(const std::string& url, uint64_t offset,
                                                  std::optional<uint64_t> end,
                                                  const FileVersion* version, std::string* if_range,
                                                  SoupSession** session, std::string* error) {
  GRef<SoupMessage> msg = new_message("GET", url, session, error);
  if (!msg) return msg;
  // The bytes must arrive as the CDN stores them: no transparent decoding.
  soup_message_disable_feature(msg.get(), SOUP_TYPE_CONTENT_DECODER);
  SoupMessageHeaders* headers = soup_message_get_request_headers(msg.get());
  const bool ranged = offset > 0 || end;
  if (ranged)
    soup_message_headers_set_range(headers, static_cast<goffset>(offset),
                                   end ? static_cast<goffset>(*end) - 1 : -1);
  // The range only if the file is still the one the earlier bytes came from.
  *if_range = !ranged || !version      ? ""
              : !version->etag.empty() ? version->etag
                                       : version->last_modified;
  if (!if_range->empty()) soup_message_headers_replace(headers, "If-Range", if_range->c_str());
  return msg;
}

namespace {

// Where a reply's body goes in the file, from its headers.
struct BodyPlan {
  uint64_t base = 0;  // where the first byte the sink gets sits in the file
  uint64_t skip = 0;  // bytes of a full reply to drop before that
  std::optional<uint64_t> expected;
};

// The reply's headers checked against what was asked: false ends the download
// (`result` says why: another status, range or version, or the sink refused the size).
bool plan_body(SoupMessage* msg, uint64_t offset, bool ranged, const std::string& if_range,
               ByteSink& sink, FileVersion* version, DownloadResult* result, BodyPlan* plan) {
  SoupMessageHeaders* reply = soup_message_get_response_headers(msg);
  plan->base = offset;
  const bool has_length = soup_message_headers_get_encoding(reply) == SOUP_ENCODING_CONTENT_LENGTH;
  if (result->status == SOUP_STATUS_PARTIAL_CONTENT) {
    goffset first = 0, last = 0, total = 0;
    if (!soup_message_headers_get_content_range(reply, &first, &last, &total) ||
        static_cast<uint64_t>(first) != offset || last < first) {
      result->error = "the server answered a different range than asked";
      return false;
    }
    if (total >= 0) result->total = static_cast<uint64_t>(total);
    plan->expected = static_cast<uint64_t>(last - first + 1);
  } else if (result->status == SOUP_STATUS_OK) {
    if (has_length)
      result->total = static_cast<uint64_t>(soup_message_headers_get_content_length(reply));
    plan->skip = offset;  // the server ignored our Range
  } else {
    return false;
  }
  if (version) {
    const FileVersion got = version_of(reply, result->total);
    const std::string change =
        version_change(*version, got, !if_range.empty() && result->status == SOUP_STATUS_OK);
    if (!change.empty()) {
      result->changed = true;
      result->error = "the file changed at its URL (" + change + ")";
      return false;
    }
    if (version->etag.empty() && version->last_modified.empty() && !version->total)
      *version = got;  // the first reply names the version
  }
  // Before the first byte: readers may seek to the end.
  if (result->total && !sink.set_total(*result->total)) {
    result->sink_failed = true;
    return false;
  }
  if (ranged && sink.ranged(result->status == SOUP_STATUS_PARTIAL_CONTENT) &&
      result->status == SOUP_STATUS_OK)
    plan->base = plan->skip = 0;  // the sink takes the whole file from byte 0
  if (result->status == SOUP_STATUS_OK && result->total)
    plan->expected = *result->total >= plan->base ? *result->total - plan->base : 0;
  return true;
}

// Reads the body into `sink`, whole buffers at a time (each one the sink can hand
// downstream as it is), and judges where it ended.
void read_body(GInputStream* stream, const BodyPlan& plan, ByteSink& sink,
               GCancellable* cancellable, DownloadResult* result) {
  uint64_t skip = plan.skip;
  for (;;) {
    size_t capacity = 0;
    char* buffer = sink.next_buffer(&capacity);
    gsize n = 0;
    g_autoptr(GError) error = nullptr;
    const bool ok = g_input_stream_read_all(stream, buffer, capacity, &n, cancellable, &error);
    const char* data = buffer;
    size_t size = n;
    if (skip > 0) {
      size_t dropped = static_cast<size_t>(MIN(skip, static_cast<uint64_t>(size)));
      skip -= dropped;
      data += dropped;
      size -= dropped;
    }
    if (size > 0 && !sink.commit(data, size)) {
      result->sink_failed = true;
      return;
    }
    result->received += size;
    if (!ok) {
      result->cancelled = g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      result->error = error->message;
      return;
    }
    if (n < capacity) break;  // the end of the body
  }
  const uint64_t reached = plan.base + result->received;
  const bool partial = result->status == SOUP_STATUS_PARTIAL_CONTENT;
  const auto& expected = plan.expected;
  result->range_done = partial && expected && result->received >= *expected && result->received > 0;
  // A range is the end of the file only where its total says so (not with "/*").
  result->complete = (!expected || result->received >= *expected) &&
                     (result->total ? reached >= *result->total : !partial);
  if (!result->complete && !result->range_done)
    result->error = "the reply stopped after byte " + std::to_string(reached) + " of " +
                    std::to_string(result->total ? *result->total : plan.base + *expected);
}

}  // namespace

DownloadResult HttpTransport::download(const std::string& url, uint64_t offset, ByteSink& sink,
                                       GCancellable* cancellable, std::optional<uint64_t> end,
                                       FileVersion* version) {
  DownloadResult result;
  SoupSession* session = nullptr;
  std::string if_range;
  GRef<SoupMessage> msg =
      download_message(url, offset, end, version, &if_range, &session, &result.error);
  if (!msg) return result;
  g_autoptr(GError) error = nullptr;
  soup_session_set_timeout(session, request_timeout_s_);  // an api_call may have lowered it
  g_autoptr(GInputStream) stream = soup_session_send(session, msg.get(), cancellable, &error);
  if (!stream) {
    result.cancelled = g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    result.error = error->message;
    return result;
  }
  result.status = soup_message_get_status(msg.get());
  result.retry_after = api::parse_retry_after(
      soup_message_headers_get_one(soup_message_get_response_headers(msg.get()), "Retry-After"),
      g_get_real_time() / G_USEC_PER_SEC);
  BodyPlan plan;
  if (plan_body(msg.get(), offset, offset > 0 || end, if_range, sink, version, &result, &plan))
    read_body(stream, plan, sink, cancellable, &result);
  g_input_stream_close(stream, nullptr, nullptr);
  return result;
}

}  // namespace kling
