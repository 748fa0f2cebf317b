// SPDX-License-Identifier: LGPL-2.1-or-later
// The cache entry made cheaper without weakening it: its SHA-256 is taken from
// the bytes as they arrive (on a thread of its own, nettle's), not from the file
// read back; the hash is the one GLib spells (entries written before still
// verify); the hashing thread never holds more than a few chunks.
#include <dirent.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/session/element_session.h"
#include "core/storage/download_store.h"
#include "core/storage/video_cache.h"
#include "core/util/async_sha256.h"
#include "core/util/sha256.h"
#include "support/fake_wavespeed.h"
#include "support/pipeline_run.h"
#include "support/store_helpers.h"

namespace {

using Status = kling::ElementSession::Read::Status;

std::string glib_sha256(const std::string& bytes) {
  g_autofree char* sum = g_compute_checksum_for_data(
      G_CHECKSUM_SHA256, reinterpret_cast<const guchar*>(bytes.data()), bytes.size());
  return sum;
}

// Both strings outlive the comparison (a temporary's c_str() would not).
void same(const std::string& a, const std::string& b) {
  g_assert_cmpstr(a.c_str(), ==, b.c_str());
}

std::string pattern(size_t size, unsigned seed) {
  std::string s(size, '\0');
  for (size_t i = 0; i < size; i++) s[i] = static_cast<char>((seed + i * 7 + i / 4093) % 251);
  return s;
}

std::string temp_dir() {
  g_autofree char* dir = g_dir_make_tmp("kling-cacheperf-XXXXXX", nullptr);
  return dir;
}

void remove_dir(const std::string& dir) {
  g_autoptr(GDir) d = g_dir_open(dir.c_str(), 0, nullptr);
  while (const char* name = d ? g_dir_read_name(d) : nullptr) {
    g_autofree char* path = g_build_filename(dir.c_str(), name, nullptr);
    g_unlink(path);
  }
  g_rmdir(dir.c_str());
}

// Nettle's SHA-256 spells what GLib's did: entries written by GChecksum still
// verify, whatever the cut of the bytes (the empty string, block edges, odd pieces).
void test_sha256_is_glibs() {
  for (size_t size : {0, 1, 55, 56, 63, 64, 65, 1000, 262144 + 3}) {
    const std::string bytes = pattern(size, static_cast<unsigned>(size));
    kling::Sha256 whole;
    whole.update(bytes.data(), bytes.size());
    same(whole.hex(), glib_sha256(bytes));
    kling::Sha256 cut;
    for (size_t at = 0; at < size; at += 13)
      cut.update(bytes.data() + at, std::min<size_t>(13, size - at));
    same(cut.hex(), glib_sha256(bytes));
    same(cut.hex(), glib_sha256(bytes));  // hex() does not end it
  }
  same(kling::Sha256().hex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

// Pieces given to the hashing thread: hashed in order, each owner let go once
// its bytes are hashed, never more than kMaxQueued waiting (a writer ahead of
// the hash waits), hex() in the middle and more bytes after it.
void test_async_hash_in_order_bounded() {
  const std::string bytes = pattern(3 * 1024 * 1024 + 11, 5);
  std::atomic<size_t> released{0};
  size_t given = 0;
  size_t most_held = 0;
  kling::AsyncSha256 hash;
  const size_t half = bytes.size() / 2;
  auto give = [&](size_t from, size_t to) {
    for (size_t at = from; at < to;) {
      const size_t n = std::min<size_t>(4096 + at % 777, to - at);
      // Each piece its own copy, freed (and counted) when the hash lets go of it.
      auto* copy = new std::string(bytes, at, n);
      std::shared_ptr<const void> owner(copy, [&released](const std::string* s) {
        delete s;
        released++;
      });
      hash.update(owner, copy->data(), copy->size());
      owner.reset();
      given++;
      most_held = std::max(most_held, given - released.load());
      at += n;
    }
  };
  give(0, half);
  same(hash.hex(), glib_sha256(bytes.substr(0, half)));
  g_assert_cmpuint(released.load(), ==, given);  // all hashed: nothing held
  give(half, bytes.size());
  same(hash.hex(), glib_sha256(bytes));
  g_assert_cmpuint(released.load(), ==, given);
  // Queued, plus the one being hashed.
  g_assert_cmpuint(most_held, <=, kling::AsyncSha256::kMaxQueued + 1);
}

// Dropped with pieces still queued (a download stopped): no wait for them, no leak.
void test_async_hash_dropped_midway() {
  std::atomic<size_t> released{0};
  size_t given = 0;
  const std::string bytes = pattern(1 << 20, 9);  // outlives the hash (the owners below own none)
  {
    kling::AsyncSha256 hash;
    for (int i = 0; i < 40; i++, given++)
      hash.update(std::shared_ptr<const void>(new int(i),
                                              [&released](const int* p) {
                                                delete p;
                                                released++;
                                              }),
                  bytes.data(), bytes.size());
  }
  g_assert_cmpuint(released.load(), ==, given);
}

// A store made for the cache hashes what commit() took, across an early sha256()
// (a download stopped and resumed later on the same store); another store does not hash.
void test_store_hashes_what_arrived() {
  const std::string dir = temp_dir();
  kling::Error error;
  auto store = kling::DownloadStore::create(&error, dir);
  g_assert_nonnull(store.get());
  const std::string video = pattern(20 * kling::DownloadStore::kChunkSize + 99, 3);
  const size_t first = 7 * kling::DownloadStore::kChunkSize + 5;
  g_assert_true(store->set_total(video.size(), &error));
  auto commit = [&](size_t from, size_t to) {
    for (size_t at = from; at < to;) {
      size_t capacity = 0;
      char* buffer = store->write_buffer(&capacity);
      const size_t n = std::min(capacity, to - at);
      memcpy(buffer, video.data() + at, n);
      g_assert_true(store->commit(buffer, n, &error));
      at += n;
    }
  };
  commit(0, first);
  same(store->sha256().value_or(""), glib_sha256(video.substr(0, first)));
  commit(first, video.size());
  store->finish();
  same(store->sha256().value_or(""), glib_sha256(video));

  auto plain = kling::DownloadStore::create(&error);
  download_into(*plain, video, false);
  g_assert_false(plain->sha256().has_value());
  store.reset();
  remove_dir(dir);
}

// The entry's hash is that of the bytes that arrived (and were served), not of
// the file read back: a file that no longer holds them (here overwritten in
// place before the save) makes an entry that never replays. Reading the file
// back to hash it, as the cache did, made an entry of the wrong bytes.
void test_entry_hash_is_of_the_bytes_that_arrived() {
  const std::string dir = temp_dir();
  kling::Request r;
  r.prompt = "hashed as it arrived";
  const std::string video = pattern(3 * 1024 * 1024 + 1, 1);
  kling::Error error;
  auto store = kling::DownloadStore::create(&error, dir);
  g_assert_nonnull(store.get());
  download_into(*store, video, false);
  std::string why;
  g_assert_true(store->flush_to_disk(&why));
  const std::string other(4096, '#');
  g_assert_true(store->fill(1 << 20, other.data(), other.size(), &error));
  g_assert_true(kling::VideoCache(dir).save(r, r.fingerprint(), "task-h", *store, &why));
  std::string id;
  g_assert_null(kling::VideoCache(dir).open(r.fingerprint(), &id).get());

  // The same bytes untouched: the entry replays them, verified.
  kling::Request r2 = r;
  r2.prompt = "hashed as it arrived, untouched";
  auto good = kling::DownloadStore::create(&error, dir);
  download_into(*good, video, false);
  g_assert_true(kling::VideoCache(dir).save(r2, r2.fingerprint(), "task-g", *good, &why));
  auto replay = kling::VideoCache(dir).open(r2.fingerprint(), &id);
  g_assert_nonnull(replay.get());
  g_assert_cmpstr(id.c_str(), ==, "task-g");
  g_assert_true(bytes_at(*replay, 0, video.size()) == video);
  store.reset();
  good.reset();
  replay.reset();
  remove_dir(dir);
}

// Threads of this process named `name` (/proc/self/task/*/comm).
int threads_named(const char* name) {
  int n = 0;
  DIR* dir = opendir("/proc/self/task");
  g_assert_nonnull(dir);
  while (dirent* e = readdir(dir)) {
    g_autofree char* path = g_strdup_printf("/proc/self/task/%s/comm", e->d_name);
    g_autofree char* text = nullptr;
    if (e->d_name[0] != '.' && g_file_get_contents(path, &text, nullptr, nullptr))
      n += g_strcmp0(g_strstrip(text), name) == 0;
  }
  closedir(dir);
  return n;
}

// Reads the whole video (or up to an end that is not EOS, into *end).
std::string read_video(kling::ElementSession& gen, Status* end = nullptr) {
  std::string out;
  for (;;) {
    kling::ElementSession::Read r = gen.read(out.size(), 100000, false);
    if (r.status != Status::Ok) {
      if (end)
        *end = r.status;
      else
        g_assert_cmpint(static_cast<int>(r.status), ==, static_cast<int>(Status::Eos));
      return out;
    }
    std::string piece(r.size, '\0');
    kling::Error error;
    g_assert_true(kling::ElementSession::copy(r, reinterpret_cast<uint8_t*>(&piece[0]), &error));
    out += piece;
  }
}

// A request to `fake` with cache-dir `dir` and no journal, polled every 20 ms.
kling::Request cached_request(FakeWaveSpeed& fake, const std::string& dir, const char* prompt) {
  kling::Request request;
  request.prompt = prompt;
  request.api_url = fake.api_url();
  request.api_key = fake.key;
  request.poll_interval_ms = 20;
  request.request_timeout_s = 5;
  request.journal_path = "";
  request.cache_dir = dir;
  return request;
}

// A download with cache-dir stopped midway (the CDN cut the reply, then hung):
// its hashing thread ends with the worker, no idle thread stays with the kept
// store; the resume on the same element hashes on from there, and the entry
// it saves replays the whole video, verified.
void test_stopped_download_leaves_no_hash_thread() {
  FakeWaveSpeed fake;
  fake.video = random_bytes(3 * 1024 * 1024 + 5);
  fake.polls_until_done = 1;
  std::atomic<bool> serve{false};
  fake.on_download = [&](int n, const std::string&) -> std::optional<FakeReply> {
    if (serve) return std::nullopt;  // the fake's own reply: the bytes asked for
    FakeReply cut;
    cut.content_type = "video/mp4";
    cut.body = fake.video;
    if (n == 1)
      cut.cut_after = 1024 * 1024 + 3;
    else
      cut.hang = true;
    return cut;
  };
  const std::string dir = temp_dir();
  const kling::Request request = cached_request(fake, dir, "a hash thread that ends");
  const int before = threads_named(kling::AsyncSha256::kThreadName);
  auto gen = std::make_unique<kling::ElementSession>(kling::TaskEvents{});
  g_assert_false(gen->start(request).has_value());
  std::thread reader([&] {
    Status end;
    read_video(*gen, &end);
    g_assert_cmpint(static_cast<int>(end), ==, static_cast<int>(Status::Flushing));
  });
  g_assert_true(fake.wait_for_count("cdn", "GET", 2, 10000));  // the cut reply, then the hang
  g_assert_cmpint(threads_named(kling::AsyncSha256::kThreadName), ==, before + 1);
  gen->set_flushing(true);
  reader.join();
  gen->stop();
  g_assert_cmpint(threads_named(kling::AsyncSha256::kThreadName), ==, before);

  serve = true;
  g_assert_false(gen->start(request).has_value());
  gen->set_flushing(false);
  g_assert_true(read_video(*gen) == fake.video);
  gen->stop();
  g_assert_cmpint(threads_named(kling::AsyncSha256::kThreadName), ==, before);
  std::string id;
  auto replay = kling::VideoCache(dir).open(request.fingerprint(), &id);
  g_assert_nonnull(replay.get());
  g_assert_true(bytes_at(*replay, 0, fake.video.size()) == fake.video);
  g_assert_cmpint(fake.count("api", "POST"), ==, 1);
  gen.reset();
  replay.reset();
  remove_dir(dir);
}

struct Replay {
  FakeWaveSpeed fake;
  std::string dir = temp_dir();
  kling::Request request;
  std::mutex mutex;
  std::vector<std::string> progress;  // "cache: text" lines
  std::unique_ptr<kling::ElementSession> gen;

  Replay() {
    fake.video = random_bytes(2 * 1024 * 1024 + 9);
    fake.polls_until_done = 1;
    request = cached_request(fake, dir, "a cached video checked by its first read");
    new_generation();
  }
  ~Replay() {
    gen.reset();
    remove_dir(dir);
  }
  void new_generation() {
    kling::TaskEvents events;
    events.progress = [this](kling::ProgressType, const char* code, const std::string& text) {
      std::lock_guard<std::mutex> lock(mutex);
      progress.push_back(std::string(code) + ": " + text);
    };
    gen = std::make_unique<kling::ElementSession>(events);
  }
  bool said(const std::string& part) {
    std::lock_guard<std::mutex> lock(mutex);
    for (const auto& p : progress)
      if (p.find(part) != std::string::npos) return true;
    return false;
  }
  std::string entry() const {
    return dir + "/" + request.fingerprint() + kling::VideoCache::kExtension;
  }
};

// Bytes this process has read so far (/proc/self/io rchar).
uint64_t bytes_read() {
  g_autofree char* text = nullptr;
  g_assert_true(g_file_get_contents("/proc/self/io", &text, nullptr, nullptr));
  const char* at = strstr(text, "rchar: ");
  g_assert_nonnull(at);
  return g_ascii_strtoull(at + 7, nullptr, 10);
}

// A cached entry whose bytes changed after it was written: start() does not read
// them, the first read finds they do not match and serves none of them; the
// request runs as if nothing were cached (the CDN's bytes, a whole entry written
// again), and the next generation replays that one, checked, with no request.
void test_changed_entry_is_a_miss_found_by_the_first_read() {
  Replay t;
  g_assert_false(t.gen->start(t.request).has_value());
  g_assert_true(read_video(*t.gen) == t.fake.video);
  t.gen->stop();
  {
    FILE* f = fopen(t.entry().c_str(), "r+b");
    g_assert_nonnull(f);
    fseek(f, 1500000, SEEK_SET);
    fputc(t.fake.video[1500000] ^ 0x20, f);
    fclose(f);
  }
  t.new_generation();
  const int gets = t.fake.count("cdn", "GET");
  g_assert_false(t.gen->start(t.request).has_value());
  g_assert_true(t.said("cache: Found the cached video of task "));
  g_assert_false(t.said("cache: Replaying"));
  g_assert_true(read_video(*t.gen) == t.fake.video);
  t.gen->stop();
  g_assert_true(t.said("cache: Not replaying the cached video of task "));
  g_assert_cmpint(t.fake.count("cdn", "GET"), ==, gets + 1);

  t.new_generation();
  g_assert_false(t.gen->start(t.request).has_value());
  g_assert_true(read_video(*t.gen) == t.fake.video);
  t.gen->stop();
  g_assert_true(t.said("cache: Replaying the cached video of task "));
  g_assert_cmpint(t.fake.count("cdn", "GET"), ==, gets + 1);
  // journal=none: the miss submitted anew, as a miss in start() did (the journal would replay it).
  g_assert_cmpint(t.fake.count("api", "POST"), ==, 2);
}

// Writes an entry of `size` bytes of zeros (sparse: no disk) whose trailer names
// `request` and claims `sha256`, in the cache's format (the JSON trailer, its
// length in 8 bytes little-endian, the magic word).
void write_entry(const std::string& path, const kling::Request& request, uint64_t size,
                 const std::string& sha256) {
  const std::string trailer = "{\"fingerprint\":\"" + request.fingerprint() +
                              "\",\"id\":\"task-big\",\"sha256\":\"" + sha256 +
                              "\",\"size\":" + std::to_string(size) + "}";
  std::string tail = trailer;
  for (int i = 0; i < 8; i++)
    tail += static_cast<char>((static_cast<uint64_t>(trailer.size()) >> (8 * i)) & 0xff);
  tail += "KLINGC01";
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  g_assert_cmpint(fd, >=, 0);
  g_assert_cmpint(pwrite(fd, tail.data(), tail.size(), static_cast<off_t>(size)), ==,
                  static_cast<ssize_t>(tail.size()));
  close(fd);
}

// The check of a cached video runs in the first read, not in start(), and a
// stop() ends it: a 1 GiB entry is still being read when the element stops, the
// read returns (flushing), nothing is said to replay or not, nothing is fetched.
// A later run checks it again from the start (here it does not match: a miss).
void test_stop_ends_the_check_of_a_cached_video() {
  Replay t;
  const uint64_t size = 1ull << 30;
  write_entry(t.entry(), t.request, size, std::string(64, 'a'));
  g_assert_false(t.gen->start(t.request).has_value());
  g_assert_true(t.said("cache: Found the cached video of task task-big"));
  g_assert_cmpuint(t.gen->size().value_or(0), ==, size);
  const uint64_t before = bytes_read();
  Status end = Status::Ok;
  std::thread reader([&] { read_video(*t.gen, &end); });
  // Under way: it has read 16 MiB of the entry (the whole takes far longer).
  for (int i = 0; i < 10000 && bytes_read() - before < (16u << 20); i++) g_usleep(1000);
  g_assert_cmpuint(bytes_read() - before, >=, 16u << 20);
  t.gen->set_flushing(true);
  t.gen->stop();
  reader.join();
  g_assert_cmpint(static_cast<int>(end), ==, static_cast<int>(Status::Flushing));
  g_assert_false(t.said("Replaying"));
  g_assert_false(t.said("Not replaying"));
  g_assert_cmpint(t.fake.count("cdn", "GET"), ==, 0);
  g_assert_cmpint(t.fake.count("api", "POST"), ==, 0);

  g_assert_false(t.gen->start(t.request).has_value());
  t.gen->set_flushing(false);
  g_assert_true(read_video(*t.gen) == t.fake.video);
  t.gen->stop();
  g_assert_true(t.said("cache: Not replaying the cached video of task task-big"));
  g_assert_cmpint(t.fake.count("api", "POST"), ==, 1);
}

}  // namespace

int main(int argc, char** argv) {
  g_test_init(&argc, &argv, nullptr);
  g_test_add_func("/core/video-cache/sha256-is-glibs", test_sha256_is_glibs);
  g_test_add_func("/core/video-cache/async-hash-in-order-bounded",
                  test_async_hash_in_order_bounded);
  g_test_add_func("/core/video-cache/async-hash-dropped-midway", test_async_hash_dropped_midway);
  g_test_add_func("/core/video-cache/store-hashes-what-arrived", test_store_hashes_what_arrived);
  g_test_add_func("/core/video-cache/entry-hash-is-of-the-bytes-that-arrived",
                  test_entry_hash_is_of_the_bytes_that_arrived);
  g_test_add_func("/core/video-cache/stopped-download-leaves-no-hash-thread",
                  test_stopped_download_leaves_no_hash_thread);
  g_test_add_func("/core/video-cache/changed-entry-is-a-miss-found-by-the-first-read",
                  test_changed_entry_is_a_miss_found_by_the_first_read);
  g_test_add_func("/core/video-cache/stop-ends-the-check-of-a-cached-video",
                  test_stop_ends_the_check_of_a_cached_video);
  return g_test_run();
}
