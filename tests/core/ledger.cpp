// SPDX-License-Identifier: LGPL-2.1-or-later
// The ledger's rules, one suite run against both of its stores: the machine's
// SQLite file and a PostgreSQL server the test starts (initdb on loopback, a
// database per test). Processes are forked for the races: each has its own
// connection and its own locks, as separate machines would.
#include <glib.h>
#include <glib/gstdio.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sys/prctl.h>

#include <memory>
#include <new>
#include <string>
#include <thread>

#include "core/ledger/ledger.h"
#include "core/request/request.h"
#include "support/pg_server.h"
#include "support/processes.h"

using kling::Ledger;

namespace {

PgServer* pg = nullptr;  // the suite's server, started in main()

std::string temp_dir() {
  g_autofree char* dir = g_dir_make_tmp("kling-ledger-XXXXXX", nullptr);
  return dir;
}

// Runs `sql` on the server's maintenance database; its first value.
std::string pg_admin(const std::string& db, const std::string& sql) {
  const std::string base = pg->uri().substr(0, pg->uri().rfind('/'));
  PGconn* conn = PQconnectdb((base + "/" + db + "?connect_timeout=10").c_str());
  PGresult* r = PQexec(conn, sql.c_str());
  const ExecStatusType status = PQresultStatus(r);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
    g_error("%s: %s", sql.c_str(), PQerrorMessage(conn));
  std::string value = PQntuples(r) > 0 && !PQgetisnull(r, 0, 0) ? PQgetvalue(r, 0, 0) : "";
  PQclear(r);
  PQfinish(conn);
  return value;
}

struct Backend {
  const char* name;
  std::string (*fresh)();                            // a new, empty ledger's location
  std::string (*dump)(const std::string& location);  // everything it stored, as text
};

const Backend kSqlite = {"sqlite", [] { return temp_dir() + "/ledger.db"; },
                         [](const std::string& path) {
                           g_autofree char* data = nullptr;
                           gsize size = 0;
                           g_file_get_contents(path.c_str(), &data, &size, nullptr);
                           return std::string(data ? data : "", size);
                         }};

const Backend kPostgres = {
    "postgresql",
    [] {
      static int n = 0;
      const std::string db = "ledger_" + std::to_string(getpid()) + "_" + std::to_string(++n);
      pg_admin("postgres", "CREATE DATABASE " + db);
      return pg->uri().substr(0, pg->uri().rfind('/')) + "/" + db;
    },
    [](const std::string& uri) {
      return pg_admin(uri.substr(uri.rfind('/') + 1),
                      "SELECT string_agg(t::text, E'\\n') FROM kling_tasks t");
    }};

struct Fixture {
  const Backend* backend;
  std::string location;
};

// g_test allocates the fixture: constructed and destroyed here, as C++ members need.
void setup(Fixture* f, gconstpointer data) {
  new (f) Fixture();
  f->backend = static_cast<const Backend*>(data);
  if (f->backend == &kPostgres && !pg) g_error("no PostgreSQL server for the suite");
  f->location = f->backend->fresh();
}

void teardown(Fixture* f, gconstpointer) {
  f->~Fixture();
}

std::unique_ptr<Ledger> open_ledger(const std::string& location) {
  std::string error;
  auto ledger = Ledger::open(location, &error);
  if (!ledger) g_error("cannot open the ledger: %s", error.c_str());
  return ledger;
}

Ledger::Identity identity(const std::string& prompt = "a red fox", unsigned variation = 0,
                          const std::string& account = "acct") {
  kling::Request r;
  r.prompt = prompt;
  r.variation = variation;
  r.api_key = account;
  return {r.fingerprint(), r.account(), r.api_url, r.model, r.prompt, r.variation};
}

int64_t now() {
  return g_get_real_time() / G_USEC_PER_SEC;
}

// A claim taken to a task id: `task` submitted for `id` at `quote`.
void submit(Ledger& book, const Ledger::Identity& id, const std::string& task, double quote = 1.3) {
  auto d = book.claim(id, now(), true);
  g_assert_true(d.verdict == Ledger::Verdict::Submit);
  double spent;
  std::string error;
  g_assert_true(book.begin_submit(d.row.row, quote, "USD", std::nullopt, 0, &spent, &error) ==
                Ledger::Budget::Ok);
  g_assert_true(book.mark_submitted(d.row.row, task, "created", &error));
}

// A claim decided after its holder died: a server notices a dropped connection on
// its own time (a few ms), so a Wait is asked again, within a bound, until it has.
Ledger::Decision claim_after_holder_died(Ledger& book, const Ledger::Identity& id, int64_t at) {
  Ledger::Decision d = book.claim(id, at, true);
  for (int i = 0; i < 200 && d.verdict == Ledger::Verdict::Wait; i++) {
    g_usleep(50 * 1000);
    d = book.claim(id, at, true);
  }
  return d;
}

void test_first_run_submits_then_others_wait_follow_replay(Fixture* f, gconstpointer) {
  auto book = open_ledger(f->location);
  auto id = identity();
  auto first = book->claim(id, now(), true);
  g_assert_true(first.verdict == Ledger::Verdict::Submit);
  // The same request elsewhere in this process: the claim's holder is alive.
  g_assert_true(book->claim(id, now(), true).verdict == Ledger::Verdict::Wait);
  double spent = -1;
  std::string error;
  g_assert_true(book->begin_submit(first.row.row, 1.3, "USD", std::nullopt, 0, &spent, &error) ==
                Ledger::Budget::Ok);
  g_assert_true(book->claim(id, now(), true).verdict == Ledger::Verdict::Wait);
  g_assert_true(book->mark_submitted(first.row.row, "task-1", "created", &error));
  auto follow = book->claim(id, now(), true);
  g_assert_true(follow.verdict == Ledger::Verdict::Follow);
  g_assert_cmpstr(follow.row.task_id.c_str(), ==, "task-1");
  g_assert_cmpfloat(follow.row.quote.value_or(0), ==, 1.3);
  g_assert_true(book->set_status("task-1", "completed", {"http://cdn/v.mp4", "http://cdn/v2.mp4"},
                                 "", "", &error));
  g_assert_true(book->set_status("task-1", "", {}, Ledger::kDelivered, "5 bytes", &error));
  auto replay = book->claim(id, now(), true);
  g_assert_true(replay.verdict == Ledger::Verdict::Replay);
  g_assert_cmpuint(replay.row.outputs.size(), ==, 2);
  g_assert_cmpstr(replay.row.outputs.at(0).c_str(), ==, "http://cdn/v.mp4");
  g_assert_cmpstr(replay.row.detail.c_str(), ==, "5 bytes");
  // Another variation is another request.
  g_assert_true(book->claim(identity("a red fox", 1), now(), true).verdict ==
                Ledger::Verdict::Submit);
  // What kling-tasks reads.
  auto found = book->find_task("task-1");
  g_assert_true(found.has_value());
  g_assert_cmpstr(found->state.c_str(), ==, Ledger::kDelivered);
  g_assert_cmpstr(found->prompt.c_str(), ==, "a red fox");
  auto rows = book->list(10);
  g_assert_cmpuint(rows.size(), ==, 2);
  g_assert_cmpuint(rows.at(0).variation, ==, 1);  // newest first
}

void test_gone_and_expired_tasks_are_submitted_again_with_a_reason(Fixture* f, gconstpointer) {
  auto book = open_ledger(f->location);
  auto id = identity();
  std::string error;
  double spent;
  submit(*book, id, "task-gone");
  book->set_status("task-gone", "", {}, Ledger::kGone, "HTTP 404", &error);
  auto again = book->claim(id, now(), true);
  g_assert_true(again.verdict == Ledger::Verdict::Submit);
  g_assert_true(again.why.find("task-gone is gone (HTTP 404)") != std::string::npos);
  // Delivered more than 7 days ago: its output no longer lives.
  book->begin_submit(again.row.row, 1.3, "USD", std::nullopt, 0, &spent, &error);
  book->mark_submitted(again.row.row, "task-old", "completed", &error);
  book->set_status("task-old", "completed", {"http://cdn/old.mp4"}, Ledger::kDelivered, "", &error);
  auto later = book->claim(id, now() + 8 * 24 * 3600, true);
  g_assert_true(later.verdict == Ledger::Verdict::Submit);
  g_assert_true(later.why.find("7-day retention") != std::string::npos);
  // A task that failed (WaveSpeed refunds it) is submitted again, saying so.
  book->begin_submit(later.row.row, 1.3, "USD", std::nullopt, 0, &spent, &error);
  book->mark_submitted(later.row.row, "task-failed", "created", &error);
  book->set_status("task-failed", "failed", {}, Ledger::kFailed, "internal boom (code 5000)",
                   &error);
  auto after_failure = book->claim(id, now(), true);
  g_assert_true(after_failure.verdict == Ledger::Verdict::Submit);
  g_assert_true(after_failure.why.find("task-failed failed: internal boom (code 5000)") !=
                std::string::npos);
}

void test_unanswered_submit_refuses_until_resume_off(Fixture* f, gconstpointer) {
  auto book = open_ledger(f->location);
  auto id = identity();
  std::string error;
  double spent;
  auto a = book->claim(id, now(), true);
  book->begin_submit(a.row.row, 1.3, "USD", std::nullopt, 0, &spent, &error);
  const int64_t sent_by = now();
  g_usleep(1100 * 1000);  // the reply's wait ends in a later second
  book->mark_unanswered(a.row.row, "HTTP 502");
  auto refused = book->claim(id, now(), true);
  g_assert_true(refused.verdict == Ledger::Verdict::Unanswered);
  g_assert_cmpint(refused.row.updated, <=, sent_by);  // the refusal says when it was sent
  g_assert_cmpstr(refused.row.detail.c_str(), ==, "HTTP 502");
  g_assert_true(book->claim(id, now(), true).verdict == Ledger::Verdict::Unanswered);
  g_assert_true(book->claim(id, now(), false).verdict == Ledger::Verdict::Submit);
}

void test_a_dead_process_claim_is_stale_but_its_submit_is_unanswered(Fixture* f, gconstpointer) {
  const std::string location = f->location;
  auto id = identity("claimed then died");
  g_assert_cmpint(in_child([&] {
                    auto book = open_ledger(location);
                    return book->claim(id, now(), true).verdict == Ledger::Verdict::Submit ? 0 : 1;
                  }),
                  ==, 0);
  auto book = open_ledger(location);
  // It never got past the price check: nothing was sent, this run may submit.
  g_assert_true(claim_after_holder_died(*book, id, now()).verdict == Ledger::Verdict::Submit);

  auto id2 = identity("submitting then died");
  g_assert_cmpint(in_child([&] {
                    auto child = open_ledger(location);
                    auto d = child->claim(id2, now(), true);
                    double spent;
                    std::string error;
                    return child->begin_submit(d.row.row, 2.6, "USD", std::nullopt, 0, &spent,
                                               &error) == Ledger::Budget::Ok
                               ? 0
                               : 1;
                  }),
                  ==, 0);
  const int64_t sent_by = now();
  auto d = claim_after_holder_died(*book, id2, now() + 3600);  // found an hour later
  g_assert_true(d.verdict == Ledger::Verdict::Unanswered);
  // Every later refusal says when the submit was sent, not when a run found it unanswered.
  auto again = book->claim(id2, now() + 7200, true);
  g_assert_true(again.verdict == Ledger::Verdict::Unanswered);
  g_assert_cmpint(again.row.updated, <=, sent_by);
}

// A holder killed -9 (no exit handler, no goodbye to the ledger) stops blocking the
// request as soon as its lock is gone: the next run submits, within a bound.
void test_a_killed_holder_frees_its_claim(Fixture* f, gconstpointer) {
  const std::string location = f->location;
  auto id = identity("claimed then killed");
  int ready[2];
  g_assert_cmpint(pipe(ready), ==, 0);
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlives a failed test
    auto book = open_ledger(location);
    const char verdict =
        book->claim(id, now(), true).verdict == Ledger::Verdict::Submit ? 's' : 'x';
    g_assert_cmpint(write(ready[1], &verdict, 1), ==, 1);
    for (;;) pause();
  }
  close(ready[1]);
  char verdict = 0;
  g_assert_cmpint(read(ready[0], &verdict, 1), ==, 1);
  close(ready[0]);
  g_assert_cmpint(verdict, ==, 's');
  auto book = open_ledger(location);
  g_assert_true(book->claim(id, now(), true).verdict ==
                Ledger::Verdict::Wait);  // alive: wait for it
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  g_assert_true(claim_after_holder_died(*book, id, now()).verdict == Ledger::Verdict::Submit);
}

