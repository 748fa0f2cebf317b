// SPDX-License-Identifier: LGPL-2.1-or-later
#include "core/storage/range_refetch.h"

#include <algorithm>
#include <vector>

#include "core/net/http_transport.h"
#include "core/task/retry_policy.h"
#include "core/util/gobject_ref.h"
#include "core/wavespeed/api_client.h"

namespace kling {

namespace {

// Puts what the CDN sends at its offset in the store's file; says stop once
// the range is whole.
class FileSink : public ByteSink {
 public:
  FileSink(DownloadStore& store, uint64_t offset, uint64_t end)
      : pos(offset), store_(store), end_(end) {}
  uint64_t end() const { return end_; }
  bool set_total(uint64_t) override { return true; }  // checked against the store's by download()
  // A server that ignores Range sends the whole file: take everything downloaded
  // from it in this one pass, from byte 0, and keep what comes next, rather
  // than drop the start now and read the whole file again for every hole.
  bool ranged(bool honoured) override {
    if (honoured || whole_) return false;
    whole_ = true;
    pos = 0;
    end_ = std::max(end_, store_.have());
    store_.keep_everything();
    return true;
  }
  char* next_buffer(size_t* capacity) override {
    *capacity = buffer_.size();
    return buffer_.data();
  }
  bool commit(const char* data, size_t size) override {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(size, end_ - pos));
    if (!store_.fill(pos, data, n, &error)) {
      write_failed = true;
      return false;
    }
    pos += n;
    return pos < end_;
  }

  uint64_t pos;
  bool write_failed = false;
  Error error;

 private:
  DownloadStore& store_;
  uint64_t end_;
  bool whole_ = false;
  std::vector<char> buffer_ = std::vector<char>(DownloadStore::kChunkSize);
};

// The output URL the prediction gives now (a refused one may have been
// replaced), or nothing. The key goes to the API's origin only.
std::optional<std::string> current_output_url(HttpTransport& http, const Request& request,
                                              const std::string& task_id, GCancellable* cancellable,
                                              std::optional<Error>* redirect) {
  const std::string url = api::result_url(request.api_url, task_id);
  HttpResult r = http.api_call("GET", url, nullptr, cancellable);
  if (!r.redirect_to.empty()) *redirect = redirect_error(r, "GET", url, task_id);
  return api::http_output(api::parse_reply(r.status, r.body));
}

// False when cancelled during the wait.
bool sleep_cancellable(unsigned ms, GCancellable* cancellable) {
  GPollFD fd;
  if (cancellable && g_cancellable_make_pollfd(cancellable, &fd)) {
    g_poll(&fd, 1, static_cast<gint>(ms));
    g_cancellable_release_fd(cancellable);
  } else {
    g_usleep(static_cast<gulong>(ms) * 1000);
  }
  return !g_cancellable_is_cancelled(cancellable);
}

}  // namespace

Refetch refetch(const Request& request, DownloadStore& store, uint64_t offset, uint64_t size,
                GCancellable* cancellable, const std::string& task_id, Error* error) {
  std::string url = store.source();
  const std::string what = "Reading bytes " + std::to_string(offset) + "-" +
                           std::to_string(offset + size - 1) + " of the video of task " + task_id +
                           " again";
  if (url.empty()) {
    *error = {ErrorKind::NotFound, what + ": no URL to read them from", {}, 0, task_id};
    return Refetch::Failed;
  }
  // The streaming thread has no context of its own; a sync SoupSession needs one.
  g_autoptr(GMainContext) context = g_main_context_new();
  g_autoptr(GMainContextPusher) pusher = g_main_context_pusher_new(context);
  HttpTransport http(request);  // made and dropped inside `context`
  FileSink sink(store, offset, offset + size);
  FileVersion version = store.version();  // If-Range: only bytes of the file streamed before
  bool asked_api = false;
  for (unsigned failures = 0;;) {
    const uint64_t from = sink.pos;
    DownloadResult r = http.download(url, from, sink, cancellable, sink.end(), &version);
    if (sink.pos >= sink.end()) return Refetch::Done;
    if (r.cancelled || g_cancellable_is_cancelled(cancellable)) return Refetch::Cancelled;
    if (sink.write_failed) {
      *error = sink.error;
      error->task_id = task_id;
      return Refetch::Failed;
    }
    if (r.changed || r.complete) {
      *error = {
          ErrorKind::BadReply,
          what + " failed: the file at its URL is no longer the one streamed before",
          "GET " + url + (r.changed ? ": " + r.error : ": it ends at " + std::to_string(sink.pos)),
          r.status, task_id};
      return Refetch::Failed;
    }
    if (sink.pos > from) failures = 0;  // progress was made: only consecutive failures count
    if (r.range_done)
      continue;  // a CDN that serves ranges of its own size: ask for the next at once
    if (is_final_download_status(r.status)) {
      if (!asked_api && !task_id.empty()) {  // as the task runner does: the URL may have changed
        asked_api = true;
        std::optional<Error> redirect;
        if (auto fresh = current_output_url(http, request, task_id, cancellable, &redirect);
            fresh && *fresh != url) {
          url = *fresh;
          store.set_source(url);
          continue;
        }
        if (g_cancellable_is_cancelled(cancellable)) return Refetch::Cancelled;
        if (redirect) {
          *error = *redirect;
          return Refetch::Failed;
        }
      }
      *error = {
          download_refusal_kind(r.status),
          what + " failed: HTTP " + std::to_string(r.status) + " (outputs are kept for 7 days)",
          "GET " + url, r.status, task_id};
      return Refetch::Failed;
    }
    if (++failures > request.retries) {
      *error = {ErrorKind::Network,
                what + " failed " + std::to_string(failures) +
                    " times: " + (r.error.empty() ? "HTTP " + std::to_string(r.status) : r.error),
                "GET " + url, r.status, task_id};
      return Refetch::Failed;
    }
    // The streaming thread waits here: never longer than 30 s at a time.
    const unsigned wait =
        std::min(30000u, retry_wait_ms(request.poll_interval_ms, r.retry_after, failures));
    if (!sleep_cancellable(wait, cancellable)) return Refetch::Cancelled;
  }
}

}  // namespace kling
