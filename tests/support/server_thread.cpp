// SPDX-License-Identifier: LGPL-2.1-or-later
#include "support/server_thread.h"

#include <condition_variable>
#include <mutex>

ServerThread::ServerThread(std::function<void()> setup, std::function<void()> teardown)
    : context_(g_main_context_new()), loop_(g_main_loop_new(context_, FALSE)) {
  std::mutex mutex;
  std::condition_variable cv;
  bool ready = false;
  thread_ = std::thread([&, teardown = std::move(teardown)] {
    g_main_context_push_thread_default(context_);
    setup();
    {
      // Notified under the lock: the constructor returns (and `cv` goes) as soon as it sees
      // `ready`.
      std::lock_guard<std::mutex> lock(mutex);
      ready = true;
      cv.notify_all();
    }
    g_main_loop_run(loop_);
    teardown();
    // Let closed connections finish closing, or their sockets stay allocated.
    while (g_main_context_iteration(context_, FALSE)) {
    }
    g_main_context_pop_thread_default(context_);
  });
  std::unique_lock<std::mutex> lock(mutex);
  cv.wait(lock, [&] { return ready; });
}

ServerThread::~ServerThread() {
  GSource* idle = g_idle_source_new();
  g_source_set_callback(
      idle,
      [](gpointer loop) {
        g_main_loop_quit(static_cast<GMainLoop*>(loop));
        return G_SOURCE_REMOVE;
      },
      loop_, nullptr);
  g_source_attach(idle, context_);
  g_source_unref(idle);
  thread_.join();
  g_main_loop_unref(loop_);
  g_main_context_unref(context_);
}

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
