// SPDX-License-Identifier: LGPL-2.1-or-later
// Forked processes for the tests that need several at once (each its own
// connection, its own locks): one child, or n children released together.
#pragma once

#include <glib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

// Runs `body` in a child process; its exit code.
template <typename Body>
int in_child(Body body) {
  pid_t pid = fork();
  if (pid == 0) _exit(body());
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Runs `body` in `n` child processes released at the same moment; their exit codes.
template <typename Body>
std::vector<int> in_children_at_once(int n, Body body) {
  int pipes[2];
  g_assert_cmpint(pipe(pipes), ==, 0);
  std::vector<pid_t> kids;
  for (int i = 0; i < n; i++) {
    pid_t pid = fork();
    if (pid == 0) {
      char go;
      close(pipes[1]);
      if (read(pipes[0], &go, 1) != 0) _exit(3);  // all start when the pipe closes
      _exit(body());
    }
    kids.push_back(pid);
  }
  close(pipes[0]);
  close(pipes[1]);
  std::vector<int> codes;
  for (pid_t pid : kids) {
    int status = 0;
    waitpid(pid, &status, 0);
    g_assert_true(WIFEXITED(status));
    codes.push_back(WEXITSTATUS(status));
  }
  return codes;
}
