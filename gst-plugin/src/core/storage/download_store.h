// SPDX-License-Identifier: LGPL-2.1-or-later
// The bytes of one output as they arrive, and where each byte is now. The
// last chunks off the network stay in memory and go downstream without a copy.
// A chunk leaves memory into an unlinked spill file, unless a reader already
// took all of it and nobody asked to keep everything (pull mode, the cache):
// a push-mode stream then costs no disk write. Bytes let go that way are
// "holes"; a reader who comes back for them reads them again from their URL.
// Readers block until their range exists, the download ends or fails, or
// they are told to flush. Memory stays flat whatever the size of the video.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/util/async_sha256.h"
#include "core/util/error.h"

namespace kling {

// Which version of a file the bytes came from, as its server named it. A
// resume sends it as If-Range and refuses a reply naming another version, so
// bytes of two versions are never spliced.
struct FileVersion {
  std::string etag;           // strong only: If-Range takes no weak ETag
  std::string last_modified;  // the validator when there is no strong ETag
  std::optional<uint64_t> total;
};

// One block of downloaded bytes in memory; shared with the buffers that wrap it.
struct Chunk {
  explicit Chunk(size_t size) : data(new char[size]), capacity(size) {}
  std::unique_ptr<char[]> data;
  const size_t capacity;
};

class DownloadStore {
 public:
  static constexpr size_t kChunkSize = 256 * 1024;

  // An unlinked temporary file; or, with `dir`, a temporary file there that
  // VideoCache::save() can make the cache entry without a copy, which keeps
  // every byte and hashes them as they arrive (see sha256()).
  static std::unique_ptr<DownloadStore> create(Error* error, const std::string& dir = {});
  // A store holding a whole file already on disk (a cached video).
  static std::unique_ptr<DownloadStore> open_complete(const std::string& path);
  // The same over the first `size` bytes of `fd`, which it takes.
  static std::unique_ptr<DownloadStore> open_complete(int fd, uint64_t size);
  ~DownloadStore();
  DownloadStore(const DownloadStore&) = delete;
  DownloadStore& operator=(const DownloadStore&) = delete;

  // --- writer side (the task runner) ---
  // The most bytes the store takes (max-size): bounds the disk it uses.
  void set_max_size(uint64_t max_size);
  // False (and `error`) when `total` is over the maximum: nothing is reserved.
  bool set_total(uint64_t total, Error* error);
  // The URL the bytes are being read from: holes are read again from there.
  void set_source(std::string url);
  std::string source() const;
  // The version of the file at the source the bytes came from (total: the store's).
  void set_version(FileVersion version);
  FileVersion version() const;
  // Read the next bytes into write_buffer(), then commit() the part of it that
  // holds them; false (and `error`) when the spill file cannot be written, or
  // the bytes would go past the announced total or the maximum (none is kept then).
  char* write_buffer(size_t* size);
  bool commit(const char* data, size_t size, Error* error);
  void finish();           // every byte is present
  void fail(Error error);  // wakes readers that wait for bytes that will not come
  void clear_error();      // before a new attempt resumes the same download
  uint64_t have() const;
  std::optional<uint64_t> total() const;
  bool complete() const;
  // The SHA-256 (hex) of the bytes [0, have()), hashed as commit() took them
  // (on a thread of their own), for a store made with a `dir`; nullopt for
  // any other. Waits for the hash to catch up. The writer's thread only.
  std::optional<std::string> sha256();
  // The writer stops for now (its download ended, however): the bytes given
  // to the hash are hashed and its thread ends; the next commit() starts another.
  void pause_hash();

