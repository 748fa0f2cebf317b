// SPDX-License-Identifier: LGPL-2.1-or-later
// refetch(): bytes a DownloadStore let go of, read again from a real HTTP
// server on loopback (the scriptable fake CDN and API), without GStreamer.
#include <glib.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "core/storage/download_store.h"
#include "core/storage/range_refetch.h"
#include "support/fake_wavespeed.h"
#include "support/pipeline_run.h"
#include "support/store_helpers.h"

using kling::DownloadStore;
using kling::Refetch;
using Where = DownloadStore::Piece::Where;

namespace {

constexpr size_t kChunk = DownloadStore::kChunkSize;
constexpr size_t kMiB = 1024 * 1024;

struct Fixture {
  std::unique_ptr<FakeWaveSpeed> fake;
  std::unique_ptr<DownloadStore> store;
  kling::Request request;
};

// A finished download the reader took chunk by chunk as it came: everything
// but the last chunks was let go.
void setup(Fixture* f, gconstpointer) {
  f->fake = std::make_unique<FakeWaveSpeed>();
  f->fake->video = random_bytes(6 * kMiB + 99);
  f->fake->polls_until_done = 0;
  kling::Error error;
  f->store = DownloadStore::create(&error);
  g_assert_nonnull(f->store.get());
  download_into(*f->store, f->fake->video, true);
  f->store->set_source(f->fake->output_url());
  f->request.api_url = f->fake->api_url();
  f->request.api_key = f->fake->key;
  f->request.poll_interval_ms = 20;
  f->request.request_timeout_s = 5;
}

void teardown(Fixture* f, gconstpointer) {
  f->store.reset();
  f->fake.reset();
}

// refetch() as an int, for g_assert_cmpint.
int run(Fixture* f, uint64_t offset, uint64_t size, kling::Error* error,
        GCancellable* cancellable = nullptr) {
  return static_cast<int>(
      kling::refetch(f->request, *f->store, offset, size, cancellable, f->fake->task_id, error));
}

int cdn_gets(FakeWaveSpeed& fake) {
  return fake.count("cdn", "GET");
}

void test_reads_a_bounded_range(Fixture* f, gconstpointer) {
  g_assert_true(f->store->locate(kMiB, kMiB, false)[0].where == Where::Hole);
  kling::Error error;
  g_assert_cmpint(run(f, kMiB, kMiB, &error), ==, static_cast<int>(Refetch::Done));
  g_assert_true(bytes_at(*f->store, kMiB, kMiB) == f->fake->video.substr(kMiB, kMiB));
  auto reqs = f->fake->requests();
  g_assert_cmpuint(reqs.size(), ==, 1);
  g_assert_cmpstr(reqs[0].range.c_str(), ==, "bytes=1048576-2097151");
  g_assert_cmpstr(reqs[0].authorization.c_str(), ==, "");  // the key never goes to the CDN
  g_assert_true(f->store->locate(0, kMiB, false)[0].where == Where::Hole);  // nothing else read
}

// A server that ignores Range sends the whole file: one pass keeps it all,
// instead of reading it from byte 0 again for every hole.
void test_server_ignoring_range_is_read_once(Fixture* f, gconstpointer) {
  const std::string video = f->fake->video;
  f->fake->on_download = [video](int, const std::string&) -> std::optional<FakeReply> {
    FakeReply r{200, video, "video/mp4"};
    r.cut_after = video.size();  // written raw: SoupServer would answer the Range itself
    return r;
  };
  kling::Error error;
  g_assert_cmpint(run(f, 3 * kMiB, kMiB, &error), ==, static_cast<int>(Refetch::Done));
  g_assert_cmpint(cdn_gets(*f->fake), ==, 1);  // its start is kept too, not dropped and asked again
  g_assert_true(bytes_at(*f->store, 0, video.size()) == video);  // no hole left anywhere
}

// A CDN that answers each Range with at most 256 KiB: asked again at once, no
// failure counted (retries=0 would otherwise end it).
void test_capped_ranges_are_followed(Fixture* f, gconstpointer) {
  f->fake->range_cap = 256 * 1024;
  f->request.retries = 0;
  kling::Error error;
  g_assert_cmpint(run(f, 100, 2 * kMiB, &error), ==, static_cast<int>(Refetch::Done));
  g_assert_true(bytes_at(*f->store, 100, 2 * kMiB) == f->fake->video.substr(100, 2 * kMiB));
  g_assert_cmpint(cdn_gets(*f->fake), ==, 8);  // 2 MiB in 256 KiB replies
}

// "bytes a-b/*" capped replies: no total, so none of them is the end of the file.
void test_capped_ranges_without_total_are_followed(Fixture* f, gconstpointer) {
  f->fake->range_cap = 256 * 1024;
  f->fake->range_total_unknown = true;
  kling::Error error;
  g_assert_cmpint(run(f, 100, kMiB, &error), ==, static_cast<int>(Refetch::Done));
  g_assert_true(bytes_at(*f->store, 100, kMiB) == f->fake->video.substr(100, kMiB));
}

// A range that ends before it starts (an empty 206) is not progress: retried
// with backoff up to `retries`, never asked again in a tight loop.
void test_range_ending_before_its_start_is_refused(Fixture* f, gconstpointer) {
  const size_t size = f->fake->video.size();
  f->fake->on_download = [size](int, const std::string& range) -> std::optional<FakeReply> {
    unsigned long long start = 0;
    sscanf(range.c_str(), "bytes=%llu-", &start);
    FakeReply r{206, "", "video/mp4"};
    r.headers["Content-Range"] = "bytes " + std::to_string(start) + "-" +
                                 std::to_string(start - 1) + "/" + std::to_string(size);
    return r;
  };
  f->request.retries = 2;
  kling::Error error;
  g_assert_cmpint(run(f, kMiB, kMiB, &error), ==, static_cast<int>(Refetch::Failed));
  g_assert_true(error.kind == kling::ErrorKind::Network);
  g_assert_true(contains(error.message, "different range"));
  g_assert_cmpint(cdn_gets(*f->fake), ==, 3);
}

// A refused output URL may have been replaced: the prediction is read again
// (with the key, from the API) and the new URL used.
void test_refused_url_is_looked_up_again(Fixture* f, gconstpointer) {
  f->fake->output_path = "/outputs/renewed.mp4";  // the old URL now answers 404
  kling::Error error;
  g_assert_cmpint(run(f, 0, kMiB, &error), ==, static_cast<int>(Refetch::Done));
  g_assert_true(bytes_at(*f->store, 0, kMiB) == f->fake->video.substr(0, kMiB));
  assert_str_eq(f->store->source(), f->fake->output_url());
  bool asked_api = false;
  for (const auto& r : f->fake->requests()) {
    if (r.server == "api") {
      asked_api = true;
      assert_str_eq(r.path, "/api/v3/predictions/" + f->fake->task_id + "/result");
      assert_str_eq(r.authorization, "Bearer " + f->fake->key);
    } else {
      g_assert_cmpstr(r.authorization.c_str(), ==, "");
    }
  }
  g_assert_true(asked_api);
}

void test_refusal_is_an_error_with_the_task(Fixture* f, gconstpointer) {
  f->fake->on_download = [](int, const std::string&) -> std::optional<FakeReply> {
    return FakeReply{410, "gone", "text/plain"};
  };
  kling::Error error;
  g_assert_cmpint(run(f, 0, kMiB, &error), ==, static_cast<int>(Refetch::Failed));
  g_assert_true(error.kind == kling::ErrorKind::NotFound);
  g_assert_cmpuint(error.http_status, ==, 410);
  g_assert_true(contains(error.message, f->fake->task_id));
  g_assert_true(contains(error.message, "HTTP 410"));
  g_assert_cmpint(cdn_gets(*f->fake), ==, 1);  // the prediction still names the same URL
  g_assert_cmpint(f->fake->count("api", "GET"), ==, 1);
}

void test_changed_file_is_refused(Fixture* f, gconstpointer) {
  f->fake->video += "more";
  kling::Error error;
  g_assert_cmpint(run(f, kMiB, kMiB, &error), ==, static_cast<int>(Refetch::Failed));
  g_assert_true(error.kind == kling::ErrorKind::BadReply);
  g_assert_true(contains(error.message, "no longer the one"));
  g_assert_true(f->store->locate(kMiB, kMiB, false)[0].where == Where::Hole);  // nothing mixed in
}

// The file was replaced by another of the same size: the range is asked
// If-Range the version streamed before, and nothing of the new file is mixed in.
void test_replaced_file_behind_its_etag_is_refused(Fixture* f, gconstpointer) {
  f->store->set_version({"\"v1\"", "", std::nullopt});
  f->fake->video = random_bytes(f->fake->video.size());
  f->fake->etag = "\"v2\"";
  kling::Error error;
  g_assert_cmpint(run(f, kMiB, kMiB, &error), ==, static_cast<int>(Refetch::Failed));
  g_assert_true(contains(error.message, "no longer the one"));
  g_assert_true(contains(error.debug, "\"v2\""));
  g_assert_true(
      f->fake->wait_for_count("cdn", "GET", 1, 10000));  // a raw reply is recorded after it is sent
  auto reqs = f->fake->requests();
  g_assert_cmpuint(reqs.size(), ==, 1);
  assert_str_eq(reqs[0].if_range, "\"v1\"");
  g_assert_true(f->store->locate(kMiB, kMiB, false)[0].where == Where::Hole);  // nothing mixed in
}

void test_cancel_ends_a_hung_read(Fixture* f, gconstpointer) {
  f->fake->on_download = [](int, const std::string&) -> std::optional<FakeReply> {
    FakeReply r;
    r.hang = true;
    return r;
  };
  g_autoptr(GCancellable) cancellable = g_cancellable_new();
  // Its wakeup fd made before the canceller starts, as the task runner does.
  GPollFD wakeup;
  g_cancellable_make_pollfd(cancellable, &wakeup);
  std::thread canceller([&] {
    f->fake->wait_for_count("cdn", "GET", 1, 5000);
    g_usleep(50 * 1000);
    g_cancellable_cancel(cancellable);
  });
  // Uncancelled, the read would wait an hour (request-timeout): returning at all, Cancelled,
  // shows the cancel ended it (a hang is the suite's timeout, not a measured duration).
  f->request.request_timeout_s = 3600;
  kling::Error error;
  const int result = run(f, 0, kMiB, &error, cancellable);
  canceller.join();
  g_assert_cmpint(result, ==, static_cast<int>(Refetch::Cancelled));
}

}  // namespace

