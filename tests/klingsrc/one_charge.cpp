// SPDX-License-Identifier: LGPL-2.1-or-later
// klingsrc's money rules in one process, against the fake API: the quote and
// balance asked before the submit and shown, an error reply that names its task
// kept, two elements of one request making one submit, the kling:// limits, and a
// request whose params only a catalogue fetched during its first run types: paid once.
#include <glib/gstdio.h>
#include <gst/gst.h>

#include <memory>
#include <string>

#include "core/ledger/ledger.h"
#include "core/request/kling_uri.h"
#include "support/catalog_fixture.h"
#include "support/fake_wavespeed.h"
#include "support/pipeline_run.h"

namespace {

constexpr const char* kPrompt = "a fox that costs money";

std::string ledger_path() {
  g_autofree char* dir = g_dir_make_tmp("kling-money-element-XXXXXX", nullptr);
  return std::string(dir) + "/ledger.db";
}

std::unique_ptr<Run> make_run(FakeWaveSpeed& fake, const std::string& ledger) {
  auto run = parse_run("klingsrc name=src ! fakesink name=sink");
  g_object_set(run->src, "api-url", fake.api_url().c_str(), "api-key", fake.key.c_str(),
               "poll-interval", 20u, "journal", ledger.c_str(), "prompt", kPrompt, nullptr);
  return run;
}

struct Fixture {
  std::unique_ptr<FakeWaveSpeed> fake;
};

void setup(Fixture* f, gconstpointer) {
  f->fake = std::make_unique<FakeWaveSpeed>();
  f->fake->video = random_bytes(1024 * 1024 + 3);
}

void teardown(Fixture* f, gconstpointer) {
  f->fake.reset();
}

void test_quote_and_balance_before_submit(Fixture* f, gconstpointer) {
  f->fake->price_reply = FakeReply{
      200, R"({"code":200,"data":{"price":1.3,"discounted_price":1.3,"currency":"USD"}})"};
  f->fake->balance_reply = FakeReply{200, R"({"code":200,"data":{"balance":12.4}})"};
  const std::string ledger = ledger_path();
  auto run = make_run(*f->fake, ledger);
  play_to_end(*run);
  g_assert_no_error(run->error);
  g_assert_true(progress_says(*run, "costs $1.30, balance $12.40"));
  auto money = f->fake->money_requests();
  g_assert_cmpuint(money.size(), ==, 2);
  g_assert_cmpstr(money[0].path.c_str(), ==, "/api/v3/model/price");
  g_assert_true(contains(money[0].body, "\"model_id\":\"kwaivgi/kling-v2.0-t2v-master\""));
  g_assert_true(contains(money[0].body, std::string("\"inputs\":{\"prompt\":\"") + kPrompt));
  g_assert_cmpstr(money[1].path.c_str(), ==, "/api/v3/balance");
  std::string error;
  auto row = kling::Ledger::open(ledger, &error)->find_task(f->fake->task_id);
  g_assert_true(row && row->quote && *row->quote == 1.3);
}

void test_balance_below_quote_submits_nothing(Fixture* f, gconstpointer) {
  f->fake->price_reply = FakeReply{200, R"({"code":200,"data":{"price":2.6}})"};
  f->fake->balance_reply = FakeReply{200, R"({"code":200,"data":{"balance":"1.5"}})"};
  auto run = make_run(*f->fake, ledger_path());
  play_to_end(*run);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS, "$1.50");
  g_assert_true(contains(run->error->message, "$2.60"));
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 0);
}

void test_error_reply_naming_a_task_keeps_it(Fixture* f, gconstpointer) {
  const std::string id = f->fake->task_id;
  f->fake->on_submit = [id](int) -> std::optional<FakeReply> {
    return FakeReply{500, "{\"code\":500,\"message\":\"upstream hiccup\",\"data\":{\"id\":\"" + id +
                              "\",\"status\":\"created\"}}"};
  };
  const std::string ledger = ledger_path();
  auto first = make_run(*f->fake, ledger);
  play_to_end(*first);
  g_assert_nonnull(first->error);
  g_assert_true(contains(first->error->message, id));
  gchar* task_id = nullptr;
  g_object_get(first->src, "task-id", &task_id, nullptr);
  g_assert_cmpstr(task_id, ==, id.c_str());
  g_free(task_id);
  // The next run follows that task: no second submit, the video arrives.
  f->fake->on_submit = nullptr;
  auto second = make_run(*f->fake, ledger);
  play_to_end(*second);
  g_assert_no_error(second->error);
  g_assert_true(second->bytes == f->fake->video);
  g_assert_true(progress_says(*second, ("Following task " + id).c_str()));
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);
}

