// SPDX-License-Identifier: LGPL-2.1-or-later
// kling-emulator: the output host: GET/HEAD /outputs/{id}.mp4 with Range support.
//
// A second SoupServer on its own address/port, so tests can check that the
// API key never travels to it. Files are memory-mapped and handed to libsoup
// as one GBytes, so large outputs stream without being read into memory.
#pragma once

#include "config.h"
#include "request_log.h"
#include "task_store.h"

#include <libsoup/soup.h>

#include <string>

namespace emu {

class CdnServer {
 public:
  CdnServer(const Config& config, TaskStore& tasks, RequestLog& log);
  ~CdnServer();
  CdnServer(const CdnServer&) = delete;
  CdnServer& operator=(const CdnServer&) = delete;

  bool start(GError** error);
  const std::string& base_url() const { return base_url_; }

 private:
  static void on_request(SoupServer* server, SoupServerMessage* msg, const char* path,
                         GHashTable* query, gpointer self);
  void handle(SoupServerMessage* msg, const std::string& path);
  void reply_text(SoupServerMessage* msg, int status, const char* content_type,
                  const std::string& body);

  const Config& config_;
  TaskStore& tasks_;
  RequestLog& log_;
  SoupServer* server_ = nullptr;
  std::string base_url_;
  int downloads_seen_ = 0;
};

}  // namespace emu
