// The bytes of one output as they arrive: an unlinked spill file plus the
// count of bytes present. Readers block until their range exists, the
// download ends or fails, or they are told to flush. Random access for free,
// memory flat whatever the size of the video. The last few chunks that came
// off the network stay in memory too, so a reader close behind the download
// gets them without a copy (and without reading the file back).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "kling_error.h"

namespace kling {

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
  // persist() can rename into place (the cache entry being written).
  static std::unique_ptr<DownloadStore> create(Error* error, const std::string& dir = {});
  // A store holding a whole file already on disk (a cached video).
  static std::unique_ptr<DownloadStore> open_complete(const std::string& path);
  ~DownloadStore();
  DownloadStore(const DownloadStore&) = delete;
  DownloadStore& operator=(const DownloadStore&) = delete;

  // --- writer side (the task runner) ---
  void set_total(uint64_t total);
  // Read the next bytes into write_buffer(), then commit() the part of it that
  // holds them; false (and `error`) when the spill file cannot be written.
  char* write_buffer(size_t* size);
  bool commit(const char* data, size_t size, Error* error);
  void finish();           // every byte is present
  void fail(Error error);  // wakes readers that wait for bytes that will not come
  void clear_error();      // before a new attempt resumes the same download
  uint64_t have() const;
  std::optional<uint64_t> total() const;
  bool complete() const;

  // --- reader side (the streaming thread) ---
  enum class Wait { Ready, Eos, Flushing, Failed };
  // Blocks until [offset, offset + *size) is present; at the end *size is clipped.
  Wait wait_for(uint64_t offset, size_t* size, Error* error);
  // Copies a range wait_for() said is present.
  bool read(uint64_t offset, size_t size, uint8_t* dest) const;
  // The in-memory chunk holding the whole range, if one still does; *data points into it.
  std::shared_ptr<Chunk> view(uint64_t offset, size_t size, const char** data) const;
  // Copies every byte present to `fd` (for the cache); false and errno on failure.
  bool copy_to(int fd) const;
  // fsyncs and links or renames a store made with a `dir` to `path`; false when it cannot be.
  bool persist(const std::string& path, std::string* error);
  // True wakes and refuses every wait (unlock); false lets them wait again (unlock_stop).
  void set_flushing(bool flushing);

 private:
  DownloadStore(int fd, std::string path, bool linkable)
      : fd_(fd), path_(std::move(path)), linkable_(linkable) {}

  const int fd_;
  std::string path_;  // a named temporary file, removed unless persisted
  bool linkable_;     // an O_TMPFILE persist() can link into place
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  uint64_t have_ = 0;
  std::optional<uint64_t> total_;
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
  };
  std::shared_ptr<Chunk> filling_;
  std::deque<Recent> recent_;
  std::vector<std::shared_ptr<Chunk>> pool_;
};

}  // namespace kling
