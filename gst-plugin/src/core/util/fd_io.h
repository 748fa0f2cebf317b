// SPDX-License-Identifier: LGPL-2.1-or-later
// Whole reads and writes on a file descriptor: retried on EINTR and short
// counts. Each returns 0 or an errno (ENOSPC for a write that makes no
// progress, EIO for a file shorter than asked).
#pragma once

#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>

namespace kling::fd_io {

// `offset` < 0: at the descriptor's position (write), else at that offset (pwrite).
inline int write_all(int fd, const void* data, size_t size, int64_t offset = -1) {
  const char* p = static_cast<const char*>(data);
  for (size_t done = 0; done < size;) {
    ssize_t n = offset < 0 ? write(fd, p + done, size - done)
                           : pwrite(fd, p + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n < 0 ? errno : ENOSPC;
    done += static_cast<size_t>(n);
  }
  return 0;
}

inline int read_all(int fd, void* dest, size_t size, uint64_t offset) {
  char* p = static_cast<char*>(dest);
  for (size_t done = 0; done < size;) {
    ssize_t n = pread(fd, p + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n < 0 ? errno : EIO;
    done += static_cast<size_t>(n);
  }
  return 0;
}

}  // namespace kling::fd_io