void test_concurrent_claims_make_one_submit(Fixture* f, gconstpointer) {
  const std::string location = f->location;
  open_ledger(location);  // made before the race
  auto id = identity("raced");
  constexpr int kProcs = 6;
  int submits = 0, waits = 0;
  for (int code : in_children_at_once(kProcs, [&] {
         auto book = open_ledger(location);
         auto v = book->claim(id, now(), true).verdict;
         g_usleep(300 * 1000);  // still alive while the others decide
         return v == Ledger::Verdict::Submit ? 0 : v == Ledger::Verdict::Wait ? 1 : 2;
       })) {
    submits += code == 0;
    waits += code == 1;
  }
  g_assert_cmpint(submits, ==, 1);
  g_assert_cmpint(waits, ==, kProcs - 1);
}

// Processes that meet a ledger no one has made yet all get to use it.
void test_processes_making_the_ledger_at_once_all_open_it(Fixture* f, gconstpointer) {
  constexpr int kProcs = 6, kRounds = 5;
  for (int round = 0; round < kRounds; round++) {
    const std::string location = round == 0 ? f->location : f->backend->fresh();
    for (int code : in_children_at_once(kProcs, [&] {
           std::string error;
           auto book = Ledger::open(location, &error);
           if (!book) {
             g_printerr("round %d: %s\n", round, error.c_str());
             return 1;
           }
           return book->claim(identity("made at once"), now(), true).error.empty() ? 0 : 2;
         }))
      g_assert_cmpint(code, ==, 0);
  }
}

