// SPDX-License-Identifier: LGPL-2.1-or-later
// What one run of a request does before anything is paid, decided with the
// Ledger (the machine's file or a fleet's server): replay a delivered task, follow one in flight
// (waiting, cancellably, for another run's task id), refuse after an unanswered submit, or quote
// it, check the balance, max-cost and the daily budget, and only then let the runner POST. After
// the POST it records what the submit came to; every status change of the task is recorded through
// it too.
#pragma once

#include <gio/gio.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/ledger/ledger.h"
#include "core/request/request.h"
#include "core/util/error.h"

namespace kling {

class HttpTransport;

class SubmitGate {
 public:
  struct Hooks {
    std::function<void(const std::string& text)> say;  // a progress line (code "submit")
    std::function<bool(unsigned ms)> sleep;            // false when cancelled
    std::function<std::optional<unsigned>()> ms_to_deadline;
  };
  // `fingerprint`: the request's, named at start() (what its cache entry is looked up by),
  // before the model's schema may be known: see rename().
  SubmitGate(const Request& request, std::string fingerprint, GCancellable* cancellable,
             Hooks hooks);
  ~SubmitGate();
  SubmitGate(const SubmitGate&) = delete;
  SubmitGate& operator=(const SubmitGate&) = delete;

  struct Admission {
    enum class Kind { Submit, Replay, Follow, Refused, Cancelled } kind = Kind::Refused;
    LedgerRow row;           // Replay, Follow: the task on record
    std::string price_text;  // Submit: "costs $1.30, balance $12.40" (or what is unknown)
    std::string why;         // Submit: why a task of this request is submitted again
    Error error;             // Refused
  };
  // One decision; Submit leaves this run holding the request until submitted()/
  // no_task()/unanswered() (or the gate's end, which releases it). `body`: the submit
  // body (checked against the model), quoted as it will be sent.
  Admission admit(HttpTransport& http, const std::string& body);

  // The POST is going out (again): until its answer, a crash leaves it unanswered.
  void sending();
  bool submitted(const std::string& task_id, const std::string& status, std::string* error);
  void not_sent();  // this POST made no task (another may follow)
  void no_task();   // proven: no task was made, none will be sent
  void unanswered(const std::string& detail);
  // A status change of `task_id` (outputs, "delivered", "gone", "failed").
  bool record(const std::string& task_id, const std::string& status,
              const std::vector<std::string>& outputs, const char* state, const std::string& detail,
              std::string* error);

  bool enabled() const { return !request_.journal_path.empty(); }
  // The request's fingerprint (what names its ledger rows and cache entry).
  const std::string& fingerprint() const { return identity_.fingerprint; }
  // The name of the body as the submit builds it, once the worker has the model's schema
  // (start() may have typed `params` without it, "as given"): admit() decides on this name,
  // and the run's rows and cache entry take it, so one body is one request whatever
  // catalogue was on disk at start. The name start() gave is still looked up first, so
  // rows an earlier version wrote under it are found (replayed, followed, refused).
  void rename(std::string fingerprint);

 private:
  Admission refuse(Error error);
  // The ledger's decision for `identity`, waiting out other runs' submits. `fallback`:
  // a name looked up only for what it holds; its claim (nothing on record) is released
  // and nullopt returned.
  std::optional<Admission> decide(Ledger& book, const Ledger::Identity& identity, bool fallback);
  // "on this machine", or the server's name (no password) for a fleet's ledger.
  std::string where_others_run() const;
  Admission price_and_budget(HttpTransport& http, const std::string& body, int64_t row,
                             Admission admission);
  Ledger* ledger(std::string* error);

  const Request& request_;
  // The request as it was asked for, named before any pre-submit step (an upload) changes it.
  Ledger::Identity identity_;
  std::string start_fingerprint_;  // start()'s name, when rename() gave another
  GCancellable* cancellable_;
  Hooks hooks_;
  std::unique_ptr<Ledger> ledger_;
  int64_t held_row_ = 0;  // this run's claim, until resolved
  bool sending_ = false;
};

}  // namespace kling
