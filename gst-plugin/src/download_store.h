// The bytes of one output as they arrive: an unlinked spill file plus the
// count of bytes present. Readers block until their range exists, the
// download ends or fails, or they are told to flush. Random access for free,
// memory flat whatever the size of the video.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "kling_error.h"

namespace kling {

class DownloadStore {
 public:
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
  // Appends at have(); false (and `error`) when the spill file cannot be written.
  bool append(const char* data, size_t size, Error* error);
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
  // Copies every byte present to `fd` (for the cache); false and errno on failure.
  bool copy_to(int fd) const;
  // fsyncs and renames a store made with a `dir` to `path`; false when it has no file name.
  bool persist(const std::string& path, std::string* error);
  // True wakes and refuses every wait (unlock); false lets them wait again (unlock_stop).
  void set_flushing(bool flushing);

 private:
  DownloadStore(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}

  const int fd_;
  std::string path_;  // a named temporary file, removed unless persisted
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  uint64_t have_ = 0;
  std::optional<uint64_t> total_;
  bool complete_ = false;
  bool flushing_ = false;
  std::optional<Error> error_;
};

}  // namespace kling
