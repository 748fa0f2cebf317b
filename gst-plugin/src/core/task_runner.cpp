#include "task_runner.h"

#include <glib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "glib_ptr.h"
#include "catalog_fetch.h"
#include "http_transport.h"
#include "retry_policy.h"
#include "submit_body.h"
#include "task_journal.h"
#include "uploader.h"
#include "video_cache.h"

namespace kling {

namespace {

std::string describe_status(const HttpResult& r, const api::Reply& reply) {
  if (r.status == 0)
    return r.transport_error;
  return "HTTP " + std::to_string(r.status) + (reply.message.empty() ? "" : ": " + reply.message);
}

// HTTP status an API error stands for: the top-level code of an error envelope inside a 200.
unsigned effective_status(const HttpResult& r, const api::Reply& reply) {
  if (reply.kind == api::ReplyKind::ApiError && r.status < 300 && reply.api_code >= 400 &&
      reply.api_code < 600)
    return static_cast<unsigned>(reply.api_code);
  return r.status;
}

bool is_transient(unsigned status, const api::Reply& reply) {
  return status == 0 || status == 408 || status == 429 || status >= 500 ||
         reply.kind == api::ReplyKind::Gateway;
}

// A refused certificate: retrying cannot help, and nothing was sent.
Error tls_error(const HttpResult& r, const std::string& url, const std::string& task_id) {
  return {ErrorKind::Network,
          "The TLS certificate of " + url + " was not accepted: " + r.transport_error +
              ". Nothing was sent. Give its CA with tls-database, or set ssl-strict=false",
          {}, 0, task_id};
}

ErrorKind kind_for_status(unsigned status) {
  switch (status) {
    case 400: case 413: case 422: return ErrorKind::InvalidInput;
    case 401: case 403: return ErrorKind::NotAuthorized;
    case 404: case 410: return ErrorKind::NotFound;
    default: return status >= 500 || status == 0 ? ErrorKind::Network : ErrorKind::BadReply;
  }
}

}  // namespace

class TaskRunner::Worker {
 public:
  Worker(Request request, std::string resume_id, std::shared_ptr<DownloadStore> store,
         TaskEvents events);
  void start_clock();
  void run() noexcept;
  void cancel();
  // True once run() has returned, waiting at most `limit`.
  bool wait_finished(std::chrono::milliseconds limit);
  std::string task_id() const;
  std::atomic<bool> task_failed_{false};
  std::atomic<bool> submit_uncertain_{false};
  std::atomic<bool> stop_announced_{false};

 private:
  using Clock = std::chrono::steady_clock;
  enum class Outcome { Done, Failed, Cancelled };

  Outcome execute(HttpTransport& http);
  // Before anything is sent: the model's fields (catalogue), the body checked against them,
  // a local image uploaded. `body` gets the submit body.
  Outcome prepare(HttpTransport& http, std::string* body);
  Outcome submit(HttpTransport& http, api::Task* task, const std::string& body);
  Outcome poll_until_final(HttpTransport& http, api::Task* task);
  Outcome conclude(api::Task final_task, const std::string& url, api::Task* task);
  Outcome download(HttpTransport& http, api::Task task);

  // Sleeps `ms` unless cancelled first; false when cancelled.
  bool sleep_ms(unsigned ms);
  unsigned backoff_ms(unsigned attempt) const { return kling::backoff_ms(request_.poll_interval_ms, attempt); }
  unsigned retry_wait_ms(const std::optional<unsigned>& retry_after, unsigned attempt) const {
    return kling::retry_wait_ms(request_.poll_interval_ms, retry_after, attempt);
  }
  std::optional<unsigned> ms_to_deadline() const;
  std::string poll_url_for(const api::Task& task) const;
  Outcome fail(Error error);
  // Publishes a status change (and journals it unless `journal` is false).
  void set_task(const api::Task& task, bool journal = true);
  void journal_status(const std::string& id, const std::string& status,
                      const std::vector<std::string>& outputs, const std::string& detail);
  void journal_failure(const std::string& what, const std::string& error);
  void progress(ProgressType type, const char* code, const std::string& text);

  const Request request_;
  const std::shared_ptr<DownloadStore> store_;
  const TaskEvents events_;
  const TaskJournal journal_;
  const VideoCache cache_;
  std::optional<Clock::time_point> deadline_;