int main(int argc, char** argv) {
  g_test_init(&argc, &argv, nullptr);
#define ADD(path, fn) g_test_add(path, Fixture, nullptr, setup, fn, teardown)
  ADD("/core/refetch/reads-a-bounded-range", test_reads_a_bounded_range);
  ADD("/core/refetch/server-ignoring-range-is-read-once", test_server_ignoring_range_is_read_once);
  ADD("/core/refetch/capped-ranges-are-followed", test_capped_ranges_are_followed);
  ADD("/core/refetch/capped-ranges-without-total-are-followed",
      test_capped_ranges_without_total_are_followed);
  ADD("/core/refetch/range-ending-before-its-start-is-refused",
      test_range_ending_before_its_start_is_refused);
  ADD("/core/refetch/refused-url-is-looked-up-again", test_refused_url_is_looked_up_again);
  ADD("/core/refetch/refusal-is-an-error-with-the-task", test_refusal_is_an_error_with_the_task);
  ADD("/core/refetch/changed-file-is-refused", test_changed_file_is_refused);
  ADD("/core/refetch/cancel-ends-a-hung-read", test_cancel_ends_a_hung_read);
  ADD("/core/refetch/replaced-file-behind-its-etag-is-refused",
      test_replaced_file_behind_its_etag_is_refused);
  return g_test_run();
}
