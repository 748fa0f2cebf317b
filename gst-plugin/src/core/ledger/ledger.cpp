// SPDX-License-Identifier: LGPL-2.1-or-later
#include "core/ledger/ledger.h"

#include <glib.h>

#include "core/ledger/pg_ledger.h"
#include "core/ledger/sqlite_ledger.h"

namespace kling {

bool Ledger::is_server(const std::string& location) {
  return g_str_has_prefix(location.c_str(), "postgresql://") ||
         g_str_has_prefix(location.c_str(), "postgres://");
}

std::string Ledger::display_name(const std::string& location) {
  return is_server(location) ? PgLedger::display_name_of(location) : location;
}

std::unique_ptr<Ledger> Ledger::open(const std::string& location, std::string* error,
                                     GCancellable* cancellable, unsigned wait_ms) {
  if (is_server(location)) return PgLedger::open(location, error, cancellable, wait_ms);
  return SqliteLedger::open(location, error, cancellable, wait_ms);
}

std::string Ledger::default_path() {
  g_autofree char* path =
      g_build_filename(g_get_user_state_dir(), "gst-kling", "ledger.db", nullptr);
  return path;
}

std::string Ledger::default_location() {
  const char* env = g_getenv("KLING_JOURNAL");
  return env && *env ? env : default_path();
}

int64_t Ledger::local_day_start(int64_t now) {
  g_autoptr(GDateTime) t = g_date_time_new_from_unix_local(now);
  g_autoptr(GDateTime) day = g_date_time_new_local(
      g_date_time_get_year(t), g_date_time_get_month(t), g_date_time_get_day_of_month(t), 0, 0, 0);
  return g_date_time_to_unix(day);
}

int64_t Ledger::local_month_start(int64_t now) {
  g_autoptr(GDateTime) t = g_date_time_new_from_unix_local(now);
  g_autoptr(GDateTime) month =
      g_date_time_new_local(g_date_time_get_year(t), g_date_time_get_month(t), 1, 0, 0, 0);
  return g_date_time_to_unix(month);
}

std::string Ledger::join_outputs(const std::vector<std::string>& urls) {
  std::string out;
  for (const auto& u : urls) out += (out.empty() ? "" : "\n") + u;
  return out;
}

std::vector<std::string> Ledger::split_outputs(const std::string& text) {
  std::vector<std::string> out;
  g_auto(GStrv) urls = g_strsplit(text.c_str(), "\n", -1);
  for (char** u = urls; *u; u++)
    if (**u) out.emplace_back(*u);
  return out;
}

std::string Ledger::newer_schema(int64_t version) {
  return "its schema is version " + std::to_string(version) +
         ", newer than this gst-kling knows (" + std::to_string(kSchemaVersion) +
         "): use a newer gst-kling";
}

bool Ledger::over_budget(double spent, std::optional<double> quote, double budget) {
  // An unknown quote cannot be held to a budget: refused like one over it.
  return !quote || spent + *quote > budget + 1e-9;
}

namespace {

bool ended_badly(const std::string& status) {
  return status == "failed" || status == "cancelled" || status == "canceled" ||
         status == "timeout" || status == "deleted";
}

std::string older_than_retention(const LedgerRow& r) {
  return "task " + r.task_id + " is older than WaveSpeed's 7-day retention";
}

}  // namespace

Ledger::Reading Ledger::read_last(const LedgerRow& r, int64_t now, bool resume, bool owner_alive) {
  Reading out;
  const bool alive = now - r.created < kRetentionSeconds;
  const std::string& s = r.state;
  if (s == kDelivered || (s == kSubmitted && r.status == "completed" && !r.outputs.empty())) {
    if (alive && !r.outputs.empty())
      out.verdict = Verdict::Replay;
    else
      out.why = older_than_retention(r);
  } else if (s == kSubmitted) {
    if (ended_badly(r.status))
      out.why = "task " + r.task_id + " ended " + r.status;
    else if (!alive)
      out.why = older_than_retention(r);
    else if (resume)
      out.verdict = Verdict::Follow;
  } else if (s == kClaimed || s == kSubmitting) {
    if (owner_alive) {
      if (resume) out.verdict = Verdict::Wait;
    } else if (s == kSubmitting) {
      // Its process died with the POST on the wire: a task may exist. `updated`
      // stays when the submit went out: what every later refusal tells.
      out.fix = Fix::MarkUnanswered;
      if (resume) out.verdict = Verdict::Unanswered;
    } else {
      out.fix = Fix::DropClaim;  // a stale claim: nothing was sent
    }
  } else if (s == kUnanswered) {
    if (resume) out.verdict = Verdict::Unanswered;
  } else if (s == kGone) {
    out.why = "task " + r.task_id + " is gone" + (r.detail.empty() ? "" : " (" + r.detail + ")");
  } else if (s == kFailed) {
    out.why = "task " + r.task_id + " failed" + (r.detail.empty() ? "" : ": " + r.detail);
  }
  return out;
}

bool Ledger::import_rows(Ledger& from, Ledger& to, int* added, std::string* error) {
  *added = 0;
  std::vector<LedgerRow> rows = from.list(SIZE_MAX);
  for (auto r = rows.rbegin(); r != rows.rend(); ++r) {
    if (r->state == kClaimed) continue;  // nothing was sent
    LedgerRow row = *r;
    if (row.state == kSubmitting) {  // its run cannot be asked any more: a task may exist
      row.state = kUnanswered;
      row.detail = "imported while its submit awaited the reply";
    }
    row.owner.clear();
    bool one = false;
    if (!to.add_row(row, &one, error)) return false;
    *added += one;
  }
  return true;
}

}  // namespace kling
