// SPDX-License-Identifier: LGPL-2.1-or-later
// An RTMP server of the test's own: nginx with its RTMP module (Debian's `nginx` and
// `libnginx-mod-rtmp`) run as this user in a scratch folder, one process (no daemon,
// no master), an application `live` (live on, record off) on a free port of 127.0.0.1
// only. Killed and its folder removed when the object goes; a child of this process
// that ends with it even when the test aborts.
#pragma once

#include <gio/gio.h>

#include <memory>
#include <string>

class RtmpServer {
 public:
  // Started and accepting connections (within 10 s, else the test fails); nullptr, and
  // what is missing in `missing`, when nginx or its RTMP module is not installed.
  static std::unique_ptr<RtmpServer> start(std::string* missing);
  ~RtmpServer();
  RtmpServer(const RtmpServer&) = delete;
  RtmpServer& operator=(const RtmpServer&) = delete;

  // rtmp://127.0.0.1:PORT/live/`stream`
  std::string url(const std::string& stream) const;
  // nginx's error log (level info: a line for each play and publish).
  std::string log() const;
  // Waits (up to 10 s) until the log has a line with `what`; whether it came.
  bool wait_for_log(const std::string& what) const;

 private:
  RtmpServer() = default;
  bool launch();

  std::string nginx_, dir_;
  GSubprocess* process_ = nullptr;
  int port_ = 0;
};
