// SPDX-License-Identifier: LGPL-2.1-or-later
// `timeout` bounds everything before the video is ready: a task that never
// finishes, a Retry-After past it, an unanswered submit, poll, catalogue or
// quote, and another process holding the ledger's lock; request-timeout (30 s)
// is not what ends them. No upper bound on the wall clock (a busy machine takes
// longer): each run is given kBound seconds, less than request-timeout (kRequestTimeout
// here) and less than what it would take without the rule under test, so only that
// rule can end it in time; its error says which rule it was.
#include <gst/gst.h>

#include <string>

#include "support/held_ledger.h"
#include "support/klingsrc_case.h"

namespace {

using Fixture = FakeApiFixture;

constexpr unsigned kBound = 40;           // what play_to_end() waits at most for the end
constexpr unsigned kRequestTimeout = 90;  // one HTTP request's limit: never what ends these

std::unique_ptr<Run> deadline_run(FakeWaveSpeed& fake, unsigned timeout_s) {
  auto run = make_run(fake);
  g_object_set(run->src, "timeout", timeout_s, "request-timeout", kRequestTimeout, nullptr);
  return run;
}

void test_deadline(Fixture* f, gconstpointer) {
  f->fake->polls_until_done = 1 << 30;
  auto run = deadline_run(*f->fake, 1);
  play_to_end(*run, kBound);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ, "did not finish");
  g_assert_true(contains(run->error->message, f->fake->task_id));
}

void test_retry_after_past_deadline_fails_at_once(Fixture* f, gconstpointer) {
  f->fake->on_poll = [](int) -> std::optional<FakeReply> {
    FakeReply r{429, R"({"code":429,"message":"slow down"})"};
    r.headers["Retry-After"] = "3600";
    return r;
  };
  auto run = deadline_run(*f->fake, 60);
  play_to_end(*run, kBound);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ, "past the deadline");
  g_assert_true(contains(run->error->message, f->fake->task_id));
}

void test_deadline_covers_an_unanswered_submit(Fixture* f, gconstpointer) {
  f->fake->on_submit = [](int) -> std::optional<FakeReply> { return FakeReply::hung(); };
  auto run = deadline_run(*f->fake, 3);
  const auto start = Clock::now();
  play_to_end(*run, kBound);
  const double took = seconds_since(start);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ, "timeout=3");
  g_assert_true(contains(run->error->message, "dashboard"));  // it may have made a task
  g_assert_cmpfloat(took, >=, 2.5);
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);
}

void test_deadline_caps_an_unanswered_poll(Fixture* f, gconstpointer) {
  f->fake->on_poll = [](int) -> std::optional<FakeReply> { return FakeReply::hung(); };
  auto run = deadline_run(*f->fake, 2);
  play_to_end(*run, kBound);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ, f->fake->task_id.c_str());
  g_assert_true(contains(run->error->message, "did not finish within 2 s"));
}

void test_held_ledger_lock_ends_at_the_deadline(Fixture* f, gconstpointer) {
  const std::string ledger = path_in(f, "ledger.db");
  make_ledger(*f->fake, ledger);
  HeldLedger held(ledger);
  auto run = deadline_run(*f->fake, 2);
  g_object_set(run->src, "journal", ledger.c_str(), nullptr);
  const auto start = Clock::now();
  play_to_end(*run, kBound);
  const double took = seconds_since(start);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ, "timeout=2");
  g_assert_cmpfloat(took, >=, 1.5);
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);  // the other prompt's: nothing paid here
}

// timeout=2 with request-timeout far above it: an API that takes the
// connection but never answers is given up at the deadline, and nothing is submitted.
void expect_deadline_before_submit(Fixture* f) {
  auto run = deadline_run(*f->fake, 2);
  const auto start = Clock::now();
  play_to_end(*run, kBound);
  const double took = seconds_since(start);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ, "timeout=2");
  g_assert_true(contains(run->error->message, "before anything was submitted"));
  g_assert_cmpfloat(took, >=, 1.5);
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 0);
}

void test_deadline_covers_an_unanswered_catalogue(Fixture* f, gconstpointer) {
  f->fake->on_catalog = [](int) -> std::optional<FakeReply> { return FakeReply::hung(); };
  expect_deadline_before_submit(f);
}

void test_deadline_covers_an_unanswered_quote(Fixture* f, gconstpointer) {
  f->fake->price_reply = FakeReply::hung();
  expect_deadline_before_submit(f);
}

}  // namespace

int main(int argc, char** argv) {
  klingsrc_test_init(&argc, &argv);
  add_case("/klingsrc/deadline/task-never-finishing-ends-at-the-deadline", test_deadline);
  add_case("/klingsrc/deadline/retry-after-past-the-deadline-fails-at-once",
           test_retry_after_past_deadline_fails_at_once);
  add_case("/klingsrc/deadline/covers-an-unanswered-submit",
           test_deadline_covers_an_unanswered_submit);
  add_case("/klingsrc/deadline/caps-an-unanswered-poll", test_deadline_caps_an_unanswered_poll);
  add_case("/klingsrc/deadline/covers-a-held-ledger-lock",
           test_held_ledger_lock_ends_at_the_deadline, 1024 * 1024 + 17);
  add_case("/klingsrc/deadline/covers-an-unanswered-catalogue",
           test_deadline_covers_an_unanswered_catalogue);
  add_case("/klingsrc/deadline/covers-an-unanswered-quote",
           test_deadline_covers_an_unanswered_quote);
  return g_test_run();
}
