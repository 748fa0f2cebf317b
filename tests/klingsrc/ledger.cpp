// SPDX-License-Identifier: LGPL-2.1-or-later
// The ledger (`journal`) and request-id: a task is on the ledger before its
// first poll, a rerun picks up the paid task or replays the delivered one, a gone
// task is paid for again saying why, a synchronous reply is replayed, not paid
// again.
#include <gst/gst.h>

#include <optional>
#include <string>

#include "core/ledger/ledger.h"
#include "support/klingsrc_case.h"

namespace {

using Fixture = FakeApiFixture;

std::string read_file(const std::string& path) {
  gchar* data = nullptr;
  gsize size = 0;
  if (!g_file_get_contents(path.c_str(), &data, &size, nullptr)) return "";
  std::string out(data, size);
  g_free(data);
  return out;
}

// The ledger (an SQLite database) read as kling-tasks reads it.
std::optional<kling::LedgerRow> ledger_row(const std::string& path, const std::string& task_id) {
  std::string error;
  auto ledger = kling::Ledger::open(path, &error);
  return ledger ? ledger->find_task(task_id) : std::nullopt;
}

void test_journal_before_first_poll(Fixture* f, gconstpointer) {
  const std::string journal = path_in(f, "ledger.db");
  std::optional<kling::LedgerRow> at_first_poll;
  f->fake->on_poll = [&](int n) -> std::optional<FakeReply> {
    if (n == 1) at_first_poll = ledger_row(journal, f->fake->task_id);
    return std::nullopt;
  };
  auto run = make_run(*f->fake);
  g_object_set(run->src, "journal", journal.c_str(), nullptr);
  play_to_end(*run);
  g_assert_true(run->eos);
  g_assert_true(at_first_poll.has_value());
  g_assert_cmpstr(at_first_poll->state.c_str(), ==, kling::Ledger::kSubmitted);
  g_assert_cmpstr(at_first_poll->prompt.c_str(), ==, kPrompt);
  auto last = ledger_row(journal, f->fake->task_id);
  g_assert_true(last && last->state == kling::Ledger::kDelivered);
  g_assert_true(last->outputs.at(0) == f->fake->output_url());
  g_assert_false(contains(read_file(journal), f->fake->key));
}

void test_rerun_picks_up_journaled_task(Fixture* f, gconstpointer) {
  const std::string journal = path_in(f, "ledger.db");
  f->fake->polls_until_done = 4;
  {
    auto first = make_run(*f->fake);
    g_object_set(first->src, "journal", journal.c_str(), nullptr);
    play_until(*first, *f->fake, "api", "GET", 2);
  }  // interrupted: the pipeline is torn down while the task runs
  auto second = make_run(*f->fake);
  g_object_set(second->src, "journal", journal.c_str(), nullptr);
  play_to_end(*second);
  g_assert_no_error(second->error);
  g_assert_true(second->bytes == f->fake->video);
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);
  g_assert_true(progress_says(*second, "from the ledger instead of paying"));

  // Delivered now: a third run replays it (a new one is asked for with variation).
  auto third = make_run(*f->fake);
  g_object_set(third->src, "journal", journal.c_str(), nullptr);
  play_to_end(*third);
  g_assert_true(third->bytes == f->fake->video);
  g_assert_true(progress_says(*third, "costs nothing"));
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);
  auto fourth = make_run(*f->fake);
  g_object_set(fourth->src, "journal", journal.c_str(), "variation", 1u, nullptr);
  play_to_end(*fourth);
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 2);
}

void test_resume_unfinished_off_submits_anew(Fixture* f, gconstpointer) {
  const std::string journal = path_in(f, "ledger.db");
  f->fake->polls_until_done = 1 << 30;
  {
    auto first = make_run(*f->fake);
    g_object_set(first->src, "journal", journal.c_str(), nullptr);
    play_until(*first, *f->fake, "api", "GET", 1);
  }
  auto second = make_run(*f->fake);
  g_object_set(second->src, "journal", journal.c_str(), "resume-unfinished", FALSE, nullptr);
  play_until(*second, *f->fake, "api", "POST", 2);
}

