// SPDX-License-Identifier: LGPL-2.1-or-later
// kling-emulator: API routes, validation, the envelope and fault injection.
#include "api_server.h"

#include "catalog.h"
#include "json_text.h"
#include "schema_check.h"
#include "server_util.h"

#include <json-glib/json-glib.h>

#include <cmath>
#include <cstring>

namespace emu {

namespace {

constexpr char kPrefix[] = "/api/v3/";
constexpr char kPredictions[] = "/api/v3/predictions/";
// WaveSpeed's ComfyUI node still polls here.
constexpr char kPredictionsV2[] = "/api/v2/predictions/";
constexpr char kResultSuffix[] = "/result";
constexpr char kPricePath[] = "/api/v3/model/price";
constexpr char kBalancePath[] = "/api/v3/balance";
constexpr char kModelsPath[] = "/api/v3/models";
constexpr char kUploadsPath[] = "/api/v3/media/uploads";
constexpr char kUploadBinaryPath[] = "/api/v3/media/upload/binary";
constexpr int64_t kSyncTickMs = 20;

bool starts_with(const std::string& s, const char* prefix) {
  return s.compare(0, strlen(prefix), prefix) == 0;
}

bool ends_with(const std::string& s, const char* suffix) {
  const size_t n = strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

}  // namespace

ApiServer::ApiServer(const Config& config, TaskStore& tasks, VideoMaker& videos, RequestLog& log,
                     StorageServer& storage)
    : config_(config), tasks_(tasks), videos_(videos), log_(log), storage_(storage) {
  server_ = soup_server_new("server-header", "kling-emulator ", NULL);
  soup_server_add_handler(server_, nullptr, on_request, this, nullptr);
  // For the images of image-to-video tasks.
  fetcher_ =
      soup_session_new_with_options("timeout", 10, "user-agent", "kling-emulator-fetcher", NULL);
  cancel_fetches_ = g_cancellable_new();
}

ApiServer::~ApiServer() {
  g_cancellable_cancel(cancel_fetches_);
  g_object_unref(cancel_fetches_);
  g_object_unref(fetcher_);
  if (sync_timer_) g_source_remove(sync_timer_);
  for (auto& wait : sync_waits_) release_sync_wait(*wait);
  soup_server_disconnect(server_);
  g_object_unref(server_);
}

bool ApiServer::start(GError** error) {
  base_url_ = listen_on(server_, config_.host, config_.port, error);
  return !base_url_.empty();
}

void ApiServer::on_request(SoupServer*, SoupServerMessage* msg, const char* path, GHashTable*,
                           gpointer self) {
  static_cast<ApiServer*>(self)->handle(msg, path ? path : "/");
}

void ApiServer::handle(SoupServerMessage* msg, const std::string& path) {
  const std::string method = soup_server_message_get_method(msg);
  auto only = [&](const char* allowed, void (ApiServer::*handler)(SoupServerMessage*)) {
    if (method == allowed)
      (this->*handler)(msg);
    else
      reply_bare_error(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "method not allowed");
  };

  // Fixed paths first: none of them is a model.
  if (path == kPricePath) return only("POST", &ApiServer::handle_price);
  if (path == kBalancePath) return only("GET", &ApiServer::handle_balance);
  if (path == kModelsPath) return only("GET", &ApiServer::handle_models);
  if (path == kUploadsPath) return only("POST", &ApiServer::handle_upload_ticket);
  if (path == kUploadBinaryPath) return only("POST", &ApiServer::handle_upload_binary);

  const bool v2 = starts_with(path, kPredictionsV2);
  if (v2 || starts_with(path, kPredictions)) {
    std::string rest = path.substr(strlen(v2 ? kPredictionsV2 : kPredictions));
    const bool result_form = ends_with(rest, kResultSuffix);
    if (result_form) rest.resize(rest.size() - strlen(kResultSuffix));
    if (rest.empty() || rest.find('/') != std::string::npos) {
      reply_bare_error(msg, SOUP_STATUS_NOT_FOUND, "404 page not found");
    } else if (method == "GET") {
      handle_poll(msg, rest);
    } else if (method == "DELETE" && !result_form && !v2) {
      handle_delete(msg, rest);
    } else {
      reply_bare_error(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "method not allowed");
    }
    return;
  }

  if (starts_with(path, kPrefix) && path.size() > strlen(kPrefix) &&
      path != "/api/v3/predictions") {
    std::string model = path.substr(strlen(kPrefix));
    while (!model.empty() && model.back() == '/') model.pop_back();
    if (method == "POST")
      handle_submit(msg, model);
    else
      reply_bare_error(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "method not allowed");
    return;
  }

  reply_bare_error(msg, SOUP_STATUS_NOT_FOUND, "404 page not found");
}

bool ApiServer::authorized(SoupServerMessage* msg) const {
  const char* value =
      soup_message_headers_get_one(soup_server_message_get_request_headers(msg), "Authorization");
  if (!value || g_ascii_strncasecmp(value, "Bearer ", 7) != 0) return false;
  const char* key = value + 7;
  while (*key == ' ') key++;
  return config_.api_key == key;
}

void ApiServer::handle_submit(SoupServerMessage* msg, const std::string& model_id) {
  if (config_.hang_submit) return hang(msg);
  if (!authorized(msg))
    return reply_envelope_error(msg, SOUP_STATUS_UNAUTHORIZED, "Invalid API key");
  if (!config_.key_role.empty()) return reply_role_forbidden(msg, "create predictions");

  if (submits_seen_++ < config_.fail_submits_429) {
    g_autofree char* seconds = g_strdup_printf("%d", config_.retry_after_s);
    soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Retry-After",
                                 seconds);
    return reply_envelope_error(
        msg, 429,
        "Too many requests: rate limit exceeded, retry after " + std::string(seconds) + " s");
  }

