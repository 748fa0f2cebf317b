// SPDX-License-Identifier: LGPL-2.1-or-later
// What the servers a test starts share: a free port of 127.0.0.1, waiting until one
// accepts, and how their programs are launched.
#pragma once

#include <gio/gio.h>

#include <string>

// A TCP socket on a free port of 127.0.0.1, listening when asked (the kernel then
// takes connections that nobody answers); its fd, or -1.
int bind_loopback(int* port, bool listening);

// A port of 127.0.0.1 free a moment ago (another may take it first: retry on failure).
int free_loopback_port();

// Whether something accepts a TCP connection on `port` of 127.0.0.1 now.
bool loopback_accepts(int port);

// The environment a server program runs in: ours without the sanitizer runtimes
// scripts/sanitize.sh preloads (initdb and postgres hang under a preloaded ASan).
GStrv server_environ();

// A launcher for a server program: that environment, its stdout and stderr into `log_path`.
GSubprocessLauncher* server_launcher(const std::string& log_path);