  GRef<GCancellable> cancellable_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool cancelled_ = false;
  bool finished_ = false;
  bool has_audio_ = false;  // the worker's own: the model's videos have sound
  std::string task_id_;
};

TaskRunner::Worker::Worker(Request request, std::string resume_id,
                           std::shared_ptr<DownloadStore> store, TaskEvents events)
    : request_(std::move(request)),
      store_(std::move(store)),
      events_(std::move(events)),
      journal_(request_.journal_path, request_.fingerprint()),
      cache_(request_.cache_dir),
      cancellable_(GRef<GCancellable>::adopt(g_cancellable_new())),
      task_id_(std::move(resume_id)) {
  store_->set_max_size(request_.max_size);
}

void TaskRunner::Worker::run() noexcept {
  {
    ScopedMainContext context;  // the worker's own
    Outcome outcome = Outcome::Failed;
    try {
      HttpTransport http(request_);
      outcome = execute(http);
    } catch (const std::exception& e) {
      fail(Error{ErrorKind::Network, "Internal error in the task runner", e.what(), 0, task_id()});
    } catch (...) {
      fail(Error{ErrorKind::Network, "Internal error in the task runner", {}, 0, task_id()});
    }
    if (outcome == Outcome::Cancelled) {
      std::string id = task_id();
      if (!id.empty() && !store_->complete() && !stop_announced_)
        progress(ProgressType::Canceled, "poll",
                 "Stopped waiting for task " + id + "; it goes on at WaveSpeed: resume with request-id=" + id);
    }
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    finished_ = true;
  }
  wake_.notify_all();
}

bool TaskRunner::Worker::wait_finished(std::chrono::milliseconds limit) {
  std::unique_lock<std::mutex> lock(mutex_);
  return wake_.wait_for(lock, limit, [this] { return finished_; });
}

TaskRunner::Worker::Outcome TaskRunner::Worker::execute(HttpTransport& http) {
  if (store_->complete())
    return Outcome::Done;
  api::Task task;
  task.id = task_id();
  if (task.id.empty() && request_.resume_unfinished) {
    const TaskJournal::Lookup past = journal_.lookup(g_get_real_time() / G_USEC_PER_SEC);
    // A task paid for by an earlier run that never delivered: pick it up instead of paying again.
    if (const auto& entry = past.unfinished) {
      task.id = entry->task_id;
      set_task(task, false);
      g_autoptr(GDateTime) when = g_date_time_new_from_unix_local(entry->submitted_unix);
      g_autofree char* at = when ? g_date_time_format(when, "%F %T") : g_strdup("?");
      progress(ProgressType::Start, "submit",
               "Picking up unfinished task " + task.id + " (submitted " + at + ", last status " +
                   entry->status + ") from the journal instead of paying for a new one; "
                   "set resume-unfinished=false for a fresh variation");
    } else if (past.uncertain_submit) {
      g_autoptr(GDateTime) when = g_date_time_new_from_unix_local(*past.uncertain_submit);
      g_autofree char* at = when ? g_date_time_format(when, "%F %T") : g_strdup("?");
      progress(ProgressType::Continue, "submit",
               std::string("Note: a submit of this request at ") + at +
                   " never got its reply; if it made a task, it is on your WaveSpeed dashboard");
    }
  }
  if (task.id.empty()) {
    std::string body;
    Outcome o = prepare(http, &body);
    if (o == Outcome::Done)
      o = submit(http, &task, body);
    if (o != Outcome::Done)
      return o;
  } else {
    // Nothing to check before a poll; the catalogue still says whether the video has sound.
    const CatalogLookup found = ModelCatalogue(request_.api_url).lookup(http, request_.model, cancellable_.get());
    has_audio_ = found.model && found.model->has_audio;
    progress(ProgressType::Start, "poll", "Resuming task " + task.id);
  }
  Outcome o = poll_until_final(http, &task);
  if (o != Outcome::Done)
    return o;
  return download(http, std::move(task));
}

TaskRunner::Worker::Outcome TaskRunner::Worker::prepare(HttpTransport& http, std::string* body) {
  const CatalogLookup found = ModelCatalogue(request_.api_url).lookup(http, request_.model, cancellable_.get());
  if (found.cancelled)
    return Outcome::Cancelled;
  const ModelSchema* schema = found.model ? &*found.model : nullptr;
  SubmitBody checked;
  // A refusal here sends nothing: no upload, no submit.
  if (auto error = build_submit_body(request_, schema, {}, &checked))
    return fail(*error);
  has_audio_ = checked.has_audio;
  if (!request_.image_file.empty()) {
    std::string url;
    Error error;
    const auto said = [this](bool done, const std::string& text) {
      progress(done ? ProgressType::Complete : ProgressType::Start, "upload", text);
    };
    switch (ImageUploader(request_).upload(http, cancellable_.get(), said,
                                           [this](unsigned ms) { return sleep_ms(ms); }, &url, &error)) {
      case ImageUploader::Outcome::Cancelled: return Outcome::Cancelled;
      case ImageUploader::Outcome::Failed: return fail(error);
      case ImageUploader::Outcome::Done: break;
    }
    if (auto e = build_submit_body(request_, schema, url, &checked))
      return fail(*e);
  }
  *body = checked.json;
  return Outcome::Done;
}

TaskRunner::Worker::Outcome TaskRunner::Worker::submit(HttpTransport& http, api::Task* task,
                                                       const std::string& body) {
  const std::string url = api::submit_url(request_.api_url, request_.model);
  progress(ProgressType::Start, "submit",
           "Submitting a " + std::to_string(request_.duration) + " s " + request_.aspect_ratio +
               " video to " + request_.model);

  for (unsigned attempt = 1;; attempt++) {
    // On record before the POST: a crash during it leaves a note for the next run.
    journal_.record_submitting(nullptr);
    HttpResult r = http.api_call("POST", url, &body, cancellable_.get());
    api::Reply reply = api::parse_reply(r.status, r.body);
    const unsigned status = effective_status(r, reply);
    // A refusal (4xx, 429 among them), or a request never written out, proves no task was made.
    const bool no_task =
        (r.status != 0 && status >= 400 && status < 500) || r.never_connected || !r.request_sent;
    const bool has_task = reply.kind == api::ReplyKind::Task && !reply.task.id.empty();
    // Otherwise, until a task id arrives, a task may exist that we know nothing of.
    submit_uncertain_ = !no_task && !has_task;
    if (no_task)
      journal_.record_submitting(r.cancelled ? "not sent" : "refused");
    if (r.cancelled)
      return Outcome::Cancelled;

    if (r.tls_failed)
      return fail(tls_error(r, url, {}));
    // Of those, only a 429 or a connection never made is worth trying again.
    const bool safe_to_retry = no_task && (status == 429 || r.never_connected);
    if (safe_to_retry && attempt <= request_.retries) {
      unsigned wait = retry_wait_ms(r.retry_after, attempt);
      auto left = ms_to_deadline();
      if (left && wait > *left)
        return fail({ErrorKind::Timeout,
                     "WaveSpeed asks to wait " + std::to_string(wait / 1000) +
                         " s before submitting, past the deadline (timeout=" +
                         std::to_string(request_.timeout_s) + ")",
                     describe_status(r, reply), status, {}});
      progress(ProgressType::Continue, "submit",
               (status == 429 ? "Submit refused (" : "Could not reach WaveSpeed (") +
                   describe_status(r, reply) + "), so no task was made; retrying in " +
                   std::to_string(wait) + " ms");
      if (!sleep_ms(wait))
        return Outcome::Cancelled;
      continue;
    }
    if (r.status == 0)
      return fail({ErrorKind::Network, "Could not submit the task: " + r.transport_error,
                   r.never_connected ? "no connection could be made"
                                     : "the request may have reached WaveSpeed, so it is not "
                                       "retried (that could bill a second task); if it made a "
                                       "task, it is on your WaveSpeed dashboard",
                   0, {}});
    if (has_task) {
      *task = reply.task;
      if (task->status.empty())
        task->status = "created";
      set_task(*task, false);  // the id is known to the element from here on
      // Journaled before the first poll: from here on a crash cannot lose the task.
      std::string error;
      if (!journal_.record_submitted(request_, task->id, task->status, &error))
        journal_failure(task->id, error);
      progress(ProgressType::Continue, "submit",
               "Task " + task->id + " submitted (status " + task->status + ")");
      return Outcome::Done;
    }
    if (!r.redirect_to.empty())
      return fail(redirect_error(r, "POST", url, {}));
    std::string debug = "POST " + url + " answered HTTP " + std::to_string(r.status);
    if (status >= 500 || reply.kind == api::ReplyKind::Gateway)
      debug += "; not retried: the task may have been created, see your WaveSpeed dashboard";
    if (reply.kind == api::ReplyKind::Malformed || reply.kind == api::ReplyKind::Task)
      return fail({ErrorKind::BadReply, "Unreadable reply to the submit: " +
                       (reply.kind == api::ReplyKind::Task ? std::string("no task id") : reply.message),
                   debug, status, {}});
    return fail({kind_for_status(status), "WaveSpeed refused the task: " + describe_status(r, reply),
                 debug, status, {}});
  }
}

std::string TaskRunner::Worker::poll_url_for(const api::Task& task) const {
  // urls.get is preferred, but the key only goes to api-url's own origin.
  if (!task.get_url.empty() && api::same_origin(task.get_url, request_.api_url))
    return task.get_url;
  return api::result_url(request_.api_url, task.id);
}

TaskRunner::Worker::Outcome TaskRunner::Worker::poll_until_final(HttpTransport& http, api::Task* task) {
  const std::string id = task->id;
  const std::string url = poll_url_for(*task);
  const unsigned interval = std::max(1u, request_.poll_interval_ms);
  // First poll soon, then growing to the interval.
  unsigned delay = std::min(interval, 1000u);
  unsigned failures = 0;
  std::string status = task->status;
  // A submit answered in a final status (a synchronous mode) needs no poll.
  if (api::is_final_status(status) && (status != "completed" || !task->outputs.empty()))
    return conclude(*task, url, task);

  for (;;) {
    auto left = ms_to_deadline();
    if (left && *left == 0)
      return fail({ErrorKind::Timeout,
                   "Task " + id + " did not finish within " + std::to_string(request_.timeout_s) +
                       " s (last status: " + (status.empty() ? "unknown" : status) +
                       "). It may still complete: resume with request-id=" + id,
                   {}, 0, id});
    // +-10% jitter keeps many elements from polling in lockstep.
    unsigned jittered = delay + static_cast<unsigned>(g_random_int_range(0, delay / 5 + 1)) - delay / 10;
    if (!sleep_ms(left ? std::min(jittered, *left) : jittered))
      return Outcome::Cancelled;
    if (left && ms_to_deadline() == 0u)
      continue;  // report the deadline, not a poll past it

    HttpResult r = http.api_call("GET", url, nullptr, cancellable_.get());
    if (r.cancelled)
      return Outcome::Cancelled;
    if (r.tls_failed)
      return fail(tls_error(r, url, id));
    if (!r.redirect_to.empty())
      return fail(redirect_error(r, "GET", url, id));
    api::Reply reply = api::parse_reply(r.status, r.body);
    const unsigned http_status = effective_status(r, reply);

    if (is_transient(http_status, reply)) {
      if (++failures > request_.retries)
        return fail({ErrorKind::Network,
                     "Polling task " + id + " failed " + std::to_string(failures) +
                         " times in a row: " + describe_status(r, reply) +
                         ". Resume with request-id=" + id,
                     "GET " + url, http_status, id});
      delay = retry_wait_ms(r.retry_after, failures);
      if (auto l = ms_to_deadline(); l && r.retry_after && delay > *l)
        return fail({ErrorKind::Timeout,
                     "WaveSpeed asks to wait " + std::to_string(*r.retry_after) +
                         " s, past the deadline, for task " + id + ". Resume with request-id=" + id,
                     "GET " + url, http_status, id});
      progress(ProgressType::Continue, "poll",
               "Task " + id + ": " + describe_status(r, reply) + "; retrying");
      continue;
    }
    failures = 0;
    delay = std::min(interval, delay * 2);

    if (reply.kind == api::ReplyKind::Malformed)
      return fail({ErrorKind::BadReply, "Unreadable reply while polling task " + id + ": " + reply.message,
                   "GET " + url + " answered HTTP " + std::to_string(r.status), http_status, id});
    if (reply.kind == api::ReplyKind::ApiError) {
      if (http_status == 404 || http_status == 410)
        journal_status(id, TaskJournal::kGone, {}, reply.message);  // nothing left to resume
      std::string what = http_status == 404 || http_status == 410
                             ? "Task " + id + " not found (WaveSpeed keeps tasks for 7 days): "
                             : "Polling task " + id + " failed: ";
      return fail({kind_for_status(http_status), what + describe_status(r, reply),
                   "GET " + url, http_status, id});
    }

    api::Task& t = reply.task;
    if (t.id.empty()) t.id = id;
    if (t.status != status) {
      status = t.status;
      set_task(t);
      if (t.status != "completed")
        progress(ProgressType::Continue, "poll", "Task " + id + ": " + t.status);
    }
    if (!api::is_final_status(t.status))
      continue;
    return conclude(std::move(t), url, task);
  }
}

// A task in a final status: the error it ended with, or its output to download.
TaskRunner::Worker::Outcome TaskRunner::Worker::conclude(api::Task t, const std::string& url,
                                                         api::Task* task) {
  const std::string& id = task->id;
  if (t.status != "completed") {
    task_failed_ = true;
    std::string text = t.error.empty() ? "no reason given" : t.error;
    std::string code = t.code ? " (code " + std::to_string(t.code) + ")" : "";
    std::string debug = t.code == 0 ? "final status " + t.status
                        : api::is_input_fault(t.code)
                            ? "the input must change before a new try"
                            : "transient on WaveSpeed's side: a new try may succeed";
    ErrorKind kind = api::is_input_fault(t.code) ? ErrorKind::InvalidInput : ErrorKind::TaskFailed;
    return fail({kind, "Task " + id + " " + t.status + ": " + text + code, debug, 0, id});
  }
  if (t.outputs.empty())
    return fail({ErrorKind::BadReply, "Task " + id + " completed without an output URL",
                 "GET " + url, 0, id});
  if (!is_http_url(t.outputs.front()))
    return fail({ErrorKind::BadReply, "Task " + id + " gave an output that is not an http(s) URL",
                 t.outputs.front(), 0, id});
  char secs[32] = "unknown time";
  if (t.inference_ms >= 0)
    g_snprintf(secs, sizeof secs, "%.1f s", t.inference_ms / 1000.0);
  progress(ProgressType::Complete, "poll",
           "Task " + id + " completed (inference " + std::string(secs) + "); downloading " + t.outputs.front());
  *task = std::move(t);
  return Outcome::Done;
}

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
      if (!store_.commit(data, size, &error))
        return false;
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
  for (;;) {
    const uint64_t offset = store_->have();
    DownloadResult r;
    if (store_->total() && offset >= *store_->total())
      r.complete = true;  // every byte arrived before (an earlier run was stopped at the end)
    else {
      store_->set_source(url);  // where a reader coming back for let-go bytes reads them again
      r = http.download(url, offset, sink, cancellable_.get());
    }
    if (r.cancelled)
      return Outcome::Cancelled;
    if (r.sink_failed) {
      sink.error.task_id = id;
      return fail(sink.error);
    }
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
      if (cache_.enabled()) {  // before finish(): a rerun after EOS finds the entry
        std::string error;
        if (cache_.save(request_, id, *store_, &error))
          progress(ProgressType::Complete, "cache", "Saved the video of task " + id + " in " + cache_.dir());
        else
          progress(ProgressType::Complete, "cache", "Could not cache the video of task " + id + ": " + error);
      }
      if (events_.download)
        events_.download(store_->have(), store_->total());
      progress(ProgressType::Complete, "download",
               "Downloaded " + std::to_string(store_->have()) + " bytes of task " + id);
      // Journaled before EOS can reach the application: a rerun must not pick it up.
      journal_status(id, TaskJournal::kDelivered, {}, std::to_string(store_->have()) + " bytes");
      store_->finish();
      return Outcome::Done;
    }
    if (r.received > 0)
      failures = 0;  // progress was made: only consecutive failures count
    if (r.range_done)
      continue;  // a CDN that serves a file in ranges of its own size: ask for the next at once

