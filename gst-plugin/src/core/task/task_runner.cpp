// SPDX-License-Identifier: LGPL-2.1-or-later
// The runner's thread and the flow of a generation through its phases.
#include "core/task/task_runner.h"

#include <glib.h>

#include <algorithm>

#include "core/task/task_worker.h"

namespace kling {

namespace runner {

std::string describe_status(const HttpResult& r, const api::Reply& reply) {
  if (r.status == 0) return r.transport_error;
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
          {},
          0,
          task_id};
}

ErrorKind kind_for_status(unsigned status) {
  switch (status) {
    case 400:
    case 413:
    case 422:
      return ErrorKind::InvalidInput;
    case 401:
    case 403:
      return ErrorKind::NotAuthorized;
    case 404:
    case 410:
      return ErrorKind::NotFound;
    default:
      return status >= 500 || status == 0 ? ErrorKind::Network : ErrorKind::BadReply;
  }
}

}  // namespace runner

using namespace runner;

TaskRunner::Worker::Worker(Request request, std::string fingerprint, std::string resume_id,
                           std::shared_ptr<DownloadStore> store, TaskEvents events)
    : request_(std::move(request)),
      store_(std::move(store)),
      events_(std::move(events)),
      cache_(request_.cache_dir, request_.cache_max_size),
      cancellable_(GRef<GCancellable>::adopt(g_cancellable_new())),
      task_id_(std::move(resume_id)),
      gate_(request_, std::move(fingerprint), cancellable_.get(),
            {[this](const std::string& text) { progress(ProgressType::Continue, "submit", text); },
             [this](unsigned ms) { return sleep_ms(ms); }, [this] { return ms_to_deadline(); }}) {
  store_->set_max_size(request_.max_size);
  // The cancellable's wakeup fd, made before another thread can cancel: GLib
  // guards it with a lock ThreadSanitizer cannot see. It goes with the cancellable.
  GPollFD wakeup;
  g_cancellable_make_pollfd(cancellable_.get(), &wakeup);
}

void TaskRunner::Worker::run() noexcept {
  // The worker's own context, its default while it runs: libsoup's sync calls iterate it.
  g_autoptr(GMainContext) context = g_main_context_new();
  g_autoptr(GMainContextPusher) pusher = g_main_context_pusher_new(context);
  Outcome outcome = Outcome::Failed;
  try {
    HttpTransport http(request_);
    outcome = execute(http);
  } catch (const std::exception& e) {
    fail(Error{ErrorKind::Network, "Internal error in the task runner", e.what(), 0, task_id()});
  } catch (...) {
    fail(Error{ErrorKind::Network, "Internal error in the task runner", {}, 0, task_id()});
  }
  store_->pause_hash();  // a cache entry's hashing thread lives only while this worker feeds it
  if (outcome == Outcome::Cancelled) {
    std::string id = task_id();
    if (!id.empty() && !store_->complete() && !stop_announced_)
      progress(ProgressType::Canceled, "poll",
               "Stopped waiting for task " + id +
                   "; it goes on at WaveSpeed: resume with request-id=" + id);
  }
}

// The flow of one generation; each phase is in a file of its own (task_worker.h).
TaskRunner::Worker::Outcome TaskRunner::Worker::execute(HttpTransport& http) {
  if (store_->complete()) return Outcome::Done;
  api::Task task;
  task.id = task_id();
  // Twice at most: a task picked up from the ledger that turns out gone is paid for again, once.
  for (int round = 0;; round++) {
    http.set_deadline(
        deadline_);  // every request before the video is ready: catalogue, quote, submit, polls
    Outcome o = Outcome::Done;
    if (!task.id.empty()) {
      learn_model(http);  // nothing to check before a poll, but kling/task says if it has sound
      progress(ProgressType::Start, "poll", "Resuming task " + task.id);
    } else {
      o = prepare(http, &task);
      if (o == Outcome::Done && task.id.empty()) o = submit(http, &task);
    }
    // A replay has its output already: no poll. A submit answered with its output (a
    // synchronous mode) still concludes there, without a poll, so the ledger keeps it.
    if (o == Outcome::Done && !(from_ledger_ && !task.outputs.empty()))
      o = poll_until_final(http, &task);
    if (o == Outcome::Done) {
      http.set_deadline(std::nullopt);  // the download is not under the deadline
      o = download(http, std::move(task));
    }
    if (o != Outcome::Gone) return o;
    if (round > 0 || store_->have() > 0)
      return fail({ErrorKind::NotFound,
                   "Task " + task_id() + " is gone (WaveSpeed keeps tasks for 7 days)",
                   {},
                   0,
                   task_id()});
    task = api::Task();
    from_ledger_ = false;
  }
}

