// SPDX-License-Identifier: LGPL-2.1-or-later
// kling-emulator: what both servers share: binding to an address and naming it.
#pragma once

#include <libsoup/soup.h>

#include <string>

namespace emu {

// True if host is a loopback address (127.0.0.0/8, ::1) or "localhost".
bool is_loopback_host(const std::string& host);

// Listens on host:port (port 0 picks a free one) and returns the base URL,
// "http://HOST:PORT" with no trailing slash; empty with error set on failure.
std::string listen_on(SoupServer* server, const std::string& host, int port, GError** error);

}  // namespace emu