    const bool gone = r.status == 403 || r.status == 404 || r.status == 410;
    if (gone && !reread) {
      // An output URL that fails may have been replaced (or the CDN not be in sync yet):
      // wait a little, then read the prediction again.
      reread = true;
      if (!sleep_ms(backoff_ms(1)))
        return Outcome::Cancelled;
      HttpResult pr = http.api_call("GET", poll_url_for(task), nullptr, cancellable_.get());
      if (pr.cancelled)
        return Outcome::Cancelled;
      if (!pr.redirect_to.empty())
        return fail(redirect_error(pr, "GET", poll_url_for(task), id));
      api::Reply reply = api::parse_reply(pr.status, pr.body);
      const unsigned status = effective_status(pr, reply);
      prediction_gone = status == 404 || status == 410 ||
                        (reply.kind == api::ReplyKind::Task && reply.task.outputs.empty());
      if (auto fresh = api::http_output(reply))
        url = *fresh;
      continue;
    }
    if (gone || is_final_download_status(r.status)) {
      // Only a prediction that is gone too ends the task for good (never picked up again).
      if (prediction_gone)
        journal_status(id, TaskJournal::kGone, {}, "output " + std::to_string(r.status));
      return fail({download_refusal_kind(r.status),
                   "The video of task " + id + " cannot be downloaded: HTTP " +
                       std::to_string(r.status) + " (outputs are kept for 7 days)",
                   "GET " + url, r.status, id});
    }
    if (++failures > request_.retries)
      return fail({ErrorKind::Network,
                   "Downloading the video of task " + id + " failed " + std::to_string(failures) +
                       " times: " + (r.error.empty() ? "HTTP " + std::to_string(r.status) : r.error),
                   "GET " + url, r.status, id});
    if (!sleep_ms(retry_wait_ms(r.retry_after, failures)))
      return Outcome::Cancelled;
  }
}

