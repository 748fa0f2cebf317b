#include "refetch.h"

#include <algorithm>
#include <vector>

#include "http_transport.h"
#include "retry_policy.h"

namespace kling {

namespace {

// Puts what the CDN sends at its offset in the store's file; says stop once
// the range is whole.
class FileSink : public ByteSink {
 public:
  FileSink(DownloadStore& store, uint64_t offset, uint64_t end)
      : pos(offset), store_(store), end_(end), known_total_(store.total()) {}
  void set_total(uint64_t total) override {
    if (known_total_ && total != *known_total_)
      changed_to = total;  // not the bytes we streamed before: none of them may be mixed in
  }
  char* next_buffer(size_t* capacity) override {
    *capacity = buffer_.size();
    return buffer_.data();
  }
  bool commit(const char* data, size_t size) override {
    if (changed_to)
      return false;
    const size_t n = static_cast<size_t>(std::min<uint64_t>(size, end_ - pos));
    if (!store_.fill(pos, data, n, &error)) {
      write_failed = true;
      return false;
    }
    pos += n;
    return pos < end_;
  }

  uint64_t pos;
  std::optional<uint64_t> changed_to;
  bool write_failed = false;
  Error error;

 private:
  DownloadStore& store_;
  const uint64_t end_;
  const std::optional<uint64_t> known_total_;
  std::vector<char> buffer_ = std::vector<char>(DownloadStore::kChunkSize);
};

// The calling thread's own main context for one refetch: a sync SoupSession
// needs one pushed, and the streaming thread has none.
class ScopedContext {
 public:
  ScopedContext() : context_(g_main_context_new()) { g_main_context_push_thread_default(context_); }
  ~ScopedContext() {
    g_main_context_pop_thread_default(context_);
    g_main_context_unref(context_);
  }
  ScopedContext(const ScopedContext&) = delete;
  ScopedContext& operator=(const ScopedContext&) = delete;

 private:
  GMainContext* context_;
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
  const std::string url = store.source();
  const uint64_t end = offset + size;
  const std::string what = "Reading bytes " + std::to_string(offset) + "-" + std::to_string(end - 1) +
                           " of the video of task " + task_id + " again";
  if (url.empty()) {
    *error = {ErrorKind::NotFound, what + ": no URL to read them from", {}, 0, task_id};
    return Refetch::Failed;
  }
  ScopedContext context;
  HttpTransport http(request);  // made and dropped inside `context`
  FileSink sink(store, offset, end);
  for (unsigned failures = 0;;) {
    const uint64_t from = sink.pos;
    DownloadResult r = http.download(url, from, sink, cancellable);
    if (sink.pos >= end)
      return Refetch::Done;
    if (r.cancelled || g_cancellable_is_cancelled(cancellable))
      return Refetch::Cancelled;
    if (sink.write_failed) {
      *error = sink.error;
      error->task_id = task_id;
      return Refetch::Failed;
    }
    if (sink.changed_to || r.complete) {
      *error = {ErrorKind::BadReply,
                what + " failed: the file at its URL is no longer the one streamed before",
                "GET " + url + (sink.changed_to ? ": size now " + std::to_string(*sink.changed_to)
                                                : ": it ends at " + std::to_string(sink.pos)),
                r.status, task_id};
      return Refetch::Failed;
    }
    if (is_final_download_status(r.status)) {
      *error = {r.status == 403 ? ErrorKind::NotAuthorized : ErrorKind::NotFound,
                what + " failed: HTTP " + std::to_string(r.status) + " (outputs are kept for 7 days)",
                "GET " + url, r.status, task_id};
      return Refetch::Failed;
    }
    if (sink.pos > from)
      failures = 0;  // progress was made: only consecutive failures count
    if (++failures > request.retries) {
      *error = {ErrorKind::Network,
                what + " failed " + std::to_string(failures) + " times: " +
                    (r.error.empty() ? "HTTP " + std::to_string(r.status) : r.error),
                "GET " + url, r.status, task_id};
      return Refetch::Failed;
    }
    if (!sleep_cancellable(retry_wait_ms(request.poll_interval_ms, r.retry_after, failures),
                           cancellable))
      return Refetch::Cancelled;
  }
}

}  // namespace kling
