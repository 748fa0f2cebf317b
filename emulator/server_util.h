// SPDX-License-Identifier: LGPL-2.1-or-later
// kling-emulator: what its servers share: binding to an address and naming it, a
// reply logged, S3's error document.
#pragma once

#include <libsoup/soup.h>

#include <string>

#include "request_log.h"

namespace emu {

// True if host is a loopback address (127.0.0.0/8, ::1) or "localhost".
bool is_loopback_host(const std::string& host);

// Listens on host:port (port 0 picks a free one) and returns the base URL,
// "http://HOST:PORT" with no trailing slash; empty with error set on failure.
std::string listen_on(SoupServer* server, const std::string& host, int port, GError** error);

// Answers `msg` with `status` and `body`, written to the request log as `server`'s.
void reply_logged(RequestLog& log, const char* server, SoupServerMessage* msg, int status,
                  const char* content_type, const std::string& body);

// An S3 error document (what the CDN and the storage answer a bad request with).
std::string s3_error_xml(const char* code, const std::string& message);

}  // namespace emu
