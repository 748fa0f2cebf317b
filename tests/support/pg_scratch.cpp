// SPDX-License-Identifier: LGPL-2.1-or-later
// kling-pg-scratch: the tests' PostgreSQL server (support/pg_server) for scripts:
// the Python fleet tests and bench/ledger.sh. Prints "URI: postgresql://..." once
// it is up, then reads commands on stdin: "stop" (at once, as a crash would),
// "start". At end of input, SIGTERM or SIGINT, the server stops and its folder goes.
#include <glib.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "support/pg_server.h"

int main() {
  sigset_t ending;
  sigemptyset(&ending);
  sigaddset(&ending, SIGTERM);
  sigaddset(&ending, SIGINT);
  sigprocmask(SIG_BLOCK, &ending, nullptr);
  const int signals = signalfd(-1, &ending, SFD_CLOEXEC);
  std::string error;
  std::unique_ptr<PgServer> pg = PgServer::start(&error);
  if (!pg) {
    fprintf(stderr, "kling-pg-scratch: %s\n", error.c_str());
    return 1;
  }
  printf("URI: %s\n", pg->uri().c_str());
  fflush(stdout);
  std::string line;
  for (;;) {
    pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {signals, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0 || fds[1].revents) break;
    char c;
    if (read(STDIN_FILENO, &c, 1) != 1) break;
    if (c != '\n') {
      line += c;
      continue;
    }
    const bool ok = line == "stop" ? pg->stop() : line == "start" ? pg->restart(&error) : false;
    printf("%s %s\n", line.c_str(), ok ? "ok" : "failed");
    fflush(stdout);
    line.clear();
  }
  return 0;  // the server stops with `pg`
}
