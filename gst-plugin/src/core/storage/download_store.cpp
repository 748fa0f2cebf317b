// SPDX-License-Identifier: LGPL-2.1-or-later
#include "core/storage/download_store.h"

#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "core/util/fd_io.h"

namespace kling {

std::unique_ptr<DownloadStore> DownloadStore::create(Error* error, const std::string& dir) {
  // An O_TMPFILE has no name: nothing is left behind by a crash or a kill -9.
  // In the cache folder persist() links it into place; elsewhere it just goes.
  std::string where = dir.empty() ? g_get_tmp_dir() : dir;
  if (g_mkdir_with_parents(where.c_str(), 0700) == 0) {
    int fd = open(where.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0) {
      std::unique_ptr<DownloadStore> store(new DownloadStore(fd, {}, !dir.empty()));
      if (!dir.empty()) {  // a cache entry must be whole, and is named by its hash
        store->keep_everything_ = true;
        store->hash_ = std::make_unique<AsyncSha256>();
      }
      return store;
    }
  }
  // No O_TMPFILE on this file system: a named file, unlinked at once unless the cache wants it.
  g_autofree char* path = g_build_filename(where.c_str(), ".klingsrc-partial-XXXXXX.mp4", nullptr);
  int fd = g_mkstemp_full(path, O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) {
    *error = Error{ErrorKind::Write,
                   "Cannot create a temporary file for the video in " + where,
                   g_strerror(errno),
                   0,
                   {}};
    return nullptr;
  }
  if (dir.empty()) {
    g_unlink(path);
    return std::unique_ptr<DownloadStore>(new DownloadStore(fd, {}, false));
  }
  std::unique_ptr<DownloadStore> store(new DownloadStore(fd, path, false));
  store->keep_everything_ = true;
  store->hash_ = std::make_unique<AsyncSha256>();
  return store;
}

std::unique_ptr<DownloadStore> DownloadStore::open_complete(const std::string& path) {
  int fd = g_open(path.c_str(), O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return nullptr;
  GStatBuf st;
  if (fstat(fd, &st) != 0 || st.st_size <= 0) {
    close(fd);
    return nullptr;
  }
  return open_complete(fd, static_cast<uint64_t>(st.st_size));
}

std::unique_ptr<DownloadStore> DownloadStore::open_complete(int fd, uint64_t size) {
  std::unique_ptr<DownloadStore> store(new DownloadStore(fd, {}, false));
  store->have_ = size;
  store->total_ = store->have_;
  store->complete_ = true;
  store->on_disk_[0] = store->have_;
  return store;
}

bool DownloadStore::copy_to(int out, const std::function<bool()>& cancelled) {
  std::string error;
  if (!flush_to_disk(&error)) {
    errno = EIO;
    return false;
  }
  const uint64_t size = have();
  std::vector<char> buf(1024 * 1024);
  for (uint64_t offset = 0; offset < size;) {
    if (cancelled && cancelled()) {
      errno = ECANCELED;
      return false;
    }
    size_t n = static_cast<size_t>(MIN(static_cast<uint64_t>(buf.size()), size - offset));
    if (!read(offset, n, reinterpret_cast<uint8_t*>(buf.data()))) return false;
    if (int err = fd_io::write_all(out, buf.data(), n)) {
      errno = err;
      return false;
    }
    offset += n;
  }
  return true;
}

DownloadStore::~DownloadStore() {
  close(fd_);
  if (!path_.empty()) g_unlink(path_.c_str());
}

namespace {
Error too_large(uint64_t size, uint64_t max_size, bool announced) {
  return Error{ErrorKind::TooLarge,
               std::string("The video ") + (announced ? "is announced as " : "is over ") +
                   std::to_string(size) + " bytes, more than max-size (" +
                   std::to_string(max_size) + " bytes): not downloaded further",
               "raise max-size to accept it",
               0,
               {}};
}
}  // namespace

void DownloadStore::set_max_size(uint64_t max_size) {
  std::lock_guard<std::mutex> lock(mutex_);
  max_size_ = max_size;
}

bool DownloadStore::set_total(uint64_t total, Error* error) {
  bool reserve;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (total > max_size_) {
      *error = too_large(total, max_size_, true);
      return false;
    }
    total_ = total;
    reserve = keep_everything_;
    changed_.notify_all();
  }
  // A file that will hold everything: reserve its blocks at once, cheaper than
  // growing it chunk by chunk.
  if (reserve && total > 0) posix_fallocate(fd_, 0, static_cast<off_t>(total));
  return true;
}

void DownloadStore::set_source(std::string url) {
  std::lock_guard<std::mutex> lock(mutex_);
  source_ = std::move(url);
}

std::string DownloadStore::source() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return source_;
}

void DownloadStore::set_version(FileVersion version) {
  std::lock_guard<std::mutex> lock(mutex_);
  version_ = std::move(version);
}

