// SPDX-License-Identifier: LGPL-2.1-or-later
// The GStreamer-free money pieces on their own: the ledger's decisions (across
// processes too, with fork), the price and balance replies and the checks they
// must pass, and the cache entry as one verified object. No network.
#include <glib.h>
#include <glib/gstdio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utime.h>

#include <string>
#include <vector>

#include "core/ledger/ledger.h"
#include "core/request/request.h"
#include "core/storage/download_store.h"
#include "core/storage/video_cache.h"
#include "core/wavespeed/api_client.h"
#include "core/wavespeed/pricing.h"
#include "support/store_helpers.h"

using kling::Ledger;

namespace {

std::string temp_dir() {
  g_autofree char* dir = g_dir_make_tmp("kling-money-XXXXXX", nullptr);
  return dir;
}

std::string db_path() {
  return temp_dir() + "/ledger.db";
}

std::unique_ptr<Ledger> open_ledger(const std::string& path) {
  std::string error;
  auto ledger = Ledger::open(path, &error);
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

// Runs `body` in a child process (its own connection to the ledger); its exit code.
template <typename Body>
int in_child(Body body) {
  pid_t pid = fork();
  if (pid == 0) _exit(body());
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Runs `body` in `n` child processes released at the same moment; their exit codes.
template <typename Body>
std::vector<int> in_children_at_once(int n, Body body) {
  int pipes[2];
  g_assert_cmpint(pipe(pipes), ==, 0);
  std::vector<pid_t> kids;
  for (int i = 0; i < n; i++) {
    pid_t pid = fork();
    if (pid == 0) {
      char go;
      close(pipes[1]);
      if (read(pipes[0], &go, 1) != 0) _exit(3);  // all start when the pipe closes
      _exit(body());
    }
    kids.push_back(pid);
  }
  close(pipes[0]);
  close(pipes[1]);
  std::vector<int> codes;
  for (pid_t pid : kids) {
    int status = 0;
    waitpid(pid, &status, 0);
    g_assert_true(WIFEXITED(status));
    codes.push_back(WEXITSTATUS(status));
  }
  return codes;
}

// ---------------------------------------------------------------- ledger

void test_first_run_submits_then_others_wait_follow_replay() {
  const std::string path = db_path();
  auto book = open_ledger(path);
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
  g_assert_true(book->set_status("task-1", "completed", {"http://cdn/v.mp4"}, "", "", &error));
  g_assert_true(book->set_status("task-1", "", {}, Ledger::kDelivered, "5 bytes", &error));
  auto replay = book->claim(id, now(), true);
  g_assert_true(replay.verdict == Ledger::Verdict::Replay);
  g_assert_cmpstr(replay.row.outputs.at(0).c_str(), ==, "http://cdn/v.mp4");
  // Another variation is another request.
  g_assert_true(book->claim(identity("a red fox", 1), now(), true).verdict ==
                Ledger::Verdict::Submit);
}

void test_gone_and_expired_tasks_are_submitted_again_with_a_reason() {
  auto book = open_ledger(db_path());
  auto id = identity();
  std::string error;
  double spent;
  auto a = book->claim(id, now(), true);
  book->begin_submit(a.row.row, 1.3, "USD", std::nullopt, 0, &spent, &error);
  book->mark_submitted(a.row.row, "task-gone", "created", &error);
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

void test_unanswered_submit_refuses_until_resume_off() {
  auto book = open_ledger(db_path());
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
  g_assert_true(book->claim(id, now(), true).verdict == Ledger::Verdict::Unanswered);
  g_assert_true(book->claim(id, now(), false).verdict == Ledger::Verdict::Submit);
}

void test_a_dead_process_claim_is_stale_but_its_submit_is_unanswered() {
  const std::string path = db_path();
  auto id = identity("claimed then died");
  g_assert_cmpint(in_child([&] {
                    auto book = open_ledger(path);
                    return book->claim(id, now(), true).verdict == Ledger::Verdict::Submit ? 0 : 1;
                  }),
                  ==, 0);
  auto book = open_ledger(path);
  // It never got past the price check: nothing was sent, this run may submit.
  g_assert_true(book->claim(id, now(), true).verdict == Ledger::Verdict::Submit);

  auto id2 = identity("submitting then died");
  g_assert_cmpint(in_child([&] {
                    auto child = open_ledger(path);
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
  auto d = book->claim(id2, now() + 3600, true);  // found an hour later
  g_assert_true(d.verdict == Ledger::Verdict::Unanswered);
  // Every later refusal says when the submit was sent, not when a run found it unanswered.
  auto again = book->claim(id2, now() + 7200, true);
  g_assert_true(again.verdict == Ledger::Verdict::Unanswered);
  g_assert_cmpint(again.row.updated, <=, sent_by);
}

void test_concurrent_claims_make_one_submit() {
  const std::string path = db_path();
  open_ledger(path);  // created before the race
  auto id = identity("raced");
  constexpr int kProcs = 6;
  int submits = 0, waits = 0;
  for (int code : in_children_at_once(kProcs, [&] {
         auto book = open_ledger(path);
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

// Processes that meet a ledger no one has made yet all get to use it: making it
// (WAL, the schema) is where SQLite answers BUSY without its busy handler.
void test_processes_making_the_ledger_at_once_all_open_it() {
  constexpr int kProcs = 6, kRounds = 15;
  for (int round = 0; round < kRounds; round++) {
    const std::string path = db_path();
    for (int code : in_children_at_once(kProcs, [&] {
           std::string error;
           auto book = Ledger::open(path, &error);
           if (!book) {
             g_printerr("round %d: %s\n", round, error.c_str());
             return 1;
           }
           return book->claim(identity("made at once"), now(), true).error.empty() ? 0 : 2;
         }))
      g_assert_cmpint(code, ==, 0);
  }
}

void test_daily_budget_counts_this_accounts_quotes_since_midnight() {
  const std::string path = db_path();
  auto book = open_ledger(path);
  const int64_t day = Ledger::local_day_start(now());
  std::string error;
  double spent = 0;
  auto a = book->claim(identity("one"), now(), true);
  g_assert_true(book->begin_submit(a.row.row, 1.3, "USD", 3.0, day, &spent, &error) ==
                Ledger::Budget::Ok);
  g_assert_cmpfloat(spent, ==, 0);
  // Another process, another request of the same account: 1.30 + 1.30 fits in 3.00.
  g_assert_cmpint(in_child([&] {
                    auto child = open_ledger(path);
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
}

// The identity names the API origin, not the spelling of its URL: a trailing slash or
// an upper-case host reaches the same service, and must not pay for the request again.
void test_identity_names_the_origin_not_its_spelling() {
  auto fp = [](const std::string& url) {
    kling::Request r;
    r.prompt = "a red fox";
    r.api_key = "acct";
    r.api_url = url;
    return r.fingerprint();
  };
  const std::string plain = fp("https://api.wavespeed.ai");
  g_assert_true(fp("https://api.wavespeed.ai/") == plain);
  g_assert_true(fp("https://api.wavespeed.ai//") == plain);
  g_assert_true(fp("HTTPS://API.WaveSpeed.ai") == plain);
  g_assert_true(fp("https://api.wavespeed.ai:443/") == plain);
  g_assert_true(fp("http://127.0.0.1:8080/") == fp("http://127.0.0.1:8080"));
  // Another host, port or path is another service.
  g_assert_true(fp("https://api.wavespeed.ai:8443") != plain);
  g_assert_true(fp("https://other.example") != plain);
  g_assert_true(fp("https://api.wavespeed.ai/proxy") != plain);
  g_assert_true(fp("http://api.wavespeed.ai") != plain);
}

void test_the_key_is_never_in_the_ledger() {
  const std::string path = db_path();
  auto book = open_ledger(path);
  kling::Request r;
  r.prompt = "p";
  r.api_key = "sk-very-secret-key";
  book->claim({r.fingerprint(), r.account(), r.api_url, r.model, r.prompt, 0}, now(), true);
  book.reset();
  gchar* data = nullptr;
  gsize size = 0;
  g_assert_true(g_file_get_contents(path.c_str(), &data, &size, nullptr));
  g_assert_null(g_strstr_len(data, size, "sk-very-secret-key"));
  g_free(data);
  g_assert_cmpuint(r.account().size(), ==, 16);
  g_assert_true(r.account().find("secret") == std::string::npos);
}

// ---------------------------------------------------------------- price

void test_price_and_balance_replies() {
  std::string why;
  auto q = kling::money::parse_price(
      200, R"({"code":200,"data":{"price":1.3,"discounted_price":"1.04","currency":"USD"}})", &why);
  g_assert_true(q.has_value());
  g_assert_cmpfloat(q->amount(), ==, 1.04);
  g_assert_false(kling::money::parse_price(404, R"({"code":404,"message":"Not found"})", &why));
  g_assert_cmpstr(why.c_str(), ==, "HTTP 404: Not found");
  g_assert_false(kling::money::parse_price(500, "<html>bad gateway</html>", &why));
  g_assert_false(kling::money::parse_price(200, R"({"code":200,"data":{}})", &why));
  g_assert_false(kling::money::parse_price(200, R"({"code":200,"data":{"price":-1}})", &why));
  auto b = kling::money::parse_balance(200, R"({"code":200,"data":{"balance":12.4}})", &why);
  g_assert_cmpfloat(b.value_or(-1), ==, 12.4);
  g_assert_false(kling::money::parse_balance(200, R"({"code":401,"message":"bad key"})", &why));

  kling::Request r;
  r.prompt = "a fox";
  r.duration = 10;
  const std::string body =
      kling::money::build_price_body(r.model, kling::api::build_submit_body(r));
  g_assert_nonnull(strstr(body.c_str(), "\"model_id\":\"kwaivgi/kling-v2.0-t2v-master\""));
  g_assert_nonnull(strstr(body.c_str(), "\"inputs\":{\"prompt\":\"a fox\""));
  g_assert_nonnull(strstr(body.c_str(), "\"duration\":10"));
}

void test_checks_before_a_submit() {
  using kling::money::Figures;
  kling::Request r;
  Figures f;
  f.quote = kling::money::Quote{1.3, std::nullopt, "USD"};
  f.balance = 12.4;
  g_assert_false(kling::money::check(f, r).has_value());
  g_assert_true(f.describe() == "costs $1.30, balance $12.40");
  r.max_cost = 1.0;
  auto e = kling::money::check(f, r);
  g_assert_true(e && e->kind == kling::ErrorKind::Settings);
  g_assert_nonnull(strstr(e->message.c_str(), "$1.30"));
  g_assert_nonnull(strstr(e->message.c_str(), "$1.00"));
  r.max_cost = 2.0;
  g_assert_false(kling::money::check(f, r).has_value());
  f.balance = 1.0;
  e = kling::money::check(f, r);
  g_assert_true(e && strstr(e->message.c_str(), "$1.00") && strstr(e->message.c_str(), "$1.30"));
  // No quote: refused only with max-cost set.
  Figures unknown;
  unknown.quote_error = "HTTP 404";
  unknown.balance_error = "HTTP 500";
  e = kling::money::check(unknown, r);
  g_assert_true(e && strstr(e->message.c_str(), "HTTP 404"));
  r.max_cost.reset();
  g_assert_false(kling::money::check(unknown, r).has_value());
  g_assert_true(unknown.describe() == "price unknown (HTTP 404), balance unknown (HTTP 500)");
}

// ---------------------------------------------------------------- cache

std::string pattern(size_t size, char seed) {
  std::string s(size, '\0');
  for (size_t i = 0; i < size; i++) s[i] = static_cast<char>(seed + i * 7 % 251);
  return s;
}

std::string store_bytes(kling::DownloadStore& store) {
  std::string out(store.have(), '\0');
  g_assert_true(store.read(0, out.size(), reinterpret_cast<uint8_t*>(&out[0])));
  return out;
}

void save(const std::string& dir, const kling::Request& r, const std::string& video,
          const char* task, uint64_t max_size = 0) {
  kling::Error err;
  auto store = kling::DownloadStore::create(&err, dir);
  g_assert_nonnull(store.get());
  download_into(*store, video, false);
  std::string error;
  g_assert_true(kling::VideoCache(dir, max_size).save(r, r.fingerprint(), task, *store, &error));
  // The store the element keeps still reads the video alone.
  g_assert_true(store_bytes(*store) == video);
}

void test_cache_entry_is_one_verified_object() {
  const std::string dir = temp_dir();
  kling::Request r;
  r.prompt = "cached";
  const std::string video = pattern(700 * 1024, 'a');
  save(dir, r, video, "task-a");
  std::string id;
  auto store = kling::VideoCache(dir).open(r.fingerprint(), &id);
  g_assert_nonnull(store.get());
  g_assert_cmpstr(id.c_str(), ==, "task-a");
  g_assert_true(store_bytes(*store) == video);
  g_assert_true(store->complete());

  // One byte changed: a miss, not a wrong video.
  const std::string path = dir + "/" + r.fingerprint() + kling::VideoCache::kExtension;
  {
    FILE* f = fopen(path.c_str(), "r+b");
    fseek(f, 1000, SEEK_SET);
    fputc('#', f);
    fclose(f);
  }
  g_assert_null(kling::VideoCache(dir).open(r.fingerprint(), &id).get());
  // Another request's entry under this name: a miss too.
  kling::Request other = r;
  other.prompt = "other";
  save(dir, other, pattern(1000, 'z'), "task-z");
  g_rename((dir + "/" + other.fingerprint() + kling::VideoCache::kExtension).c_str(), path.c_str());
  g_assert_null(kling::VideoCache(dir).open(r.fingerprint(), &id).get());
  // Truncated: a miss.
  save(dir, r, video, "task-a");
  g_assert_cmpint(truncate(path.c_str(), 5000), ==, 0);
  g_assert_null(kling::VideoCache(dir).open(r.fingerprint(), &id).get());
}

void test_two_processes_write_one_entry() {
  const std::string dir = temp_dir();
  kling::Request r;
  r.prompt = "raced entry";
  const std::string a = pattern(3 * 1024 * 1024 + 17, 'a');
  const std::string b = pattern(2 * 1024 * 1024 + 5, 'b');
  for (int round = 0; round < 3; round++) {
    pid_t pid = fork();
    if (pid == 0) {
      for (int i = 0; i < 3; i++) save(dir, r, a, "task-a");
      _exit(0);
    }
    for (int i = 0; i < 3; i++) save(dir, r, b, "task-b");
    int status = 0;
    waitpid(pid, &status, 0);
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    std::string id;
    auto store = kling::VideoCache(dir).open(r.fingerprint(), &id);
    g_assert_nonnull(store.get());
    // Whichever won, its metadata and its bytes belong together.
    g_assert_true((id == "task-a" && store_bytes(*store) == a) ||
                  (id == "task-b" && store_bytes(*store) == b));
  }
  // No temporary file left.
  g_autoptr(GDir) d = g_dir_open(dir.c_str(), 0, nullptr);
  int files = 0;
  while (const char* name = g_dir_read_name(d)) {
    files++;
    g_assert_true(g_str_has_suffix(name, kling::VideoCache::kExtension));
  }
  g_assert_cmpint(files, ==, 1);
}

void test_cache_evicts_least_recently_used() {
  const std::string dir = temp_dir();
  kling::Request r1, r2, r3;
  r1.prompt = "one";
  r2.prompt = "two";
  r3.prompt = "three";
  const uint64_t limit = 2 * 1024 * 1024 + 4096;  // two entries of 1 MiB and their trailers
  save(dir, r1, pattern(1 << 20, '1'), "t1", limit);
  g_usleep(20 * 1000);
  save(dir, r2, pattern(1 << 20, '2'), "t2", limit);
  g_usleep(20 * 1000);
  std::string id;
  g_assert_nonnull(
      kling::VideoCache(dir, limit).open(r1.fingerprint(), &id).get());  // used: r2 is older now
  g_usleep(20 * 1000);
  save(dir, r3, pattern(1 << 20, '3'), "t3", limit);
  g_assert_nonnull(kling::VideoCache(dir).open(r1.fingerprint(), &id).get());
  g_assert_null(kling::VideoCache(dir).open(r2.fingerprint(), &id).get());
  g_assert_nonnull(kling::VideoCache(dir).open(r3.fingerprint(), &id).get());
}

// A writer killed between its copy and the rename leaves a temporary entry: the next
// save removes it once nobody has touched it for an hour, else the cache would grow
// past cache-max-size with every crash. A temporary being written now is kept.
void test_cache_removes_temporaries_a_dead_writer_left() {
  const std::string dir = temp_dir();
  kling::Request r;
  r.prompt = "orphans";
  const std::string base = dir + "/" + r.fingerprint() + kling::VideoCache::kExtension;
  const std::string dead = base + ".tmp-4242-1", live = base + ".tmp-AbC123";
  g_assert_true(g_file_set_contents(dead.c_str(), pattern(1 << 20, 'd').c_str(), 1 << 20, nullptr));
  g_assert_true(g_file_set_contents(live.c_str(), "x", 1, nullptr));
  struct utimbuf old;
  old.actime = old.modtime = time(nullptr) - kling::VideoCache::kOrphanSeconds - 60;
  g_assert_cmpint(utime(dead.c_str(), &old), ==, 0);
  for (uint64_t limit : {uint64_t(0), uint64_t(8) << 20}) {  // with and without a bound
    save(dir, r, pattern(4096, 'v'), "t1", limit);
    g_assert_false(g_file_test(dead.c_str(), G_FILE_TEST_EXISTS));
    g_assert_true(g_file_test(live.c_str(), G_FILE_TEST_EXISTS));
    g_assert_true(g_file_set_contents(dead.c_str(), "y", 1, nullptr));
    g_assert_cmpint(utime(dead.c_str(), &old), ==, 0);
  }
}

}  // namespace

int main(int argc, char** argv) {
  g_test_init(&argc, &argv, nullptr);
  g_test_add_func("/ledger/first-run-submits-then-others-wait-follow-replay",
                  test_first_run_submits_then_others_wait_follow_replay);
  g_test_add_func("/ledger/gone-or-expired-submits-again-saying-why",
                  test_gone_and_expired_tasks_are_submitted_again_with_a_reason);
  g_test_add_func("/ledger/unanswered-submit-refuses-until-resume-off",
                  test_unanswered_submit_refuses_until_resume_off);
  g_test_add_func("/ledger/dead-process-claim-stale-its-submit-unanswered",
                  test_a_dead_process_claim_is_stale_but_its_submit_is_unanswered);
  g_test_add_func("/ledger/six-processes-claim-at-once-one-submits",
                  test_concurrent_claims_make_one_submit);
  g_test_add_func("/ledger/processes-making-it-at-once-all-open-it",
                  test_processes_making_the_ledger_at_once_all_open_it);
  g_test_add_func("/ledger/daily-budget-across-processes",
                  test_daily_budget_counts_this_accounts_quotes_since_midnight);
  g_test_add_func("/ledger/identity-names-the-origin-not-its-spelling",
                  test_identity_names_the_origin_not_its_spelling);
  g_test_add_func("/ledger/key-never-stored", test_the_key_is_never_in_the_ledger);
  g_test_add_func("/price/replies", test_price_and_balance_replies);
  g_test_add_func("/price/checks-before-submit", test_checks_before_a_submit);
  g_test_add_func("/cache/entry-is-one-verified-object", test_cache_entry_is_one_verified_object);
  g_test_add_func("/cache/two-processes-write-one-entry", test_two_processes_write_one_entry);
  g_test_add_func("/cache/evicts-least-recently-used", test_cache_evicts_least_recently_used);
  g_test_add_func("/cache/removes-temporaries-a-dead-writer-left",
                  test_cache_removes_temporaries_a_dead_writer_left);
  return g_test_run();
}
