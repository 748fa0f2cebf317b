// SPDX-License-Identifier: LGPL-2.1-or-later
// A PostgreSQL server of the test's own: `initdb` in a scratch folder (Debian's
// `postgresql`), password authentication (scram-sha-256), listening on a free
// port of 127.0.0.1 only. As root it runs as `nobody` (postgres refuses root).
// Stopped (immediate) and its folder removed when the object goes; the server is
// this process's child and ends with it even when it aborts.
#pragma once

#include <memory>
#include <string>

#include "loopback.h"

class PgServer {
 public:
  // Made and started; nullptr (and `error`) when it cannot be, within about 30 s.
  static std::unique_ptr<PgServer> start(std::string* error);
  ~PgServer();
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  // postgresql://kling:PASSWORD@127.0.0.1:PORT/kling
  const std::string& uri() const { return uri_; }
  const std::string& password() const { return password_; }
  // Stops the server at once (connections dropped, as a crash would) / starts it again.
  bool stop();
  bool restart(std::string* error);
  bool running() const { return running_; }

 private:
  PgServer() = default;
  bool launch(std::string* error);

  std::string bindir_, dir_, password_, uri_;
  struct _GSubprocess* process_ = nullptr;
  int port_ = 0;
  bool running_ = false;
};
