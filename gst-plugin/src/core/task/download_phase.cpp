// SPDX-License-Identifier: LGPL-2.1-or-later
// The download: Range-resumed into the store, an output URL that fails read
// again from the prediction, the cache entry written before the end is told.
#include "core/task/task_worker.h"

namespace kling {

using namespace runner;

TaskRunner::Worker::Outcome TaskRunner::Worker::download(HttpTransport& http, api::Task task) {
  const std::string& id = task.id;
  std::string url = task.outputs.front();
  bool reread = false;
  bool prediction_gone = false;
  unsigned failures = 0;
  // Feeds the store and reports progress at most 10 times a second.
  class StoreSink : public ByteSink {
   public:
    StoreSink(DownloadStore& store, const TaskEvents& events) : store_(store), events_(events) {}
    bool set_total(uint64_t total) override {
      return store_.total() || store_.set_total(total, &error);
    }
    char* next_buffer(size_t* capacity) override { return store_.write_buffer(capacity); }
    bool commit(const char* data, size_t size) override {
      if (!store_.commit(data, size, &error)) return false;
      gint64 now = g_get_monotonic_time();
      if (events_.download && now - last_report_ > 100 * 1000) {
        last_report_ = now;
        events_.download(store_.have(), store_.total());
      }
      return true;
    }
    Error error;

   private:
    DownloadStore& store_;
    const TaskEvents& events_;
    gint64 last_report_ = 0;
  } sink(*store_, events_);

  // Without a length, a clean end of the body is not proof of the whole file
  // (a cut chunked reply looks the same): one more Range request must say 416.
  bool confirming_end = false;
  // Named by the first reply: every resume must be of the same version of the file.
  FileVersion version = store_->version();
  for (;;) {
    const uint64_t offset = store_->have();
    DownloadResult r;
    if (store_->total() && offset >= *store_->total())
      r.complete = true;  // every byte arrived before (an earlier run was stopped at the end)
    else {
      store_->set_source(url);  // where a reader coming back for let-go bytes reads them again
      r = http.download(url, offset, sink, cancellable_.get(), std::nullopt, &version);
      store_->set_version(version);  // for the bytes a reader comes back for
    }
    if (r.cancelled) return Outcome::Cancelled;
    if (r.sink_failed) {
      sink.error.task_id = id;
      return fail(sink.error);
    }
    if (r.changed)  // never spliced: the bytes so far are of another file
      return fail({ErrorKind::BadReply,
                   "The video of task " + id +
                       " changed at its URL during the download after byte " +
                       std::to_string(offset) + ": " + r.error +
                       "; not splicing two files. Run again to download it from the start",
                   "GET " + url, r.status, id});
    if (r.complete && store_->total() && store_->have() < *store_->total()) {
      r.complete = false;  // this reply ended, but the file was announced longer: resume
      r.error = "the reply ended at byte " + std::to_string(store_->have()) + " of " +
                std::to_string(*store_->total());
    }
    if (r.complete && r.status != 416 && !store_->total() && (!confirming_end || r.received > 0)) {
      confirming_end = true;
      continue;
    }
    // Nothing past what we have: the end (a length we did not know, or an earlier run's end).
    if (r.status == 416 && offset > 0 && (!store_->total() || offset >= *store_->total()))
      r.complete = true;
    if (r.complete) {
      save_to_cache(id);  // before finish(): a rerun after EOS finds the entry
      if (events_.download) events_.download(store_->have(), store_->total());
      progress(ProgressType::Complete, "download",
               "Downloaded " + std::to_string(store_->have()) + " bytes of task " + id);
      // Journaled before EOS can reach the application: a rerun must not pick it up.
      journal_status(id, "", {}, std::to_string(store_->have()) + " bytes", Ledger::kDelivered);
      store_->finish();
      return Outcome::Done;
    }
    if (r.received > 0) failures = 0;  // progress was made: only consecutive failures count
    if (r.range_done)
      continue;  // a CDN that serves a file in ranges of its own size: ask for the next at once

    const bool gone = r.status == 403 || r.status == 404 || r.status == 410;
    if (gone && !reread) {
      // An output URL that fails may have been replaced (or the CDN not be in sync yet):
      // wait a little, then read the prediction again.
      reread = true;
      if (!sleep_ms(backoff_ms(1))) return Outcome::Cancelled;
      HttpResult pr = http.api_call("GET", poll_url_for(task), nullptr, cancellable_.get());
      if (pr.cancelled) return Outcome::Cancelled;
      if (!pr.redirect_to.empty()) return fail(redirect_error(pr, "GET", poll_url_for(task), id));
      api::Reply reply = api::parse_reply(pr.status, pr.body);
      const unsigned status = effective_status(pr, reply);
      prediction_gone = status == 404 || status == 410 ||
                        (reply.kind == api::ReplyKind::Task && reply.task.outputs.empty());
      if (auto fresh = api::http_output(reply)) url = *fresh;
      continue;
    }
    if (gone || is_final_download_status(r.status)) {
      // Only a prediction that is gone too ends the task for good (never picked up again).
      if (prediction_gone) {
        journal_status(id, "", {}, "output HTTP " + std::to_string(r.status), Ledger::kGone);
        if (from_ledger_ && store_->have() == 0)
          return Outcome::Gone;  // a replay whose output is gone: paid for again, saying why
      }
      return fail({download_refusal_kind(r.status),
                   "The video of task " + id + " cannot be downloaded: HTTP " +
                       std::to_string(r.status) + " (outputs are kept for 7 days)",
                   "GET " + url, r.status, id});
    }
    if (++failures > request_.retries)
      return fail(
          {ErrorKind::Network,
           "Downloading the video of task " + id + " failed " + std::to_string(failures) +
               " times: " + (r.error.empty() ? "HTTP " + std::to_string(r.status) : r.error),
           "GET " + url, r.status, id});
    if (!sleep_ms(retry_wait_ms(r.retry_after, failures))) return Outcome::Cancelled;
  }
}

void TaskRunner::Worker::save_to_cache(const std::string& id) {
  if (!cache_.enabled()) return;
  std::string error;
  if (cache_.save(request_, gate_.fingerprint(), id, *store_, &error, cancellable_.get()))
    progress(ProgressType::Complete, "cache",
             "Saved the video of task " + id + " in " + cache_.dir());
  else
    progress(ProgressType::Complete, "cache",
             "Could not cache the video of task " + id + ": " + error);
}

}  // namespace kling
