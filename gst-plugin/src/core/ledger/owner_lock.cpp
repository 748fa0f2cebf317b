// SPDX-License-Identifier: LGPL-2.1-or-later
#include "core/ledger/owner_lock.h"

#include <fcntl.h>
#include <glib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>

namespace kling {

namespace {

constexpr const char* kPrefix = "lock:";
constexpr int64_t kTokens = int64_t(1) << 40;  // byte offsets: a sparse file, never written

struct Held {
  long pid = 0;
  int fd = -1;
  int64_t token = 0;
};

std::mutex held_lock;
std::map<std::string, Held>& held() {
  static auto* by_path = new std::map<std::string, Held>();  // for the process's life
  return *by_path;
}

std::string owners_path(const std::string& ledger_path) {
  return ledger_path + "-owners";
}

struct flock one_byte(short type, int64_t token) {
  struct flock l = {};
  l.l_type = type;
  l.l_whence = SEEK_SET;
  l.l_start = token;
  l.l_len = 1;
  return l;
}

}  // namespace

std::string OwnerLock::self(const std::string& ledger_path, std::string* error) {
  std::lock_guard<std::mutex> hold(held_lock);
  Held& h = held()[ledger_path];
  const long pid = static_cast<long>(getpid());
  if (h.fd >= 0 && h.pid == pid) return kPrefix + std::to_string(h.token);
  // A forked child closes its copy: the parent's lock stays with the parent's descriptor.
  if (h.fd >= 0) close(h.fd);
  h = Held();
  const std::string path = owners_path(ledger_path);
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    *error = "cannot open " + path + ": " + g_strerror(errno);
    return "";
  }
  for (int attempt = 0; attempt < 16; attempt++) {
    GRand* fresh = g_rand_new();  // from /dev/urandom: a forked child draws its own
    const int64_t token = 1 + static_cast<int64_t>(g_rand_double(fresh) * (kTokens - 1));
    g_rand_free(fresh);
    struct flock l = one_byte(F_WRLCK, token);
    if (fcntl(fd, F_OFD_SETLK, &l) == 0) {
      h = {pid, fd, token};
      return kPrefix + std::to_string(token);
    }
    if (errno != EAGAIN && errno != EACCES) break;  // taken by a live process: draw again
  }
  *error = "cannot lock " + path + ": " + g_strerror(errno);
  close(fd);
  return "";
}

bool OwnerLock::alive(const std::string& ledger_path, const std::string& owner) {
  std::string ignored;
  if (owner == self(ledger_path, &ignored)) return true;
  if (!g_str_has_prefix(owner.c_str(), kPrefix)) return false;  // none, or another scheme's
  const int64_t token = g_ascii_strtoll(owner.c_str() + strlen(kPrefix), nullptr, 10);
  if (token <= 0 || token >= kTokens) return false;
  std::lock_guard<std::mutex> hold(held_lock);
  const int fd = held()[ledger_path].fd;
  struct flock l = one_byte(F_WRLCK, token);
  // Our own descriptor: F_OFD_GETLK reports any other description's lock on that byte.
  if (fd < 0 || fcntl(fd, F_OFD_GETLK, &l) != 0) return true;  // cannot tell: never take it over
  return l.l_type != F_UNLCK;
}

}  // namespace kling
