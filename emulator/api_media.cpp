// SPDX-License-Identifier: LGPL-2.1-or-later
// kling-emulator: uploads on the API (the ticket flow and the older multipart
// upload; the bytes land on the storage origin) and the fetch of the image an
// image-to-video task names.
#include "api_server.h"

#include "json_text.h"

namespace emu {

namespace {

struct ImageFetch {
  ApiServer* server;
  TaskStore* tasks;
  std::string id;
  TaskRequest request;
  std::string path;  // where the image is kept for the render
  SoupMessage* msg;  // owned
};

void fail_fetch(ImageFetch* fetch, const std::string& why) {
  fetch->tasks->set_generation_error(
      fetch->id, 1402, "Failed to fetch the image " + fetch->request.image + ": " + why);
}

}  // namespace

void ApiServer::on_image_fetched(GObject* source, GAsyncResult* result, gpointer data) {
  std::unique_ptr<ImageFetch> fetch(static_cast<ImageFetch*>(data));
  g_autoptr(GError) error = nullptr;
  g_autoptr(GBytes) body = soup_session_send_and_read_finish(SOUP_SESSION(source), result, &error);
  const guint status = soup_message_get_status(fetch->msg);
  g_object_unref(fetch->msg);
  if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;  // shutting down: the server may be gone
  if (error) return fail_fetch(fetch.get(), error->message);
  if (status < 200 || status > 299)
    return fail_fetch(fetch.get(), "HTTP " + std::to_string(status));
  if (g_bytes_get_size(body) == 0) return fail_fetch(fetch.get(), "the file is empty");
  if (fetch->path.empty()) return;
  g_autoptr(GError) write_error = nullptr;
  if (!g_file_set_contents(fetch->path.c_str(),
                           static_cast<const char*>(g_bytes_get_data(body, nullptr)),
                           gssize(g_bytes_get_size(body)), &write_error))
    return fetch->tasks->set_generation_error(
        fetch->id, 5000, std::string("Internal error: ") + write_error->message);
  fetch->server->start_render(fetch->id, fetch->request, fetch->path);
}

void ApiServer::fetch_image(const std::string& id, const TaskRequest& request) {
  // Nothing to render from with --video-file or --fail-task: the fetch still decides 1402.
  const bool renders = config_.video_file.empty() && !config_.fail_task;
  auto* fetch = new ImageFetch{
      this, &tasks_, id, request, renders ? output_dir_ + "/" + id + ".image" : "", nullptr};
  // Kept encoded: a decoded %20 would put a space in the request line.
  g_autoptr(GUri) uri = g_uri_parse(request.image.c_str(), GUriFlags(SOUP_HTTP_URI_FLAGS), nullptr);
  const char* scheme = uri ? g_uri_get_scheme(uri) : nullptr;
  if (!scheme || (g_ascii_strcasecmp(scheme, "http") && g_ascii_strcasecmp(scheme, "https"))) {
    fail_fetch(fetch, "not an http(s) URL");
    delete fetch;
    return;
  }
  fetch->msg = soup_message_new_from_uri("GET", uri);
  soup_session_send_and_read_async(fetcher_, fetch->msg, G_PRIORITY_DEFAULT, cancel_fetches_,
                                   on_image_fetched, fetch);
}

void ApiServer::handle_upload_ticket(SoupServerMessage* msg) {
  if (!authorized(msg))
    return reply_envelope_error(msg, SOUP_STATUS_UNAUTHORIZED, "Invalid API key");
  if (!config_.key_role.empty()) return reply_role_forbidden(msg, "upload media");

  g_autoptr(JsonParser) parser = json_parser_new();
  std::string problem;
  JsonObject* body = body_object(msg, parser, &problem);
  if (!body) return reply_envelope_error(msg, SOUP_STATUS_BAD_REQUEST, problem);

  auto member_type = [body](const char* name) {
    JsonNode* node = json_object_get_member(body, name);
    return node && JSON_NODE_HOLDS_VALUE(node) ? json_node_get_value_type(node) : G_TYPE_INVALID;
  };
  if (member_type("filename") != G_TYPE_STRING || !*json_object_get_string_member(body, "filename"))
    return reply_envelope_error(msg, SOUP_STATUS_BAD_REQUEST,
                                "Missing required parameter: filename");
  if (member_type("size") != G_TYPE_INT64 || json_object_get_int_member(body, "size") < 0)
    return reply_envelope_error(msg, SOUP_STATUS_BAD_REQUEST,
                                "Invalid parameter: size must be a non-negative integer (bytes)");
  const GType type = member_type("content_type");
  if (type != G_TYPE_INVALID && type != G_TYPE_STRING)
    return reply_envelope_error(msg, SOUP_STATUS_BAD_REQUEST,
                                "Invalid parameter: content_type must be a string");
  const std::string filename = json_object_get_string_member(body, "filename");
  const std::string content_type =
      type == G_TYPE_STRING ? json_object_get_string_member(body, "content_type") : "";

  const StorageServer::Ticket ticket =
      storage_.create_ticket(filename, json_object_get_int_member(body, "size"), content_type);
  g_autoptr(JsonBuilder) b = json_builder_new();
  begin_success_envelope(b);
  json_builder_set_member_name(b, "filename");
  json_builder_add_string_value(b, filename.c_str());
  json_builder_set_member_name(b, "download_url");
  json_builder_add_string_value(b, ticket.download_url.c_str());
  json_builder_set_member_name(b, "upload");
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "url");
  json_builder_add_string_value(b, ticket.upload_url.c_str());
  json_builder_set_member_name(b, "method");
  json_builder_add_string_value(b, "PUT");
  json_builder_set_member_name(b, "headers");
  json_builder_begin_object(b);
  for (const auto& header : ticket.headers) {
    json_builder_set_member_name(b, header.first.c_str());
    json_builder_add_string_value(b, header.second.c_str());
  }
  json_builder_end_object(b);
  json_builder_end_object(b);
  reply_success(msg, b);
}

