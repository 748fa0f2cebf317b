// SPDX-License-Identifier: LGPL-2.1-or-later
// The download: Range-resumed into the store, an output URL that fails read
// again from the prediction, the cache entry written before the end is told.
#include "core/task/output_fetch.h"
#include "core/task/task_worker.h"

namespace kling {

using namespace runner;

namespace {

// Feeds the store, reports progress at most 10 times a second, and judges where
// the file ends.
class StoreTarget : public OutputFetch::Target, public ByteSink {
 public:
  StoreTarget(DownloadStore& store, const TaskEvents& events, const std::string& id,
              const FileVersion& version)
      : version_(version), store_(store), events_(events), id_(id) {}

  // ByteSink
  bool set_total(uint64_t total) override {
    return store_.total() || store_.set_total(total, &error_);
  }
  char* next_buffer(size_t* capacity) override { return store_.write_buffer(capacity); }
  bool commit(const char* data, size_t size) override {
    if (!store_.commit(data, size, &error_)) return false;
    gint64 now = g_get_monotonic_time();
    if (events_.download && now - last_report_ > 100 * 1000) {
      last_report_ = now;
      events_.download(store_.have(), store_.total());
    }
    return true;
  }

  // OutputFetch::Target
  ByteSink& sink() override { return *this; }
  uint64_t offset() override { return store_.have(); }
  void requesting(const std::string& url) override {
    url_ = url;
    store_.set_source(url);  // where a reader coming back for let-go bytes reads them again
  }
  OutputFetch::Verdict judge(DownloadResult& r, uint64_t from, Error* error) override {
    store_.set_version(version_);  // for the bytes a reader comes back for
    if (r.sink_failed) {
      *error = error_;
      return OutputFetch::Verdict::Failed;
    }
    if (r.changed) {  // never spliced: the bytes so far are of another file
      *error = {ErrorKind::BadReply,
                "The video of task " + id_ + " changed at its URL during the download after byte " +
                    std::to_string(from) + ": " + r.error +
                    "; not splicing two files. Run again to download it from the start",
                "GET " + url_, r.status, id_};
      return OutputFetch::Verdict::Failed;
    }
    const auto total = store_.total();
    if (r.complete && total && store_.have() < *total) {
      r.complete = false;  // this reply ended, but the file was announced longer: resume
      r.error = "the reply ended at byte " + std::to_string(store_.have()) + " of " +
                std::to_string(*total);
    }
    // Without a length, a clean end of the body is not proof of the whole file
    // (a cut chunked reply looks the same): one more Range request must say 416.
    if (r.complete && r.status != 416 && !total && (!confirming_end_ || r.received > 0)) {
      confirming_end_ = true;
      return OutputFetch::Verdict::Again;
    }
    // Nothing past what we have: the end (a length we did not know, or an earlier run's end).
    if (r.status == 416 && from > 0 && (!total || from >= *total)) r.complete = true;
    return r.complete ? OutputFetch::Verdict::Done : OutputFetch::Verdict::Judge;
  }

  // Named by the first reply: every resume must be of the same version of the file.
  FileVersion version_;

 private:
  DownloadStore& store_;
  const TaskEvents& events_;
  const std::string& id_;
  std::string url_;
  Error error_;
  gint64 last_report_ = 0;
  bool confirming_end_ = false;
};

}  // namespace

TaskRunner::Worker::Outcome TaskRunner::Worker::download(HttpTransport& http, api::Task task) {
  const std::string& id = task.id;
  // Every byte may have arrived before (an earlier run was stopped at the end).
  if (!store_->total() || store_->have() < *store_->total()) {
    StoreTarget target(*store_, events_, id, store_->version());
    OutputFetch fetch(request_,
                      {id, "Downloading the video of task " + id, poll_url_for(task),
                       [this](unsigned ms) { return sleep_ms(ms); }},
                      cancellable_.get());
    Error error;
    switch (fetch.run(http, task.outputs.front(), target, &target.version_, &error)) {
      case OutputFetch::End::Cancelled:
        return Outcome::Cancelled;
      case OutputFetch::End::Failed:
        // Only a prediction that is gone too ends the task for good (never picked up again).
        if (fetch.refused_status() && fetch.prediction_gone()) {
          journal_status(id, "", {}, "output HTTP " + std::to_string(fetch.refused_status()),
                         Ledger::kGone);
          if (from_ledger_ && store_->have() == 0)
            return Outcome::Gone;  // a replay whose output is gone: paid for again, saying why
        }
        return fail(error);
      case OutputFetch::End::Done:
        break;
    }
  }
  save_to_cache(id);  // before finish(): a rerun after EOS finds the entry
  if (events_.download) events_.download(store_->have(), store_->total());
  progress(ProgressType::Complete, "download",
           "Downloaded " + std::to_string(store_->have()) + " bytes of task " + id);
  // Journaled before EOS can reach the application: a rerun must not pick it up.
  journal_status(id, "", {}, std::to_string(store_->have()) + " bytes", Ledger::kDelivered);
  store_->finish();
  return Outcome::Done;
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