void test_two_elements_one_process_one_submit(Fixture* f, gconstpointer) {
  f->fake->polls_until_done = 5;
  const std::string ledger = ledger_path();
  auto a = make_run(*f->fake, ledger);
  auto b = make_run(*f->fake, ledger);
  gst_element_set_state(a->pipeline, GST_STATE_PLAYING);
  gst_element_set_state(b->pipeline, GST_STATE_PLAYING);
  play_to_end(*a);
  play_to_end(*b);
  g_assert_no_error(a->error);
  g_assert_no_error(b->error);
  g_assert_true(a->bytes == f->fake->video);
  g_assert_true(b->bytes == f->fake->video);
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);
}

void test_uri_limits() {
  std::string error;
  g_assert_false(kling::parse_kling_uri("kling://?prompt=x&poll-interval=999", &error));
  g_assert_true(contains(error, "1000"));
  g_assert_false(kling::parse_kling_uri("kling://?prompt=x&timeout=0", &error));
  g_assert_true(contains(error, "timeout"));
  auto ok =
      kling::parse_kling_uri("kling://?prompt=x&poll-interval=1000&timeout=60&variation=2", &error);
  g_assert_true(ok.has_value());
  g_assert_cmpuint(ok->params.size(), ==, 4);
  // The element refuses such a URI, and round-trips a variation.
  GstElement* src = gst_element_factory_make("klingsrc", nullptr);
  g_autoptr(GError) gerr = nullptr;
  g_assert_false(
      gst_uri_handler_set_uri(GST_URI_HANDLER(src), "kling://?prompt=x&poll-interval=10", &gerr));
  g_assert_true(
      gst_uri_handler_set_uri(GST_URI_HANDLER(src), "kling://?prompt=x&variation=3", nullptr));
  g_autofree char* uri = gst_uri_handler_get_uri(GST_URI_HANDLER(src));
  g_assert_true(contains(uri, "variation=3"));
  gst_object_unref(src);
}

// A limit the user set in the environment but that is no amount is refused, never
// taken for "no limit": nothing quoted, nothing submitted.
void test_unreadable_limit_in_the_environment_refuses(Fixture* f, gconstpointer) {
  for (const char* name : {"KLING_MAX_COST", "KLING_DAILY_BUDGET"}) {
    for (const char* value : {"abc", "1,50", "-2"}) {
      g_setenv(name, value, TRUE);
      auto run = make_run(*f->fake, ledger_path());
      play_to_end(*run);
      g_unsetenv(name);
      assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS, name);
      g_assert_true(contains(run->error->message, value));
      g_assert_cmpint(f->fake->count("api", "POST"), ==, 0);
    }
  }
  // The property set wins over the environment, readable or not.
  f->fake->price_reply = FakeReply{200, R"({"code":200,"data":{"price":1.3}})"};
  g_setenv("KLING_MAX_COST", "abc", TRUE);
  auto run = make_run(*f->fake, ledger_path());
  g_object_set(run->src, "max-cost", 5.0, nullptr);
  play_to_end(*run);
  g_unsetenv("KLING_MAX_COST");
  g_assert_no_error(run->error);
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);
}

// ------------------------------------------- one body, whatever catalogue was on disk at start

// How a run of kUnknownModel with seed "42" (an integer in the catalogue) is asked for.
enum class Asked { Params, Uri };

std::unique_ptr<Run> seed_run(FakeWaveSpeed& fake, const std::string& ledger, Asked asked,
                              const std::string& cache_dir = {}) {
  auto run = make_run(fake, ledger);
  if (asked == Asked::Params) {
    g_object_set(run->src, "model", kUnknownModel, nullptr);
    gst_util_set_object_arg(G_OBJECT(run->src), "params", "p,seed=(string)42,mode=pro");
  } else {  // a URI's values are strings: typed by the schema alone
    const std::string uri = std::string("kling://") + kUnknownModel +
                            "?prompt=a%20fox%20that%20costs%20money&seed=42&mode=pro";
    g_assert_true(gst_uri_handler_set_uri(GST_URI_HANDLER(run->src), uri.c_str(), nullptr));
  }
  if (!cache_dir.empty()) g_object_set(run->src, "cache-dir", cache_dir.c_str(), nullptr);
  return run;
}

