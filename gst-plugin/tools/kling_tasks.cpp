// SPDX-License-Identifier: LGPL-2.1-or-later
// kling-tasks: what this machine paid WaveSpeed for, read from the ledger the
// klingsrc element writes, and a paid task's video fetched again by its id.
//   kling-tasks list [-n N]        newest tasks first
//   kling-tasks fetch ID -o FILE   download a task's video (polled and resumed as the element does)
//   kling-tasks spent              today's and this month's quoted spend per account
//   kling-tasks import FILE        a machine's SQLite ledger copied into this (server) ledger
//   kling-tasks generate PROMPT    a video made ahead of time, as klingsrc would
//   (tools/generate.cpp)
// Options: --ledger PATH-OR-URI (default $KLING_JOURNAL, else $XDG_STATE_HOME/gst-kling/
// ledger.db; a postgresql:// URI names a fleet's server, shown without its password). The key
// and the base URL come from WAVESPEED_API_KEY and WAVESPEED_BASE_URL; the key is never printed.
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "core/ledger/ledger.h"
#include "core/request/request.h"
#include "core/storage/download_store.h"
#include "core/task/task_runner.h"
#include "core/util/local_time.h"
#include "core/wavespeed/pricing.h"
#include "tools/generate.h"

namespace {

const char kUsage[] =
    "usage: kling-tasks [--ledger PATH|URI] list [-n N]\n"
    "       kling-tasks [--ledger PATH|URI] fetch TASK_ID -o FILE\n"
    "       kling-tasks [--ledger PATH|URI] spent\n"
    "       kling-tasks [--ledger URI] import SQLITE_FILE\n"
    "%s"
    "The ledger defaults to $KLING_JOURNAL, else $XDG_STATE_HOME/gst-kling/ledger.db.\n"
    "The key and base URL come from WAVESPEED_API_KEY and WAVESPEED_BASE_URL.\n";

// The first `chars` characters of `text`, on one line.
std::string excerpt(const std::string& text, long chars) {
  std::string one_line = text;
  for (char& c : one_line)
    if (c == '\n' || c == '\t') c = ' ';
  if (g_utf8_strlen(one_line.c_str(), -1) <= chars) return one_line;
  const char* end = g_utf8_offset_to_pointer(one_line.c_str(), chars - 1);
  return std::string(one_line.c_str(), end) + "…";
}

// A server ledger is made on first use, as a file is by the element: only a missing file is
// "nothing paid yet". Every message names the ledger without a password.
std::unique_ptr<kling::Ledger> open_ledger(const std::string& path) {
  if (!kling::Ledger::is_server(path) && !g_file_test(path.c_str(), G_FILE_TEST_EXISTS)) {
    fprintf(stderr, "kling-tasks: no ledger at %s (nothing was paid for with it yet)\n",
            path.c_str());
    return nullptr;
  }
  std::string error;
  auto ledger = kling::Ledger::open(path, &error);
  if (!ledger) fprintf(stderr, "kling-tasks: %s\n", error.c_str());
  return ledger;
}

int list(const std::string& path, long limit) {
  auto ledger = open_ledger(path);
  if (!ledger) return 1;
  printf("%-19s  %-34s  %-30s  %-10s  %-9s  %s\n", "time", "task id", "model", "status", "quote",
         "prompt");
  for (const auto& r : ledger->list(static_cast<size_t>(limit))) {
    const std::string status =
        r.state == kling::Ledger::kSubmitted && !r.status.empty() ? r.status : r.state;
    const std::string quote = r.quote ? kling::money::format(*r.quote, r.currency) : "-";
    printf("%-19s  %-34s  %-30s  %-10s  %-9s  %s%s\n", kling::local_time(r.created).c_str(),
           r.task_id.empty() ? "(none)" : r.task_id.c_str(), r.model.c_str(), status.c_str(),
           quote.c_str(), excerpt(r.prompt, 40).c_str(),
           r.variation ? (" [variation " + std::to_string(r.variation) + "]").c_str() : "");
  }
  return 0;
}

int spent(const std::string& path) {
  auto ledger = open_ledger(path);
  if (!ledger) return 1;
  const int64_t now = g_get_real_time() / G_USEC_PER_SEC;
  kling::Request mine;
  mine.api_key = kling::resolve_api_key("");
  const auto today = ledger->spent_since(kling::Ledger::local_day_start(now));
  const auto month = ledger->spent_since(kling::Ledger::local_month_start(now));
  printf("%-18s  %-20s  %s\n", "account", "today", "this month");
  for (const auto& m : month) {
    kling::Ledger::Spend d{m.account, m.currency, 0, 0};
    for (const auto& t : today)
      if (t.account == m.account && t.currency == m.currency) d = t;
    const std::string cur = m.currency.empty() ? "USD" : m.currency;
    std::string t = kling::money::format(d.amount, cur) + " (" + std::to_string(d.tasks) + ")";
    printf("%-18s  %-20s  %s (%d)%s\n", m.account.c_str(), t.c_str(),
           kling::money::format(m.amount, cur).c_str(), m.tasks,
           !mine.api_key.empty() && mine.account() == m.account ? "  <- WAVESPEED_API_KEY" : "");
  }
  printf("Quotes of tasks submitted with this ledger (estimates: the charge is WaveSpeed's).\n");
  return 0;
}

// Every task of a machine's SQLite ledger into this one (a fleet's server): tasks paid
// before the fleet existed are followed, replayed and counted there. Run again, it adds nothing.
int import(const std::string& path, const std::string& file) {
  if (kling::Ledger::is_server(file) || !g_file_test(file.c_str(), G_FILE_TEST_IS_REGULAR)) {
    fprintf(stderr, "kling-tasks: import reads a machine's SQLite ledger file; %s is none\n",
            kling::Ledger::display_name(file).c_str());
    return 2;
  }
  auto from = open_ledger(file);
  auto to = from ? open_ledger(path) : nullptr;
  if (!to) return 1;
  int added = 0;
  std::string error;
  if (!kling::Ledger::import_rows(*from, *to, &added, &error)) {
    fprintf(stderr, "kling-tasks: cannot write %s: %s\n", to->name().c_str(), error.c_str());
    return 1;
  }
  printf("Imported %d tasks from %s into %s.\n", added, from->name().c_str(), to->name().c_str());
  return 0;
}

int fetch(const std::string& path, const std::string& id, const std::string& out) {
  kling::Request r;
  r.request_id = id;
  r.api_url = kling::resolve_api_url("");
  r.api_key = kling::resolve_api_key("");
  r.journal_path =
      kling::Ledger::is_server(path) || g_file_test(path.c_str(), G_FILE_TEST_EXISTS) ? path : "";
  r.poll_interval_ms = 2000;
  if (auto error = kling::validate(r)) {
    fprintf(stderr, "kling-tasks: %s\n", error->message.c_str());
    return 2;
  }
  kling::Error error;
  std::shared_ptr<kling::DownloadStore> store = kling::DownloadStore::create(&error);
  if (!store) {
    fprintf(stderr, "kling-tasks: %s\n", error.message.c_str());
    return 1;
  }
  store->keep_everything();  // copied to FILE at the end
  kling::TaskEvents events;
  events.progress = [](kling::ProgressType, const char*, const std::string& text) {
    fprintf(stderr, "%s\n", text.c_str());
  };
  kling::TaskRunner runner(r, r.fingerprint(), id, store, events);
  runner.start();
  // Every byte, then the file: a half-written FILE never stands for the video.
  for (uint64_t offset = 0;;) {
    size_t length = 1 << 20;
    auto wait = store->wait_for(offset, &length, &error);
    if (wait == kling::DownloadStore::Wait::Eos) break;
    if (wait != kling::DownloadStore::Wait::Ready) {
      fprintf(stderr, "kling-tasks: %s\n", error.message.c_str());
      return 1;
    }
    offset += length;
  }
  runner.stop();
  const std::string tmp = out + ".part";
  int fd = g_open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || !store->copy_to(fd) || fsync(fd) != 0 || close(fd) != 0 ||
      g_rename(tmp.c_str(), out.c_str()) != 0) {
    fprintf(stderr, "kling-tasks: cannot write %s: %s\n", out.c_str(), g_strerror(errno));
    g_unlink(tmp.c_str());
    return 1;
  }
  fprintf(stderr, "Wrote %" G_GUINT64_FORMAT " bytes of task %s to %s\n", store->have(), id.c_str(),
          out.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string ledger = kling::Ledger::default_location();
  int i = 1;
  if (i + 1 < argc && strcmp(argv[i], "--ledger") == 0) {
    ledger = argv[i + 1];
    i += 2;
  }
  if (i < argc && (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)) {
    printf(kUsage, kling::tools::kGenerateUsage);
    return 0;
  }
  if (i >= argc) {
    fprintf(stderr, kUsage, kling::tools::kGenerateUsage);
    return 2;
  }
  const std::string command = argv[i++];
  if (command == "generate") return kling::tools::generate(argc - i + 1, argv + i - 1, ledger);
  if (command == "list") {
    long n = 50;
    if (i + 1 < argc && strcmp(argv[i], "-n") == 0) n = atol(argv[i + 1]);
    return list(ledger, n > 0 ? n : 50);
  }
  if (command == "spent") return spent(ledger);
  if (command == "import" && i < argc) return import(ledger, argv[i]);
  if (command == "fetch" && i + 2 < argc && strcmp(argv[i + 1], "-o") == 0)
    return fetch(ledger, argv[i], argv[i + 2]);
  fprintf(stderr, kUsage, kling::tools::kGenerateUsage);
  return 2;
}
