// SPDX-License-Identifier: LGPL-2.1-or-later
#include "core/wavespeed/api_client.h"

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include <cstring>

#include "core/util/json_util.h"
#include "core/util/url.h"
#include "core/wavespeed/model_catalog.h"
#include "core/wavespeed/submit_body.h"

namespace kling::api {

namespace {

// A short, printable excerpt of a body we could not parse (a gateway page):
// tags dropped, control characters and runs of spaces made one space.
std::string excerpt(std::string_view body) {
  std::string text;
  bool in_tag = false, space = false;
  for (char c : body.substr(0, 4096)) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (c == '<' || c == '>' || u <= 0x20 || u == 0x7f) {
      in_tag = c == '<' || (in_tag && c != '>');
      space = space || c == '>' || u <= 0x20 || u == 0x7f;
      continue;
    }
    if (in_tag) continue;
    if (space && !text.empty()) text += ' ';
    space = false;
    text += c;
    if (text.size() >= 200) break;
  }
  g_autofree char* valid = g_utf8_make_valid(text.data(), static_cast<gssize>(text.size()));
  return text.size() >= 200 ? std::string(valid) + "..." : std::string(valid);
}

Task parse_task(JsonObject* data) {
  Task t;
  if (const char* s = json::string_or_null(data, "id"))
    t.id = s;
  else if (auto n = json::int_member(data, "id"))  // an id sent as a number is still the id
    t.id = std::to_string(*n);
  if (const char* s = json::string_or_null(data, "model")) t.model = s;
  if (const char* s = json::string_or_null(data, "status")) {
    g_autofree char* lower = g_ascii_strdown(s, -1);  // "COMPLETED" is completed
    t.status = lower;
  }
  if (const char* s = json::string_or_null(data, "error")) t.error = s;
  if (const char* s = json::string_or_null(data, "created_at")) t.created_at = s;
  if (const char* s = json::string_or_null(json::object_member(data, "urls"), "get")) t.get_url = s;
  t.code = static_cast<int>(json::int_member(data, "code").value_or(0));
  t.inference_ms = json::int_member(json::object_member(data, "timings"), "inference").value_or(-1);
  if (JsonArray* outputs = json::array_member(data, "outputs")) {
    for (guint i = 0; i < json_array_get_length(outputs); i++) {
      JsonNode* n = json_array_get_element(outputs, i);
      if (JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING)
        t.outputs.emplace_back(json_node_get_string(n));
      else if (const char* url = JSON_NODE_HOLDS_OBJECT(n)
                                     ? json::string_or_null(json_node_get_object(n), "url")
                                     : nullptr)
        t.outputs.emplace_back(url);  // {"url": ...} objects, as some endpoints send
    }
  }
  if (JsonArray* flags = json::array_member(data, "has_nsfw_contents")) {
    for (guint i = 0; i < json_array_get_length(flags); i++) {
      JsonNode* n = json_array_get_element(flags, i);
      t.has_nsfw_contents.push_back(JSON_NODE_HOLDS_VALUE(n) &&
                                    json_node_get_value_type(n) == G_TYPE_BOOLEAN &&
                                    json_node_get_boolean(n));
    }
  }
  return t;
}

}  // namespace

std::string v3_url(const std::string& api_url, const std::string& path) {
  return without_trailing_slashes(api_url) + "/api/v3/" + path;
}

std::string submit_url(const std::string& api_url, const std::string& model) {
  return v3_url(api_url, model);
}

std::string result_url(const std::string& api_url, const std::string& task_id) {
  g_autofree char* id = g_uri_escape_string(task_id.c_str(), nullptr, FALSE);
  return without_trailing_slashes(api_url) + "/api/v3/predictions/" + id + "/result";
}

std::string build_submit_body(const Request& r) {
  SubmitBody body;
  build_submit_body(r, find_model(builtin_models(), r.model), {}, &body);
  return body.json;
}