void test_daily_budget_counts_this_accounts_quotes_since_midnight(Fixture* f, gconstpointer) {
  const std::string location = f->location;
  auto book = open_ledger(location);
  const int64_t day = Ledger::local_day_start(now());
  std::string error;
  double spent = 0;
  auto a = book->claim(identity("one"), now(), true);
  g_assert_true(book->begin_submit(a.row.row, 1.3, "USD", 3.0, day, &spent, &error) ==
                Ledger::Budget::Ok);
  g_assert_cmpfloat(spent, ==, 0);
  // Another process, another request of the same account: 1.30 + 1.30 fits in 3.00.
  g_assert_cmpint(in_child([&] {
                    auto child = open_ledger(location);
                    auto b = child->claim(identity("two"), now(), true);
                    double s = 0;
                    std::string e;
                    return child->begin_submit(b.row.row, 1.3, "USD", 3.0, day, &s, &e) ==
                                   Ledger::Budget::Ok
                               ? 0
                               : 1;
                  }),
                  ==, 0);
  auto c = book->claim(identity("three"), now(), true);
  g_assert_true(book->begin_submit(c.row.row, 1.3, "USD", 3.0, day, &spent, &error) ==
                Ledger::Budget::OverBudget);
  g_assert_cmpfloat(spent, >, 2.59);
  g_assert_cmpfloat(spent, <, 2.61);
  // Refused: nothing held, and an unknown quote is refused under a budget too.
  auto d = book->claim(identity("three"), now(), true);
  g_assert_true(d.verdict == Ledger::Verdict::Submit);
  g_assert_true(book->begin_submit(d.row.row, std::nullopt, "", 100.0, day, &spent, &error) ==
                Ledger::Budget::OverBudget);
  // Another account has its own budget.
  auto e = book->claim(identity("three", 0, "other"), now(), true);
  g_assert_true(book->begin_submit(e.row.row, 1.3, "USD", 3.0, day, &spent, &error) ==
                Ledger::Budget::Ok);
  auto spend = book->spent_since(day);
  g_assert_cmpuint(spend.size(), ==, 2);
  int tasks = 0;
  for (const auto& s : spend) tasks += s.tasks;
  g_assert_cmpint(tasks, ==, 3);
}