// Run 1 starts with no catalogue on disk (its fields named as given), fetches it and
// submits; run 2 starts with the catalogue on disk (its fields typed). One body, one
// submit: run 2 replays from the ledger (or from the cache, with a cache-dir).
void paid_once_across_a_catalogue_fetch(Fixture* f, Asked asked, bool with_cache) {
  f->fake->catalog = kCatalog;
  forget_catalogue(f->fake->api_url());
  const std::string ledger = ledger_path();
  g_autofree char* cache_dir = g_dir_make_tmp("kling-money-cache-XXXXXX", nullptr);
  const std::string cache = with_cache ? cache_dir : "";
  auto first = seed_run(*f->fake, ledger, asked, cache);
  play_to_end(*first);
  g_assert_no_error(first->error);
  g_assert_true(first->bytes == f->fake->video);
  g_assert_cmpint(f->fake->count("catalog", "GET"), ==, 1);
  g_assert_true(g_file_test(catalogue_file(f->fake->api_url()).c_str(), G_FILE_TEST_EXISTS));

  auto second = seed_run(*f->fake, ledger, asked, cache);
  play_to_end(*second);
  g_assert_no_error(second->error);
  g_assert_true(second->bytes == f->fake->video);
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);
  if (with_cache)
    g_assert_true(
        progress_says(*second, ("Found the cached video of task " + f->fake->task_id).c_str()));
  else
    g_assert_true(progress_says(*second, ("Replay of task " + f->fake->task_id).c_str()));
  forget_catalogue(f->fake->api_url());
}

void test_params_paid_once_across_a_catalogue_fetch(Fixture* f, gconstpointer) {
  paid_once_across_a_catalogue_fetch(f, Asked::Params, false);
}

void test_uri_paid_once_across_a_catalogue_fetch(Fixture* f, gconstpointer) {
  paid_once_across_a_catalogue_fetch(f, Asked::Uri, false);
}

void test_cached_once_across_a_catalogue_fetch(Fixture* f, gconstpointer) {
  paid_once_across_a_catalogue_fetch(f, Asked::Params, true);
}

// A row written under the name start() gives without a schema (as an earlier version
// recorded it, or a run whose catalogue could not be had) is still found once the
// worker has the catalogue and names the request by its typed body.
void test_row_under_the_untyped_name_still_found(Fixture* f, gconstpointer) {
  forget_catalogue(f->fake->api_url());
  const std::string ledger = ledger_path();
  auto first = seed_run(*f->fake, ledger, Asked::Params);  // no catalogue: fields as given
  play_to_end(*first);
  g_assert_no_error(first->error);
  g_assert_false(g_file_test(catalogue_file(f->fake->api_url()).c_str(), G_FILE_TEST_EXISTS));

  f->fake->catalog = kCatalog;  // now it can be had: this run types its fields
  auto second = seed_run(*f->fake, ledger, Asked::Params);
  play_to_end(*second);
  g_assert_no_error(second->error);
  g_assert_true(second->bytes == f->fake->video);
  g_assert_true(progress_says(*second, ("Replay of task " + f->fake->task_id).c_str()));
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);
  forget_catalogue(f->fake->api_url());
}

}  // namespace

#define ADD(path, fn) g_test_add(path, Fixture, nullptr, setup, fn, teardown)

int main(int argc, char** argv) {
  unset_kling_environment();
  gst_init(&argc, &argv);
  g_test_init(&argc, &argv, nullptr);
  ADD("/klingsrc/one-charge/quote-and-balance-asked-and-shown-before-submit",
      test_quote_and_balance_before_submit);
  ADD("/klingsrc/one-charge/balance-below-quote-submits-nothing",
      test_balance_below_quote_submits_nothing);
  ADD("/klingsrc/one-charge/error-reply-naming-a-task-keeps-it",
      test_error_reply_naming_a_task_keeps_it);
  ADD("/klingsrc/one-charge/two-elements-one-process-one-submit",
      test_two_elements_one_process_one_submit);
  ADD("/klingsrc/one-charge/unreadable-limit-in-environment-refuses",
      test_unreadable_limit_in_the_environment_refuses);
  ADD("/klingsrc/one-charge/params-typed-by-a-catalogue-fetched-in-run-one-paid-once",
      test_params_paid_once_across_a_catalogue_fetch);
  ADD("/klingsrc/one-charge/uri-typed-by-a-catalogue-fetched-in-run-one-paid-once",
      test_uri_paid_once_across_a_catalogue_fetch);
  ADD("/klingsrc/one-charge/cache-entry-named-by-the-typed-body",
      test_cached_once_across_a_catalogue_fetch);
  ADD("/klingsrc/one-charge/row-under-the-untyped-name-still-found",
      test_row_under_the_untyped_name_still_found);
  g_test_add_func("/klingsrc/one-charge/uri/poll-interval-and-timeout-limits", test_uri_limits);
  return g_test_run();
}
