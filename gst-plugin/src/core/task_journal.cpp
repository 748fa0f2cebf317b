#include "task_journal.h"

#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>

#include "api_client.h"
#include "json_util.h"

namespace kling {

namespace {

constexpr int64_t kRetentionSeconds = 7 * 24 * 3600;

std::string to_line(JsonBuilder* b) { return json::to_string(b) + "\n"; }

using json::add_string;

void begin_line(JsonBuilder* b, const std::string& fingerprint, const std::string& id,
                const std::string& status) {
  json_builder_begin_object(b);
  json::add_int(b, "time", g_get_real_time() / G_USEC_PER_SEC);
  add_string(b, "fingerprint", fingerprint);
  add_string(b, "id", id);
  add_string(b, "status", status);
}

}  // namespace

std::string TaskJournal::default_path() {
  g_autofree char* path = g_build_filename(g_get_user_state_dir(), "gst-kling", "journal.jsonl", nullptr);
  return path;
}

TaskJournal::Write TaskJournal::lock(int fd, std::string* error) const {
  const unsigned max_ms = wait_.max_ms ? wait_.max_ms() : kDefaultLockWaitMs;
  const gint64 end = g_get_monotonic_time() + static_cast<gint64>(max_ms) * 1000;
  GPollFD cancel_fd{};
  const bool pollable = wait_.cancellable && g_cancellable_make_pollfd(wait_.cancellable, &cancel_fd);
  Write result = Write::Ok;
  // Tried again at growing intervals up to 50 ms; a cancel wakes the wait at once.
  for (gint64 pause_ms = 1;; pause_ms = std::min<gint64>(pause_ms * 2, 50)) {
    if (flock(fd, LOCK_EX | LOCK_NB) == 0)
      break;
    if (errno == EINTR)
      continue;
    if (errno != EWOULDBLOCK) {
      *error = "cannot lock " + path_ + ": " + g_strerror(errno);
      result = Write::Failed;
      break;
    }
    if (g_cancellable_is_cancelled(wait_.cancellable)) {
      *error = "cancelled while waiting for the lock of " + path_;
      result = Write::Cancelled;
      break;
    }
    const gint64 left_ms = (end - g_get_monotonic_time()) / 1000;
    if (left_ms <= 0) {
      g_autofree char* waited = g_strdup_printf("%.1f", max_ms / 1000.0);
      *error = path_ + " stayed locked by another process for " + waited + " s";
      result = Write::Busy;
      break;
    }
    g_poll(&cancel_fd, pollable ? 1 : 0, static_cast<gint>(std::min(pause_ms, left_ms)));
  }
  if (pollable)
    g_cancellable_release_fd(wait_.cancellable);
  return result;
}

TaskJournal::Write TaskJournal::append(const std::string& line, std::string* error) const {
  g_autofree char* dir = g_path_get_dirname(path_.c_str());
  if (g_mkdir_with_parents(dir, 0700) != 0) {
    *error = "cannot create " + std::string(dir) + ": " + g_strerror(errno);
    return Write::Failed;
  }
  int fd = g_open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    *error = "cannot open " + path_ + ": " + g_strerror(errno);
    return Write::Failed;
  }
  // One writer at a time across processes, so lines never interleave.
  Write result = lock(fd, error);
  if (result == Write::Ok) {
    bool ok = write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
    // A cancelled run does not wait for the disk: the line is written, the page cache has it.
    ok = ok && (g_cancellable_is_cancelled(wait_.cancellable) || fsync(fd) == 0);
    if (!ok) {
      *error = "cannot write " + path_ + ": " + g_strerror(errno);
      result = Write::Failed;
    }
    flock(fd, LOCK_UN);
  }
  close(fd);
  return result;
}

