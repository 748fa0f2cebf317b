// SPDX-License-Identifier: LGPL-2.1-or-later
#include "core/storage/video_cache.h"

#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "core/util/fd_io.h"
#include "core/util/json_util.h"
#include "core/util/sha256.h"

namespace kling {

namespace {

constexpr char kMagic[8] = {'K', 'L', 'I', 'N', 'G', 'C', '0', '1'};
constexpr size_t kTail = 16;  // trailer length (8 bytes, little-endian) + magic
constexpr uint64_t kMaxTrailer = 1 << 20;

bool read_at(int fd, uint64_t offset, void* dest, size_t size) {
  return fd_io::read_all(fd, dest, size, offset) == 0;
}

// SHA-256 of the first `size` bytes, read with `read(offset, n, dest)`.
template <typename Read>
std::string hash_of(uint64_t size, Read read) {
  Sha256 sum;
  std::vector<uint8_t> buf(1 << 20);
  for (uint64_t offset = 0; offset < size;) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - offset));
    if (!read(offset, n, buf.data())) return "";
    sum.update(buf.data(), n);
    offset += n;
  }
  return sum.hex();
}

std::string tail_for(const std::string& trailer) {
  std::string tail(kTail, '\0');
  uint64_t len = trailer.size();
  for (int i = 0; i < 8; i++) tail[i] = static_cast<char>((len >> (8 * i)) & 0xff);
  memcpy(&tail[8], kMagic, sizeof kMagic);
  return trailer + tail;
}

}  // namespace

std::string VideoCache::entry(const std::string& fingerprint) const {
  g_autofree char* path =
      g_build_filename(dir_.c_str(), (fingerprint + kExtension).c_str(), nullptr);
  return path;
}

std::unique_ptr<DownloadStore> VideoCache::open_unverified(const std::string& fingerprint,
                                                           std::string* task_id,
                                                           std::string* sha256) const {
  if (!enabled()) return nullptr;
  const std::string path = entry(fingerprint);
  // One descriptor for the whole check: a rename over the entry meanwhile cannot mix two.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  auto miss = [fd]() -> std::unique_ptr<DownloadStore> {
    close(fd);
    return nullptr;
  };
  GStatBuf st;
  char tail[kTail];
  if (fstat(fd, &st) != 0 || static_cast<uint64_t>(st.st_size) < kTail ||
      !read_at(fd, st.st_size - kTail, tail, kTail) || memcmp(tail + 8, kMagic, sizeof kMagic) != 0)
    return miss();
  uint64_t len = 0;
  for (int i = 7; i >= 0; i--) len = (len << 8) | static_cast<uint8_t>(tail[i]);
  if (len == 0 || len > kMaxTrailer || len + kTail > static_cast<uint64_t>(st.st_size))
    return miss();
  const uint64_t size = st.st_size - kTail - len;
  std::string trailer(len, '\0');
  if (!read_at(fd, size, trailer.data(), len)) return miss();
  g_autoptr(JsonNode) root = json::parse(trailer, nullptr);
  if (!root || !JSON_NODE_HOLDS_OBJECT(root)) return miss();
  JsonObject* o = json_node_get_object(root);
  const std::string sha = json::string_member(o, "sha256");
  if (size == 0 || json::int_member(o, "size") != static_cast<int64_t>(size) ||
      fingerprint != json::string_member(o, "fingerprint") || sha.empty())
    return miss();
  *task_id = json::string_member(o, "id");
  *sha256 = sha;
  futimens(fd, nullptr);  // used now: the last to be evicted
  return DownloadStore::open_complete(fd, size);
}

VideoCache::Check VideoCache::verify(const DownloadStore& store, const std::string& sha256,
                                     const std::function<bool()>& stop) {
  bool stopped = false;
  const std::string sha = hash_of(store.have(), [&](uint64_t off, size_t n, uint8_t* d) {
    if (stop && stop()) {
      stopped = true;
      return false;
    }
    return store.read(off, n, d);
  });
  if (stopped) return Check::Stopped;
  return sha == sha256 ? Check::Same : Check::Differs;
}

std::unique_ptr<DownloadStore> VideoCache::open(const std::string& fingerprint,
                                                std::string* task_id) const {
  std::string sha;
  auto store = open_unverified(fingerprint, task_id, &sha);
  if (store && verify(*store, sha) != Check::Same) return nullptr;
  return store;
}

