// SPDX-License-Identifier: LGPL-2.1-or-later
// Before the submit: what must happen before any money is spent. Each step
// may end the run, or find a task to replay or poll instead of paying for a new
// one. Steps to come go in prepare(), in the order they must run.
#include "core/request/fingerprint.h"
#include "core/task/task_worker.h"
#include "core/util/local_time.h"
#include "core/wavespeed/image_upload.h"
#include "core/wavespeed/submit_body.h"

namespace kling {

TaskRunner::Worker::Outcome TaskRunner::Worker::prepare(HttpTransport& http, api::Task* task) {
  // The request checked against its model first: a refusal sends nothing, not even a quote.
  if (Outcome o = check_request(http); o != Outcome::Done) return o;
  if (past_deadline())  // the catalogue or an upload took the time left: no quote, no submit
    return fail(deadline_error("before anything was submitted"));
  return admit(http, task);
}

CatalogLookup TaskRunner::Worker::learn_model(HttpTransport& http) {
  CatalogLookup found =
      ModelCatalogue(request_.api_url).lookup(http, request_.model, cancellable_.get());
  has_audio_ = found.model && found.model->has_audio;
  // The request named by the body its submit carries, now that the schema that types it is
  // known (start() may not have had it): the ledger decides, and the cache entry is saved, under
  // this name. Nothing was decided under start()'s name yet (its cache entry was looked up only).
  if (!found.cancelled)
    gate_.rename(request_identity(request_, found.model ? &*found.model : nullptr));
  return found;
}

TaskRunner::Worker::Outcome TaskRunner::Worker::check_request(HttpTransport& http) {
  const CatalogLookup found = learn_model(http);
  if (found.cancelled) return Outcome::Cancelled;
  const ModelSchema* schema = found.model ? &*found.model : nullptr;
  SubmitBody checked;
  // A refusal here sends nothing: no upload, no submit.
  if (auto error = build_submit_body(request_, schema, {}, &checked)) return fail(*error);
  if (!request_.image_file.empty()) {
    std::string url;
    Error error;
    const auto said = [this](bool done, const std::string& text) {
      progress(done ? ProgressType::Complete : ProgressType::Start, "upload", text);
    };
    switch (ImageUploader(request_).upload(
        http, cancellable_.get(), said, [this](unsigned ms) { return sleep_ms(ms); }, &url,
        &error)) {
      case ImageUploader::Outcome::Cancelled:
        return Outcome::Cancelled;
      case ImageUploader::Outcome::Failed:
        return fail(error);
      case ImageUploader::Outcome::Done:
        break;
    }
    if (auto e = build_submit_body(request_, schema, url, &checked)) return fail(*e);
  }
  has_audio_ = checked.has_audio;  // the fields sent may say more than the model (sound=false)
  submit_body_ = checked.json;
  submit_summary_ = checked.summary;
  return Outcome::Done;
}

// One request, one charge on this machine: the ledger says whether this run
// replays, follows a task in flight (maybe waiting for another run's task id),
// is refused, or may submit, once the quote, the balance and the budget allow.
TaskRunner::Worker::Outcome TaskRunner::Worker::admit(HttpTransport& http, api::Task* task) {
  SubmitGate::Admission a = gate_.admit(http, submit_body_);
  switch (a.kind) {
    case SubmitGate::Admission::Kind::Cancelled:
      return Outcome::Cancelled;
    case SubmitGate::Admission::Kind::Refused:
      return fail(a.error);
    case SubmitGate::Admission::Kind::Submit:
      resubmit_why_ = a.why;
      price_text_ = a.price_text;
      return Outcome::Done;
    case SubmitGate::Admission::Kind::Replay:
      task->id = a.row.task_id;
      task->status = "completed";
      task->outputs = a.row.outputs;
      from_ledger_ = true;
      set_task(*task, false);
      // COMPLETE: nothing to wait for before the first byte (gst-launch plays on).
      progress(ProgressType::Complete, "submit",
               "Replay of task " + task->id + " (submitted " + local_time(a.row.created) +
                   "), costs nothing: streaming its video from " + task->outputs.front());
      return Outcome::Done;
    case SubmitGate::Admission::Kind::Follow:
      task->id = a.row.task_id;
      task->status = a.row.status;
      from_ledger_ = true;
      set_task(*task, false);
      progress(ProgressType::Start, "submit",
               "Following task " + task->id + " of this request (submitted " +
                   local_time(a.row.created) + ", last status " +
                   (a.row.status.empty() ? "unknown" : a.row.status) +
                   ") from the ledger instead of paying for a new one; costs nothing more");
      return Outcome::Done;
  }
  return Outcome::Failed;
}

}  // namespace kling
