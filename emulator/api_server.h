// SPDX-License-Identifier: LGPL-2.1-or-later
// kling-emulator: the WaveSpeed v3 API server (submit, poll, delete) with its faults.
#pragma once

#include "config.h"
#include "request_log.h"
#include "storage_server.h"
#include "task_store.h"
#include "video_maker.h"

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include <memory>
#include <string>
#include <vector>

namespace emu {

class ApiServer {
 public:
  ApiServer(const Config& config, TaskStore& tasks, VideoMaker& videos, RequestLog& log,
            StorageServer& storage);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Binds --host/--port; returns false with error set on failure.
  bool start(GError** error);
  const std::string& base_url() const { return base_url_; }

  // The CDN's base URL, used to build data.outputs.
  void set_cdn_url(const std::string& url) { cdn_url_ = url; }

  // Where generated videos are written.
  void set_output_dir(const std::string& dir) { output_dir_ = dir; }

 private:
  static void on_request(SoupServer* server, SoupServerMessage* msg, const char* path,
                         GHashTable* query, gpointer self);
  void handle(SoupServerMessage* msg, const std::string& path);
  void handle_submit(SoupServerMessage* msg, const std::string& model);
  void handle_poll(SoupServerMessage* msg, const std::string& id);
  void handle_delete(SoupServerMessage* msg, const std::string& id);
  // Renders the task's video (unless --video-file or --fail-task); image_path: the first frame.
  void start_render(const std::string& id, const TaskRequest& request,
                    const std::string& image_path);

  // The account: api_account.cpp.
  void handle_price(SoupServerMessage* msg);
  void handle_balance(SoupServerMessage* msg);
  void handle_models(SoupServerMessage* msg);
  double balance() const;  // the starting credit less what the tasks cost

  // Uploads and the images tasks name: api_media.cpp.
  void handle_upload_ticket(SoupServerMessage* msg);
  void handle_upload_binary(SoupServerMessage* msg);
  // Fetches request.image, then renders from it; a fetch that fails fails the task with 1402.
  void fetch_image(const std::string& id, const TaskRequest& request);
  static void on_image_fetched(GObject* source, GAsyncResult* result, gpointer fetch);

  // Sync mode: api_sync.cpp. The reply waits for a final status or --sync-timeout-ms.
  struct SyncWait {
    SoupServerMessage* msg = nullptr;  // referenced
    gulong disconnected = 0;
    bool gone = false;  // the client hung up
    std::string id;
    int64_t deadline_us = 0;
  };
  void wait_sync(SoupServerMessage* msg, const std::string& id);
  static gboolean on_sync_tick(gpointer self);
  bool sync_tick();
  void release_sync_wait(SyncWait& wait);

  bool authorized(SoupServerMessage* msg) const;
  // The account endpoints' gate, answered here: 404 when `absent` (an API without the
  // endpoint), 401 for a wrong key, 500 when `failing`. False: none of them.
  bool refused(SoupServerMessage* msg, bool absent, bool failing);
  void hang(SoupServerMessage* msg);
  void reply(SoupServerMessage* msg, int status, const char* content_type, const std::string& body);
  // Closes the data begin_success_envelope() opened and the envelope, replies 200.
  void reply_success(SoupServerMessage* msg, JsonBuilder* b, bool array = false);
  // The request body as a JSON object (owned by parser); nullptr with problem set.
  static JsonObject* body_object(SoupServerMessage* msg, JsonParser* parser, std::string* problem);
  void reply_envelope_error(SoupServerMessage* msg, int status, const std::string& message,
                            const std::string& error_code = {});
  void reply_bare_error(SoupServerMessage* msg, int status, const std::string& message);
  void reply_gateway_502(SoupServerMessage* msg);
  void reply_role_forbidden(SoupServerMessage* msg, const char* action);
  std::string task_json(const TaskView& task) const;

  const Config& config_;
  TaskStore& tasks_;
  VideoMaker& videos_;
  RequestLog& log_;
  StorageServer& storage_;
  SoupServer* server_ = nullptr;
  SoupSession* fetcher_ = nullptr;
  GCancellable* cancel_fetches_ = nullptr;
  std::vector<std::unique_ptr<SyncWait>> sync_waits_;
  guint sync_timer_ = 0;
  std::string base_url_;
  std::string cdn_url_;
  std::string output_dir_;
  int submits_seen_ = 0;
  int polls_seen_ = 0;
};

}  // namespace emu
