#include "download_store.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <vector>

namespace kling {

std::unique_ptr<DownloadStore> DownloadStore::create(Error* error, const std::string& dir) {
  // An O_TMPFILE has no name: nothing is left behind by a crash or a kill -9.
  // In the cache folder persist() links it into place; elsewhere it just goes.
  std::string where = dir.empty() ? g_get_tmp_dir() : dir;
  if (g_mkdir_with_parents(where.c_str(), 0700) == 0) {
    int fd = open(where.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0)
      return std::unique_ptr<DownloadStore>(new DownloadStore(fd, {}, !dir.empty()));
  }
  // No O_TMPFILE on this file system: a named file, unlinked at once unless the cache wants it.
  g_autofree char* path = g_build_filename(where.c_str(), ".klingsrc-partial-XXXXXX.mp4", nullptr);
  int fd = g_mkstemp_full(path, O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) {
    *error = Error{ErrorKind::Write, "Cannot create a temporary file for the video in " + where,
                   g_strerror(errno), 0, {}};
    return nullptr;
  }
  if (dir.empty()) {
    g_unlink(path);
    return std::unique_ptr<DownloadStore>(new DownloadStore(fd, {}, false));
  }
  return std::unique_ptr<DownloadStore>(new DownloadStore(fd, path, false));
}

bool DownloadStore::persist(const std::string& target, std::string* error) {
  if (path_.empty() && !linkable_)
    return false;
  if (fsync(fd_) != 0) {
    *error = "cannot write " + target + ": " + g_strerror(errno);
    return false;
  }
  if (linkable_) {
    // Give the unnamed file a name beside the target, then rename it over the target.
    std::string staged = target + ".staged-" + std::to_string(getpid()) + "-" +
                         std::to_string(g_random_int());  // two elements may save one request
    g_autofree char* self = g_strdup_printf("/proc/self/fd/%d", fd_);
    g_unlink(staged.c_str());
    if (linkat(AT_FDCWD, self, AT_FDCWD, staged.c_str(), AT_SYMLINK_FOLLOW) != 0 ||
        g_rename(staged.c_str(), target.c_str()) != 0) {
      *error = "cannot write " + target + ": " + g_strerror(errno);
      g_unlink(staged.c_str());
      return false;
    }
    linkable_ = false;
    return true;
  }
  if (g_rename(path_.c_str(), target.c_str()) != 0) {
    *error = "cannot write " + target + ": " + g_strerror(errno);
    return false;
  }
  path_.clear();
  return true;
}

std::unique_ptr<DownloadStore> DownloadStore::open_complete(const std::string& path) {
  int fd = g_open(path.c_str(), O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0)
    return nullptr;
  GStatBuf st;
  if (fstat(fd, &st) != 0 || st.st_size <= 0) {
    close(fd);
    return nullptr;
  }
  std::unique_ptr<DownloadStore> store(new DownloadStore(fd, {}, false));
  store->have_ = static_cast<uint64_t>(st.st_size);
  store->total_ = store->have_;
  store->complete_ = true;
  return store;
}

bool DownloadStore::copy_to(int out) const {
  const uint64_t size = have();
  std::vector<char> buf(1024 * 1024);
  for (uint64_t offset = 0; offset < size;) {
    size_t n = static_cast<size_t>(MIN(static_cast<uint64_t>(buf.size()), size - offset));
    if (!read(offset, n, reinterpret_cast<uint8_t*>(buf.data())))
      return false;
    for (size_t done = 0; done < n;) {
      ssize_t w = write(out, buf.data() + done, n - done);
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0)
        return false;
      done += static_cast<size_t>(w);
    }
    offset += n;
  }
  return true;
}

DownloadStore::~DownloadStore() {
  close(fd_);
  if (!path_.empty())
    g_unlink(path_.c_str());
}

void DownloadStore::set_total(uint64_t total) {
  // Reserve the blocks at once: cheaper than growing the file chunk by chunk.
  if (total > 0)
    posix_fallocate(fd_, 0, static_cast<off_t>(total));
  std::lock_guard<std::mutex> lock(mutex_);
  total_ = total;
  changed_.notify_all();
}