void ApiServer::handle_upload_binary(SoupServerMessage* msg) {
  if (!authorized(msg))
    return reply_envelope_error(msg, SOUP_STATUS_UNAUTHORIZED, "Invalid API key");
  if (!config_.key_role.empty()) return reply_role_forbidden(msg, "upload media");

  g_autoptr(GBytes) bytes = soup_message_body_flatten(soup_server_message_get_request_body(msg));
  g_autoptr(SoupMultipart) multipart =
      soup_multipart_new_from_message(soup_server_message_get_request_headers(msg), bytes);
  SoupMessageHeaders* part_headers = nullptr;
  GBytes* part = nullptr;
  std::string filename, content_type;
  for (int i = 0; multipart && i < soup_multipart_get_length(multipart); i++) {
    SoupMessageHeaders* headers = nullptr;
    GBytes* body = nullptr;
    soup_multipart_get_part(multipart, i, &headers, &body);
    g_autofree char* disposition = nullptr;
    GHashTable* params = nullptr;
    if (!soup_message_headers_get_content_disposition(headers, &disposition, &params)) continue;
    const char* name = static_cast<const char*>(g_hash_table_lookup(params, "name"));
    if (g_strcmp0(name, "file") == 0) {
      part_headers = headers;
      part = body;
      const char* given = static_cast<const char*>(g_hash_table_lookup(params, "filename"));
      filename = given ? given : "upload";
      const char* type = soup_message_headers_get_content_type(headers, nullptr);
      content_type = type ? type : "";
    }
    g_hash_table_destroy(params);
  }
  if (!multipart)
    return reply_envelope_error(msg, SOUP_STATUS_BAD_REQUEST,
                                "Invalid request: expected multipart/form-data");
  if (!part_headers)
    return reply_envelope_error(msg, SOUP_STATUS_BAD_REQUEST, "Missing required parameter: file");

  const std::string url = storage_.store(filename, content_type, part);
  g_autoptr(JsonBuilder) b = json_builder_new();
  begin_success_envelope(b);
  json_builder_set_member_name(b, "type");
  json_builder_add_string_value(
      b, content_type.empty() ? "application/octet-stream" : content_type.c_str());
  json_builder_set_member_name(b, "filename");
  json_builder_add_string_value(b, filename.c_str());
  json_builder_set_member_name(b, "size");
  json_builder_add_int_value(b, gint64(g_bytes_get_size(part)));
  json_builder_set_member_name(b, "download_url");
  json_builder_add_string_value(b, url.c_str());
  reply_success(msg, b);
}

}  // namespace emu