bool VideoCache::save(const Request& r, const std::string& fp, const std::string& task_id,
                      DownloadStore& store, std::string* error, GCancellable* cancellable) const {
  if (!enabled()) return true;
  if (g_mkdir_with_parents(dir_.c_str(), 0700) != 0) {
    *error = "cannot create " + dir_ + ": " + g_strerror(errno);
    return false;
  }
  if (!store.flush_to_disk(error)) return false;
  const uint64_t size = store.have();
  // Hashed as the bytes arrived; read back only when the store was not made for the cache.
  std::string sha = store.sha256().value_or("");
  if (sha.empty())
    sha = hash_of(size, [&store, cancellable](uint64_t off, size_t n, uint8_t* d) {
      if (g_cancellable_is_cancelled(cancellable)) {
        errno = ECANCELED;
        return false;
      }
      return store.read(off, n, d);
    });
  if (sha.empty()) {
    *error = "cannot read the video back: " + std::string(g_strerror(errno));
    return false;
  }
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json::add_string(b, "fingerprint", fp);
  json::add_string(b, "id", task_id);
  json::add_string(b, "sha256", sha);
  json::add_int(b, "size", static_cast<int64_t>(size));
  json::add_string(b, "model", r.model);
  json::add_string(b, "prompt", r.prompt);
  json::add_int(b, "variation", r.variation);
  json_builder_end_object(b);
  const std::string trailer = tail_for(json::to_string(b));
  const std::string path = entry(fp);

  // The store's own file becomes the entry when it lives in this folder, otherwise a copy.
  std::string tmp =
      path + ".tmp-" + std::to_string(getpid()) + "-" + std::to_string(g_random_int());
  if (!adopt(store, trailer, tmp, error) && !copy(store, trailer, &tmp, error, cancellable))
    return false;
  if (g_rename(tmp.c_str(), path.c_str()) != 0) {
    *error = "cannot write " + path + ": " + g_strerror(errno);
    g_unlink(tmp.c_str());
    return false;
  }
  evict(path);
  return true;
}

bool VideoCache::adopt(DownloadStore& store, const std::string& trailer, const std::string& target,
                       std::string* error) {
  if (store.path_.empty() && !store.linkable_) return false;
  if (!store.flush_to_disk(error)) return false;
  if (int err = fd_io::write_all(store.fd_, trailer.data(), trailer.size(),
                                 static_cast<int64_t>(store.have()))) {
    *error = "cannot write " + target + ": " + g_strerror(err);
    return false;
  }
  if (fsync(store.fd_) != 0) {
    *error = "cannot write " + target + ": " + g_strerror(errno);
    return false;
  }
  if (store.linkable_) {
    // Give the unnamed file a name beside the target, then rename it over the target.
    std::string staged = target + ".staged-" + std::to_string(getpid()) + "-" +
                         std::to_string(g_random_int());  // two elements may save one request
    g_autofree char* self = g_strdup_printf("/proc/self/fd/%d", store.fd_);
    g_unlink(staged.c_str());
    if (linkat(AT_FDCWD, self, AT_FDCWD, staged.c_str(), AT_SYMLINK_FOLLOW) != 0 ||
        g_rename(staged.c_str(), target.c_str()) != 0) {
      *error = "cannot write " + target + ": " + g_strerror(errno);
      g_unlink(staged.c_str());
      return false;
    }
    store.linkable_ = false;
    return true;
  }
  if (g_rename(store.path_.c_str(), target.c_str()) != 0) {
    *error = "cannot write " + target + ": " + g_strerror(errno);
    return false;
  }
  store.path_.clear();
  return true;
}

bool VideoCache::copy(DownloadStore& store, const std::string& trailer, std::string* path,
                      std::string* error, GCancellable* cancellable) {
  *path = path->substr(0, path->rfind(".tmp-")) + ".tmp-XXXXXX";
  int fd = g_mkstemp_full(path->data(), O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) {
    *error = "cannot create " + *path + ": " + g_strerror(errno);
    return false;
  }
  bool ok = store.copy_to(fd, [cancellable] { return g_cancellable_is_cancelled(cancellable); }) &&
            fd_io::write_all(fd, trailer.data(), trailer.size()) == 0 && fsync(fd) == 0;
  ok = close(fd) == 0 && ok;
  if (!ok) {
    *error = "cannot write " + *path + ": " + g_strerror(errno);
    g_unlink(path->c_str());
  }
  return ok;
}

void VideoCache::evict(const std::string& keep) const {
  struct Item {
    std::string path;
    uint64_t size;
    int64_t used_ns;
  };
  std::vector<Item> items;
  uint64_t total = 0;
  g_autoptr(GDir) dir = g_dir_open(dir_.c_str(), 0, nullptr);
  if (!dir) return;
  const int64_t now_s = g_get_real_time() / G_USEC_PER_SEC;
  const std::string tmp_infix = std::string(kExtension) + ".tmp-";
  while (const char* name = g_dir_read_name(dir)) {
    g_autofree char* path = g_build_filename(dir_.c_str(), name, nullptr);
    struct stat st;
    if (stat(path, &st) != 0) continue;
    // A writer that died between its copy and the rename left this: a writer at work
    // touches its file all along, so one untouched for an hour is nobody's.
    if (strstr(name, tmp_infix.c_str())) {
      if (now_s - st.st_mtim.tv_sec > kOrphanSeconds) g_unlink(path);
      continue;
    }
    if (!g_str_has_suffix(name, kExtension)) continue;
    total += st.st_size;
    items.push_back({path, static_cast<uint64_t>(st.st_size),
                     int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec});
  }
  if (max_size_ == 0) return;
  std::sort(items.begin(), items.end(),
            [](const Item& a, const Item& b) { return a.used_ns < b.used_ns; });
  // Another process reading an entry keeps its bytes through its descriptor.
  for (const Item& item : items) {
    if (total <= max_size_) break;
    if (item.path == keep) continue;
    if (g_unlink(item.path.c_str()) == 0) total -= item.size;
  }
}

}  // namespace kling
