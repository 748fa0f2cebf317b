// kling-emulator: the WaveSpeed v3 API server (submit, poll, delete) with its faults.
#pragma once

#include "config.h"
#include "request_log.h"
#include "task_store.h"
#include "video_maker.h"

#include <libsoup/soup.h>

#include <string>

namespace emu {

class ApiServer {
public:
  ApiServer(const Config &config, TaskStore &tasks, VideoMaker &videos, RequestLog &log);
  ~ApiServer();
  ApiServer(const ApiServer &) = delete;
  ApiServer &operator=(const ApiServer &) = delete;

  // Binds --host/--port; returns false with error set on failure.
  bool start(GError **error);
  const std::string &base_url() const { return base_url_; }

  // The CDN's base URL, used to build data.outputs.
  void set_cdn_url(const std::string &url) { cdn_url_ = url; }

  // Where generated videos are written.
  void set_output_dir(const std::string &dir) { output_dir_ = dir; }

private:
  static void on_request(SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
                         gpointer self);
  void handle(SoupServerMessage *msg, const std::string &path);
  void handle_submit(SoupServerMessage *msg, const std::string &model);
  void handle_poll(SoupServerMessage *msg, const std::string &id);
  void handle_delete(SoupServerMessage *msg, const std::string &id);

  // The account: api_account.cpp.
  void handle_price(SoupServerMessage *msg);
  void handle_balance(SoupServerMessage *msg);
  void handle_models(SoupServerMessage *msg);
  double balance() const;  // the starting credit less what the tasks cost

  bool authorized(SoupServerMessage *msg) const;
  void hang(SoupServerMessage *msg);
  void reply(SoupServerMessage *msg, int status, const char *content_type, const std::string &body);
  void reply_envelope_error(SoupServerMessage *msg, int status, const std::string &message,
                            const std::string &error_code = {});
  void reply_bare_error(SoupServerMessage *msg, int status, const std::string &message);
  void reply_gateway_502(SoupServerMessage *msg);
  std::string task_json(const TaskView &task) const;

  const Config &config_;
  TaskStore &tasks_;
  VideoMaker &videos_;
  RequestLog &log_;
  SoupServer *server_ = nullptr;
  std::string base_url_;
  std::string cdn_url_;
  std::string output_dir_;
  int submits_seen_ = 0;
  int polls_seen_ = 0;
};

} // namespace emu