Reply parse_reply(unsigned http_status, std::string_view body) {
  Reply reply;
  reply.http_status = http_status;
  const bool ok_status = http_status >= 200 && http_status < 300;

  std::string not_json;
  g_autoptr(JsonNode) node = json::parse(body, &not_json);
  JsonObject* root = node && JSON_NODE_HOLDS_OBJECT(node) ? json_node_get_object(node) : nullptr;

  if (!root) {
    reply.kind = ok_status ? ReplyKind::Malformed : ReplyKind::Gateway;
    reply.message = body.empty() ? "empty reply" : excerpt(body);
    if (reply.message.empty()) reply.message = not_json;  // only white space or control bytes
    return reply;
  }

  reply.api_code = static_cast<int>(json::int_member(root, "code").value_or(0));
  JsonObject* data = json::object_member(root, "data");
  if (data) reply.task = parse_task(data);
  const char* message = json::string_or_null(root, "message");
  const char* bare_error = json::string_or_null(root, "error");
  const char* data_error = json::string_or_null(data, "error");
  // An error_code beside the message (a permission error names the key's role there).
  std::string error_code;
  if (const char* s = json::string_or_null(root, "error_code"))
    error_code = s;
  else if (auto n = json::int_member(root, "error_code"))
    error_code = std::to_string(*n);
  auto best_message = [&]() -> std::string {
    std::string code = error_code.empty() ? "" : " (error_code " + error_code + ")";
    for (const char* m : {message, bare_error, data_error})
      if (m && *m) return m + code;
    return "HTTP " + std::to_string(http_status) + code;
  };

  // An error envelope can arrive inside an HTTP 200: a top-level code other than 200 is an error,
  // unless it is a server-side code beside a task's status (5004 while processing, 5003 with a
  // failed task): the task's own status and error say more.
  bool code_says_error = reply.api_code != 0 && reply.api_code != 200;
  if (ok_status && code_says_error && reply.api_code >= 500 && !reply.task.status.empty())
    code_says_error = false;
  if (!ok_status || code_says_error || (!data && bare_error)) {
    reply.kind = ReplyKind::ApiError;
    reply.message = best_message();
    return reply;
  }
  if (!data) {
    reply.kind = ReplyKind::Malformed;
    reply.message = "reply has no \"data\" object";
    return reply;
  }
  // An id or a status makes a readable task (a poll knows the id; a submit needs it): losing a
  // paid task's id for want of a status would be worse.
  if (reply.task.id.empty() && reply.task.status.empty()) {
    reply.kind = ReplyKind::Malformed;
    reply.message = "reply has no task id or status";
    return reply;
  }
  reply.kind = ReplyKind::Task;
  reply.message = message ? message : "";
  return reply;
}

std::optional<std::string> http_output(const Reply& reply) {
  if (reply.kind != ReplyKind::Task || reply.task.outputs.empty() ||
      !is_http_url(reply.task.outputs.front()))
    return std::nullopt;
  return reply.task.outputs.front();
}

bool is_final_status(const std::string& s) {
  return s == "completed" || s == "failed" || s == "cancelled" || s == "canceled" ||
         s == "timeout" || s == "deleted";
}

bool is_input_fault(int code) {
  return code >= 1000 && code < 2000;
}

std::optional<unsigned> parse_retry_after(const char* value, int64_t now_unix) {
  if (!value) return std::nullopt;
  while (g_ascii_isspace(*value)) value++;
  if (g_ascii_isdigit(*value)) {
    char* end = nullptr;
    guint64 secs = g_ascii_strtoull(value, &end, 10);
    while (end && g_ascii_isspace(*end)) end++;
    if (end && *end == '\0') return static_cast<unsigned>(MIN(secs, G_MAXUINT));
    return std::nullopt;
  }
  g_autoptr(GDateTime) when = soup_date_time_new_from_http_string(value);
  if (!when) return std::nullopt;
  int64_t delta = g_date_time_to_unix(when) - now_unix;
  return static_cast<unsigned>(delta > 0 ? MIN(delta, (int64_t)G_MAXUINT) : 0);
}

bool same_origin(const std::string& a, const std::string& b) {
  const auto origin = origin_of(a);
  return origin && origin == origin_of(b);
}

}  // namespace kling::api
