// SPDX-License-Identifier: LGPL-2.1-or-later
// HTTP for the task runner: one SoupSession (made on the worker thread) with
// the key, TLS and size policies in one place. The bearer key goes only to the
// API's own origin and never follows a redirect.
#pragma once

#include <gio/gio.h>
#include <libsoup/soup.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/request/request.h"
#include "core/storage/download_store.h"
#include "core/util/error.h"
#include "core/util/gobject_ref.h"

namespace kling {

struct HttpResult {
  unsigned status = 0;  // 0: no HTTP reply arrived
  std::string body;     // at most kMaxApiBody bytes
  std::optional<unsigned> retry_after;
  std::string transport_error;   // when status == 0, or a body read failed
  bool never_connected = false;  // the request surely never reached the server
  bool tls_failed = false;       // the server's certificate was refused: nothing was sent
  bool request_sent = false;     // the whole request was written out
  bool cancelled = false;
  // A 3xx reply: where it pointed (scheme://host:port, or why not known). Never
  // followed, never retried: the key must not go to another origin.
  std::string redirect_to;
};

struct DownloadResult {
  unsigned status = 0;
  std::optional<uint64_t> total;  // full size of the resource, when the server said
  uint64_t received = 0;          // bytes handed to the sink
  bool complete = false;          // every byte up to `total` (or the end) arrived
  bool range_done = false;  // a 206 delivered its whole announced range (maybe not to the end)
  bool cancelled = false;
  bool sink_failed = false;
  bool changed = false;  // the reply is of another version of the file than asked
  std::optional<unsigned> retry_after;
  std::string error;  // transport or protocol error text
};

// Where download() puts what it reads, on the downloading thread.
class ByteSink {
 public:
  virtual ~ByteSink() = default;
  // As soon as the headers tell; false stops (the sink refuses a file that large).
  virtual bool set_total(uint64_t total) = 0;
  // Whether a server asked for a range answered with it (206) or with the whole
  // file (200). Then true takes the file from byte 0; false (the default) drops
  // the bytes before the offset asked for.
  virtual bool ranged(bool honoured) { return false; }
  virtual char* next_buffer(size_t* capacity) = 0;  // room for the next bytes
  // `size` bytes at `data`, inside the last next_buffer(), come next. False stops.
  virtual bool commit(const char* data, size_t size) = 0;
};

// The error for an API call answered with a redirect (`r.redirect_to` set).
Error redirect_error(const HttpResult& r, const char* method, const std::string& url,
                     const std::string& task_id);

class HttpTransport {
 public:
  static constexpr size_t kMaxApiBody = 4 * 1024 * 1024;

  // Call on the thread that will use it, with its GMainContext pushed.
  explicit HttpTransport(const Request& request);

  using Header = std::pair<std::string, std::string>;
  using Deadline = std::optional<std::chrono::steady_clock::time_point>;

  // The run's deadline (`timeout`): until it is cleared, each wait of an API call or
  // an upload is capped by the time left (at least 1 s, libsoup's unit). Downloads
  // are never under it.
  void set_deadline(Deadline deadline) { deadline_ = deadline; }

  // A request to the API. The key and the X-Client-* headers are attached only
  // when `url` is on api-url's origin.
  // `timeout_s` (0: request-timeout) bounds each wait for the server.
  HttpResult api_call(const char* method, const std::string& url, const std::string* json_body,
                      GCancellable* cancellable, unsigned timeout_s = 0);

  // One PUT of `body` to a storage host with exactly `headers` (an upload ticket's):
  // never the key, never a redirect.
  HttpResult put(const std::string& url, const std::vector<Header>& headers, GBytes* body,
                 GCancellable* cancellable);

  // X-Client-Name (gst-kling, or WAVESPEED_CLIENT_NAME), X-Client-Version, X-Client-OS.
  static std::vector<Header> client_headers();
  // The proxy resolver a request to `url` goes through; nullptr for a loopback
  // host, which is always reached directly.
  GProxyResolver* proxy_resolver_for(const std::string& url) const;

  // Streams `url` from byte `offset` (up to `end`, exclusive, when given) into `sink`,
  // whole buffers at a time. Never sends the key. With `version`, a range asks
  // If-Range for it and a reply of another version feeds nothing (`changed`);
  // an unknown version is learnt from the reply.
  DownloadResult download(const std::string& url, uint64_t offset, ByteSink& sink,
                          GCancellable* cancellable, std::optional<uint64_t> end = std::nullopt,
                          FileVersion* version = nullptr);

 private:
  // Sends `msg` with `session` (no redirects) and reads its reply, at most kMaxApiBody.
  HttpResult exchange(SoupSession* session, SoupMessage* msg, GCancellable* cancellable,
                      unsigned timeout_s = 0);
  // The message and the session to send it with (`session` is set then).
  GRef<SoupMessage> new_message(const char* method, const std::string& url, SoupSession** session,
                                std::string* error);
  SoupSession* session_for(GUri* uri) const;
  // A download's GET: the range from `offset` (to `end`), If-Range the version known
  // (`if_range`, empty when not asked).
  GRef<SoupMessage> download_message(const std::string& url, uint64_t offset,
                                     std::optional<uint64_t> end, const FileVersion* version,
                                     std::string* if_range, SoupSession** session,
                                     std::string* error);

  const std::string api_url_;
  const std::string api_key_;
  const bool ssl_strict_;
  const unsigned request_timeout_s_;
  const std::string proxy_id_, proxy_pw_;
  Deadline deadline_;
  GRef<SoupSession> session_;         // through the proxy, for every other host
  GRef<SoupSession> direct_session_;  // no proxy: for loopback hosts
};

}  // namespace kling