  // --- reader side (the streaming thread) ---
  enum class Wait { Ready, Eos, Flushing, Failed };
  // Blocks until [offset, offset + *size) is present; at the end *size is clipped.
  Wait wait_for(uint64_t offset, size_t* size, Error* error);
  // From now on every chunk is spilled, taken or not (random access is expected).
  void keep_everything();
  // Where the bytes of a range wait_for() said is present are, in order. With
  // `take`, pieces in memory count as taken by the reader. A Memory piece's
  // chunk keeps its bytes valid after the store itself lets go of them.
  struct Piece {
    enum class Where { Memory, File, Hole } where;
    uint64_t offset;
    size_t size;
    const char* data;              // Memory: the bytes, inside `chunk`
    std::shared_ptr<Chunk> chunk;  // Memory: keeps them alive
  };
  std::vector<Piece> locate(uint64_t offset, size_t size, bool take = true);
  // Copies a range of the spill file (a File piece).
  bool read(uint64_t offset, size_t size, uint8_t* dest) const;
  // Bytes of a hole, read again: into the spill file.
  bool fill(uint64_t offset, const char* data, size_t size, Error* error);
  // Writes what is only in memory to the file (writer's thread); false, and why,
  // when some bytes are nowhere because they were let go.
  bool flush_to_disk(std::string* error);
  // Copies every byte present to `fd` (a copy of the video); false and errno on failure.
  // Stops with ECANCELED once `cancelled` says so (asked before each megabyte).
  bool copy_to(int fd, const std::function<bool()>& cancelled = {});
  // True wakes and refuses every wait (unlock); false lets them wait again (unlock_stop).
  void set_flushing(bool flushing);
  bool flushing() const;
  // True once a chunk left memory without being written (a hole exists or did).
  bool let_go_any() const;

 private:
  // Turns the store's own file into a cache entry (video_cache.cpp): its descriptor
  // and name are the store's alone otherwise.
  friend class VideoCache;

  DownloadStore(int fd, std::string path, bool linkable)
      : fd_(fd), path_(std::move(path)), linkable_(linkable) {}

  // Writes recent_[index] to the file, `lock` released meanwhile; 0 or an errno.
  // Only the writer's thread adds or removes recent chunks, so the index holds.
  int spill(std::unique_lock<std::mutex>& lock, size_t index);
  int write_at(uint64_t offset, const char* data, size_t size);  // 0 or an errno
  void mark_on_disk(uint64_t begin, uint64_t end);               // mutex_ held

  const int fd_;
  std::string path_;  // a named temporary file, removed unless made a cache entry
  bool linkable_;     // an O_TMPFILE a cache entry can be linked from
  // Every committed byte, in order (fed by the writer's thread, no lock held): a
  // cache entry's hash costs no second read of the file and overlaps the download.
  std::unique_ptr<AsyncSha256> hash_;
  mutable std::mutex mutex_;
  std::string source_;
  FileVersion version_;
  bool keep_everything_ = false;
  bool let_go_any_ = false;
  std::map<uint64_t, uint64_t>
      on_disk_;  // ranges [first, second) of the spill file that hold bytes
  std::condition_variable changed_;
  uint64_t have_ = 0;
  std::optional<uint64_t> total_;
  uint64_t max_size_ = UINT64_MAX;
  bool complete_ = false;
  bool flushing_ = false;
  int waiters_ = 0;
  std::optional<Error> error_;

  // Chunks: the one being filled, the recent ones readers may share, and a pool to reuse.
  struct Recent {
    uint64_t offset;
    const char* data;
    size_t size;
    std::shared_ptr<Chunk> chunk;
    uint64_t taken_end;  // the reader took [offset, taken_end) of it
    bool on_disk;
  };
  std::shared_ptr<Chunk> filling_;
  std::deque<Recent> recent_;
  // Chunks no one holds any more, ready for reuse. The last holder of a chunk
  // (a buffer downstream, on any thread) gives it back under the pool's mutex:
  // that lock orders its last read before the writer's next fill, in a way
  // ThreadSanitizer can check. Shared with the chunks, which may outlive the store.
  struct ChunkPool {
    std::mutex mutex;
    std::vector<std::unique_ptr<Chunk>> free;
  };
  std::shared_ptr<ChunkPool> pool_ = std::make_shared<ChunkPool>();
};

}  // namespace kling
