// SPDX-License-Identifier: LGPL-2.1-or-later
// `kling-tasks generate PROMPT`: the element's request options, the element's
// session (ledger, quote, max-cost, daily budget, one charge), a progress bar on
// a terminal and plain lines elsewhere, and the kling:// URI that replays it.
#include "tools/generate.h"

#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/ledger/ledger.h"
#include "core/request/kling_uri.h"
#include "core/request/request.h"
#include "core/session/element_session.h"

namespace kling::tools {

const char kGenerateUsage[] =
    "       kling-tasks [--ledger PATH|URI] generate PROMPT [-d 5|10] [-a 16:9|9:16|1:1] [-m "
    "MODEL]\n"
    "           [--negative-prompt TEXT] [--image URL|FILE] [--param NAME=VALUE]... [--variation "
    "N]\n"
    "           [--max-cost USD] [--daily-budget USD] [--cache-dir DIR] [-o FILE] [--no-wait]\n";

namespace {

std::atomic<bool> interrupted{false};
extern "C" void on_interrupt(int) {
  interrupted = true;
}

std::string clock_text(int64_t us) {
  const int64_t s = us / G_USEC_PER_SEC;
  char text[32];
  g_snprintf(text, sizeof text, "%02" G_GINT64_FORMAT ":%02" G_GINT64_FORMAT, s / 60, s % 60);
  return text;
}

std::string megabytes(uint64_t bytes) {
  char text[32];
  g_snprintf(text, sizeof text, "%.1f MB", static_cast<double>(bytes) / 1e6);
  return text;
}

// What the user sees on stderr while the task runs: on a terminal, the events as
// lines above one status line redrawn in place (status, time spent, download);
// elsewhere plain lines only, the download in quarters. Called from the worker's
// thread (events) and the main one (tick); one lock, nothing called out under it.
class ProgressView {
 public:
  ProgressView() : tty_(isatty(STDERR_FILENO) == 1), started_(g_get_monotonic_time()) {}

  void said(const std::string& text) {
    std::lock_guard<std::mutex> hold(lock_);
    last_said_ = text;
    clear_bar();
    fprintf(stderr, "%s\n", text.c_str());
    draw_bar();
  }
  void status(const std::string& status) {
    std::lock_guard<std::mutex> hold(lock_);
    status_ = status;
    draw_bar();
  }
  void download(uint64_t have, std::optional<uint64_t> total) {
    std::lock_guard<std::mutex> hold(lock_);
    have_ = have;
    total_ = total.value_or(0);
    if (tty_) {
      draw_bar();
    } else if (total_ > 0) {
      const int quarter = static_cast<int>(have_ * 4 / total_);
      if (quarter > quarters_said_) {
        quarters_said_ = quarter;
        fprintf(stderr, "Downloaded %s of %s (%d%%)\n", megabytes(have_).c_str(),
                megabytes(total_).c_str(), quarter * 25);
      }
    }
  }
  void tick() {
    std::lock_guard<std::mutex> hold(lock_);
    draw_bar();
  }
  std::string last_said() {
    std::lock_guard<std::mutex> hold(lock_);
    return last_said_;
  }
  void done() {
    std::lock_guard<std::mutex> hold(lock_);
    clear_bar();
    tty_ = false;
  }

 private:
  void clear_bar() {
    if (tty_ && drawn_) fputs("\r\033[K", stderr);
    drawn_ = false;
  }
  void draw_bar() {
    if (!tty_) return;
    std::string line = (status_.empty() ? std::string("starting") : status_) + "  " +
                       clock_text(g_get_monotonic_time() - started_);
    if (total_ > 0) {
      const int width = 24, filled = static_cast<int>(have_ * width / total_);
      line += "  [" + std::string(filled, '#') + std::string(width - filled, '-') + "] " +
              std::to_string(have_ * 100 / total_) + "%  " + megabytes(have_) + " of " +
              megabytes(total_);
    } else if (have_ > 0) {
      line += "  " + megabytes(have_);
    }
    fprintf(stderr, "\r\033[K%s", line.c_str());
    fflush(stderr);
    drawn_ = true;
  }

