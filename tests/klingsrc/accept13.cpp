// SPDX-License-Identifier: LGPL-2.1-or-later
// Issue #13's acceptance review: what a new user found trying the element against
// servers the other suites had not used, each against the fake API and CDN on loopback.
//   - `timeout` bounds every request before the video is ready, the model catalogue
//     and the quote included, not only the submit and the polls;
//   - a submit answered at once with its output (a synchronous mode) is on the ledger
//     with that output: the next run replays it instead of paying again;
//   - tags reach the sink behind a demuxer in push mode (`klingsrc ! queue ! decodebin`)
//     as they do in pull mode;
//   - a proxy that refuses the tunnel to the API is not WaveSpeed refusing a task that
//     may exist: the submit never left, and the error says so.
#include <arpa/inet.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "support/fake_wavespeed.h"
#include "support/pipeline_run.h"

namespace {

constexpr const char* kPrompt = "a red fox in snow";
using Clock = std::chrono::steady_clock;

using Fixture = FakeApiFixture;

void setup(Fixture* f, gconstpointer) {
  fake_api_setup(f, 512 * 1024 + 7, "test-accept13-XXXXXX");
}
void teardown(Fixture* f, gconstpointer) {
  fake_api_teardown(f);
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
    if (round == 2) g_assert_true(progress_says(*run, "costs nothing"));
  }
  g_assert_cmpint(fake.count("api", "POST"), ==, 1);  // one submit, one charge
  g_assert_cmpint(fake.count("api", "GET"), ==, 0);   // and never a poll
}

// A queue before the demuxer puts the element in push mode: its one tag event
// reached qtdemux before qtdemux had pads, and went nowhere. Only faststart:
// qtdemux in push mode keeps a small file with its moov at the end whole until
// its last byte, so no read comes after its pads. (A queue of one buffer: GStreamer
// 1.22's queue drops a source's ALLOCATION query without answering it once the
// demuxer downstream has said EOS, and the source waits for ever: a small file all
// queued before qtdemux has pads does that, with filesrc as with klingsrc.)
void test_tags_reach_the_sink_in_push_mode(Fixture* f, gconstpointer) {
  f->fake->video = make_mp4(true);
  auto run = make_run(*f->fake, "",
                      "klingsrc name=src blocksize=4096 ! queue max-size-buffers=1 ! decodebin ! "
                      "fakesink name=sink");
  g_assert_true(title_reaches_sink(*run, kPrompt, 60));
  g_assert_true(run->eos);
  GstPad* src_pad = gst_element_get_static_pad(run->src, "src");
  g_assert_cmpint(GST_PAD_MODE(src_pad), ==, GST_PAD_MODE_PUSH);  // it was push mode
  gst_object_unref(src_pad);
}

// An HTTP proxy on loopback that answers every request (a CONNECT among them)
// 502 and closes: it cannot reach the host asked for.
class RefusingProxy {
 public:
  RefusingProxy() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    g_assert_cmpint(bind(fd_, reinterpret_cast<sockaddr*>(&addr), len), ==, 0);
    g_assert_cmpint(listen(fd_, 8), ==, 0);
    g_assert_cmpint(getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len), ==, 0);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] {
      for (;;) {
        int c = accept(fd_, nullptr, nullptr);
        if (c < 0) return;  // shut down
        std::string head;
        char buf[1024];
        while (head.find("\r\n\r\n") == std::string::npos) {
          ssize_t n = read(c, buf, sizeof buf);
          if (n <= 0) break;
          head.append(buf, static_cast<size_t>(n));
        }
        if (head.rfind("CONNECT ", 0) == 0) connects_++;
        static const char kReply[] =
            "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        g_assert_cmpint(write(c, kReply, sizeof kReply - 1), ==,
                        static_cast<ssize_t>(sizeof kReply - 1));
        close(c);
      }
    });
  }
  ~RefusingProxy() {
    shutdown(fd_, SHUT_RDWR);
    thread_.join();
    close(fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int connects() const { return connects_; }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::atomic<int> connects_{0};
  std::thread thread_;
};

// The API on https behind a proxy that cannot reach it: the POST never left this
// machine (no tunnel, nothing written), so no task exists. The error used to say
// "WaveSpeed refused the task" and, in its details, that the task may have been
// created: check the dashboard.
void test_proxy_refusing_the_tunnel_is_no_possible_task(Fixture* f, gconstpointer) {
  RefusingProxy proxy;
  g_autofree char* journal = g_build_filename(f->dir, "ledger.db", nullptr);
  for (int round = 1; round <= 2; round++) {
    auto run = parse_run("klingsrc name=src ! fakesink name=sink");
    g_object_set(run->src, "api-url", "https://api.wavespeed.example", "api-key", "test-key",
                 "proxy", proxy.url().c_str(), "journal", journal, "prompt", kPrompt, nullptr);
    play_to_end(*run, 20);
    g_assert_nonnull(run->error);
    g_assert_true(contains(run->error->message, "never reached WaveSpeed"));
    g_assert_false(contains(run->error->message, "WaveSpeed refused"));
    g_assert_false(contains(run->debug, "may have been created"));
    // The ledger agrees: the second run tries again, it is not refused as unanswered.
    g_assert_false(contains(run->error->message, "never got its reply"));
  }
  g_assert_cmpint(proxy.connects(), >=, 2);  // the submit of each run went to the proxy
}

}  // namespace

int main(int argc, char** argv) {
  g_unsetenv("WAVESPEED_API_KEY");
  g_unsetenv("WAVESPEED_BASE_URL");
  gst_init(&argc, &argv);
  g_test_init(&argc, &argv, nullptr);
#define ADD(path, fn) g_test_add(path, Fixture, nullptr, setup, fn, teardown)
  ADD("/accept13/deadline/covers-an-unanswered-catalogue",
      test_deadline_covers_an_unanswered_catalogue);
  ADD("/accept13/deadline/covers-an-unanswered-quote", test_deadline_covers_an_unanswered_quote);
  ADD("/accept13/ledger/synchronous-reply-is-replayed-not-paid-again",
      test_synchronous_reply_is_replayed_not_paid_again);
  ADD("/accept13/tags/reach-the-sink-in-push-mode", test_tags_reach_the_sink_in_push_mode);
  ADD("/accept13/proxy/refused-tunnel-is-no-possible-task",
      test_proxy_refusing_the_tunnel_is_no_possible_task);
  return g_test_run();
}