namespace {
constexpr size_t kRecentChunks = 8;  // 2 MiB a reader may share without a copy
constexpr size_t kPooledChunks = 32; // reused while no buffer holds them
}  // namespace

char* DownloadStore::write_buffer(size_t* size) {
  std::lock_guard<std::mutex> lock(mutex_);
  filling_.reset();
  // A chunk no reader and no recent entry holds any more is free to reuse.
  for (const auto& chunk : pool_)
    if (chunk.use_count() == 1) {
      // Order the reuse after the last reader's release of the chunk.
      std::atomic_thread_fence(std::memory_order_acquire);
      filling_ = chunk;
      break;
    }
  if (!filling_) {
    filling_ = std::make_shared<Chunk>(kChunkSize);
    if (pool_.size() < kPooledChunks)
      pool_.push_back(filling_);
  }
  *size = filling_->capacity;
  return filling_->data.get();
}

bool DownloadStore::commit(const char* data, size_t size, Error* error) {
  const uint64_t offset = have();  // only the runner's thread writes
  for (size_t done = 0; done < size;) {
    ssize_t n = pwrite(fd_, data + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      *error = Error{ErrorKind::Write, "Cannot write the video to a temporary file",
                     g_strerror(errno), 0, {}};
      return false;
    }
    done += static_cast<size_t>(n);
  }
  // One step for readers: the bytes count as present and their chunk is shareable.
  std::lock_guard<std::mutex> lock(mutex_);
  recent_.push_back({offset, data, size, std::move(filling_)});
  if (recent_.size() > kRecentChunks)
    recent_.pop_front();
  have_ += size;
  if (waiters_ > 0)  // a wake-up per chunk costs: only when someone waits
    changed_.notify_all();
  return true;
}

std::shared_ptr<Chunk> DownloadStore::view(uint64_t offset, size_t size, const char** data) const {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const Recent& r : recent_)
    if (r.offset <= offset && offset + size <= r.offset + r.size) {
      *data = r.data + (offset - r.offset);
      return r.chunk;
    }
  return nullptr;
}

void DownloadStore::finish() {
  std::lock_guard<std::mutex> lock(mutex_);
  complete_ = true;
  total_ = have_;
  changed_.notify_all();
}

void DownloadStore::fail(Error error) {
  std::lock_guard<std::mutex> lock(mutex_);
  error_ = std::move(error);
  changed_.notify_all();
}

void DownloadStore::clear_error() {
  std::lock_guard<std::mutex> lock(mutex_);
  error_.reset();
}

uint64_t DownloadStore::have() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return have_;
}

std::optional<uint64_t> DownloadStore::total() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return total_;
}

bool DownloadStore::complete() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return complete_;
}

DownloadStore::Wait DownloadStore::wait_for(uint64_t offset, size_t* size, Error* error) {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    if (flushing_)
      return Wait::Flushing;
    // The last bytes (and the end) only once the download is finished: its
    // progress, journal line and cache entry come before EOS can.
    const bool past_end = total_ && offset >= *total_;
    if (past_end && complete_)
      return Wait::Eos;
    if (total_ && !past_end)
      *size = static_cast<size_t>(MIN(static_cast<uint64_t>(*size), *total_ - offset));
    const bool reaches_end = total_ && offset + *size >= *total_;
    if (!past_end && offset + *size <= have_ && (!reaches_end || complete_))
      return Wait::Ready;
    if (complete_) {  // a server that sent fewer bytes than it announced
      if (offset >= have_)
        return Wait::Eos;
      *size = static_cast<size_t>(have_ - offset);
      return Wait::Ready;
    }
    if (error_) {
      *error = *error_;
      return Wait::Failed;
    }
    waiters_++;
    changed_.wait(lock);
    waiters_--;
  }
}

bool DownloadStore::read(uint64_t offset, size_t size, uint8_t* dest) const {
  size_t done = 0;
  while (done < size) {
    ssize_t n = pread(fd_, dest + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

void DownloadStore::set_flushing(bool flushing) {
  std::lock_guard<std::mutex> lock(mutex_);
  flushing_ = flushing;
  changed_.notify_all();
}

}  // namespace kling
