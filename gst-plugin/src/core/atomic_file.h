// Files written whole or not at all: to a temporary name in the same folder,
// fsync'd, then renamed over the target. A crash leaves the old file or the new.
#pragma once

#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace kling {

// Writes `fill(fd)`'s output to a temporary file beside `path`, then renames it over `path`.
template <typename Fill>
bool write_atomically(const std::string& path, Fill fill, std::string* error) {
  std::string tmp = path + ".tmp-XXXXXX";
  int fd = g_mkstemp_full(tmp.data(), O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) {
    *error = "cannot create " + tmp + ": " + g_strerror(errno);
    return false;
  }
  bool ok = fill(fd) && fsync(fd) == 0;
  int saved = errno;
  ok = close(fd) == 0 && ok;
  if (ok && g_rename(tmp.c_str(), path.c_str()) == 0)
    return true;
  *error = "cannot write " + path + ": " + g_strerror(ok ? errno : saved);
  g_unlink(tmp.c_str());
  return false;
}

// `contents` as the file at `path` (its folder created when missing).
inline bool write_file_atomically(const std::string& path, const std::string& contents,
                                  std::string* error) {
  g_autofree char* dir = g_path_get_dirname(path.c_str());
  if (g_mkdir_with_parents(dir, 0700) != 0) {
    *error = "cannot create " + std::string(dir) + ": " + g_strerror(errno);
    return false;
  }
  return write_atomically(path, [&](int fd) {
    return write(fd, contents.data(), contents.size()) == static_cast<ssize_t>(contents.size());
  }, error);
}

}  // namespace kling
