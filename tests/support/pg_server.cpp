// SPDX-License-Identifier: LGPL-2.1-or-later
#include "pg_server.h"

#include <gio/gio.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <grp.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <vector>

namespace {

// $KLING_PG_BINDIR, else the newest /usr/lib/postgresql/N/bin that has initdb.
std::string find_bindir() {
  if (const char* dir = g_getenv("KLING_PG_BINDIR")) return dir;
  std::string best;
  int best_version = -1;
  g_autoptr(GDir) dir = g_dir_open("/usr/lib/postgresql", 0, nullptr);
  for (const char* name; dir && (name = g_dir_read_name(dir));) {
    g_autofree char* initdb =
        g_build_filename("/usr/lib/postgresql", name, "bin", "initdb", nullptr);
    const int version = atoi(name);
    if (version > best_version && g_file_test(initdb, G_FILE_TEST_IS_EXECUTABLE)) {
      best_version = version;
      g_autofree char* bin = g_path_get_dirname(initdb);
      best = bin;
    }
  }
  return best;
}

// Runs `argv` (as nobody when we are root) and waits; its output in `error` on failure.
bool run(const std::vector<std::string>& args, std::string* error) {
  std::vector<const char*> argv;
  if (getuid() == 0)
    for (const char* a : {"runuser", "-u", "nobody", "--"}) argv.push_back(a);
  for (const auto& a : args) argv.push_back(a.c_str());
  argv.push_back(nullptr);
  g_autofree char* out = nullptr;
  g_autofree char* err = nullptr;
  int status = 0;
  g_autoptr(GError) spawn_error = nullptr;
  g_auto(GStrv) env = server_environ();
  if (!g_spawn_sync(nullptr, const_cast<char**>(argv.data()), env, G_SPAWN_SEARCH_PATH, nullptr,
                    nullptr, &out, &err, &status, &spawn_error) ||
      !g_spawn_check_wait_status(status, nullptr)) {
    *error = args[0] + ": " + (spawn_error ? spawn_error->message : "") + (out ? out : "") +
             (err ? err : "");
    return false;
  }
  return true;
}

bool give_to_nobody(const std::string& path) {
  return getuid() != 0 || chown(path.c_str(), 65534, 65534) == 0;
}

}  // namespace

std::unique_ptr<PgServer> PgServer::start(std::string* error) {
  std::unique_ptr<PgServer> pg(new PgServer());
  pg->bindir_ = find_bindir();
  if (pg->bindir_.empty()) {
    *error = "no PostgreSQL server (Debian's postgresql package: scripts/deps.sh installs it)";
    return nullptr;
  }
  g_autofree char* dir = g_dir_make_tmp("kling-pg-XXXXXX", nullptr);
  pg->dir_ = dir;
  g_autofree char* password = g_uuid_string_random();
  pg->password_ = std::string("pw-") + password;
  const std::string pwfile = pg->dir_ + "/pw";
  if (!give_to_nobody(pg->dir_) ||
      !g_file_set_contents(pwfile.c_str(), pg->password_.c_str(), -1, nullptr) ||
      !give_to_nobody(pwfile)) {
    *error = "cannot prepare " + pg->dir_;
    return nullptr;
  }
  const bool made =
      run({pg->bindir_ + "/initdb", "-D", pg->dir_ + "/data", "-U", "kling", "--pwfile=" + pwfile,
           "-A", "scram-sha-256", "--no-sync", "-E", "UTF8", "--no-locale"},
          error);
  g_unlink(pwfile.c_str());
  if (!made) return nullptr;
  for (int attempt = 0; !pg->running_; attempt++) {  // another may take the free port first
    pg->port_ = free_loopback_port();
    if (!pg->launch(error) && attempt == 3) return nullptr;
  }
  const std::string base =
      "postgresql://kling:" + pg->password_ + "@127.0.0.1:" + std::to_string(pg->port_);
  PGconn* admin = PQconnectdb((base + "/postgres?connect_timeout=10").c_str());
  PGresult* made_db = PQexec(admin, "CREATE DATABASE kling");
  const bool ok = PQresultStatus(made_db) == PGRES_COMMAND_OK;
  if (!ok) *error = std::string("CREATE DATABASE: ") + PQerrorMessage(admin);
  PQclear(made_db);
  PQfinish(admin);
  if (!ok) return nullptr;
  pg->uri_ = base + "/kling";
  return pg;
}

// postgres runs as this process's child (as nobody when we are root) and gets SIGQUIT
// (immediate shutdown) when this process dies, however it dies: a failed test never leaves a
// server behind. Loopback only; fsync off: the tests' data need not survive a power cut.
bool PgServer::launch(std::string* error) {
  const std::vector<std::string> args = {bindir_ + "/postgres",
                                         "-D",
                                         dir_ + "/data",
                                         "-p",
                                         std::to_string(port_),
                                         "-k",
                                         dir_,
                                         "-c",
                                         "listen_addresses=127.0.0.1",
                                         "-c",
                                         "fsync=off",
                                         "-c",
                                         "synchronous_commit=off",
                                         "-c",
                                         "full_page_writes=off",
                                         "-c",
                                         "shared_buffers=16MB",
                                         "-c",
                                         "max_connections=120"};
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  argv.push_back(nullptr);
  g_autoptr(GSubprocessLauncher) launcher = server_launcher(dir_ + "/log");
  g_subprocess_launcher_set_child_setup(
      launcher,
      [](gpointer) {
        if (getuid() == 0 &&
            (setgroups(0, nullptr) != 0 || setgid(65534) != 0 || setuid(65534) != 0))
          _exit(127);
        prctl(PR_SET_PDEATHSIG, SIGQUIT);  // after setuid, which clears it
      },
      nullptr, nullptr);
  g_autoptr(GError) spawn_error = nullptr;
  process_ = g_subprocess_launcher_spawnv(launcher, argv.data(), &spawn_error);
  if (!process_) {
    *error = std::string("postgres: ") + spawn_error->message;
    return false;
  }
  // Up once it takes connections (PQPING_REJECT: still starting), within 30 s.
  const std::string probe =
      "postgresql://kling@127.0.0.1:" + std::to_string(port_) + "/postgres?connect_timeout=2";
  for (int i = 0; i < 300; i++) {
    if (PQping(probe.c_str()) == PQPING_OK) {
      running_ = true;
      return true;
    }
    if (g_subprocess_get_identifier(process_) == nullptr) break;  // it ended: the port was taken
    g_usleep(100 * 1000);
  }
  stop();
  g_autofree char* log = nullptr;
  g_file_get_contents((dir_ + "/log").c_str(), &log, nullptr, nullptr);
  *error = std::string("postgres did not start: ") + (log ? log : "");
  return false;
}

bool PgServer::stop() {
  if (process_) {
    g_subprocess_send_signal(process_, SIGQUIT);  // immediate: connections dropped, as a crash
    g_subprocess_wait(process_, nullptr, nullptr);
    g_clear_object(&process_);
  }
  running_ = false;
  return true;
}

bool PgServer::restart(std::string* error) {
  return running_ || launch(error);
}

PgServer::~PgServer() {
  stop();
  if (!dir_.empty()) {
    std::string error;
    const std::vector<std::string> rm = {"rm", "-rf", dir_};
    std::vector<const char*> argv;
    for (const auto& a : rm) argv.push_back(a.c_str());
    argv.push_back(nullptr);
    g_spawn_sync(nullptr, const_cast<char**>(argv.data()), nullptr, G_SPAWN_SEARCH_PATH, nullptr,
                 nullptr, nullptr, nullptr, nullptr, nullptr);
  }
}
