// Issue #13's acceptance review: what a new user found trying the element against
// servers the other suites had not used, each against the fake API and CDN on loopback.
//   - `timeout` bounds every request before the video is ready, the model catalogue
//     and the quote included, not only the submit and the polls;
//   - a submit answered at once with its output (a synchronous mode) is on the ledger
//     with that output: the next run replays it instead of paying again;
//   - tags reach the sink behind a demuxer in push mode (`klingsrc ! queue ! decodebin`)
//     as they do in pull mode.
#include <glib/gstdio.h>
#include <gst/gst.h>

#include <chrono>
#include <memory>
#include <string>

#include "fake_wavespeed.h"
#include "pipeline_run.h"

namespace {

constexpr const char* kPrompt = "a red fox in snow";
using Clock = std::chrono::steady_clock;

struct Fixture {
  std::unique_ptr<FakeWaveSpeed> fake;
  char* dir;
};

void setup(Fixture* f, gconstpointer) {
  f->fake = std::make_unique<FakeWaveSpeed>();
  f->fake->video = random_bytes(512 * 1024 + 7);
  f->dir = g_dir_make_tmp("test-accept13-XXXXXX", nullptr);
}

void teardown(Fixture* f, gconstpointer) {
  f->fake.reset();
  g_autofree char* cmd = g_strdup_printf("rm -rf '%s'", f->dir);
  g_assert_cmpint(system(cmd), ==, 0);
  g_free(f->dir);
}

std::unique_ptr<Run> make_run(FakeWaveSpeed& fake, const std::string& journal = "",
                              const std::string& desc = "klingsrc name=src ! fakesink name=sink") {
  auto run = parse_run(desc);
  g_object_set(run->src, "api-url", fake.api_url().c_str(), "api-key", fake.key.c_str(),
               "poll-interval", 20u, "journal", journal.c_str(), "prompt", kPrompt, nullptr);
  return run;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

FakeReply hang() {
  FakeReply r;
  r.hang = true;
  return r;
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
  g_autofree char* journal = g_build_filename(f->dir, "ledger.db", nullptr);
  for (int round = 1; round <= 2; round++) {
    auto run = make_run(fake, journal);
    play_to_end(*run, 20);
    g_assert_null(run->error);
    g_assert_true(run->eos);
    g_assert_true(run->bytes == fake.video);
    if (round == 2)
      g_assert_true(progress_says(*run, "costs nothing"));
  }
  g_assert_cmpint(fake.count("api", "POST"), ==, 1);  // one submit, one charge
  g_assert_cmpint(fake.count("api", "GET"), ==, 0);   // and never a poll
}

// A queue before decodebin puts the element in push mode: its one tag event
// reached qtdemux before qtdemux had pads, and went nowhere. (A small blocksize:
// GStreamer 1.22's queue ! decodebin can stall on a file of two or three blocks.
// Only faststart: qtdemux in push mode keeps a small file with its moov at the
// end whole until its last byte, so no read comes after its pads.)
void test_tags_reach_the_sink_in_push_mode(Fixture* f, gconstpointer) {
  f->fake->video = make_mp4(true);
  auto run = make_run(*f->fake, "", "klingsrc name=src blocksize=4096 ! queue ! decodebin ! fakesink name=sink");
  g_assert_true(title_reaches_sink(*run, kPrompt, 60));
  g_assert_true(run->eos);
  GstPad* src_pad = gst_element_get_static_pad(run->src, "src");
  g_assert_cmpint(GST_PAD_MODE(src_pad), ==, GST_PAD_MODE_PUSH);  // it was push mode
  gst_object_unref(src_pad);
}

}  // namespace

int main(int argc, char** argv) {
  g_unsetenv("WAVESPEED_API_KEY");
  g_unsetenv("WAVESPEED_BASE_URL");
  gst_init(&argc, &argv);
  g_test_init(&argc, &argv, nullptr);
#define ADD(path, fn) g_test_add(path, Fixture, nullptr, setup, fn, teardown)
  ADD("/accept13/deadline/covers-an-unanswered-catalogue", test_deadline_covers_an_unanswered_catalogue);
  ADD("/accept13/deadline/covers-an-unanswered-quote", test_deadline_covers_an_unanswered_quote);
  ADD("/accept13/ledger/synchronous-reply-is-replayed-not-paid-again",
      test_synchronous_reply_is_replayed_not_paid_again);
  ADD("/accept13/tags/reach-the-sink-in-push-mode", test_tags_reach_the_sink_in_push_mode);
  return g_test_run();
}
