// SPDX-License-Identifier: LGPL-2.1-or-later
// `timeout` bounds everything before the video is ready: a task that never
// finishes, a Retry-After past it, an unanswered submit, poll, catalogue or
// quote, and another process holding the ledger's lock; request-timeout (30 s)
// is not what ends them.
#include <gst/gst.h>

#include <string>

#include "support/held_ledger.h"
#include "support/klingsrc_case.h"

namespace {

using Fixture = FakeApiFixture;

// A reply that never comes (the connection stays open).
FakeReply hang() {
  FakeReply r;
  r.hang = true;
  return r;
}

void test_deadline(Fixture* f, gconstpointer) {
  f->fake->polls_until_done = 1 << 30;
  auto run = make_run(*f->fake);
  g_object_set(run->src, "timeout", 1u, nullptr);
  const auto start = Clock::now();
  play_to_end(*run);
  const double took = seconds_since(start);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ, "did not finish");
  g_assert_true(contains(run->error->message, f->fake->task_id));
  g_assert_cmpfloat(took, <, 5.0);
}

void test_retry_after_past_deadline_fails_at_once(Fixture* f, gconstpointer) {
  f->fake->on_poll = [](int) -> std::optional<FakeReply> {
    FakeReply r{429, R"({"code":429,"message":"slow down"})"};
    r.headers["Retry-After"] = "3600";
    return r;
  };
  auto run = make_run(*f->fake);
  g_object_set(run->src, "timeout", 60u, nullptr);
  const auto start = Clock::now();
  play_to_end(*run);
  const double took = seconds_since(start);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ, "past the deadline");
  g_assert_true(contains(run->error->message, f->fake->task_id));
  g_assert_cmpfloat(took, <, 5.0);
}

void test_deadline_covers_an_unanswered_submit(Fixture* f, gconstpointer) {
  f->fake->on_submit = [](int) -> std::optional<FakeReply> { return hang(); };
  auto run = make_run(*f->fake);
  g_object_set(run->src, "timeout", 3u, nullptr);  // request-timeout stays 30
  const auto start = Clock::now();
  play_to_end(*run, 12);
  const double took = seconds_since(start);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ, "timeout=3");
  g_assert_true(contains(run->error->message, "dashboard"));  // it may have made a task
  g_assert_cmpfloat(took, >=, 2.5);
  g_assert_cmpfloat(took, <, 6.0);
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);
}

void test_deadline_caps_an_unanswered_poll(Fixture* f, gconstpointer) {
  f->fake->on_poll = [](int) -> std::optional<FakeReply> { return hang(); };
  auto run = make_run(*f->fake);
  g_object_set(run->src, "timeout", 2u, nullptr);
  const auto start = Clock::now();
  play_to_end(*run, 12);
  const double took = seconds_since(start);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ, f->fake->task_id.c_str());
  g_assert_true(contains(run->error->message, "did not finish within 2 s"));
  g_assert_cmpfloat(took, <, 5.0);
}

void test_held_ledger_lock_ends_at_the_deadline(Fixture* f, gconstpointer) {
  const std::string ledger = path_in(f, "ledger.db");
  make_ledger(*f->fake, ledger);
  HeldLedger held(ledger);
  auto run = make_run(*f->fake);
  g_object_set(run->src, "journal", ledger.c_str(), "timeout", 2u, nullptr);
  const auto start = Clock::now();
  play_to_end(*run, 10);
  const double took = seconds_since(start);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ, "timeout=2");
  g_assert_cmpfloat(took, >=, 1.5);
  g_assert_cmpfloat(took, <, 5.0);
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);  // the other prompt's: nothing paid here
}

// timeout=2 with request-timeout at its default (30 s): an API that takes the
// connection but never answers is given up at the deadline, and nothing is submitted.
void expect_deadline_before_submit(Fixture* f) {
  auto run = make_run(*f->fake);
  g_object_set(run->src, "timeout", 2u, nullptr);
  const auto start = Clock::now();
  play_to_end(*run, 20);
  const double took = seconds_since(start);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ, "timeout=2");
  g_assert_true(contains(run->error->message, "before anything was submitted"));
  g_assert_cmpfloat(took, >=, 1.5);
  g_assert_cmpfloat(took, <, 5.0);  // was 30 s and more: request-timeout, once per call
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 0);
}

void test_deadline_covers_an_unanswered_catalogue(Fixture* f, gconstpointer) {
  f->fake->on_catalog = [](int) -> std::optional<FakeReply> { return hang(); };
  expect_deadline_before_submit(f);
}

void test_deadline_covers_an_unanswered_quote(Fixture* f, gconstpointer) {
  f->fake->price_reply = hang();
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
