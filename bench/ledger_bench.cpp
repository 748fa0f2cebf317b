// SPDX-License-Identifier: LGPL-2.1-or-later
// kling-ledger-bench: what the ledger adds to a run's start, timed as a run does it:
// open the ledger (a new connection for a server), claim the request, begin the
// submit (the budget summed) and mark it submitted. Prints tab-separated lines:
//   seq    LOCATION-KIND  RUNS   median_ms  p90_ms  max_ms   (seq-open, seq-decide: its two parts)
//   procs  LOCATION-KIND  PROCS  median_ms  p90_ms  max_ms  wall_ms  submits  (distinct requests)
//   same   LOCATION-KIND  PROCS  median_ms  p90_ms  max_ms  wall_ms  submits  (one request)
//     kling-ledger-bench LOCATION [RUNS [PROCS]]
#include <glib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "core/ledger/ledger.h"

namespace {

using kling::Ledger;

int64_t now_us() {
  return g_get_monotonic_time();
}

// One run's decision; its time in microseconds, or -1 when the ledger failed. `submitted`:
// this run may submit (and did, on the ledger).
int64_t decide(const std::string& location, const std::string& prompt, bool* submitted,
               int64_t* open_us = nullptr) {
  const int64_t start = now_us();
  std::string error;
  auto book = Ledger::open(location, &error);
  if (open_us) *open_us = now_us() - start;
  if (!book) {
    fprintf(stderr, "%s\n", error.c_str());
    return -1;
  }
  Ledger::Identity id{"fp-" + prompt, "bench-account", "http://127.0.0.1", "kling", prompt, 0};
  const int64_t now = g_get_real_time() / G_USEC_PER_SEC;
  auto d = book->claim(id, now, true);
  *submitted = d.verdict == Ledger::Verdict::Submit;
  if (*submitted) {
    double spent = 0;
    if (book->begin_submit(d.row.row, 0.01, "USD", 1e9, Ledger::local_day_start(now), &spent,
                           &error) != Ledger::Budget::Ok ||
        !book->mark_submitted(d.row.row, "task-" + prompt, "created", &error)) {
      fprintf(stderr, "%s\n", error.c_str());
      return -1;
    }
  } else if (d.verdict == Ledger::Verdict::Busy) {
    fprintf(stderr, "%s\n", d.error.c_str());
    return -1;
  }
  return now_us() - start;
}

void report(const char* what, const std::string& kind, std::vector<int64_t> us, int64_t wall_us,
            int submits) {
  std::sort(us.begin(), us.end());
  auto ms = [](int64_t v) { return v / 1000.0; };
  printf("%s\t%s\t%zu\t%.2f\t%.2f\t%.2f", what, kind.c_str(), us.size(), ms(us[us.size() / 2]),
         ms(us[us.size() * 9 / 10]), ms(us.back()));
  if (wall_us >= 0) printf("\t%.1f\t%d", ms(wall_us), submits);
  printf("\n");
  fflush(stdout);
}

// `procs` processes released at once, each one decision; its times.
void at_once(const char* what, const std::string& location, const std::string& kind, int procs,
             bool one_request) {
  int go[2], back[2];
  if (pipe(go) != 0 || pipe(back) != 0) return;
  std::vector<pid_t> kids;
  const std::string tag = std::to_string(g_get_real_time());
  for (int i = 0; i < procs; i++) {
    pid_t pid = fork();
    if (pid == 0) {
      char c;
      close(go[1]);
      if (read(go[0], &c, 1) != 0) _exit(3);
      bool submitted = false;
      const int64_t us =
          decide(location, what + tag + (one_request ? "" : "-" + std::to_string(i)), &submitted);
      const int64_t line[2] = {us, submitted};
      _exit(write(back[1], line, sizeof line) == sizeof line ? 0 : 4);
    }
    kids.push_back(pid);
  }
  close(go[0]);
  close(back[1]);
  const int64_t start = now_us();
  close(go[1]);  // all start now
  std::vector<int64_t> times;
  int submits = 0;
  int64_t line[2];
  while (read(back[0], line, sizeof line) == sizeof line) {
    if (line[0] >= 0) times.push_back(line[0]);
    submits += static_cast<int>(line[1]);
  }
  const int64_t wall = now_us() - start;
  close(back[0]);
  for (pid_t pid : kids) waitpid(pid, nullptr, 0);
  if (static_cast<int>(times.size()) != procs)
    fprintf(stderr, "%s: %d of %d processes failed\n", what, procs - static_cast<int>(times.size()),
            procs);
  if (!times.empty()) report(what, kind, times, wall, submits);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: kling-ledger-bench LOCATION [RUNS [PROCS]]\n");
    return 2;
  }
  const std::string location = argv[1];
  const int runs = argc > 2 ? atoi(argv[2]) : 50;
  const int procs = argc > 3 ? atoi(argv[3]) : 32;
  const std::string kind = Ledger::is_server(location) ? "postgresql" : "sqlite";
  bool submitted = false;
  decide(location, "warm-up", &submitted);  // the file or schema made: not a run's cost
  std::vector<int64_t> times, opens, decisions;
  const std::string tag = std::to_string(g_get_real_time());
  for (int i = 0; i < runs; i++) {
    int64_t open_us = 0;
    const int64_t us =
        decide(location, "seq-" + tag + "-" + std::to_string(i), &submitted, &open_us);
    if (us < 0) return 1;
    times.push_back(us);
    opens.push_back(open_us);
    decisions.push_back(us - open_us);
  }
  report("seq", kind, times, -1, 0);
  report("seq-open", kind, opens, -1, 0);  // of which: opening (a server: connect, authenticate)
  report("seq-decide", kind, decisions, -1, 0);  // and the decision on the open ledger
  at_once("procs", location, kind, procs, false);
  at_once("same", location, kind, procs, true);
  return 0;
}
