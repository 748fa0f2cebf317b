// SPDX-License-Identifier: LGPL-2.1-or-later
// The submit: the one POST that makes (and bills) a task, retried only when
// no task can have been made.
#include "core/task/task_worker.h"

namespace kling {

using namespace runner;

// What one POST came to.
struct TaskRunner::Worker::SubmitAnswer {
  SubmitAnswer(HttpResult result, unsigned attempt, unsigned retries)
      : r(std::move(result)), reply(api::parse_reply(r.status, r.body)) {
    status = effective_status(r, reply);
    // A refusal (4xx, 429 among them), or a request never written out, proves no task was made.
    no_task =
        (r.status != 0 && status >= 400 && status < 500) || r.never_connected || !r.request_sent;
    has_task = reply.kind == api::ReplyKind::Task && !reply.task.id.empty();
    named_task = !has_task && !reply.task.id.empty();  // an error reply naming its task
    // Of those, only a 429 or a connection never made is worth trying again.
    retrying = no_task && (status == 429 || r.never_connected) && attempt <= retries &&
               !r.cancelled && !r.tls_failed;
  }
  HttpResult r;
  api::Reply reply;
  unsigned status;
  bool no_task, has_task, named_task, retrying;
};

TaskRunner::Worker::Outcome TaskRunner::Worker::submit(HttpTransport& http, api::Task* task) {
  const std::string url = api::submit_url(request_.api_url, request_.model);
  const std::string& body = submit_body_;  // checked against the model by prepare()
  progress(ProgressType::Start, "submit",
           (resubmit_why_.empty() ? std::string() : "Submitting again: " + resubmit_why_ + ". ") +
               "Submitting to " + request_.model +
               (submit_summary_.empty() ? "" : " (" + submit_summary_ + ")") +
               (price_text_.empty() ? "" : ": " + price_text_));

  for (unsigned attempt = 1;; attempt++) {
    if (past_deadline())  // (a wait for another run's task, a 429's Retry-After)
      return fail(deadline_error("before anything was submitted"));
    // On record before the POST: a crash during it leaves it unanswered for every later run.
    gate_.sending();
    const SubmitAnswer a(api_call(http, "POST", url, &body), attempt, request_.retries);
    tell_gate(a);
    if (a.r.cancelled) return Outcome::Cancelled;
    if (a.r.tls_failed) return fail(tls_error(a.r, url, {}));
    if (!a.retrying) return submit_answered(a, url, task);
    if (auto stop = wait_to_resubmit(a, attempt)) return *stop;
  }
}

// The ledger learns what the submit came to before anything else is said.
void TaskRunner::Worker::tell_gate(const SubmitAnswer& a) {
  // Until a task id arrives, a task may exist that we know nothing of.
  submit_uncertain_ = !a.no_task && !a.has_task;
  if (a.no_task) gate_.not_sent();  // a retry may follow; if none does, nothing was made
  if (a.no_task && !a.retrying && !a.named_task)
    gate_.no_task();
  else if (!a.no_task && !a.has_task && !a.named_task)
    gate_.unanswered(a.r.status      ? "HTTP " + std::to_string(a.r.status) + " without a task id"
                     : a.r.cancelled ? "stopped before the reply"
                                     : a.r.transport_error);
}

std::optional<TaskRunner::Worker::Outcome> TaskRunner::Worker::wait_to_resubmit(
    const SubmitAnswer& a, unsigned attempt) {
  unsigned wait = retry_wait_ms(a.r.retry_after, attempt);
  auto left = ms_to_deadline();
  if (left && wait > *left)
    return fail({ErrorKind::Timeout,
                 "WaveSpeed asks to wait " + std::to_string(wait / 1000) +
                     " s before submitting, past the deadline (timeout=" +
                     std::to_string(request_.timeout_s) + ")",
                 describe_status(a.r, a.reply),
                 a.status,
                 {}});
  progress(ProgressType::Continue, "submit",
           (a.status == 429 ? "Submit refused (" : "Could not reach WaveSpeed (") +
               describe_status(a.r, a.reply) + "), so no task was made; retrying in " +
               std::to_string(wait) + " ms");
  if (!sleep_ms(wait)) return Outcome::Cancelled;
  return std::nullopt;
}

TaskRunner::Worker::Outcome TaskRunner::Worker::submit_answered(const SubmitAnswer& a,
                                                                const std::string& url,
                                                                api::Task* task) {
  const HttpResult& r = a.r;
  if (r.status == 0 && past_deadline())
    return fail(deadline_error("waiting for the reply to the submit (" + r.transport_error +
                               "); if it made a task, it is on your WaveSpeed dashboard"));
  if (r.status == 0)
    return fail({ErrorKind::Network,
                 "Could not submit the task: " + r.transport_error,
                 r.never_connected ? "no connection could be made"
                                   : "the request may have reached WaveSpeed, so it is not "
                                     "retried (that could bill a second task); if it made a "
                                     "task, it is on your WaveSpeed dashboard",
                 0,
                 {}});
  if (a.has_task) {
    *task = a.reply.task;
    if (task->status.empty()) task->status = "created";
    set_task(*task, false);  // the id is known to the element from here on
    // On the ledger before the first poll: from here on a crash cannot lose the task.
    std::string error;
    if (!gate_.submitted(task->id, task->status, &error)) journal_failure(task->id, error);
    progress(ProgressType::Continue, "submit",
             "Task " + task->id + " submitted (status " + task->status + ")");
    return Outcome::Done;
  }
  if (!r.redirect_to.empty()) return fail(redirect_error(r, "POST", url, {}));
  std::string debug = "POST " + url + " answered HTTP " + std::to_string(r.status);
  if (a.named_task) return keep_named_task(a, debug);
  if (a.status >= 500 || a.reply.kind == api::ReplyKind::Gateway) {
    if (!r.request_sent)  // e.g. a proxy refusing the tunnel: the POST never left whole
      return fail({ErrorKind::Network,
                   "The submit never reached WaveSpeed (" + describe_status(r, a.reply) +
                       " before the request was sent: a proxy on the way?); no task was made",
                   debug,
                   a.status,
                   {}});
    debug += "; not retried: the task may have been created, see your WaveSpeed dashboard";
  }
  if (a.reply.kind == api::ReplyKind::Malformed || a.reply.kind == api::ReplyKind::Task)
    return fail(
        {ErrorKind::BadReply,
         "Unreadable reply to the submit: " +
             (a.reply.kind == api::ReplyKind::Task ? std::string("no task id") : a.reply.message),
         debug,
         a.status,
         {}});
  return fail({kind_for_status(a.status),
               "WaveSpeed refused the task: " + describe_status(r, a.reply),
               debug,
               a.status,
               {}});
}

// Refused or failed, yet the reply names a task: that task may exist and bill. Keep its id.
TaskRunner::Worker::Outcome TaskRunner::Worker::keep_named_task(const SubmitAnswer& a,
                                                                const std::string& debug) {
  api::Task named = a.reply.task;
  if (named.status.empty()) named.status = "unknown";
  submit_uncertain_ = false;
  set_task(named, false);
  std::string error;
  if (!gate_.submitted(named.id, named.status, &error)) journal_failure(named.id, error);
  return fail({kind_for_status(a.status),
               "WaveSpeed answered the submit " + describe_status(a.r, a.reply) +
                   " but named task " + named.id +
                   ", which may exist: run the same request again to follow it, or "
                   "resume it with request-id=" +
                   named.id,
               debug, a.status, named.id});
}

}  // namespace kling
