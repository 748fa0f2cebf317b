// SPDX-License-Identifier: LGPL-2.1-or-later
#include "core/ledger/admission.h"

#include <glib.h>

#include "core/net/http_transport.h"
#include "core/util/local_time.h"
#include "core/wavespeed/pricing.h"

namespace kling {

namespace {

int64_t now_unix() {
  return g_get_real_time() / G_USEC_PER_SEC;
}

constexpr unsigned kWaitStepMs = 200;
constexpr unsigned kLockWaitMs = 10000;  // the longest wait for another process's ledger lock

}  // namespace

SubmitGate::SubmitGate(const Request& request, std::string fingerprint, GCancellable* cancellable,
                       Hooks hooks)
    : request_(request),
      identity_{std::move(fingerprint), request.account(), request.api_url,
                request.model,          request.prompt,    request.variation},
      cancellable_(cancellable),
      hooks_(std::move(hooks)) {}

SubmitGate::~SubmitGate() {
  if (!held_row_ || !ledger_) return;
  if (sending_)
    ledger_->mark_unanswered(held_row_, "the run ended before the submit's reply");
  else
    ledger_->release(held_row_);
}

Ledger* SubmitGate::ledger(std::string* error) {
  if (!ledger_ && enabled()) {
    // A lock another process holds is waited for at most 10 s, and never past the deadline.
    auto left = hooks_.ms_to_deadline();
    ledger_ = Ledger::open(request_.journal_path, error, cancellable_,
                           left ? std::min(*left, kLockWaitMs) : kLockWaitMs);
  }
  return ledger_.get();
}

std::string SubmitGate::where_others_run() const {
  return Ledger::is_server(request_.journal_path)
             ? "on a machine sharing the ledger " + Ledger::display_name(request_.journal_path)
             : "on this machine";
}

SubmitGate::Admission SubmitGate::refuse(Error error) {
  Admission a;
  a.kind = Admission::Kind::Refused;
  a.error = std::move(error);
  return a;
}

void SubmitGate::rename(std::string fingerprint) {
  if (fingerprint == identity_.fingerprint) return;
  if (start_fingerprint_.empty()) start_fingerprint_ = identity_.fingerprint;
  identity_.fingerprint = std::move(fingerprint);
}

SubmitGate::Admission SubmitGate::admit(HttpTransport& http, const std::string& submit_body) {
  Admission a;
  if (!enabled()) return price_and_budget(http, submit_body, 0, a);
  std::string error;
  Ledger* book = ledger(&error);
  if (!book)
    return refuse({ErrorKind::Write,
                   "Cannot open the ledger of paid tasks: " + error,
                   "nothing was submitted; set journal=none to run without it (no protection "
                   "against paying twice)",
                   0,
                   {}});
  if (!start_fingerprint_.empty() && start_fingerprint_ != identity_.fingerprint) {
    Ledger::Identity asked = identity_;
    asked.fingerprint = start_fingerprint_;
    if (auto found = decide(*book, asked, true)) return *found;
  }
  auto d = decide(*book, identity_, false);
  if (d->kind != Admission::Kind::Submit) return *d;
  return price_and_budget(http, submit_body, held_row_, *d);
}

std::optional<SubmitGate::Admission> SubmitGate::decide(Ledger& book,
                                                        const Ledger::Identity& identity,
                                                        bool fallback) {
  Admission a;
  bool said_wait = false;
  for (;;) {
    Ledger::Decision d = book.claim(identity, now_unix(), request_.resume_unfinished);
    switch (d.verdict) {
      case Ledger::Verdict::Busy:
        if (g_cancellable_is_cancelled(cancellable_)) {
          a.kind = Admission::Kind::Cancelled;
          return a;
        }
        if (auto left = hooks_.ms_to_deadline(); left && *left == 0)
          return refuse({ErrorKind::Timeout,
                         "The deadline (timeout=" + std::to_string(request_.timeout_s) +
                             " s) passed waiting for the ledger " +
                             Ledger::display_name(request_.journal_path) + ": " + d.error,
                         "nothing was submitted",
                         0,
                         {}});
        return refuse({ErrorKind::Write,
                       "Cannot read the ledger " + Ledger::display_name(request_.journal_path) +
                           ": " + d.error,
                       "nothing was submitted",
                       0,
                       {}});
      case Ledger::Verdict::Replay:
        a.kind = Admission::Kind::Replay;
        a.row = d.row;
        return a;
      case Ledger::Verdict::Follow:
        a.kind = Admission::Kind::Follow;
        a.row = d.row;
        return a;
      case Ledger::Verdict::Unanswered:
        return refuse({ErrorKind::Settings,
                       "A submit of this request was sent at " + local_time(d.row.updated) +
                           " and never got its reply: it may have made a task, and a charge. Not "
                           "submitting again: check your WaveSpeed dashboard and give that task's "
                           "id to request-id, or change variation (or set resume-unfinished=false) "
                           "to pay for a new one",
                       d.row.detail,
                       0,
                       {}});
      case Ledger::Verdict::Wait: {
        if (!said_wait) {
          said_wait = true;
          hooks_.say("Another run " + where_others_run() + " is submitting this request (since " +
                     local_time(d.row.created) + "): waiting for its task instead of paying twice");
        }
        auto left = hooks_.ms_to_deadline();
        if (left && *left == 0)
          return refuse({ErrorKind::Timeout,
                         "Another run of this request (" + where_others_run() +
                             ") did not get its task id within the timeout",
                         "nothing was submitted",
                         0,
                         {}});
        if (!hooks_.sleep(left ? std::min(*left, kWaitStepMs) : kWaitStepMs)) {
          a.kind = Admission::Kind::Cancelled;
          return a;
        }
        continue;
      }
      case Ledger::Verdict::Submit:
        if (fallback) {  // nothing under that name: the claim was only to look
          book.release(d.row.row);
          return std::nullopt;
        }
        held_row_ = d.row.row;
        a.kind = Admission::Kind::Submit;
        a.why = d.why;
        return a;
    }
  }
}

SubmitGate::Admission SubmitGate::price_and_budget(HttpTransport& http,
                                                   const std::string& submit_body, int64_t row,
                                                   Admission a) {
  money::Figures f;
  const std::string body = money::build_price_body(request_.model, submit_body);
  HttpResult pr = http.api_call("POST", money::price_url(request_.api_url), &body, cancellable_);
  if (!pr.cancelled) {
    if (pr.status == 0)
      f.quote_error = pr.transport_error.empty() ? "no connection" : pr.transport_error;
    else
      f.quote = money::parse_price(pr.status, pr.body, &f.quote_error);
  }
  HttpResult br;
  if (!pr.cancelled) {
    br = http.api_call("GET", money::balance_url(request_.api_url), nullptr, cancellable_);
    if (br.status == 0)
      f.balance_error = br.transport_error.empty() ? "no connection" : br.transport_error;
    else
      f.balance = money::parse_balance(br.status, br.body, &f.balance_error);
  }
  if (pr.cancelled || br.cancelled) {
    a.kind = Admission::Kind::Cancelled;
    return a;  // the claim is released by the gate's end
  }
  if (auto refusal = money::check(f, request_)) return refuse(*refusal);

  const std::optional<double> quote =
      f.quote ? std::optional<double>(f.quote->amount()) : std::nullopt;
  const std::string currency = f.quote ? f.quote->currency : "";
  const int64_t day = Ledger::local_day_start(now_unix());
  double spent = 0;
  std::string error;
  Ledger::Budget budget = Ledger::Budget::Ok;
  if (row) {
    budget =
        ledger_->begin_submit(row, quote, currency, request_.daily_budget, day, &spent, &error);
    if (budget != Ledger::Budget::Ok)
      held_row_ = budget == Ledger::Budget::OverBudget ? 0 : held_row_;  // removed with the refusal
  } else if (request_.daily_budget && (!quote || *quote > *request_.daily_budget + 1e-9)) {
    budget = Ledger::Budget::OverBudget;
  }
  if (budget == Ledger::Budget::Error)
    return refuse(
        {ErrorKind::Write,
         "Cannot write the ledger " + Ledger::display_name(request_.journal_path) + ": " + error,
         "nothing was submitted",
         0,
         {}});
  if (budget == Ledger::Budget::OverBudget) {
    const std::string limit = money::format(*request_.daily_budget);
    if (!quote)
      return refuse({ErrorKind::Settings,
                     "daily-budget is " + limit +
                         " but the price of this request could not be had (" + f.quote_error +
                         "): nothing submitted",
                     {},
                     0,
                     {}});
    return refuse({ErrorKind::Settings,
                   "Today's quotes for this account come to " + money::format(spent, currency) +
                       "; this request's " + money::format(*quote, currency) +
                       " would pass daily-budget " + limit + ": nothing submitted",
                   {},
                   0,
                   {}});
  }
  a.kind = Admission::Kind::Submit;
  a.price_text = f.describe();
  return a;
}

void SubmitGate::sending() {
  sending_ = true;
}

void SubmitGate::not_sent() {
  sending_ = false;
}

bool SubmitGate::submitted(const std::string& task_id, const std::string& status,
                           std::string* error) {
  const int64_t row = std::exchange(held_row_, 0);
  sending_ = false;
  if (!row || !ledger_) return true;
  return ledger_->mark_submitted(row, task_id, status, error);
}

void SubmitGate::no_task() {
  const int64_t row = std::exchange(held_row_, 0);
  sending_ = false;
  if (row && ledger_) ledger_->release(row);
}

void SubmitGate::unanswered(const std::string& detail) {
  const int64_t row = std::exchange(held_row_, 0);
  sending_ = false;
  if (row && ledger_) ledger_->mark_unanswered(row, detail);
}

bool SubmitGate::record(const std::string& task_id, const std::string& status,
                        const std::vector<std::string>& outputs, const char* state,
                        const std::string& detail, std::string* error) {
  if (!enabled() || task_id.empty()) return true;
  Ledger* book = ledger(error);
  if (!book) return false;
  return book->set_status(task_id, status, outputs, state ? state : "", detail, error);
}

}  // namespace kling