std::string TaskRunner::Worker::poll_url_for(const api::Task& task) const {
  // urls.get is preferred, but the key only goes to api-url's own origin.
  if (!task.get_url.empty() && api::same_origin(task.get_url, request_.api_url))
    return task.get_url;
  return api::result_url(request_.api_url, task.id);
}

bool TaskRunner::Worker::sleep_ms(unsigned ms) {
  std::unique_lock<std::mutex> lock(mutex_);
  wake_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return cancelled_; });
  return !cancelled_;
}

std::optional<unsigned> TaskRunner::Worker::ms_to_deadline() const {
  if (!deadline_) return std::nullopt;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline_ - Clock::now());
  return static_cast<unsigned>(std::max<int64_t>(0, left.count()));
}

Error TaskRunner::Worker::deadline_error(const std::string& when) const {
  return {ErrorKind::Timeout,
          "The deadline (timeout=" + std::to_string(request_.timeout_s) + " s) passed " + when,
          {},
          0,
          task_id()};
}

HttpResult TaskRunner::Worker::api_call(HttpTransport& http, const char* method,
                                        const std::string& url, const std::string* body) {
  return http.api_call(method, url, body, cancellable_.get());
}

TaskRunner::Worker::Outcome TaskRunner::Worker::fail(Error error) {
  if (error.task_id.empty()) error.task_id = task_id();
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
    journal_status(task.id, task.status, task.outputs, task.error,
                   api::is_final_status(task.status) && task.status != "completed" ? Ledger::kFailed
                                                                                   : nullptr);
  if (events_.task && !task.status.empty()) {
    api::Task told = task;
    told.has_audio = has_audio_;
    events_.task(told);
  }
}

void TaskRunner::Worker::journal_status(const std::string& id, const std::string& status,
                                        const std::vector<std::string>& outputs,
                                        const std::string& detail, const char* state) {
  std::string error;
  if (!gate_.record(id, status, outputs, state, detail, &error)) journal_failure(id, error);
}

void TaskRunner::Worker::journal_failure(const std::string& id, const std::string& error) {
  // The task goes on: its id is in the progress text and the task-id property. ERROR ends
  // the journal step (a CONTINUE after the poll's COMPLETE holds gst-launch-1.0 at preroll).
  progress(ProgressType::Error, "journal",
           "Could not journal task " + id + " (" + error + "); note its id to resume it");
}

void TaskRunner::Worker::progress(ProgressType type, const char* code, const std::string& text) {
  if (events_.progress) events_.progress(type, code, text);
}

// ---------------------------------------------------------------- the handle

TaskRunner::TaskRunner(Request request, std::string fingerprint, std::string resume_id,
                       std::shared_ptr<DownloadStore> store, TaskEvents events)
    : worker_(std::make_shared<Worker>(std::move(request), std::move(fingerprint),
                                       std::move(resume_id), std::move(store), std::move(events))) {
}

TaskRunner::~TaskRunner() {
  stop();
  // Only a runner dropped on its own thread is still joinable here: that
  // thread is returning from its last call out and ends by itself.
  if (thread_.joinable()) thread_.detach();
}

void TaskRunner::start() {
  if (thread_.joinable()) return;
  worker_->start_clock();
  thread_ = NamedThread(kThreadName, [worker = worker_] { worker->run(); });
}

bool TaskRunner::stop() {
  worker_->cancel();
  return join();
}

bool TaskRunner::join() {
  if (!thread_.joinable()) return true;
  // From the worker itself (a bus sync handler) joining would deadlock.
  if (thread_.is_current()) return false;
  thread_.join();
  return true;
}

std::string TaskRunner::task_id() const {
  return worker_->task_id();
}
bool TaskRunner::task_failed() const {
  return worker_->task_failed_;
}
bool TaskRunner::submit_uncertain() const {
  return worker_->submit_uncertain_;
}
void TaskRunner::mark_stop_announced() {
  worker_->stop_announced_ = true;
}

void TaskRunner::Worker::start_clock() {
  if (request_.timeout_s > 0) deadline_ = Clock::now() + std::chrono::seconds(request_.timeout_s);
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
