// SPDX-License-Identifier: LGPL-2.1-or-later
// The GStreamer-free money pieces on their own: the price and balance replies and
// the checks they must pass, a request's origin in its fingerprint, and the cache
// entry as one verified object (across processes too, with fork). No network. The
// ledger's rules have their own suite (ledger.cpp), run against both its stores.
#include <glib.h>
#include <glib/gstdio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utime.h>

#include <string>
#include <vector>

#include "core/request/request.h"
#include "core/storage/download_store.h"
#include "core/storage/video_cache.h"
#include "core/wavespeed/api_client.h"
#include "core/wavespeed/pricing.h"
#include "support/processes.h"
#include "support/store_helpers.h"

namespace {

std::string temp_dir() {
  g_autofree char* dir = g_dir_make_tmp("kling-money-XXXXXX", nullptr);
  return dir;
}

// ---------------------------------------------------------------- fingerprint

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
  g_test_add_func("/ledger/identity-names-the-origin-not-its-spelling",
                  test_identity_names_the_origin_not_its_spelling);
  g_test_add_func("/price/replies", test_price_and_balance_replies);
  g_test_add_func("/price/checks-before-submit", test_checks_before_a_submit);
  g_test_add_func("/cache/entry-is-one-verified-object", test_cache_entry_is_one_verified_object);
  g_test_add_func("/cache/two-processes-write-one-entry", test_two_processes_write_one_entry);
  g_test_add_func("/cache/evicts-least-recently-used", test_cache_evicts_least_recently_used);
  g_test_add_func("/cache/removes-temporaries-a-dead-writer-left",
                  test_cache_removes_temporaries_a_dead_writer_left);
  return g_test_run();
}
