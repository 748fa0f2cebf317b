// SPDX-License-Identifier: LGPL-2.1-or-later
// kling-emulator: the storage origin uploads go to (a third server, neither the
// API nor the CDN), like the presigned object store WaveSpeed's upload tickets name.
//
// POST /api/v3/media/uploads on the API makes a ticket here; the client then PUTs
// the bytes to the ticket's URL with exactly the ticket's headers and no bearer
// key, and the file is served at its download URL (GET/HEAD, here too).
#pragma once

#include "config.h"
#include "request_log.h"

#include <libsoup/soup.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace emu {

class StorageServer {
 public:
  StorageServer(const Config& config, RequestLog& log);
  ~StorageServer();
  StorageServer(const StorageServer&) = delete;
  StorageServer& operator=(const StorageServer&) = delete;

  bool start(GError** error);
  const std::string& base_url() const { return base_url_; }

  struct Ticket {
    std::string upload_url;                                    // PUT the bytes here
    std::string download_url;                                  // then they are served here
    std::vector<std::pair<std::string, std::string>> headers;  // the PUT must carry these
  };
  Ticket create_ticket(const std::string& filename, int64_t size, const std::string& content_type);

  // Stores bytes at once (the older multipart upload); returns the download URL.
  std::string store(const std::string& filename, const std::string& content_type, GBytes* bytes);

 private:
  static void on_request(SoupServer* server, SoupServerMessage* msg, const char* path,
                         GHashTable* query, gpointer self);
  void handle(SoupServerMessage* msg, const std::string& path);
  void reply(SoupServerMessage* msg, int status, const char* content_type, const std::string& body);
  void reply_s3_error(SoupServerMessage* msg, int status, const char* code,
                      const std::string& message);
  std::string new_path(const std::string& filename, std::string* token);

  struct Object {
    std::string token;  // the ticket's X-Upload-Token
    std::string content_type;
    int64_t size = -1;        // announced in the ticket; -1: any
    GBytes* bytes = nullptr;  // set once uploaded (owned)
  };

  const Config& config_;
  RequestLog& log_;
  SoupServer* server_ = nullptr;
  std::string base_url_;
  std::map<std::string, Object> objects_;  // by token
};

}  // namespace emu
