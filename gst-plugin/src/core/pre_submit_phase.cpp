// Before the submit: what must happen before any money is spent. Each step
// may end the run, or find a task to poll instead of paying for a new one.
// Steps to come go in prepare(), in the order they must run (a quote, balance
// and budget check against the ledger; an upload of the source image).
#include "task_worker.h"

namespace kling {

TaskRunner::Worker::Outcome TaskRunner::Worker::prepare(HttpTransport& /*http*/, api::Task* task) {
  if (Outcome o = resume_from_journal(task); o != Outcome::Done || !task->id.empty())
    return o;
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