// Many processes, one account, a budget of three quotes: three pass, whoever they are.
void test_daily_budget_holds_when_processes_submit_at_once(Fixture* f, gconstpointer) {
  const std::string location = f->location;
  open_ledger(location);
  const int64_t day = Ledger::local_day_start(now());
  int ok = 0, over = 0;
  for (int code : in_children_at_once(8, [&] {
         auto book = open_ledger(location);
         auto d = book->claim(identity("budget " + std::to_string(getpid())), now(), true);
         double s = 0;
         std::string e;
         auto b = book->begin_submit(d.row.row, 1.0, "USD", 3.0, day, &s, &e);
         return b == Ledger::Budget::Ok ? 0 : b == Ledger::Budget::OverBudget ? 1 : 2;
       })) {
    ok += code == 0;
    over += code == 1;
  }
  g_assert_cmpint(ok, ==, 3);
  g_assert_cmpint(over, ==, 5);
}

void test_the_key_is_never_in_the_ledger(Fixture* f, gconstpointer) {
  auto book = open_ledger(f->location);
  kling::Request r;
  r.prompt = "p";
  r.api_key = "sk-very-secret-key";
  book->claim({r.fingerprint(), r.account(), r.api_url, r.model, r.prompt, 0}, now(), true);
  book.reset();
  const std::string stored = f->backend->dump(f->location);
  g_assert_true(stored.find(r.account()) != std::string::npos);  // the dump reads what was stored
  g_assert_true(stored.find("sk-very-secret-key") == std::string::npos);
  g_assert_cmpuint(r.account().size(), ==, 16);
  g_assert_true(r.account().find("secret") == std::string::npos);
}

