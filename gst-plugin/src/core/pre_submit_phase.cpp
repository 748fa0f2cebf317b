// Before the submit: what must happen before any money is spent. Each step
// may end the run, or find a task to poll instead of paying for a new one.
// Steps to come go in prepare(), in the order they must run (a quote, balance
// and budget check against the ledger, with submit_body_).
#include "submit_body.h"
#include "task_worker.h"
#include "uploader.h"

namespace kling {

TaskRunner::Worker::Outcome TaskRunner::Worker::prepare(HttpTransport& http, api::Task* task) {
  if (Outcome o = resume_from_journal(task); o != Outcome::Done || !task->id.empty()) {
    if (o == Outcome::Done)
      learn_model(http);
    return o;
  }
  if (Outcome o = check_request(http); o != Outcome::Done)
    return o;
  return Outcome::Done;
}

CatalogLookup TaskRunner::Worker::learn_model(HttpTransport& http) {
  CatalogLookup found = ModelCatalogue(request_.api_url).lookup(http, request_.model, cancellable_.get());
  has_audio_ = found.model && found.model->has_audio;
  return found;
}

TaskRunner::Worker::Outcome TaskRunner::Worker::check_request(HttpTransport& http) {
  const CatalogLookup found = learn_model(http);
  if (found.cancelled)
    return Outcome::Cancelled;
  const ModelSchema* schema = found.model ? &*found.model : nullptr;
  SubmitBody checked;
  // A refusal here sends nothing: no upload, no submit.
  if (auto error = build_submit_body(request_, schema, {}, &checked))
    return fail(*error);
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
  has_audio_ = checked.has_audio;  // the fields sent may say more than the model (sound=false)
  submit_body_ = checked.json;
  return Outcome::Done;
}

// A task paid for by an earlier run that never delivered: pick it up instead of paying again.
TaskRunner::Worker::Outcome TaskRunner::Worker::resume_from_journal(api::Task* task) {
  if (!request_.resume_unfinished)
    return Outcome::Done;
  const TaskJournal::Lookup past = journal_.lookup(g_get_real_time() / G_USEC_PER_SEC);
  if (const auto& entry = past.unfinished) {
    task->id = entry->task_id;
    set_task(*task, false);
    g_autoptr(GDateTime) when = g_date_time_new_from_unix_local(entry->submitted_unix);
    g_autofree char* at = when ? g_date_time_format(when, "%F %T") : g_strdup("?");
    progress(ProgressType::Start, "submit",
             "Picking up unfinished task " + task->id + " (submitted " + at + ", last status " +
                 entry->status + ") from the journal instead of paying for a new one; "
                 "set resume-unfinished=false for a fresh variation");
  } else if (past.uncertain_submit) {
    g_autoptr(GDateTime) when = g_date_time_new_from_unix_local(*past.uncertain_submit);
    g_autofree char* at = when ? g_date_time_format(when, "%F %T") : g_strdup("?");
    progress(ProgressType::Continue, "submit",
             std::string("Note: a submit of this request at ") + at +
                 " never got its reply; if it made a task, it is on your WaveSpeed dashboard");
  }
  return Outcome::Done;
}

}  // namespace kling
