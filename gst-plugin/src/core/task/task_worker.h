// SPDX-License-Identifier: LGPL-2.1-or-later
// Inside the task runner (not for its users): the worker that lives on the
// runner's thread, and the helpers its phases share. The flow is in
// task_runner.cpp; each phase has a file of its own:
//   pre_submit_phase.cpp  what happens before any money is spent (the request checked against
//                         its model, a local image uploaded, the ledger's word, the price)
//   submit_phase.cpp      the one POST that makes (and bills) a task
//   poll_phase.cpp        polls until a final status, the deadline, retries
//   download_phase.cpp    the Range-resumed download into the store, the cache entry
#pragma once

#include <gio/gio.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/ledger/admission.h"
#include "core/ledger/ledger.h"
#include "core/net/http_transport.h"
#include "core/storage/video_cache.h"
#include "core/task/retry_policy.h"
#include "core/task/task_runner.h"
#include "core/util/gobject_ref.h"
#include "core/wavespeed/catalog_loader.h"

namespace kling {

namespace runner {
std::string describe_status(const HttpResult& r, const api::Reply& reply);
// HTTP status an API error stands for: the top-level code of an error envelope inside a 200.
unsigned effective_status(const HttpResult& r, const api::Reply& reply);
bool is_transient(unsigned status, const api::Reply& reply);
// A refused certificate: retrying cannot help, and nothing was sent.
Error tls_error(const HttpResult& r, const std::string& url, const std::string& task_id);
ErrorKind kind_for_status(unsigned status);
}  // namespace runner

class TaskRunner::Worker {
 public:
  Worker(Request request, std::string fingerprint, std::string resume_id,
         std::shared_ptr<DownloadStore> store, TaskEvents events);
  void start_clock();
  void run() noexcept;
  void cancel();
  std::string task_id() const;
  std::atomic<bool> task_failed_{false};
  std::atomic<bool> submit_uncertain_{false};
  std::atomic<bool> stop_announced_{false};

 private:
  using Clock = std::chrono::steady_clock;
  // Gone: a task picked up from the ledger no longer exists; the request is admitted again.
  enum class Outcome { Done, Failed, Cancelled, Gone };

  // The flow (task_runner.cpp): prepare, submit unless a task is known, poll, download.
  Outcome execute(HttpTransport& http);
  // Before the submit (pre_submit_phase.cpp): each step may end the run, or set
  // task->id to a task to poll (with its outputs: to replay) instead of submitting.
  // The request may still be changed here (nothing else reads it yet); from the
  // submit on it is fixed.
  Outcome prepare(HttpTransport& http, api::Task* task);
  // The model's fields (catalogue), the body checked against them (a refusal sends nothing),
  // a local image uploaded: sets submit_body_.
  Outcome check_request(HttpTransport& http);
  // The model's catalogue entry (or the built-in one); notes whether its videos have sound.
  CatalogLookup learn_model(HttpTransport& http);
  // The ledger's word on this request, and for a submit its price checked.
  Outcome admit(HttpTransport& http, api::Task* task);
  // submit_phase.cpp
  Outcome submit(HttpTransport& http, api::Task* task);
  struct SubmitAnswer;
  void tell_gate(const SubmitAnswer& answer);
  // A 429 or no connection: nothing when the wait ended and the POST may go again.
  std::optional<Outcome> wait_to_resubmit(const SubmitAnswer& answer, unsigned attempt);
  Outcome submit_answered(const SubmitAnswer& answer, const std::string& url, api::Task* task);
  Outcome keep_named_task(const SubmitAnswer& answer, const std::string& debug);
  // poll_phase.cpp
  Outcome poll_until_final(HttpTransport& http, api::Task* task);
  Outcome poll_refused(const HttpResult& r, const api::Reply& reply, unsigned http_status,
                       const std::string& id, const std::string& url);
  Outcome conclude(api::Task final_task, const std::string& url, api::Task* task);
  // download_phase.cpp
  Outcome download(HttpTransport& http, api::Task task);
  void save_to_cache(const std::string& id);

  // Shared by the phases (task_runner.cpp).
  // Sleeps `ms` unless cancelled first; false when cancelled.
  bool sleep_ms(unsigned ms);
  unsigned backoff_ms(unsigned attempt) const {
    return kling::backoff_ms(request_.poll_interval_ms, attempt);
  }
  unsigned retry_wait_ms(const std::optional<unsigned>& retry_after, unsigned attempt) const {
    return kling::retry_wait_ms(request_.poll_interval_ms, retry_after, attempt);
  }
  std::optional<unsigned> ms_to_deadline() const;
  bool past_deadline() const { return deadline_ && ms_to_deadline() == 0u; }
  // The deadline passed `when`.
  Error deadline_error(const std::string& when) const;
  // An API request under the cancel (and, until the download, the deadline: set on `http`).
  HttpResult api_call(HttpTransport& http, const char* method, const std::string& url,
                      const std::string* body = nullptr);
  std::string poll_url_for(const api::Task& task) const;
  Outcome fail(Error error);
  // Publishes a status change (and journals it unless `journal` is false).
  void set_task(const api::Task& task, bool journal = true);
  // Records a status change on the ledger; `state` a Ledger state (delivered, gone, failed).
  void journal_status(const std::string& id, const std::string& status,
                      const std::vector<std::string>& outputs, const std::string& detail,
                      const char* state = nullptr);
  void journal_failure(const std::string& what, const std::string& error);
  void progress(ProgressType type, const char* code, const std::string& text);

  Request request_;             // changed only by prepare(), before the submit
  std::string submit_body_;     // set by prepare(): the request as its model takes it
  std::string submit_summary_;  // its fields besides the texts, for the progress text
  bool has_audio_ = false;      // the model's videos have sound (told in each task event)
  const std::shared_ptr<DownloadStore> store_;
  const TaskEvents events_;
  const VideoCache cache_;
  std::optional<Clock::time_point> deadline_;

  GRef<GCancellable> cancellable_;  // cancel() ends every request and wait with it
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool cancelled_ = false;
  std::string task_id_;

  // The ledger's word on this request (after cancellable_: it uses it).
  SubmitGate gate_;
  std::string resubmit_why_;  // a task of this request is gone: said in the submit text
  std::string price_text_;    // "costs $1.30, balance $12.40"
  bool from_ledger_ = false;  // the task was picked up from the ledger: gone means submit again
};

}  // namespace kling