  std::mutex lock_;
  bool tty_;
  const int64_t started_;
  bool drawn_ = false;
  std::string status_, last_said_;
  uint64_t have_ = 0, total_ = 0;
  int quarters_said_ = 0;
};

struct Options {
  int duration = 0;  // 0: the model's default
  char* aspect_ratio = nullptr;
  char* model = nullptr;
  char* negative_prompt = nullptr;
  char* image = nullptr;
  char** params = nullptr;
  int variation = 0;
  double max_cost = -1, daily_budget = -1;
  char* cache_dir = nullptr;
  char* output = nullptr;
  int poll_interval_ms = 0;
  gboolean no_wait = FALSE;
  ~Options() {
    g_free(aspect_ratio), g_free(model), g_free(negative_prompt), g_free(image);
    g_strfreev(params), g_free(cache_dir), g_free(output);
  }
};

// The request klingsrc would make of the same properties (see README, Properties).
std::optional<Request> make_request(const Options& o, const std::string& prompt,
                                    const std::string& ledger, std::string* error) {
  Request r;
  r.prompt = prompt;
  if (o.duration) {
    r.duration = o.duration;
    r.duration_set = true;
  }
  if (o.aspect_ratio) {
    r.aspect_ratio = o.aspect_ratio;
    r.aspect_ratio_set = true;
  }
  if (o.model) r.model = o.model;
  if (o.negative_prompt) r.negative_prompt = o.negative_prompt;
  if (o.image) r.image = o.image;
  for (char** p = o.params; p && *p; p++) {
    const char* eq = strchr(*p, '=');
    std::string name = eq ? std::string(*p, static_cast<size_t>(eq - *p)) : std::string(*p);
    if (!eq || !is_param_name(name)) {
      *error = "--param takes NAME=VALUE with a NAME of letters, digits and '_', not \"" +
               std::string(*p) + "\"";
      return std::nullopt;
    }
    r.params.push_back(
        {name, ParamValue::of(std::string(eq + 1))});  // typed by the model's schema, as a URI's
  }
  if (o.variation < 0) {
    *error = "--variation takes a number from 0";
    return std::nullopt;
  }
  r.variation = static_cast<unsigned>(o.variation);
  if (o.poll_interval_ms > 0) r.poll_interval_ms = static_cast<unsigned>(o.poll_interval_ms);
  r.api_url = resolve_api_url("");
  r.api_key = resolve_api_key("");
  r.journal_path = ledger == "none" ? "" : ledger;
  const char* cache_env = g_getenv("KLING_CACHE_DIR");
  r.cache_dir = o.cache_dir ? o.cache_dir : cache_env ? cache_env : "";
  r.max_cost = resolve_limit(o.max_cost, "KLING_MAX_COST", &r.limit_error);
  r.daily_budget = resolve_limit(o.daily_budget, "KLING_DAILY_BUDGET", &r.limit_error);
  return r;
}

// The URI that replays this request: its fields, or its task when the image is a local file
// (a URI names an image by URL only).
std::string replay_uri(const Request& r, const std::string& task_id) {
  if (!r.image.empty() && !is_http_url(r.image)) {
    KlingUri uri;
    uri.model = r.model;
    uri.params = {{"request-id", task_id}};
    return format_kling_uri(uri);
  }
  Request asked = r;  // how often this run polled is no part of what it asked for
  asked.poll_interval_ms = Request().poll_interval_ms;
  asked.timeout_s = Request().timeout_s;
  return format_kling_uri(kling_uri_for(asked));
}

// Parses generate's options into `o`; false (and the error said) when they will not do.
bool parse_options(int* argc, char*** argv, Options* o) {
  const GOptionEntry entries[] = {
      {"duration", 'd', 0, G_OPTION_ARG_INT, &o->duration, "Seconds of video (5 or 10)", "S"},
      {"aspect-ratio", 'a', 0, G_OPTION_ARG_STRING, &o->aspect_ratio, "16:9, 9:16 or 1:1", "W:H"},
      {"model", 'm', 0, G_OPTION_ARG_STRING, &o->model, "The model's path after /api/v3/", "MODEL"},
      {"negative-prompt", 0, 0, G_OPTION_ARG_STRING, &o->negative_prompt, "What to avoid", "TEXT"},
      {"image", 0, 0, G_OPTION_ARG_STRING, &o->image,
       "Source image: an http(s) URL or a local file", "URL|FILE"},
      {"param", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o->params, "A request field (repeatable)",
       "NAME=VALUE"},
      {"variation", 0, 0, G_OPTION_ARG_INT, &o->variation,
       "A deliberate new paid generation of the same request", "N"},
      {"max-cost", 0, 0, G_OPTION_ARG_DOUBLE, &o->max_cost,
       "Highest quote accepted (default KLING_MAX_COST)", "USD"},
      {"daily-budget", 0, 0, G_OPTION_ARG_DOUBLE, &o->daily_budget,
       "Today's quotes on this account may not pass it (default KLING_DAILY_BUDGET)", "USD"},
      {"cache-dir", 0, 0, G_OPTION_ARG_FILENAME, &o->cache_dir,
       "Keep the video here (default KLING_CACHE_DIR)", "DIR"},
      {"output", 'o', 0, G_OPTION_ARG_FILENAME, &o->output, "Also write the video to FILE", "FILE"},
      {"poll-interval", 0, 0, G_OPTION_ARG_INT, &o->poll_interval_ms,
       "Between status polls (default 5000)", "MS"},
      {"no-wait", 0, 0, G_OPTION_ARG_NONE, &o->no_wait, "Return once the task is on the ledger",
       nullptr},
      {}};
  g_set_prgname("kling-tasks generate");  // as --help and the errors show it
  g_autoptr(GOptionContext) context = g_option_context_new("PROMPT");
  g_option_context_set_summary(
      context,
      "Generates a video the way klingsrc does (the ledger, the quote, max-cost, the daily "
      "budget, one charge) and prints the kling:// URI that replays it at no cost.");
  g_option_context_add_main_entries(context, entries, nullptr);
  g_autoptr(GError) gerr = nullptr;
  if (!g_option_context_parse(context, argc, argv, &gerr) || *argc != 2) {
    fprintf(stderr, "kling-tasks generate: %s\n",
            gerr ? gerr->message : "one PROMPT is needed (quote it)");
    return false;
  }
  return true;
}

// One generation through the element's session, read on a thread of its own as
// klingsrc's create() reads it: the first read starts the task (submit, poll,
// download), each later one takes the next bytes, into the output file if any.
class Generation {
 public:
  explicit Generation(ProgressView& view) : view_(view) {}