  const ModelSpec* model = find_model(model_id);
  if (!model)
    return reply_envelope_error(
        msg, SOUP_STATUS_NOT_FOUND,
        "Model not found: " + model_id + " (GET /api/v3/models lists the models)");

  g_autoptr(JsonParser) parser = json_parser_new();
  std::string problem;
  JsonObject* body = body_object(msg, parser, &problem);
  if (!body) return reply_bare_error(msg, SOUP_STATUS_BAD_REQUEST, problem);

  TaskRequest request;
  problem = check_request(*model, body, &request);
  if (!problem.empty()) return reply_envelope_error(msg, SOUP_STATUS_BAD_REQUEST, problem);

  request.price = model_price(*model, config_.price, body);
  const double balance = this->balance();
  if (config_.check_balance && !config_.no_balance && request.price > balance + 1e-9)
    return reply_envelope_error(msg, 402,
                                "Insufficient balance: the task costs $" + money(request.price) +
                                    ", the balance is $" + money(balance));

  const std::string id = tasks_.create(request);
  if (!config_.video_file.empty()) tasks_.set_output(id, config_.video_file);
  // An image-to-video task renders once its image is here (fetch_image), from it.
  if (!request.image.empty())
    fetch_image(id, request);
  else
    start_render(id, request, {});

