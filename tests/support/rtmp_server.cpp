// SPDX-License-Identifier: LGPL-2.1-or-later
#include "rtmp_server.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <sys/prctl.h>

#include <vector>

#include "support/fake_wavespeed.h"
#include "support/loopback.h"

namespace {

// Where Debian installs the module (bookworm and trixie).
constexpr const char* kRtmpModule = "/usr/lib/nginx/modules/ngx_rtmp_module.so";

std::string find_nginx() {
  if (g_file_test("/usr/sbin/nginx", G_FILE_TEST_IS_EXECUTABLE)) return "/usr/sbin/nginx";
  g_autofree char* found = g_find_program_in_path("nginx");
  return found ? found : "";
}

}  // namespace

std::unique_ptr<RtmpServer> RtmpServer::start(std::string* missing) {
  std::unique_ptr<RtmpServer> server(new RtmpServer());
  server->nginx_ = find_nginx();
  if (server->nginx_.empty() || !g_file_test(kRtmpModule, G_FILE_TEST_EXISTS)) {
    *missing = std::string("no RTMP server: nginx and ") + kRtmpModule +
               " (Debian's nginx and libnginx-mod-rtmp: scripts/deps.sh installs them)";
    return nullptr;
  }
  g_autofree char* dir = g_dir_make_tmp("kling-rtmp-XXXXXX", nullptr);
  server->dir_ = dir;
  // Another process may take the free port first: nginx then exits, and we try another.
  for (int attempt = 0; attempt < 4; attempt++)
    if (server->launch()) return server;
  g_error("nginx did not start: %s", server->log().c_str());
}

// nginx's own settings only: daemon and master_process off keep it one process, our
// child, that SIGTERM ends; `-e` and `pid` keep it out of /var/log and /run.
bool RtmpServer::launch() {
  port_ = free_loopback_port();
  const std::string conf = dir_ + "/nginx.conf";
  g_autofree char* text = g_strdup_printf(
      "load_module %s;\n"
      "daemon off;\nmaster_process off;\n"
      "error_log %s/error.log info;\npid %s/nginx.pid;\n"
      "events { worker_connections 64; }\n"
      "rtmp { server { listen 127.0.0.1:%d; application live { live on; record off; } } }\n",
      kRtmpModule, dir_.c_str(), dir_.c_str(), port_);
  g_assert_true(g_file_set_contents(conf.c_str(), text, -1, nullptr));
  const std::string log_path = dir_ + "/error.log";
  const std::vector<const char*> argv = {nginx_.c_str(), "-p", dir_.c_str(),     "-c",
                                         conf.c_str(),   "-e", log_path.c_str(), nullptr};
  g_autoptr(GSubprocessLauncher) launcher = server_launcher(dir_ + "/stdout.log");
  g_subprocess_launcher_set_child_setup(
      launcher, [](gpointer) { prctl(PR_SET_PDEATHSIG, SIGKILL); }, nullptr, nullptr);
  g_autoptr(GError) error = nullptr;
  process_ = g_subprocess_launcher_spawnv(launcher, argv.data(), &error);
  g_assert_no_error(error);
  // Up once the port accepts, within 10 s; an nginx that ended did not get the port.
  for (int i = 0; i < 200; i++) {
    if (loopback_accepts(port_)) return true;
    if (g_subprocess_get_identifier(process_) == nullptr) break;
    g_usleep(50 * 1000);
  }
  g_subprocess_force_exit(process_);
  g_subprocess_wait(process_, nullptr, nullptr);
  g_clear_object(&process_);
  return false;
}

// SIGTERM (nginx's fast shutdown), SIGKILL if it is not gone within 5 s.
RtmpServer::~RtmpServer() {
  if (process_) {
    g_subprocess_send_signal(process_, SIGTERM);
    for (int i = 0; i < 100 && g_subprocess_get_identifier(process_); i++) g_usleep(50 * 1000);
    g_subprocess_force_exit(process_);
    g_subprocess_wait(process_, nullptr, nullptr);
    g_clear_object(&process_);
  }
  if (!dir_.empty()) remove_scratch_dir(g_strdup(dir_.c_str()));
}

std::string RtmpServer::url(const std::string& stream) const {
  return "rtmp://127.0.0.1:" + std::to_string(port_) + "/live/" + stream;
}

std::string RtmpServer::log() const {
  g_autofree char* text = nullptr;
  g_file_get_contents((dir_ + "/error.log").c_str(), &text, nullptr, nullptr);
  g_autofree char* out = nullptr;
  g_file_get_contents((dir_ + "/stdout.log").c_str(), &out, nullptr, nullptr);
  return std::string(text ? text : "") + (out ? out : "");
}

bool RtmpServer::wait_for_log(const std::string& what) const {
  for (int i = 0; i < 200; i++) {
    if (log().find(what) != std::string::npos) return true;
    g_usleep(50 * 1000);
  }
  return false;
}
