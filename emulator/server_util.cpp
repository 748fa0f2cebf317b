// SPDX-License-Identifier: LGPL-2.1-or-later
// kling-emulator: listening, replying, S3 errors.
#include "server_util.h"

namespace emu {

namespace {

std::string numeric_host(const std::string& host) {
  return host == "localhost" ? "127.0.0.1" : host;
}

}  // namespace

bool is_loopback_host(const std::string& host) {
  g_autoptr(GInetAddress) address = g_inet_address_new_from_string(numeric_host(host).c_str());
  return address && g_inet_address_get_is_loopback(address);
}

std::string listen_on(SoupServer* server, const std::string& host, int port, GError** error) {
  const std::string numeric = numeric_host(host);
  g_autoptr(GInetAddress) address = g_inet_address_new_from_string(numeric.c_str());
  if (!address) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "not a numeric IP address: %s",
                host.c_str());
    return {};
  }
  g_autoptr(GSocketAddress) socket_address = g_inet_socket_address_new(address, guint16(port));
  // Our own socket, for a listen backlog that takes many clients submitting at
  // once (SoupServer's default of 10 resets the rest).
  g_autoptr(GSocket) socket = g_socket_new(g_inet_address_get_family(address), G_SOCKET_TYPE_STREAM,
                                           G_SOCKET_PROTOCOL_TCP, error);
  if (!socket) return {};
  g_socket_set_listen_backlog(socket, 256);
  if (!g_socket_bind(socket, socket_address, TRUE, error) || !g_socket_listen(socket, error) ||
      !soup_server_listen_socket(server, socket, SoupServerListenOptions(0), error))
    return {};

  GSList* uris = soup_server_get_uris(server);
  int bound_port = port;
  if (uris) bound_port = g_uri_get_port(static_cast<GUri*>(uris->data));
  g_slist_free_full(uris, reinterpret_cast<GDestroyNotify>(g_uri_unref));

  const bool v6 = g_inet_address_get_family(address) == G_SOCKET_FAMILY_IPV6;
  g_autofree char* url =
      g_strdup_printf(v6 ? "http://[%s]:%d" : "http://%s:%d", numeric.c_str(), bound_port);
  return url;
}

void reply_logged(RequestLog& log, const char* server, SoupServerMessage* msg, int status,
                  const char* content_type, const std::string& body) {
  log.write(server, msg, status);
  soup_server_message_set_status(msg, guint(status), nullptr);
  soup_server_message_set_response(msg, content_type, SOUP_MEMORY_COPY, body.data(), body.size());
}

std::string s3_error_xml(const char* code, const std::string& message) {
  g_autofree char* escaped = g_markup_escape_text(message.c_str(), -1);
  return std::string("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>") + code +
         "</Code><Message>" + escaped + "</Message></Error>\n";
}

}  // namespace emu
