// SPDX-License-Identifier: LGPL-2.1-or-later
// What the element survives: a 5xx or a gateway page while polling, a 429 on
// the submit, a stalled poll, downloads cut short and resumed with Range (plain,
// chunked, capped 206s with and without a total).
#include <gst/gst.h>

#include <cstdio>
#include <string>

#include "support/klingsrc_case.h"

namespace {

using Fixture = FakeApiFixture;

void test_poll_retries_on_5xx_and_gateway(Fixture* f, gconstpointer) {
  f->fake->on_poll = [](int n) -> std::optional<FakeReply> {
    if (n == 1) return FakeReply{500, R"({"code":500,"message":"internal"})"};
    if (n == 2) return FakeReply{502, "<html>Bad Gateway</html>", "text/html"};
    return std::nullopt;
  };
  f->fake->polls_until_done = 3;
  auto run = make_run(*f->fake);
  play_to_end(*run);
  g_assert_no_error(run->error);
  g_assert_true(run->bytes == f->fake->video);
}

void test_submit_429_retried(Fixture* f, gconstpointer) {
  f->fake->on_submit = [](int n) -> std::optional<FakeReply> {
    if (n == 1) {
      FakeReply r{429, R"({"code":429,"message":"rate limited"})"};
      r.headers["Retry-After"] = "0";
      return r;
    }
    return std::nullopt;
  };
  auto run = make_run(*f->fake);
  play_to_end(*run);
  g_assert_no_error(run->error);
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 2);
}

// The first download stops after `cut` bytes (a plain or a chunked reply):
// the element must resume with Range from there and deliver every byte.
void assert_cut_download_resumed(Fixture* f, size_t cut, bool chunked) {
  const std::string video = f->fake->video;
  f->fake->on_download = [video, cut, chunked](int n,
                                               const std::string&) -> std::optional<FakeReply> {
    if (n != 1) return std::nullopt;
    FakeReply r{200, video, "video/mp4"};
    r.cut_after = cut;
    r.chunked = chunked;
    return r;
  };
  auto run = make_run(*f->fake);
  play_to_end(*run);
  g_assert_no_error(run->error);
  g_assert_true(run->bytes == f->fake->video);
  bool ranged = false;
  for (const auto& r : f->fake->requests())
    ranged |= r.server == "cdn" && r.range == "bytes=" + std::to_string(cut) + "-";
  g_assert_true(ranged);
}

void test_download_resumes_with_range(Fixture* f, gconstpointer) {
  assert_cut_download_resumed(f, 1000000, false);  // shorter than its Content-Length
}

// A CDN that answers each Range with 256 KiB and "bytes a-b/*" (no total): no
// reply is the end of the file, the download goes on to the last byte.
void test_capped_ranges_without_total_are_not_the_end(Fixture* f, gconstpointer) {
  const std::string video = f->fake->video;
  f->fake->on_download = [video](int n, const std::string&) -> std::optional<FakeReply> {
    if (n != 1) return std::nullopt;
    FakeReply r{200, video, "video/mp4"};
    r.cut_after = 1000000;
    return r;
  };
  f->fake->range_cap = kChunk;
  f->fake->range_total_unknown = true;
  auto run = make_run(*f->fake);
  play_to_end(*run);
  g_assert_no_error(run->error);
  g_assert_cmpuint(run->bytes.size(), ==, video.size());
  g_assert_true(run->bytes == video);
}

void test_processing_5004_keeps_polling(Fixture* f, gconstpointer) {
  f->fake->polls_until_done = 3;
  FakeWaveSpeed* fake = f->fake.get();
  f->fake->on_poll = [fake](int n) -> std::optional<FakeReply> {
    if (n > 3) return std::nullopt;
    std::string json = fake->task_json("processing");
    json.replace(json.find("\"error\":\"\""), 10,
                 "\"error\":\"sync wait timed out\",\"code\":5004");
    return FakeReply{200, json};
  };
  auto run = make_run(*f->fake);
  play_to_end(*run);
  g_assert_no_error(run->error);
  g_assert_true(run->bytes == f->fake->video);
}

void test_stalled_poll_caught_by_request_timeout(Fixture* f, gconstpointer) {
  f->fake->on_poll = [](int n) -> std::optional<FakeReply> {
    if (n == 1) return FakeReply::hung();  // this one never answers
    return std::nullopt;
  };
  f->fake->polls_until_done = 2;
  auto run = make_run(*f->fake);
  g_object_set(run->src, "request-timeout", 1u, nullptr);
  play_to_end(*run);
  g_assert_no_error(run->error);
  g_assert_true(run->bytes == f->fake->video);
}

void test_206_stopping_short_is_resumed(Fixture* f, gconstpointer) {
  const std::string video = f->fake->video;
  f->fake->on_download = [video](int n, const std::string& range) -> std::optional<FakeReply> {
    if (n == 1) {  // cut: the element resumes with Range...
      FakeReply r{200, video, "video/mp4"};
      r.cut_after = 1000000;
      return r;
    }
    if (n == 2) {  // ...and gets a well-formed 206 covering only part of what is left
      unsigned long long start = 0;
      sscanf(range.c_str(), "bytes=%llu-", &start);
      FakeReply r{206, video.substr(start, 50000), "video/mp4"};
      r.headers["Content-Range"] = "bytes " + std::to_string(start) + "-" +
                                   std::to_string(start + 49999) + "/" +
                                   std::to_string(video.size());
      return r;
    }
    return std::nullopt;
  };
  auto run = make_run(*f->fake);
  play_to_end(*run);
  g_assert_no_error(run->error);
  g_assert_true(run->bytes == f->fake->video);
  g_assert_cmpint(f->fake->count("cdn", "GET"), ==, 3);
}

void test_cut_chunked_reply_is_not_taken_whole(Fixture* f, gconstpointer) {
  // A chunked reply cut before its last chunk ends like a whole one to libsoup.
  assert_cut_download_resumed(f, 700000, true);
}

}  // namespace

int main(int argc, char** argv) {
  klingsrc_test_init(&argc, &argv);
  add_case("/klingsrc/retry/polls-survive-5xx-and-gateway-pages",
           test_poll_retries_on_5xx_and_gateway);
  add_case("/klingsrc/retry/submit-429-retried", test_submit_429_retried);
  add_case("/klingsrc/retry/download-resumes-with-range", test_download_resumes_with_range);
  add_case("/klingsrc/retry/capped-ranges-without-total-are-not-the-end",
           test_capped_ranges_without_total_are_not_the_end);
  add_case("/klingsrc/retry/processing-5004-keeps-polling", test_processing_5004_keeps_polling);
  add_case("/klingsrc/retry/stalled-poll-caught-by-request-timeout",
           test_stalled_poll_caught_by_request_timeout);
  add_case("/klingsrc/retry/206-stopping-short-is-resumed", test_206_stopping_short_is_resumed);
  add_case("/klingsrc/retry/cut-chunked-reply-is-not-taken-whole",
           test_cut_chunked_reply_is_not_taken_whole);
  return g_test_run();
}