void test_gone_task_not_picked_up_again(Fixture* f, gconstpointer) {
  const std::string journal = path_in(f, "ledger.db");
  f->fake->on_poll = [](int) -> std::optional<FakeReply> {
    return FakeReply{404, R"({"code":404,"message":"Prediction not found"})"};
  };
  auto first = make_run(*f->fake);
  g_object_set(first->src, "journal", journal.c_str(), nullptr);
  play_to_end(*first);
  assert_error(*first, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND, "not found");
  f->fake->on_poll = nullptr;
  auto second = make_run(*f->fake);
  g_object_set(second->src, "journal", journal.c_str(), nullptr);
  play_to_end(*second);
  g_assert_no_error(second->error);
  g_assert_false(progress_says(*second, "from the ledger"));
  g_assert_true(progress_says(*second, "is gone"));
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 2);
}

void test_task_delivered_by_request_id_replays(Fixture* f, gconstpointer) {
  const std::string journal = path_in(f, "ledger.db");
  f->fake->polls_until_done = 3;
  {
    auto first = make_run(*f->fake);
    g_object_set(first->src, "journal", journal.c_str(), nullptr);
    play_until(*first, *f->fake, "api", "GET", 1);
  }  // interrupted while polling
  auto resumed = make_run(*f->fake, kFakeSinkPipeline, nullptr);
  g_object_set(resumed->src, "journal", journal.c_str(), "request-id", f->fake->task_id.c_str(),
               nullptr);
  play_to_end(*resumed);
  g_assert_true(resumed->bytes == f->fake->video);
  // The task is delivered and its output lives: the original request run again replays it.
  auto again = make_run(*f->fake);
  g_object_set(again->src, "journal", journal.c_str(), nullptr);
  play_to_end(*again);
  g_assert_true(again->bytes == f->fake->video);
  g_assert_true(progress_says(*again, ("Replay of task " + f->fake->task_id).c_str()));
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);
}

void test_request_id_resumes_without_submit(Fixture* f, gconstpointer) {
  auto run = make_run(*f->fake, kFakeSinkPipeline, nullptr);
  g_object_set(run->src, "request-id", f->fake->task_id.c_str(), nullptr);
  play_to_end(*run);
  g_assert_no_error(run->error);
  g_assert_true(run->bytes == f->fake->video);
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 0);
}

// A submit whose reply is already final with its output (WaveSpeed's enable_sync_mode):
// the first run pays and streams it; the second, with the same ledger and no cache,
// replays it from the ledger and submits nothing. It used to pay again, the ledger
// holding no output for it ("older than WaveSpeed's 7-day retention").
void test_synchronous_reply_is_replayed_not_paid_again(Fixture* f, gconstpointer) {
  FakeWaveSpeed& fake = *f->fake;
  const std::string completed = fake.task_json("completed");
  fake.on_submit = [completed](int) -> std::optional<FakeReply> {
    return FakeReply{200, completed};
  };
  const std::string journal = path_in(f, "ledger.db");
  for (int round = 1; round <= 2; round++) {
    auto run = make_run(fake);
    g_object_set(run->src, "journal", journal.c_str(), nullptr);
    play_to_end(*run, 20);
    g_assert_null(run->error);
    g_assert_true(run->eos);
    g_assert_true(run->bytes == fake.video);
    if (round == 2) g_assert_true(progress_says(*run, "costs nothing"));
  }
  g_assert_cmpint(fake.count("api", "POST"), ==, 1);  // one submit, one charge
  g_assert_cmpint(fake.count("api", "GET"), ==, 0);   // and never a poll
}

}  // namespace

int main(int argc, char** argv) {
  klingsrc_test_init(&argc, &argv);
  add_case("/klingsrc/ledger/task-journaled-before-first-poll", test_journal_before_first_poll);
  add_case("/klingsrc/ledger/rerun-after-interruption-picks-up-the-paid-task",
           test_rerun_picks_up_journaled_task);
  add_case("/klingsrc/ledger/resume-unfinished-false-submits-anew",
           test_resume_unfinished_off_submits_anew);
  add_case("/klingsrc/ledger/gone-task-not-picked-up-again", test_gone_task_not_picked_up_again);
  add_case("/klingsrc/ledger/task-delivered-by-request-id-replays",
           test_task_delivered_by_request_id_replays);
  add_case("/klingsrc/ledger/request-id-fetches-the-task-without-submit",
           test_request_id_resumes_without_submit);
  add_case("/klingsrc/ledger/synchronous-reply-is-replayed-not-paid-again",
           test_synchronous_reply_is_replayed_not_paid_again, 512 * 1024 + 7);
  return g_test_run();
}