FileVersion DownloadStore::version() const {
  std::lock_guard<std::mutex> lock(mutex_);
  FileVersion version = version_;
  version.total = total_;
  return version;
}

void DownloadStore::keep_everything() {
  std::lock_guard<std::mutex> lock(mutex_);
  keep_everything_ = true;
}

namespace {
Error write_error(int err) {
  return Error{
      ErrorKind::Write, "Cannot write the video to a temporary file", g_strerror(err), 0, {}};
}

constexpr size_t kRecentChunks = 8;   // 2 MiB a reader may share without a copy
constexpr size_t kPooledChunks = 32;  // reused while no buffer holds them
constexpr uint64_t kWritebackStep = 8
                                    << 20;  // a cache entry's bytes start going to disk this often
}  // namespace

char* DownloadStore::write_buffer(size_t* size) {
  std::lock_guard<std::mutex> lock(mutex_);
  filling_.reset();
  std::unique_ptr<Chunk> chunk;
  {
    std::lock_guard<std::mutex> pool_lock(pool_->mutex);
    if (!pool_->free.empty()) {
      chunk = std::move(pool_->free.back());
      pool_->free.pop_back();
    }
  }
  if (!chunk) chunk = std::make_unique<Chunk>(kChunkSize);
  // The last holder returns the chunk to the pool (or frees it when the pool is
  // full or the store gone).
  std::weak_ptr<ChunkPool> pool = pool_;
  filling_ = std::shared_ptr<Chunk>(chunk.release(), [pool](Chunk* c) {
    std::unique_ptr<Chunk> owned(c);
    if (auto p = pool.lock()) {
      std::lock_guard<std::mutex> pool_lock(p->mutex);
      if (p->free.size() < kPooledChunks) p->free.push_back(std::move(owned));
    }
  });
  *size = filling_->capacity;
  return filling_->data.get();
}

bool DownloadStore::commit(const char* data, size_t size, Error* error) {
  std::unique_lock<std::mutex> lock(mutex_);
  // Never past what was announced, nor past the maximum when nothing was.
  const uint64_t limit = total_ ? *total_ : max_size_;
  if (size > limit - std::min(limit, have_)) {
    if (!total_) {
      *error = too_large(have_ + size, max_size_, false);
      return false;
    }
    *error = Error{ErrorKind::BadReply,
                   "The server sent more than the " + std::to_string(*total_) +
                       " bytes it announced for the video: stopped there",
                   {},
                   0,
                   {}};
    return false;
  }
  if (hash_) {
    // Unlocked: it may wait for the hash to catch up (readers go on meanwhile; these
    // bytes are not theirs before the push below). The chunk lives until it is hashed.
    std::shared_ptr<const void> owner = filling_;
    lock.unlock();
    hash_->update(std::move(owner), data, size);
    lock.lock();
  }
  // One step for readers: the bytes count as present and their chunk is shareable.
  recent_.push_back({have_, data, size, std::move(filling_), have_, false});
  have_ += size;
  if (waiters_ > 0)  // a wake-up per chunk costs: only when someone waits
    changed_.notify_all();
  // The oldest chunk leaves memory: into the file, unless the reader took all
  // of it and random access was not asked for.
  while (recent_.size() > kRecentChunks) {
    const Recent& oldest = recent_.front();
    const bool taken = oldest.taken_end >= oldest.offset + oldest.size;
    if (!oldest.on_disk && (keep_everything_ || !taken)) {
      if (int err = spill(lock, 0)) {
        *error = write_error(err);
        return false;
      }
    } else if (!oldest.on_disk) {
      let_go_any_ = true;
    }
    recent_.pop_front();
  }
  return true;
}

int DownloadStore::spill(std::unique_lock<std::mutex>& lock, size_t index) {
  const Recent chunk = recent_[index];  // holds the bytes; readers still find them in memory
  lock.unlock();
  const int err = write_at(chunk.offset, chunk.data, chunk.size);
  const uint64_t end = chunk.offset + chunk.size;
  if (err == 0 && hash_ && end / kWritebackStep != chunk.offset / kWritebackStep) {
    // A cache entry is fsynced before EOS: have the kernel write each finished
    // 8 MiB out now, so that the fsync finds little left (65 -> 2 ms for 256 MiB).
    // Only a start: errors, if any, are the fsync's to report.
    const uint64_t start = (end / kWritebackStep - 1) * kWritebackStep;
    sync_file_range(fd_, static_cast<off_t>(start), static_cast<off_t>(kWritebackStep),
                    SYNC_FILE_RANGE_WRITE);
  }
  lock.lock();
  if (err == 0) {
    recent_[index].on_disk = true;
    mark_on_disk(chunk.offset, chunk.offset + chunk.size);
  }
  return err;
}

int DownloadStore::write_at(uint64_t offset, const char* data, size_t size) {
  return fd_io::write_all(fd_, data, size, static_cast<int64_t>(offset));
}

