// SPDX-License-Identifier: LGPL-2.1-or-later
// What the tests' loopback servers share: a thread with its own GMainContext
// (a server on the test's default context hangs under GstHarness, which never
// iterates it), and listening on a loopback address.
#pragma once

#include <libsoup/soup.h>

#include <functional>
#include <string>
#include <utility>

#include "core/util/context_thread.h"

// "test-servers", a kling::ContextThread: the plugin's own.
class ServerThread : public kling::ContextThread {
 public:
  // Runs `setup` on the new thread with its context pushed and returns once it
  // has; the destructor quits the loop, runs `teardown` there and joins.
  ServerThread(std::function<void()> setup, std::function<void()> teardown)
      : ContextThread("test-servers", std::move(setup), std::move(teardown)) {}
};

// Listens on `ip` (a free port) and returns the base URL without a trailing
// slash, or "" (and `error`) when it cannot.
std::string listen_loopback(SoupServer* server, const char* ip, bool https,
                            GError** error = nullptr);