bool TaskRunner::Worker::sleep_ms(unsigned ms) {
  std::unique_lock<std::mutex> lock(mutex_);
  wake_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return cancelled_; });
  return !cancelled_;
}

std::optional<unsigned> TaskRunner::Worker::ms_to_deadline() const {
  if (!deadline_)
    return std::nullopt;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline_ - Clock::now());
  return static_cast<unsigned>(std::max<int64_t>(0, left.count()));
}

TaskRunner::Worker::Outcome TaskRunner::Worker::fail(Error error) {
  if (error.task_id.empty())
    error.task_id = task_id();
  progress(ProgressType::Error, "error", error.message);
  store_->fail(std::move(error));
  return Outcome::Failed;
}

void TaskRunner::Worker::set_task(const api::Task& task, bool journal) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    task_id_ = task.id;
  }
  if (journal)
    journal_status(task.id, task.status, task.outputs, task.error);
  if (events_.task && !task.status.empty()) {
    api::Task told = task;
    told.has_audio = has_audio_;
    events_.task(told);
  }
}

void TaskRunner::Worker::journal_status(const std::string& id, const std::string& status,
                                const std::vector<std::string>& outputs, const std::string& detail) {
  std::string error;
  if (!journal_.record_status(id, status, outputs, detail, &error))
    journal_failure(id, error);
}

