// SPDX-License-Identifier: LGPL-2.1-or-later
// kling-emulator: request log writer.
#include "request_log.h"

#include "json_text.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include <cerrno>

namespace emu {

RequestLog::~RequestLog() {
  if (file_) fclose(file_);
}

bool RequestLog::open(const std::string& path, GError** error) {
  if (path.empty()) return true;
  file_ = g_fopen(path.c_str(), "w");
  if (!file_) {
    int saved = errno;
    g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(saved), "cannot open %s: %s",
                path.c_str(), g_strerror(saved));
    return false;
  }
  return true;
}

void RequestLog::write(const char* server, SoupServerMessage* msg, int status) {
  if (!file_) return;
  GUri* uri = soup_server_message_get_uri(msg);
  SoupMessageHeaders* headers = soup_server_message_get_request_headers(msg);
  const char* auth = soup_message_headers_get_one(headers, "Authorization");
  const char* range = soup_message_headers_get_one(headers, "Range");
  SoupMessageBody* body = soup_server_message_get_request_body(msg);
  g_autoptr(GBytes) bytes = body ? soup_message_body_flatten(body) : nullptr;
  gsize size = 0;
  const char* data = bytes ? static_cast<const char*>(g_bytes_get_data(bytes, &size)) : nullptr;
  // Raw body as a JSON string; bytes that are not UTF-8 become U+FFFD.
  g_autofree char* text = data ? g_utf8_make_valid(data, size) : g_strdup("");

  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "server");
  json_builder_add_string_value(b, server);
  json_builder_set_member_name(b, "method");
  json_builder_add_string_value(b, soup_server_message_get_method(msg));
  json_builder_set_member_name(b, "path");
  json_builder_add_string_value(b, g_uri_get_path(uri));
  json_builder_set_member_name(b, "query");
  if (g_uri_get_query(uri))
    json_builder_add_string_value(b, g_uri_get_query(uri));
  else
    json_builder_add_null_value(b);
  json_builder_set_member_name(b, "authorization");
  if (auth)
    json_builder_add_string_value(b, auth);
  else
    json_builder_add_null_value(b);
  json_builder_set_member_name(b, "range");
  if (range)
    json_builder_add_string_value(b, range);
  else
    json_builder_add_null_value(b);
  // Who is calling: WaveSpeed's clients send these attribution headers.
  for (const char* header : {"X-Client-Name", "X-Client-Version", "X-Client-OS"}) {
    g_autofree char* member = g_ascii_strdown(header, -1);
    for (char* p = member; *p; p++)
      if (*p == '-') *p = '_';
    json_builder_set_member_name(b, member);
    const char* value = soup_message_headers_get_one(headers, header);
    if (value)
      json_builder_add_string_value(b, value);
    else
      json_builder_add_null_value(b);
  }
  json_builder_set_member_name(b, "body");
  json_builder_add_string_value(b, text);
  json_builder_set_member_name(b, "status");
  if (status >= 0)
    json_builder_add_int_value(b, status);
  else
    json_builder_add_null_value(b);
  json_builder_end_object(b);

  const std::string line = to_json(b);
  std::lock_guard<std::mutex> lock(mutex_);
  fprintf(file_, "%s\n", line.c_str());
  fflush(file_);
}

}  // namespace emu