  TaskEvents events() {
    TaskEvents events;
    events.progress = [this](ProgressType, const char*, const std::string& text) {
      view_.said(text);
    };
    events.task = [this](const api::Task& task) {
      view_.status(task.status);
      std::lock_guard<std::mutex> hold(lock_);
      task_id_ = task.id;
      changed_.notify_all();
    };
    events.download = [this](uint64_t have, std::optional<uint64_t> total) {
      view_.download(have, total);
    };
    return events;
  }

  // `out_fd` (-1: none) is `part`, written as the bytes come.
  void start(ElementSession& session, int out_fd, const std::string& part) {
    reader_ = std::thread([this, &session, out_fd, part] {
      std::optional<Error> why = read_all(session, out_fd, part);
      std::lock_guard<std::mutex> hold(lock_);
      finished_ = true;
      failure_ = why;
      changed_.notify_all();
    });
  }

  // Until the reader is done; an interrupt, or (`no_wait`) the task on the ledger, stops
  // it. True when it stopped for the ledger.
  bool wait(ElementSession& session, bool no_wait, const Request& request) {
    std::unique_ptr<Ledger> book;  // --no-wait: read to see the task on it
    bool on_ledger = false;
    for (bool stopping = false;;) {
      std::string id;
      {
        std::unique_lock<std::mutex> hold(lock_);
        changed_.wait_for(hold, std::chrono::milliseconds(200));
        if (finished_) break;
        id = task_id_;
      }
      view_.tick();
      if (interrupted && !stopping) {
        stopping = true;
        session.set_flushing(true);  // the reader returns; the task goes on at WaveSpeed
      }
      if (no_wait && !id.empty() && !stopping && (on_ledger = is_on_ledger(request, id, &book))) {
        stopping = true;
        session.set_flushing(true);
      }
    }
    reader_.join();
    return on_ledger;
  }

  // After wait(): why the reader ended early, if it did.
  const std::optional<Error>& failure() const { return failure_; }

 private:
  static bool is_on_ledger(const Request& request, const std::string& id,
                           std::unique_ptr<Ledger>* book) {
    if (request.journal_path.empty()) return true;
    std::string error;
    if (!*book) *book = Ledger::open(request.journal_path, &error);
    auto row = *book ? (*book)->find_task(id) : std::nullopt;
    return row && !row->task_id.empty();
  }