void TaskRunner::Worker::journal_failure(const std::string& id, const std::string& error) {
  // The task goes on: its id is in the progress text and the task-id property.
  progress(ProgressType::Continue, "journal",
           "Could not journal task " + id + " (" + error + "); note its id to resume it");
}

void TaskRunner::Worker::progress(ProgressType type, const char* code, const std::string& text) {
  if (events_.progress)
    events_.progress(type, code, text);
}

// ---------------------------------------------------------------- the handle

TaskRunner::TaskRunner(Request request, std::string resume_id, std::shared_ptr<DownloadStore> store,
                       TaskEvents events)
    : worker_(std::make_shared<Worker>(std::move(request), std::move(resume_id), std::move(store),
                                       std::move(events))) {}

TaskRunner::~TaskRunner() { stop(); }

void TaskRunner::start() {
  if (thread_.joinable())
    return;
  worker_->start_clock();
  thread_ = std::thread([worker = worker_] { worker->run(); });
}

void TaskRunner::stop() {
  worker_->cancel();
  if (!thread_.joinable())
    return;
  // Joined when it ends promptly, as it does once cancelled. From the worker itself
  // (a bus sync handler) joining would deadlock, and a disk stalled in the journal's
  // fsync must not hold a state change: then the thread, which keeps the worker
  // alive, ends on its own.
  if (thread_.get_id() != std::this_thread::get_id() &&
      worker_->wait_finished(std::chrono::milliseconds(150)))
    thread_.join();
  else
    thread_.detach();
}

std::string TaskRunner::task_id() const { return worker_->task_id(); }
bool TaskRunner::task_failed() const { return worker_->task_failed_; }
bool TaskRunner::submit_uncertain() const { return worker_->submit_uncertain_; }
void TaskRunner::mark_stop_announced() { worker_->stop_announced_ = true; }

void TaskRunner::Worker::start_clock() {
  if (request_.timeout_s > 0)
    deadline_ = Clock::now() + std::chrono::seconds(request_.timeout_s);
}

void TaskRunner::Worker::cancel() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    cancelled_ = true;
  }
  wake_.notify_all();
  g_cancellable_cancel(cancellable_.get());
}

std::string TaskRunner::Worker::task_id() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return task_id_;
}

}  // namespace kling
