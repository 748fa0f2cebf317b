// kling-emulator: API routes, validation, the envelope and fault injection.
#include "api_server.h"

#include "catalog.h"
#include "json_text.h"
#include "server_util.h"

#include <json-glib/json-glib.h>

#include <cmath>
#include <cstring>

namespace emu {

namespace {

constexpr char kPrefix[] = "/api/v3/";
constexpr char kPredictions[] = "/api/v3/predictions/";
constexpr char kResultSuffix[] = "/result";
constexpr char kDefaultModel[] = "kwaivgi/kling-v2.0-t2v-master";
constexpr char kPricePath[] = "/api/v3/model/price";
constexpr char kBalancePath[] = "/api/v3/balance";
constexpr char kModelsPath[] = "/api/v3/models";

bool starts_with(const std::string &s, const char *prefix)
{
  return s.compare(0, strlen(prefix), prefix) == 0;
}

bool ends_with(const std::string &s, const char *suffix)
{
  const size_t n = strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// Validates the submit body; returns an error message or "" and fills request.
std::string validate(JsonObject *body, const std::string &model, TaskRequest *request)
{
  request->model = model;

  JsonNode *prompt = json_object_get_member(body, "prompt");
  if (!prompt || JSON_NODE_HOLDS_NULL(prompt))
    return "Missing required parameter: prompt";
  if (!JSON_NODE_HOLDS_VALUE(prompt) || json_node_get_value_type(prompt) != G_TYPE_STRING)
    return "Invalid parameter: prompt must be a string";
  request->prompt = json_node_get_string(prompt);
  const glong chars = g_utf8_strlen(request->prompt.c_str(), -1);
  if (chars < 1 || chars > 2500)
    return "Invalid parameter: prompt must be between 1 and 2500 characters, got " + std::to_string(chars);

  JsonNode *negative = json_object_get_member(body, "negative_prompt");
  if (negative && !JSON_NODE_HOLDS_NULL(negative) &&
      (!JSON_NODE_HOLDS_VALUE(negative) || json_node_get_value_type(negative) != G_TYPE_STRING))
    return "Invalid parameter: negative_prompt must be a string";
  if (negative && JSON_NODE_HOLDS_VALUE(negative) && g_utf8_strlen(json_node_get_string(negative), -1) > 2500)
    return "Invalid parameter: negative_prompt must be at most 2500 characters";

  request->aspect_ratio = "16:9";
  JsonNode *aspect = json_object_get_member(body, "aspect_ratio");
  if (aspect && !JSON_NODE_HOLDS_NULL(aspect)) {
    const char *value = JSON_NODE_HOLDS_VALUE(aspect) && json_node_get_value_type(aspect) == G_TYPE_STRING
                            ? json_node_get_string(aspect)
                            : nullptr;
    if (!value || (g_strcmp0(value, "16:9") && g_strcmp0(value, "9:16") && g_strcmp0(value, "1:1")))
      return "Invalid parameter: aspect_ratio must be one of 16:9, 9:16, 1:1";
    request->aspect_ratio = value;
  }

  request->duration = 5;
  JsonNode *duration = json_object_get_member(body, "duration");
  if (duration && !JSON_NODE_HOLDS_NULL(duration)) {
    const bool is_int = JSON_NODE_HOLDS_VALUE(duration) && json_node_get_value_type(duration) == G_TYPE_INT64;
    const gint64 value = is_int ? json_node_get_int(duration) : 0;
    if (!is_int || (value != 5 && value != 10))
      return "Invalid parameter: duration must be an integer, one of 5, 10";
    request->duration = int(value);
  }

  JsonNode *guidance = json_object_get_member(body, "guidance_scale");
  if (guidance && !JSON_NODE_HOLDS_NULL(guidance)) {
    const GType type = JSON_NODE_HOLDS_VALUE(guidance) ? json_node_get_value_type(guidance) : G_TYPE_INVALID;
    const bool number = type == G_TYPE_INT64 || type == G_TYPE_DOUBLE;
    const double value = number ? json_node_get_double(guidance) : NAN;
    if (!number || !(value >= 0.0 && value <= 1.0))
      return "Invalid parameter: guidance_scale must be a number between 0 and 1";
  }

  if (model.find("i2v") != std::string::npos) {
    JsonNode *image = json_object_get_member(body, "image");
    if (!image || !JSON_NODE_HOLDS_VALUE(image) || json_node_get_value_type(image) != G_TYPE_STRING ||
        !*json_node_get_string(image))
      return "Missing required parameter: image";
  }
  return {};
}

} // namespace

ApiServer::ApiServer(const Config &config, TaskStore &tasks, VideoMaker &videos, RequestLog &log)
    : config_(config), tasks_(tasks), videos_(videos), log_(log)
{
  server_ = soup_server_new("server-header", "kling-emulator ", NULL);
  soup_server_add_handler(server_, nullptr, on_request, this, nullptr);
}

ApiServer::~ApiServer()
{
  soup_server_disconnect(server_);
  g_object_unref(server_);
}

bool ApiServer::start(GError **error)
{
  base_url_ = listen_on(server_, config_.host, config_.port, error);
  return !base_url_.empty();
}

void ApiServer::on_request(SoupServer *, SoupServerMessage *msg, const char *path, GHashTable *, gpointer self)
{
  static_cast<ApiServer *>(self)->handle(msg, path ? path : "/");
}

void ApiServer::handle(SoupServerMessage *msg, const std::string &path)
{
  const std::string method = soup_server_message_get_method(msg);
  auto only = [&](const char *allowed, void (ApiServer::*handler)(SoupServerMessage *)) {
    if (method == allowed)
      (this->*handler)(msg);
    else
      reply_bare_error(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "method not allowed");
  };

  // Fixed paths first: none of them is a model.
  if (path == kPricePath)
    return only("POST", &ApiServer::handle_price);
  if (path == kBalancePath)
    return only("GET", &ApiServer::handle_balance);
  if (path == kModelsPath)
    return only("GET", &ApiServer::handle_models);

  if (starts_with(path, kPredictions)) {
    std::string rest = path.substr(strlen(kPredictions));
    const bool result_form = ends_with(rest, kResultSuffix);
    if (result_form)
      rest.resize(rest.size() - strlen(kResultSuffix));
    if (rest.empty() || rest.find('/') != std::string::npos) {
      reply_bare_error(msg, SOUP_STATUS_NOT_FOUND, "404 page not found");
    } else if (method == "GET") {
      handle_poll(msg, rest);
    } else if (method == "DELETE" && !result_form) {
      handle_delete(msg, rest);
    } else {
      reply_bare_error(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "method not allowed");
    }
    return;
  }

  if (starts_with(path, kPrefix) && path.size() > strlen(kPrefix) && path != "/api/v3/predictions") {
    std::string model = path.substr(strlen(kPrefix));
    while (!model.empty() && model.back() == '/')
      model.pop_back();
    if (method == "POST")
      handle_submit(msg, model);
    else
      reply_bare_error(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "method not allowed");
    return;
  }

  reply_bare_error(msg, SOUP_STATUS_NOT_FOUND, "404 page not found");
}

bool ApiServer::authorized(SoupServerMessage *msg) const
{
  const char *value =
      soup_message_headers_get_one(soup_server_message_get_request_headers(msg), "Authorization");
  if (!value || g_ascii_strncasecmp(value, "Bearer ", 7) != 0)
    return false;
  const char *key = value + 7;
  while (*key == ' ')
    key++;
  return config_.api_key == key;
}

void ApiServer::handle_submit(SoupServerMessage *msg, const std::string &model)
{
  if (config_.hang_submit)
    return hang(msg);
  if (!authorized(msg))
    return reply_envelope_error(msg, SOUP_STATUS_UNAUTHORIZED, "Invalid API key");

  if (submits_seen_++ < config_.fail_submits_429) {
    g_autofree char *seconds = g_strdup_printf("%d", config_.retry_after_s);
    soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Retry-After", seconds);
    return reply_envelope_error(msg, 429,
                                "Too many requests: rate limit exceeded, retry after " + std::string(seconds) +
                                    " s");
  }

  SoupMessageBody *body = soup_server_message_get_request_body(msg);
  g_autoptr(GBytes) bytes = soup_message_body_flatten(body);
  gsize size = 0;
  const char *data = static_cast<const char *>(g_bytes_get_data(bytes, &size));
  g_autoptr(JsonParser) parser = json_parser_new();
  g_autoptr(GError) parse_error = nullptr;
  if (size == 0)
    return reply_bare_error(msg, SOUP_STATUS_BAD_REQUEST, "request body is empty, expected a JSON object");
  if (!json_parser_load_from_data(parser, data, gssize(size), &parse_error))
    return reply_bare_error(msg, SOUP_STATUS_BAD_REQUEST, std::string("invalid JSON body: ") + parse_error->message);
  JsonNode *root = json_parser_get_root(parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT(root))
    return reply_bare_error(msg, SOUP_STATUS_BAD_REQUEST, "invalid JSON body: expected an object");

  TaskRequest request;
  const std::string problem = validate(json_node_get_object(root), model, &request);
  if (!problem.empty())
    return reply_envelope_error(msg, SOUP_STATUS_BAD_REQUEST, problem);

  if (const ModelSpec *spec = find_model(model))
    request.price = model_price(*spec, config_.price, json_node_get_object(root));
  else
    request.price = model_price(*find_model(kDefaultModel), config_.price, json_node_get_object(root));
  const double balance = this->balance();
  if (config_.check_balance && !config_.no_balance && request.price > balance + 1e-9)
    return reply_envelope_error(msg, 402, "Insufficient balance: the task costs $" + money(request.price) +
                                              ", the balance is $" + money(balance));

  const std::string id = tasks_.create(request);
  if (!config_.video_file.empty()) {
    tasks_.set_output(id, config_.video_file);
  } else if (!config_.fail_task) {
    VideoJob job;
    job.prompt = request.prompt;
    job.aspect_ratio = request.aspect_ratio;
    job.duration_s = request.duration;
    job.scale = config_.video_scale;
    job.faststart = !config_.moov_at_end;
    job.path = output_dir_ + "/" + id + ".mp4";
    TaskStore *tasks = &tasks_;
    std::string path = job.path;
    videos_.start(std::move(job), [tasks, id, path](const std::string &error) {
      if (error.empty())
        tasks->set_output(id, path);
      else
        tasks->set_generation_error(id, error);
    });
  }

  auto view = tasks_.view(id);
  reply(msg, SOUP_STATUS_OK, "application/json", task_json(*view));
}

void ApiServer::handle_poll(SoupServerMessage *msg, const std::string &id)
{
  if (config_.hang_polls)
    return hang(msg);
  const bool fail_502 = polls_seen_ < config_.fail_polls_502;
  const bool fail_500 = !fail_502 && polls_seen_ < config_.fail_polls_502 + config_.fail_polls_500;
  polls_seen_++;
  if (fail_502)
    return reply_gateway_502(msg);
  if (!authorized(msg))
    return reply_envelope_error(msg, SOUP_STATUS_UNAUTHORIZED, "Invalid API key");
  if (fail_500)
    return reply_envelope_error(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "Internal server error");

  auto view = tasks_.view(id);
  if (!view)
    return reply_envelope_error(msg, SOUP_STATUS_NOT_FOUND, "Prediction not found: " + id);
  reply(msg, SOUP_STATUS_OK, "application/json", task_json(*view));
}

void ApiServer::handle_delete(SoupServerMessage *msg, const std::string &id)
{
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
  json_builder_end_object(b);
  json_builder_end_object(b);
  reply(msg, SOUP_STATUS_OK, "application/json", to_json(b));
}

std::string ApiServer::task_json(const TaskView &task) const
{
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
  if (completed)
    json_builder_add_boolean_value(b, FALSE);
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

void ApiServer::hang(SoupServerMessage *msg)
{
  log_.write("api", msg, -1);
  soup_server_message_pause(msg);  // never unpaused: the client gives up first
}

void ApiServer::reply(SoupServerMessage *msg, int status, const char *content_type, const std::string &body)
{
  log_.write("api", msg, status);
  soup_server_message_set_status(msg, guint(status), nullptr);
  soup_server_message_set_response(msg, content_type, SOUP_MEMORY_COPY, body.data(), body.size());
}

void ApiServer::reply_envelope_error(SoupServerMessage *msg, int status, const std::string &message,
                                     const std::string &error_code)
{
  reply(msg, status, "application/json", envelope_error(status, message, error_code));
}

void ApiServer::reply_bare_error(SoupServerMessage *msg, int status, const std::string &message)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "error");
  json_builder_add_string_value(b, message.c_str());
  json_builder_end_object(b);
  reply(msg, status, "application/json", to_json(b));
}

void ApiServer::reply_gateway_502(SoupServerMessage *msg)
{
  reply(msg, SOUP_STATUS_BAD_GATEWAY, "text/html",
        "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
        "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n");
}

} // namespace emu
