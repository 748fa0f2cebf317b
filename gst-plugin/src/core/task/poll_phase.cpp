// SPDX-License-Identifier: LGPL-2.1-or-later
// Polls until a final status: first soon, then at the interval with jitter;
// transient failures retried with backoff; the deadline.
#include <algorithm>

#include "core/task/task_worker.h"

namespace kling {

using namespace runner;

TaskRunner::Worker::Outcome TaskRunner::Worker::poll_until_final(HttpTransport& http,
                                                                 api::Task* task) {
  const std::string id = task->id;
  const std::string url = poll_url_for(*task);
  const unsigned interval = std::max(1u, request_.poll_interval_ms);
  // First poll soon, then growing to the interval.
  unsigned delay = std::min(interval, 1000u);
  unsigned failures = 0;
  std::string status = task->status;
  // A submit answered in a final status (a synchronous mode) needs no poll; the
  // ledger learns its outputs here, or a later run could not replay it and would pay again.
  if (api::is_final_status(status) && (status != "completed" || !task->outputs.empty())) {
    journal_status(id, status, task->outputs, task->error,
                   status != "completed" ? Ledger::kFailed : nullptr);
    return conclude(*task, url, task);
  }

  for (;;) {
    auto left = ms_to_deadline();
    if (left && *left == 0)
      return fail({ErrorKind::Timeout,
                   "Task " + id + " did not finish within " + std::to_string(request_.timeout_s) +
                       " s (last status: " + (status.empty() ? "unknown" : status) +
                       "). It may still complete: resume with request-id=" + id,
                   {},
                   0,
                   id});
    // +-10% jitter keeps many elements from polling in lockstep.
    unsigned jittered =
        delay + static_cast<unsigned>(g_random_int_range(0, delay / 5 + 1)) - delay / 10;
    if (!sleep_ms(left ? std::min(jittered, *left) : jittered)) return Outcome::Cancelled;
    if (left && ms_to_deadline() == 0u) continue;  // report the deadline, not a poll past it

    HttpResult r = api_call(http, "GET", url);
    if (r.cancelled) return Outcome::Cancelled;
    if (r.status == 0 && past_deadline()) continue;  // cut short by the deadline: report that
    if (r.tls_failed) return fail(tls_error(r, url, id));
    if (!r.redirect_to.empty()) return fail(redirect_error(r, "GET", url, id));
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

    if (reply.kind == api::ReplyKind::Malformed || reply.kind == api::ReplyKind::ApiError)
      return poll_refused(r, reply, http_status, id, url);

    api::Task& t = reply.task;
    if (t.id.empty()) t.id = id;
    if (t.status != status) {
      status = t.status;
      set_task(t);
      if (t.status != "completed")
        progress(ProgressType::Continue, "poll", "Task " + id + ": " + t.status);
    }
    if (!api::is_final_status(t.status)) continue;
    return conclude(std::move(t), url, task);
  }
}

// A poll answered with an error, or with nothing readable.
TaskRunner::Worker::Outcome TaskRunner::Worker::poll_refused(const HttpResult& r,
                                                             const api::Reply& reply,
                                                             unsigned http_status,
                                                             const std::string& id,
                                                             const std::string& url) {
  if (reply.kind == api::ReplyKind::Malformed)
    return fail({ErrorKind::BadReply,
                 "Unreadable reply while polling task " + id + ": " + reply.message,
                 "GET " + url + " answered HTTP " + std::to_string(r.status), http_status, id});
  const bool gone = http_status == 404 || http_status == 410;
  if (gone) {
    journal_status(id, "", {}, "HTTP " + std::to_string(http_status),
                   Ledger::kGone);  // nothing left to resume
    if (from_ledger_)
      return Outcome::Gone;  // picked up from the ledger: paid for again, saying why
  }
  std::string what = gone ? "Task " + id + " not found (WaveSpeed keeps tasks for 7 days): "
                          : "Polling task " + id + " failed: ";
  return fail({kind_for_status(http_status), what + describe_status(r, reply), "GET " + url,
               http_status, id});
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
  if (t.inference_ms >= 0) g_snprintf(secs, sizeof secs, "%.1f s", t.inference_ms / 1000.0);
  progress(ProgressType::Complete, "poll",
           "Task " + id + " completed (inference " + std::string(secs) + "); downloading " +
               t.outputs.front());
  *task = std::move(t);
  return Outcome::Done;
}

}  // namespace kling