  if (request.sync) return wait_sync(msg, id);
  auto view = tasks_.view(id);
  reply(msg, SOUP_STATUS_OK, "application/json", task_json(*view));
}

void ApiServer::start_render(const std::string& id, const TaskRequest& request,
                             const std::string& image_path) {
  if (!config_.video_file.empty() || config_.fail_task) return;
  VideoJob job;
  job.prompt = request.prompt;
  job.aspect_ratio = request.aspect_ratio;
  job.duration_s = request.duration;
  job.audio = request.audio;
  job.image_path = image_path;
  job.scale = config_.video_scale;
  job.faststart = !config_.moov_at_end;
  job.path = output_dir_ + "/" + id + ".mp4";
  TaskStore* tasks = &tasks_;
  std::string path = job.path;
  videos_.start(std::move(job), [tasks, id, path](const std::string& error) {
    if (error.empty())
      tasks->set_output(id, path);
    else
      tasks->set_generation_error(id, 5000, "Internal error: video generation failed: " + error);
  });
}

void ApiServer::handle_poll(SoupServerMessage* msg, const std::string& id) {
  if (config_.hang_polls) return hang(msg);
  const bool fail_502 = polls_seen_ < config_.fail_polls_502;
  const bool fail_500 = !fail_502 && polls_seen_ < config_.fail_polls_502 + config_.fail_polls_500;
  polls_seen_++;
  if (fail_502) return reply_gateway_502(msg);
  if (!authorized(msg))
    return reply_envelope_error(msg, SOUP_STATUS_UNAUTHORIZED, "Invalid API key");
  if (fail_500)
    return reply_envelope_error(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "Internal server error");

  auto view = tasks_.view(id);
  if (!view) return reply_envelope_error(msg, SOUP_STATUS_NOT_FOUND, "Prediction not found: " + id);
  reply(msg, SOUP_STATUS_OK, "application/json", task_json(*view));
}

void ApiServer::handle_delete(SoupServerMessage* msg, const std::string& id) {
  if (!authorized(msg))
    return reply_envelope_error(msg, SOUP_STATUS_UNAUTHORIZED, "Invalid API key");
  if (!tasks_.remove(id))
    return reply_envelope_error(msg, SOUP_STATUS_NOT_FOUND, "Prediction not found: " + id);

  g_autoptr(JsonBuilder) b = json_builder_new();
  begin_success_envelope(b);
  json_builder_set_member_name(b, "id");
  json_builder_add_string_value(b, id.c_str());
  json_builder_set_member_name(b, "status");
  json_builder_add_string_value(b, "deleted");
  reply_success(msg, b);
}

std::string ApiServer::task_json(const TaskView& task) const {
  const bool completed = task.status == "completed";
  g_autoptr(JsonBuilder) b = json_builder_new();
  begin_success_envelope(b);
  json_builder_set_member_name(b, "id");
  json_builder_add_string_value(b, task.id.c_str());
  json_builder_set_member_name(b, "model");
  json_builder_add_string_value(b, task.model.c_str());
  json_builder_set_member_name(b, "outputs");
  json_builder_begin_array(b);
  if (completed)
    json_builder_add_string_value(b, (cdn_url_ + "/outputs/" + task.id + ".mp4").c_str());
  json_builder_end_array(b);
  json_builder_set_member_name(b, "urls");
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "get");
  json_builder_add_string_value(b, (base_url_ + kPredictions + task.id + kResultSuffix).c_str());
  json_builder_end_object(b);
  json_builder_set_member_name(b, "has_nsfw_contents");
  json_builder_begin_array(b);
  if (completed) json_builder_add_boolean_value(b, FALSE);
  json_builder_end_array(b);
  json_builder_set_member_name(b, "status");
  json_builder_add_string_value(b, task.status.c_str());
  json_builder_set_member_name(b, "created_at");
  json_builder_add_string_value(b, task.created_at.c_str());
  json_builder_set_member_name(b, "error");
  json_builder_add_string_value(b, task.error.c_str());
  if (task.code != 0) {
    json_builder_set_member_name(b, "code");
    json_builder_add_int_value(b, task.code);
  }
  json_builder_set_member_name(b, "timings");
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "inference");
  json_builder_add_int_value(b, task.inference_ms);
  json_builder_end_object(b);
  json_builder_end_object(b);
  json_builder_end_object(b);
  return to_json(b);
}

void ApiServer::hang(SoupServerMessage* msg) {
  log_.write("api", msg, -1);
  soup_server_message_pause(msg);  // never unpaused: the client gives up first
}

void ApiServer::reply(SoupServerMessage* msg, int status, const char* content_type,
                      const std::string& body) {
  reply_logged(log_, "api", msg, status, content_type, body);
}

void ApiServer::reply_success(SoupServerMessage* msg, JsonBuilder* b, bool array) {
  if (array)
    json_builder_end_array(b);
  else
    json_builder_end_object(b);
  json_builder_end_object(b);
  reply(msg, SOUP_STATUS_OK, "application/json", to_json(b));
}

JsonObject* ApiServer::body_object(SoupServerMessage* msg, JsonParser* parser,
                                   std::string* problem) {
  g_autoptr(GBytes) bytes = soup_message_body_flatten(soup_server_message_get_request_body(msg));
  gsize size = 0;
  const char* data = static_cast<const char*>(g_bytes_get_data(bytes, &size));
  // The parser copies what it keeps: the bytes may go.
  return parse_object(parser, data, size, problem);
}

void ApiServer::reply_envelope_error(SoupServerMessage* msg, int status, const std::string& message,
                                     const std::string& error_code) {
  reply(msg, status, "application/json", envelope_error(status, message, error_code));
}

void ApiServer::reply_bare_error(SoupServerMessage* msg, int status, const std::string& message) {
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "error");
  json_builder_add_string_value(b, message.c_str());
  json_builder_end_object(b);
  reply(msg, status, "application/json", to_json(b));
}

void ApiServer::reply_role_forbidden(SoupServerMessage* msg, const char* action) {
  reply_envelope_error(msg, SOUP_STATUS_FORBIDDEN,
                       "Permission denied: this API key was made by a member of role '" +
                           config_.key_role + "', which may not " + action,
                       "PERMISSION_DENIED");
}

void ApiServer::reply_gateway_502(SoupServerMessage* msg) {
  reply(msg, SOUP_STATUS_BAD_GATEWAY, "text/html",
        "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
        "<center><h1>502 Bad "
        "Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n");
}

}  // namespace emu
