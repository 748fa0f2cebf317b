// SPDX-License-Identifier: LGPL-2.1-or-later
// kling-emulator: --request-log, one JSON line per request either server received.
#pragma once

#include <libsoup/soup.h>

#include <cstdio>
#include <mutex>
#include <string>

namespace emu {

class RequestLog {
 public:
  RequestLog() = default;
  ~RequestLog();
  RequestLog(const RequestLog&) = delete;
  RequestLog& operator=(const RequestLog&) = delete;

  // Opens (truncates) path; an empty path logs nothing.
  bool open(const std::string& path, GError** error);

  // {"server","method","path","query","authorization","range","body","status"};
  // status < 0 is written as null (a request never answered). Flushed at once.
  void write(const char* server, SoupServerMessage* msg, int status);

 private:
  std::mutex mutex_;
  FILE* file_ = nullptr;
};

}  // namespace emu
