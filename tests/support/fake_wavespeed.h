// SPDX-License-Identifier: LGPL-2.1-or-later
// A scriptable WaveSpeed API and CDN on loopback for the element's tests:
// three SoupServers (API, CDN and upload storage on different ports, the CDN on
// 127.0.0.2 and the storage on 127.0.0.3 when the machine has them) on a thread
// of their own with their own GMainContext, so they answer while the test
// blocks in GstHarness or a bus wait.
#pragma once

#include <libsoup/soup.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "support/server_thread.h"

struct FakeReply {
  unsigned status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::map<std::string, std::string> headers;
  bool hang = false;  // never answer (the connection stays open)
  // When set: headers announcing the full Content-Length, then only the first
  // `cut_after` bytes of `body`, then the connection closes.
  std::optional<size_t> cut_after;
  bool chunked = false;  // with cut_after: a chunked reply cut before its last chunk
  std::optional<uint64_t> content_length;  // with cut_after: announced instead of body.size()
  bool until_close =
      false;  // with cut_after: no length at all, the body ends when the connection closes

  // A reply that never comes (the connection stays open).
  static FakeReply hung() {
    FakeReply r;
    r.hang = true;
    return r;
  }
};

struct RecordedRequest {
  // "api" (submit, poll), "catalog" (GET /api/v3/models), "media" (/api/v3/media/...),
  // "cdn" or "storage" (the upload PUTs)
  std::string server;
  std::string method;
  std::string path;
  std::string authorization;  // "" when absent
  std::string range;
  std::string if_range;
  std::string body;
  std::map<std::string, std::string> headers;         // every request header, names as sent
  std::string header(const std::string& name) const;  // case-insensitive, "" when absent
};

class FakeWaveSpeed {
 public:
  FakeWaveSpeed();
  ~FakeWaveSpeed();

  std::string api_url() const { return api_url_; }
  std::string cdn_url() const { return cdn_url_; }
  std::string output_url() const { return cdn_url_ + output_path; }
  std::string storage_url() const { return storage_url_; }

  // ---- script (set before the element runs; read under the lock) ----
  std::string key = "test-key";
  std::string task_id = "task-0123abcd";
  std::atomic<int> polls_until_done{
      2};  // polls answered "processing" first (a test may change it mid-run)
  std::string final_status = "completed";
  std::string fail_error = "content moderation flagged the prompt";
  int fail_code = 1200;
  std::string video;                               // bytes the CDN serves
  std::string output_path = "/outputs/video.mp4";  // where (change only while nothing runs)
  std::optional<size_t> range_cap;                 // a 206 carries at most this many bytes
  bool range_total_unknown = false;                // a 206 says "bytes a-b/*"
  bool get_url_is_bare = false;  // urls.get as /predictions/{id} instead of .../result
  std::string catalog;           // GET /api/v3/models answers this (404 when empty)
  // The upload ticket's headers the storage requires on the PUT (besides no Authorization).
  std::map<std::string, std::string> upload_headers = {{"Content-Type", "image/png"},
                                                       {"x-upload-token", "tok-1"}};
  std::string etag;  // the video's ETag; a Range whose If-Range differs gets it whole
  // Overrides: return a reply to send instead of the default one.
  std::function<std::optional<FakeReply>(int n)> on_submit;  // n: 1-based count
  std::function<std::optional<FakeReply>(int n)> on_poll;
  std::function<std::optional<FakeReply>(int n, const std::string& range)> on_download;
  std::function<std::optional<FakeReply>(int n)> on_catalog;

  // What the storage took: the PUT bodies it accepted, in order.
  std::vector<std::string> uploaded() const;
  // The quote and balance endpoints (404 when unset: an API without them). Their
  // requests are kept apart from requests(): they make no task.
  std::optional<FakeReply> price_reply;
  std::optional<FakeReply> balance_reply;

  // ---- what arrived ----
  std::vector<RecordedRequest> requests() const;
  int count(const std::string& server, const std::string& method) const;
  // Waits (bounded) until `count(server, method) >= n`.
  bool wait_for_count(const std::string& server, const std::string& method, int n,
                      unsigned timeout_ms) const;

  // Requests to the quote and balance endpoints.
  std::vector<RecordedRequest> money_requests() const;

  std::string task_json(const std::string& status) const;

 private:
  static void handle(SoupServer* server, SoupServerMessage* msg, const char* path,
                     GHashTable* query, gpointer user_data);
  void handle_api(SoupServerMessage* msg, const std::string& path, RecordedRequest& rec);
  void handle_cdn(SoupServerMessage* msg, const std::string& path, RecordedRequest& rec);
  void handle_meta(SoupServerMessage* msg, const std::string& path, RecordedRequest& rec);
  void handle_storage(SoupServerMessage* msg, const std::string& path, RecordedRequest& rec);
  void send(SoupServerMessage* msg, const FakeReply& reply);
  // The request's 1-based number among those `counter` counts.
  int next(int* counter) {
    std::lock_guard<std::mutex> lock(mutex_);
    return ++*counter;
  }
  // Sends what the test's `hook` answers for this request, if it is set and answers.
  template <typename Hook, typename... Args>
  bool scripted(const Hook& hook, SoupServerMessage* msg, const Args&... args) {
    if (!hook) return false;
    std::optional<FakeReply> reply = hook(args...);
    if (reply) send(msg, *reply);
    return reply.has_value();
  }

  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::vector<RecordedRequest> requests_;
  int submits_ = 0, polls_ = 0, downloads_ = 0, catalogs_ = 0, tickets_ = 0;
  std::vector<std::string> uploaded_;
  std::vector<RecordedRequest> money_requests_;
  std::vector<SoupServerMessage*> hung_;

  SoupServer* api_ = nullptr;
  SoupServer* cdn_ = nullptr;
  SoupServer* storage_ = nullptr;
  std::string api_url_, cdn_url_, storage_url_;
  std::unique_ptr<ServerThread> server_thread_;
};

// Builds small real MP4 files once per test process (videotestsrc ! x264enc ! mp4mux).
std::string make_mp4(bool faststart);

// The g_test fixture of the element suites: a fake WaveSpeed serving
// `video_size` random bytes, and a scratch folder removed with all it holds.
struct FakeApiFixture {
  std::unique_ptr<FakeWaveSpeed> fake;
  char* dir = nullptr;
};
// `dir_template` as g_dir_make_tmp() takes it ("test-NAME-XXXXXX").
void fake_api_setup(FakeApiFixture* f, size_t video_size, const char* dir_template);
void fake_api_teardown(FakeApiFixture* f);
// Removes a scratch folder and everything in it, then frees its name.
void remove_scratch_dir(char* dir);