// kling-tasks import: a machine's SQLite ledger copied in; its tasks are followed,
// replayed and counted there, its unfinished submits refused, and a second copy adds nothing.
void test_a_machines_ledger_is_imported(Fixture* f, gconstpointer) {
  const std::string old_path = temp_dir() + "/old.db";
  {
    auto old = open_ledger(old_path);
    submit(*old, identity("delivered"), "task-d", 2.6);
    std::string error;
    old->set_status("task-d", "completed", {"http://cdn/d.mp4"}, Ledger::kDelivered, "", &error);
    submit(*old, identity("in flight"), "task-f", 1.3);
    auto s = old->claim(identity("sent, no reply"), now(), true);
    double spent;
    old->begin_submit(s.row.row, 1.3, "USD", std::nullopt, 0, &spent, &error);
    old->mark_unanswered(s.row.row, "HTTP 502");
    old->claim(identity("only claimed"), now(), true);  // nothing sent: nothing to carry over
  }
  auto old = open_ledger(old_path);
  auto book = open_ledger(f->location);
  int added = -1;
  std::string error;
  g_assert_true(Ledger::import_rows(*old, *book, &added, &error));
  g_assert_cmpint(added, ==, 3);
  g_assert_true(book->claim(identity("delivered"), now(), true).verdict == Ledger::Verdict::Replay);
  auto follow = book->claim(identity("in flight"), now(), true);
  g_assert_true(follow.verdict == Ledger::Verdict::Follow);
  g_assert_cmpstr(follow.row.task_id.c_str(), ==, "task-f");
  g_assert_true(book->claim(identity("sent, no reply"), now(), true).verdict ==
                Ledger::Verdict::Unanswered);
  auto spend = book->spent_since(Ledger::local_day_start(now()));
  g_assert_cmpuint(spend.size(), ==, 1);
  g_assert_cmpint(spend.at(0).tasks, ==, 3);
  g_assert_cmpfloat(spend.at(0).amount, >, 5.19);
  g_assert_cmpfloat(spend.at(0).amount, <, 5.21);
  g_assert_true(Ledger::import_rows(*old, *book, &added, &error));
  g_assert_cmpint(added, ==, 0);
}

// ------------------------------------------------------------- PostgreSQL only

// A server that takes the connection and never answers: the open fails within its
// bound, names the ledger, and never shows the password.
void test_pg_unanswering_server_fails_closed_within_the_wait() {
  int port = 0;
  const int fd = bind_loopback(&port, true);
  g_assert_cmpint(fd, >=, 0);
  const std::string uri =
      "postgresql://fleet:hunter2-secret@127.0.0.1:" + std::to_string(port) + "/kling";
  std::string error;
  const int64_t start = g_get_monotonic_time();
  auto book = Ledger::open(uri, &error, nullptr, 300);
  const int64_t took_ms = (g_get_monotonic_time() - start) / 1000;
  g_assert_null(book.get());
  g_assert_cmpint(took_ms, >=, 250);  // the wait is whole, not cut short
  // Ended by the wait it was given (not the 10 s default, nor libpq's own): the error says so.
  g_assert_true(error.find("no answer within 300 ms") != std::string::npos);
  g_assert_true(error.find("postgresql://fleet@127.0.0.1:") != std::string::npos);
  g_assert_true(error.find("hunter2") == std::string::npos);
  close(fd);
  // Nothing listening: refused at once, the same way.
  book = Ledger::open(uri, &error, nullptr, 5000);
  g_assert_null(book.get());
  g_assert_true(error.find("hunter2") == std::string::npos);
  g_assert_true(Ledger::display_name(uri).find("hunter2") == std::string::npos);
}

