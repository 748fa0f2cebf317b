// SPDX-License-Identifier: LGPL-2.1-or-later
#include "support/server_thread.h"

std::string listen_loopback(SoupServer* server, const char* ip, bool https, GError** error) {
  g_autoptr(GInetAddress) inet = g_inet_address_new_from_string(ip);
  g_autoptr(GSocketAddress) addr = g_inet_socket_address_new(inet, 0);
  const auto options = https ? SOUP_SERVER_LISTEN_HTTPS : static_cast<SoupServerListenOptions>(0);
  if (!soup_server_listen(server, addr, options, error)) return "";
  GSList* uris = soup_server_get_uris(server);
  g_autofree char* text = g_uri_to_string(static_cast<GUri*>(uris->data));
  g_slist_free_full(uris, reinterpret_cast<GDestroyNotify>(g_uri_unref));
  std::string url = text;
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}