  static std::optional<Error> read_all(ElementSession& session, int out_fd,
                                       const std::string& part) {
    std::vector<uint8_t> buffer;
    for (uint64_t offset = 0;;) {
      ElementSession::Read read = session.read(offset, 1 << 20, false);
      if (read.status == ElementSession::Read::Status::Eos) return std::nullopt;
      if (read.status == ElementSession::Read::Status::Error) return read.error;
      if (read.status == ElementSession::Read::Status::Flushing)
        return Error{ErrorKind::Network, "stopped", {}, 0, {}};
      if (out_fd >= 0) {
        buffer.resize(read.size);
        Error copy_error;
        if (!ElementSession::copy(read, buffer.data(), &copy_error) ||
            write(out_fd, buffer.data(), buffer.size()) != static_cast<ssize_t>(buffer.size()))
          return copy_error.message.empty()
                     ? Error{ErrorKind::Write, "cannot write " + part, {}, 0, {}}
                     : copy_error;
      }
      offset += read.size;
    }
  }

  ProgressView& view_;
  std::thread reader_;
  std::mutex lock_;
  std::condition_variable changed_;
  std::string task_id_;  // under `lock_`, from the events
  bool finished_ = false;
  std::optional<Error> failure_;
};

// What the run came to, said; the exit status. `out_fd` is closed.
int conclude(const Options& o, const Request& request, const std::string& id, bool on_ledger,
             const std::optional<Error>& failure, ProgressView& view, int out_fd,
             const std::string& part) {
  if (out_fd >= 0 && (failure || on_ledger || fsync(out_fd) != 0)) {
    close(out_fd);
    g_unlink(part.c_str());
    out_fd = -1;
  }
  if (on_ledger) {
    fprintf(stderr,
            "Task %s is on the ledger and goes on at WaveSpeed; this URI follows it, then replays "
            "it:\n",
            id.c_str());
    printf("%s\n", replay_uri(request, id).c_str());
    return 0;
  }
  if (failure) {
    if (interrupted)
      fprintf(stderr, "kling-tasks generate: stopped%s\n",
              id.empty()
                  ? ""
                  : ("; task " + id + " goes on: the same command or its URI follows it").c_str());
    else if (failure->message != view.last_said())  // not twice: an ERROR progress said it
      fprintf(stderr, "kling-tasks generate: %s\n", failure->message.c_str());
    return failure->kind == ErrorKind::Settings && id.empty() ? 2 : 1;
  }
  if (out_fd >= 0) {
    if (close(out_fd) != 0 || g_rename(part.c_str(), o.output) != 0) {
      fprintf(stderr, "kling-tasks generate: cannot write %s: %s\n", o.output, g_strerror(errno));
      g_unlink(part.c_str());
      return 1;
    }
    fprintf(stderr, "Wrote %s\n", o.output);
  }
  fprintf(stderr, "Done%s; this URI replays it at no cost:\n",
          id.empty() ? "" : (" (task " + id + ")").c_str());
  printf("%s\n", replay_uri(request, id).c_str());
  return 0;
}

}  // namespace

int generate(int argc, char** argv, const std::string& ledger) {
  Options o;
  if (!parse_options(&argc, &argv, &o)) return 2;
  std::string error;
  auto request = make_request(o, argv[1], ledger, &error);
  if (!request) {
    fprintf(stderr, "kling-tasks generate: %s\n", error.c_str());
    return 2;
  }

  ProgressView view;
  Generation run(view);
  ElementSession session(run.events());
  if (auto refused = session.start(*request)) {
    view.done();
    fprintf(stderr, "kling-tasks generate: %s\n", refused->message.c_str());
    return 2;
  }
  int out_fd = -1;
  const std::string part = o.output ? std::string(o.output) + ".part" : "";
  if (o.output &&
      (out_fd = g_open(part.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
    fprintf(stderr, "kling-tasks generate: cannot write %s: %s\n", part.c_str(), g_strerror(errno));
    return 2;
  }
  run.start(session, out_fd, part);
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  const bool on_ledger = run.wait(session, o.no_wait, *request);
  const std::string id = session.task_id();
  session.stop();
  view.done();
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  return conclude(o, *request, id, on_ledger, run.failure(), view, out_fd, part);
}

}  // namespace kling::tools