void test_pg_cancel_ends_a_wait_for_the_server() {
  int port = 0;
  const int fd = bind_loopback(&port, true);
  g_assert_cmpint(fd, >=, 0);
  const std::string uri = "postgresql://fleet@127.0.0.1:" + std::to_string(port) + "/kling";
  g_autoptr(GCancellable) cancel = g_cancellable_new();
  GSource* timer = g_timeout_source_new(200);
  g_source_set_callback(
      timer,
      [](gpointer c) {
        g_cancellable_cancel(G_CANCELLABLE(c));
        return G_SOURCE_REMOVE;
      },
      cancel, nullptr);
  g_autoptr(GMainContext) context = g_main_context_new();
  g_source_attach(timer, context);
  g_source_unref(timer);
  std::thread ticker([&] {
    while (!g_cancellable_is_cancelled(cancel)) g_main_context_iteration(context, TRUE);
  });
  std::string error;
  auto book = Ledger::open(uri, &error, cancel, 60000);
  ticker.join();
  g_assert_null(book.get());
  g_assert_true(error.find("cancelled") != std::string::npos);
  close(fd);
}

void test_pg_a_newer_schema_is_refused(Fixture* f, gconstpointer) {
  open_ledger(f->location);
  const std::string db = f->location.substr(f->location.rfind('/') + 1);
  pg_admin(db, "UPDATE kling_ledger_schema SET version = 99");
  std::string error;
  g_assert_null(Ledger::open(f->location, &error).get());
  g_assert_true(error.find("version 99") != std::string::npos);
}

}  // namespace

int main(int argc, char** argv) {
  g_test_init(&argc, &argv, nullptr);
  std::string error;
  std::unique_ptr<PgServer> server = PgServer::start(&error);
  if (!server) g_printerr("# PostgreSQL: %s\n", error.c_str());
  pg = server.get();
  struct Case {
    const char* name;
    void (*test)(Fixture*, gconstpointer);
  };
  const Case cases[] = {
      {"first-run-submits-then-others-wait-follow-replay",
       test_first_run_submits_then_others_wait_follow_replay},
      {"gone-or-expired-submits-again-saying-why",
       test_gone_and_expired_tasks_are_submitted_again_with_a_reason},
      {"unanswered-submit-refuses-until-resume-off",
       test_unanswered_submit_refuses_until_resume_off},
      {"dead-process-claim-stale-its-submit-unanswered",
       test_a_dead_process_claim_is_stale_but_its_submit_is_unanswered},
      {"killed-holder-frees-its-claim", test_a_killed_holder_frees_its_claim},
      {"six-processes-claim-at-once-one-submits", test_concurrent_claims_make_one_submit},
      {"processes-making-it-at-once-all-open-it",
       test_processes_making_the_ledger_at_once_all_open_it},
      {"daily-budget-across-processes",
       test_daily_budget_counts_this_accounts_quotes_since_midnight},
      {"daily-budget-holds-with-processes-at-once",
       test_daily_budget_holds_when_processes_submit_at_once},
      {"key-never-stored", test_the_key_is_never_in_the_ledger},
      {"imports-a-machines-ledger", test_a_machines_ledger_is_imported},
  };
  for (const Backend* backend : {&kSqlite, &kPostgres})
    for (const Case& c : cases) {
      g_autofree char* path = g_strdup_printf("/ledger/%s/%s", backend->name, c.name);
      g_test_add(path, Fixture, backend, setup, c.test, teardown);
    }
  g_test_add("/ledger/postgresql/newer-schema-refused", Fixture, &kPostgres, setup,
             test_pg_a_newer_schema_is_refused, teardown);
  g_test_add_func("/ledger/postgresql/unanswering-server-fails-closed-within-the-wait",
                  test_pg_unanswering_server_fails_closed_within_the_wait);
  g_test_add_func("/ledger/postgresql/cancel-ends-a-wait-for-the-server",
                  test_pg_cancel_ends_a_wait_for_the_server);
  return g_test_run();
}
