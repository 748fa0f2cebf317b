// SPDX-License-Identifier: LGPL-2.1-or-later
// What the tests' loopback servers share: a thread with its own GMainContext
// (a server on the test's default context hangs under GstHarness, which never
// iterates it), and listening on a loopback address.
#pragma once

#include <libsoup/soup.h>

#include <functional>
#include <string>
#include <thread>

class ServerThread {
 public:
  // Runs `setup` on the new thread with its context pushed and returns once it
  // has; the destructor quits the loop, runs `teardown` there and joins.
  ServerThread(std::function<void()> setup, std::function<void()> teardown);
  ~ServerThread();
  ServerThread(const ServerThread&) = delete;
  ServerThread& operator=(const ServerThread&) = delete;

 private:
  GMainContext* context_;
  GMainLoop* loop_;
  std::thread thread_;
};

// Listens on `ip` (a free port) and returns the base URL without a trailing
// slash, or "" (and `error`) when it cannot.
std::string listen_loopback(SoupServer* server, const char* ip, bool https,
                            GError** error = nullptr);
