// SPDX-License-Identifier: LGPL-2.1-or-later
#include "core/storage/range_refetch.h"

#include <algorithm>
#include <vector>

#include "core/net/http_transport.h"
#include "core/task/output_fetch.h"
#include "core/util/gobject_ref.h"
#include "core/wavespeed/api_client.h"

namespace kling {

namespace {

// Puts what the CDN sends at its offset in the store's file; says stop once
// the range is whole.
class FileSink : public ByteSink, public OutputFetch::Target {
 public:
  FileSink(DownloadStore& store, uint64_t offset, uint64_t end, const std::string& what)
      : pos(offset), store_(store), end_(end), what_(what) {}

  // OutputFetch::Target
  ByteSink& sink() override { return *this; }
  uint64_t offset() override { return pos; }
  std::optional<uint64_t> end() override { return end_; }
  void requesting(const std::string& url) override {
    if (url != store_.source()) store_.set_source(url);  // a refused URL was replaced
    url_ = url;
  }
  OutputFetch::Verdict judge(DownloadResult& r, uint64_t, Error* error) override {
    if (pos >= end_) return OutputFetch::Verdict::Done;
    if (write_failed) {
      *error = error_;
      return OutputFetch::Verdict::Failed;
    }
    if (!r.changed && !r.complete) return OutputFetch::Verdict::Judge;
    *error = {ErrorKind::BadReply,
              what_ + " failed: the file at its URL is no longer the one streamed before",
              "GET " + url_ + (r.changed ? ": " + r.error : ": it ends at " + std::to_string(pos)),
              r.status,
              {}};
    return OutputFetch::Verdict::Failed;
  }

  // ByteSink
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
    if (!store_.fill(pos, data, n, &error_)) {
      write_failed = true;
      return false;
    }
    pos += n;
    return pos < end_;
  }

  uint64_t pos;
  bool write_failed = false;

 private:
  DownloadStore& store_;
  uint64_t end_;
  const std::string& what_;
  std::string url_;
  Error error_;
  bool whole_ = false;
  std::vector<char> buffer_ = std::vector<char>(DownloadStore::kChunkSize);
};

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
  FileSink sink(store, offset, offset + size, what);
  FileVersion version = store.version();  // If-Range: only bytes of the file streamed before
  OutputFetch fetch(
      request,
      {task_id, what, task_id.empty() ? "" : api::result_url(request.api_url, task_id),
       [cancellable](unsigned ms) { return sleep_cancellable(ms, cancellable); },
       30000},  // the streaming thread waits: never longer than 30 s at a time
      cancellable);
  switch (fetch.run(http, url, sink, &version, error)) {
    case OutputFetch::End::Done:
      return Refetch::Done;
    case OutputFetch::End::Cancelled:
      return Refetch::Cancelled;
    case OutputFetch::End::Failed:
      break;
  }
  return Refetch::Failed;
}

}  // namespace kling