bool TaskJournal::record_submitted(const Request& r, const std::string& id,
                                   const std::string& status, std::string* error) const {
  if (!enabled())
    return true;
  g_autoptr(JsonBuilder) b = json_builder_new();
  begin_line(b, fingerprint_, id, status);
  add_string(b, "event", "submitted");
  add_string(b, "model", r.model);
  add_string(b, "prompt", r.prompt);
  if (!r.negative_prompt.empty())
    add_string(b, "negative_prompt", r.negative_prompt);
  add_string(b, "aspect_ratio", r.aspect_ratio);
  json::add_int(b, "duration", r.duration);
  add_string(b, "api_url", r.api_url);
  json_builder_end_object(b);
  return append(to_line(b), error) == Write::Ok;
}

bool TaskJournal::record_status(const std::string& id, const std::string& status,
                                const std::vector<std::string>& outputs, const std::string& detail,
                                std::string* error) const {
  if (!enabled())
    return true;
  g_autoptr(JsonBuilder) b = json_builder_new();
  begin_line(b, fingerprint_, id, status);
  add_string(b, "event", "status");
  if (!outputs.empty()) {
    json_builder_set_member_name(b, "outputs");
    json_builder_begin_array(b);
    for (const auto& url : outputs)
      json_builder_add_string_value(b, url.c_str());
    json_builder_end_array(b);
  }
  if (!detail.empty())
    add_string(b, "detail", detail);
  json_builder_end_object(b);
  return append(to_line(b), error) == Write::Ok;
}

template <typename Each>
void TaskJournal::for_each_line(Each each) const {
  gchar* contents = nullptr;
  if (!enabled() || !g_file_get_contents(path_.c_str(), &contents, nullptr, nullptr))
    return;
  g_autofree gchar* owned = contents;
  g_auto(GStrv) lines = g_strsplit(contents, "\n", -1);
  for (char** line = lines; *line; line++) {
    if (!**line)
      continue;
    g_autoptr(JsonParser) parser = json_parser_new_immutable();
    if (!json_parser_load_from_data(parser, *line, -1, nullptr))
      continue;  // a line torn by a crash: skip it, keep the rest
    JsonNode* root = json_parser_get_root(parser);
    if (JSON_NODE_HOLDS_OBJECT(root))
      each(json_node_get_object(root));
  }
}

TaskJournal::Write TaskJournal::record_submitting(const char* outcome, std::string* error) const {
  if (!enabled())
    return Write::Ok;
  g_autoptr(JsonBuilder) b = json_builder_new();
  begin_line(b, fingerprint_, "", outcome ? outcome : "submitting");
  add_string(b, "event", "submit");
  json_builder_end_object(b);
  return append(to_line(b), error);
}

TaskJournal::Lookup TaskJournal::lookup(int64_t now) const {
  // Replay the lines: tasks submitted for this request, each with the last status
  // any line gave it (a resume by request-id journals under another fingerprint);
  // a submit stays uncertain until a refusal or a task id follows it.
  Lookup result;
  std::map<std::string, Entry> tasks;
  std::map<std::string, std::string> last_status;
  std::vector<std::string> order;
  for_each_line([&](JsonObject* o) {
    const std::string id = json_object_get_string_member_with_default(o, "id", "");
    const std::string status = json_object_get_string_member_with_default(o, "status", "");
    if (!id.empty())
      last_status[id] = status;
    if (fingerprint_ != json_object_get_string_member_with_default(o, "fingerprint", ""))
      return;
    const std::string event = json_object_get_string_member_with_default(o, "event", "");
    if (event == "submit" && status == "submitting")
      result.uncertain_submit = json_object_get_int_member_with_default(o, "time", 0);
    else if (event == "submit" || event == "submitted")
      result.uncertain_submit.reset();
    if (!id.empty() && tasks.try_emplace(id).second) {
      order.push_back(id);
      tasks[id].task_id = id;
      tasks[id].submitted_unix = json_object_get_int_member_with_default(o, "time", 0);
    }
  });
  for (auto id = order.rbegin(); id != order.rend(); ++id) {
    Entry e = tasks[*id];
    e.status = last_status[*id];
    const bool ended = e.status == kDelivered || e.status == kGone ||
                       (api::is_final_status(e.status) && e.status != "completed");
    if (!ended && now - e.submitted_unix < kRetentionSeconds) {
      result.unfinished = e;
      break;
    }
  }
  return result;
}

}  // namespace kling