void DownloadStore::mark_on_disk(uint64_t begin, uint64_t end) {
  // Merge with the ranges it touches: the map stays a few entries long.
  auto it = on_disk_.upper_bound(begin);
  if (it != on_disk_.begin() && std::prev(it)->second >= begin) {
    --it;
    begin = it->first;
    end = std::max(end, it->second);
    it = on_disk_.erase(it);
  }
  while (it != on_disk_.end() && it->first <= end) {
    end = std::max(end, it->second);
    it = on_disk_.erase(it);
  }
  on_disk_[begin] = end;
}

bool DownloadStore::flush_to_disk(std::string* error) {
  std::unique_lock<std::mutex> lock(mutex_);
  for (size_t i = 0; i < recent_.size(); i++)
    if (!recent_[i].on_disk)
      if (int err = spill(lock, i)) {
        *error = std::string("cannot write the video: ") + g_strerror(err);
        return false;
      }
  const bool whole = have_ == 0 || (on_disk_.size() == 1 && on_disk_.begin()->first == 0 &&
                                    on_disk_.begin()->second >= have_);
  if (!whole)
    *error = "it was streamed without keeping every byte (cache-dir was set after it started)";
  return whole;
}

std::vector<DownloadStore::Piece> DownloadStore::locate(uint64_t offset, size_t size, bool take) {
  std::vector<Piece> pieces;
  const uint64_t end = offset + size;
  std::lock_guard<std::mutex> lock(mutex_);
  for (uint64_t pos = offset; pos < end;) {
    auto recent = std::find_if(recent_.begin(), recent_.end(), [pos](const Recent& r) {
      return r.offset <= pos && pos < r.offset + r.size;
    });
    if (recent != recent_.end()) {
      const size_t n = static_cast<size_t>(std::min(end, recent->offset + recent->size) - pos);
      pieces.push_back(
          {Piece::Where::Memory, pos, n, recent->data + (pos - recent->offset), recent->chunk});
      if (take && pos <= recent->taken_end)
        recent->taken_end = std::max(recent->taken_end, pos + n);
      pos += n;
      continue;
    }
    auto disk = on_disk_.upper_bound(pos);  // the first range that starts after pos
    if (disk != on_disk_.begin() && std::prev(disk)->second > pos) {
      const size_t n = static_cast<size_t>(std::min(end, std::prev(disk)->second) - pos);
      pieces.push_back({Piece::Where::File, pos, n, nullptr, nullptr});
      pos += n;
      continue;
    }
    // A hole: up to the next byte that is in memory or on disk.
    uint64_t hole_end = end;
    if (disk != on_disk_.end()) hole_end = std::min(hole_end, disk->first);
    for (const Recent& r : recent_)
      if (r.offset > pos) hole_end = std::min(hole_end, r.offset);
    pieces.push_back(
        {Piece::Where::Hole, pos, static_cast<size_t>(hole_end - pos), nullptr, nullptr});
    pos = hole_end;
  }
  return pieces;
}

bool DownloadStore::fill(uint64_t offset, const char* data, size_t size, Error* error) {
  if (int err = write_at(offset, data, size)) {
    *error = write_error(err);
    return false;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  mark_on_disk(offset, offset + size);
  return true;
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

std::optional<std::string> DownloadStore::sha256() {
  if (!hash_) return std::nullopt;
  return hash_->hex();
}

void DownloadStore::pause_hash() {
  if (hash_) hash_->pause();
}

bool DownloadStore::complete() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return complete_;
}

DownloadStore::Wait DownloadStore::wait_for(uint64_t offset, size_t* size, Error* error) {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    if (flushing_) return Wait::Flushing;
    // The last bytes (and the end) only once the download is finished: its
    // progress, journal line and cache entry come before EOS can.
    const bool past_end = total_ && offset >= *total_;
    if (past_end && complete_) return Wait::Eos;
    if (total_ && !past_end)
      *size = static_cast<size_t>(MIN(static_cast<uint64_t>(*size), *total_ - offset));
    const bool reaches_end = total_ && offset + *size >= *total_;
    if (!past_end && offset + *size <= have_ && (!reaches_end || complete_)) return Wait::Ready;
    if (complete_) {  // a server that sent fewer bytes than it announced
      if (offset >= have_) return Wait::Eos;
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
  // EIO: the file is shorter than what it should hold.
  if (int err = fd_io::read_all(fd_, dest, size, offset)) {
    errno = err;
    return false;
  }
  return true;
}

bool DownloadStore::flushing() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return flushing_;
}

bool DownloadStore::let_go_any() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return let_go_any_;
}

void DownloadStore::set_flushing(bool flushing) {
  std::lock_guard<std::mutex> lock(mutex_);
  flushing_ = flushing;
  changed_.notify_all();
}

}  // namespace kling
