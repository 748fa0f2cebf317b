// SPDX-License-Identifier: LGPL-2.1-or-later
// kling-emulator: the storage origin: upload tickets, PUTs and downloads.
#include "storage_server.h"

#include "server_util.h"

#include <cstring>

namespace emu {

namespace {

constexpr char kTokenHeader[] = "X-Upload-Token";
constexpr char kMediaPrefix[] = "/media/";

std::string random_hex(int words) {
  std::string out;
  for (int i = 0; i < words; i++) {
    char part[9];
    g_snprintf(part, sizeof part, "%08x", g_random_int());
    out += part;
  }
  return out;
}

}  // namespace

StorageServer::StorageServer(const Config& config, RequestLog& log) : config_(config), log_(log) {
  server_ = soup_server_new("server-header", "kling-emulator-storage ", NULL);
  soup_server_add_handler(server_, nullptr, on_request, this, nullptr);
}

StorageServer::~StorageServer() {
  soup_server_disconnect(server_);
  g_object_unref(server_);
  for (auto& entry : objects_)
    if (entry.second.bytes) g_bytes_unref(entry.second.bytes);
}

bool StorageServer::start(GError** error) {
  base_url_ = listen_on(server_, config_.storage_host, config_.storage_port, error);
  return !base_url_.empty();
}

std::string StorageServer::new_path(const std::string& filename, std::string* token) {
  g_autofree char* base = g_path_get_basename(filename.empty() ? "upload" : filename.c_str());
  const bool usable =
      base[0] && g_strcmp0(base, ".") && g_strcmp0(base, "/") && g_strcmp0(base, "..");
  g_autofree char* escaped = g_uri_escape_string(usable ? base : "upload", nullptr, FALSE);
  *token = random_hex(4);
  return kMediaPrefix + *token + "/" + escaped;
}

StorageServer::Ticket StorageServer::create_ticket(const std::string& filename, int64_t size,
                                                   const std::string& content_type) {
  std::string token;
  const std::string path = new_path(filename, &token);
  Object& object = objects_[token];
  object.token = token;
  object.content_type = content_type.empty() ? "application/octet-stream" : content_type;
  object.size = size;

  Ticket ticket;
  ticket.upload_url = base_url_ + path;
  ticket.download_url = base_url_ + path;
  ticket.headers = {{"Content-Type", object.content_type}, {kTokenHeader, token}};
  return ticket;
}

std::string StorageServer::store(const std::string& filename, const std::string& content_type,
                                 GBytes* bytes) {
  std::string token;
  const std::string path = new_path(filename, &token);
  Object& object = objects_[token];
  object.token = token;
  object.content_type = content_type.empty() ? "application/octet-stream" : content_type;
  object.size = int64_t(g_bytes_get_size(bytes));
  object.bytes = g_bytes_ref(bytes);
  return base_url_ + path;
}

void StorageServer::on_request(SoupServer*, SoupServerMessage* msg, const char* path, GHashTable*,
                               gpointer self) {
  static_cast<StorageServer*>(self)->handle(msg, path ? path : "/");
}

void StorageServer::reply(SoupServerMessage* msg, int status, const char* content_type,
                          const std::string& body) {
  reply_logged(log_, "storage", msg, status, content_type, body);
}

void StorageServer::reply_s3_error(SoupServerMessage* msg, int status, const char* code,
                                   const std::string& message) {
  reply(msg, status, "application/xml", s3_error_xml(code, message));
}

void StorageServer::handle(SoupServerMessage* msg, const std::string& path) {
  const std::string method = soup_server_message_get_method(msg);
  // /media/<token>/<name>: the token names the object (the name is for people, and may
  // arrive escaped or not).
  const size_t prefix = strlen(kMediaPrefix);
  const size_t slash = path.find('/', prefix);
  auto it = path.compare(0, prefix, kMediaPrefix) == 0 && slash != std::string::npos
                ? objects_.find(path.substr(prefix, slash - prefix))
                : objects_.end();
  if (it == objects_.end())
    return reply_s3_error(msg, SOUP_STATUS_NOT_FOUND, "NoSuchKey",
                          "The specified key does not exist.");
  Object& object = it->second;
  SoupMessageHeaders* headers = soup_server_message_get_request_headers(msg);

  if (method == "PUT") {
    // The storage host is not the API: a bearer key sent here has leaked.
    if (soup_message_headers_get_one(headers, "Authorization"))
      return reply_s3_error(
          msg, SOUP_STATUS_FORBIDDEN, "AccessDenied",
          "Authorization header not allowed: upload with the ticket's headers only");
    const char* token = soup_message_headers_get_one(headers, kTokenHeader);
    const char* type = soup_message_headers_get_one(headers, "Content-Type");
    if (g_strcmp0(token, object.token.c_str()) != 0 ||
        g_strcmp0(type, object.content_type.c_str()) != 0)
      return reply_s3_error(
          msg, SOUP_STATUS_FORBIDDEN, "SignatureDoesNotMatch",
          std::string("The request must carry the ticket's headers: Content-Type: ") +
              object.content_type + " and " + kTokenHeader);
    g_autoptr(GBytes) body = soup_message_body_flatten(soup_server_message_get_request_body(msg));
    if (object.size >= 0 && int64_t(g_bytes_get_size(body)) != object.size)
      return reply_s3_error(msg, SOUP_STATUS_BAD_REQUEST, "IncompleteBody",
                            "The ticket announced " + std::to_string(object.size) +
                                " bytes, the PUT sent " + std::to_string(g_bytes_get_size(body)));
    if (object.bytes) g_bytes_unref(object.bytes);
    object.bytes = g_bytes_ref(body);
    return reply(msg, SOUP_STATUS_OK, "text/plain", "");
  }

  if (method != "GET" && method != "HEAD")
    return reply_s3_error(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "MethodNotAllowed",
                          "Use GET, HEAD or PUT.");
  if (!object.bytes)
    return reply_s3_error(msg, SOUP_STATUS_NOT_FOUND, "NoSuchKey",
                          "The specified key does not exist.");
  log_.write("storage", msg, SOUP_STATUS_OK);
  soup_server_message_set_status(msg, SOUP_STATUS_OK, nullptr);
  SoupMessageHeaders* response = soup_server_message_get_response_headers(msg);
  soup_message_headers_replace(response, "Content-Type", object.content_type.c_str());
  soup_message_headers_set_content_length(response, goffset(g_bytes_get_size(object.bytes)));
  if (method == "HEAD") return;
  soup_message_body_append_bytes(soup_server_message_get_response_body(msg), object.bytes);
  soup_message_body_complete(soup_server_message_get_response_body(msg));
}

}  // namespace emu
