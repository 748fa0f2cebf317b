// SPDX-License-Identifier: LGPL-2.1-or-later
// The ledger of paid work: each row is one submit of one request identity: who
// holds it, what it was quoted, which task it made, what came back. claim()
// decides, atomically across every process (and machine) sharing the ledger,
// whether a request replays, follows a task in flight, waits for another run's
// submit, is refused, or may be submitted. Two stores: the machine's SQLite file
// (the default) and a PostgreSQL server a fleet shares (a postgresql:// URI).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

typedef struct _GCancellable GCancellable;

namespace kling {

struct LedgerRow {
  int64_t row = 0;
  std::string fingerprint;
  std::string account;  // a one-way hash of the key
  std::string origin;
  std::string model;
  std::string prompt;
  unsigned variation = 0;
  std::string state;  // see Ledger::k* below
  std::string task_id;
  std::string status;  // the API's last status
  std::vector<std::string> outputs;
  std::optional<double> quote;
  std::string currency;
  std::string owner;    // who holds a claim: the store's own token of a live process
  int64_t created = 0;  // unix seconds
  int64_t updated = 0;
  std::string detail;
};

class Ledger {
 public:
  // Row states. Claimed: a run is checking the price, nothing sent yet. Submitting:
  // the POST may be on the wire. Unanswered: it never got its reply (a task may
  // exist). Submitted: a task id is known. Delivered: its video was read whole.
  // Gone: the task or its output no longer exists. Failed: it ended badly (refunded).
  static constexpr const char* kClaimed = "claimed";
  static constexpr const char* kSubmitting = "submitting";
  static constexpr const char* kUnanswered = "unanswered";
  static constexpr const char* kSubmitted = "submitted";
  static constexpr const char* kDelivered = "delivered";
  static constexpr const char* kGone = "gone";
  static constexpr const char* kFailed = "failed";
  // WaveSpeed keeps tasks and outputs this long.
  static constexpr int64_t kRetentionSeconds = 7 * 24 * 3600;

  // Opens `location`: a PostgreSQL URI (postgresql:// or postgres://) or a SQLite
  // file (made on first use, as the server's schema is). `cancellable`, when given
  // and cancelled, ends any wait at once; every wait is bounded by `wait_ms`.
  static std::unique_ptr<Ledger> open(const std::string& location, std::string* error,
                                      GCancellable* cancellable = nullptr,
                                      unsigned wait_ms = 10000);
  static bool is_server(const std::string& location);
  // `location` as messages may show it: a URI's password (and any secret option) left out.
  static std::string display_name(const std::string& location);
  // $KLING_JOURNAL when set, else default_path().
  static std::string default_location();
  // $XDG_STATE_HOME/gst-kling/ledger.db
  static std::string default_path();
  virtual ~Ledger() = default;
  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;
  // The ledger's display_name().
  const std::string& name() const { return name_; }

  enum class Verdict {
    Submit,      // a claim row was inserted for this run: check the price, then submit
    Replay,      // delivered and still alive: stream `row`'s output, submit nothing
    Follow,      // a task of this request is in flight or finished: poll `row.task_id`
    Wait,        // another live run is submitting it: ask again shortly
    Unanswered,  // an earlier submit never got its reply: refuse
    Busy,        // the ledger could not be read (locked too long, cancelled, unreachable)
  };
  struct Decision {
    Verdict verdict = Verdict::Busy;
    LedgerRow row;      // the row the verdict is about (for Submit: the new claim)
    std::string why;    // Submit after a gone/expired task: why it is submitted again
    std::string error;  // Busy: why
  };
  struct Identity {
    std::string fingerprint, account, origin, model, prompt;
    unsigned variation = 0;
  };
  // `resume`: false skips following an unfinished task and the unanswered refusal.
  virtual Decision claim(const Identity& identity, int64_t now, bool resume) = 0;

  // The claim becomes a submit about to be sent, with its quote, unless the day's
  // spend of this account (quotes since `day_start`) plus `quote` passes `budget`.
  // Refused: the claim is removed and `spent` tells the day's spend so far. Error
  // (nothing may be sent) when the claim is no longer this run's.
  enum class Budget { Ok, OverBudget, Error };
  virtual Budget begin_submit(int64_t row, std::optional<double> quote, const std::string& currency,
                              std::optional<double> budget, int64_t day_start, double* spent,
                              std::string* error) = 0;
  virtual bool mark_submitted(int64_t row, const std::string& task_id, const std::string& status,
                              std::string* error) = 0;
  virtual void mark_unanswered(int64_t row, const std::string& detail) = 0;
  // No task can exist (refused, never sent, or never got past the price check).
  virtual void release(int64_t row) = 0;
  // Every row of `task_id` (a task may be followed under several fingerprints).
  virtual bool set_status(const std::string& task_id, const std::string& status,
                          const std::vector<std::string>& outputs, const std::string& state,
                          const std::string& detail, std::string* error) = 0;

  // Reading, for kling-tasks.
  virtual std::vector<LedgerRow> list(size_t limit) = 0;
  virtual std::optional<LedgerRow> find_task(const std::string& task_id) = 0;
  struct Spend {
    std::string account;
    std::string currency;
    double amount = 0;
    int tasks = 0;
  };
  virtual std::vector<Spend> spent_since(int64_t since) = 0;

  // `row` as it is, unless a row of the same request, task and time is there already.
  virtual bool add_row(const LedgerRow& row, bool* added, std::string* error) = 0;
  // kling-tasks import: every row of `from` that stands for a task (or a submit that
  // may have made one: imported as unanswered) added to `to`, oldest first.
  static bool import_rows(Ledger& from, Ledger& to, int* added, std::string* error);

  // A row's outputs as stored: one URL a line.
  static std::string join_outputs(const std::vector<std::string>& urls);
  static std::vector<std::string> split_outputs(const std::string& text);
  // Local midnight today and the first of this month, as unix seconds.
  static int64_t local_day_start(int64_t now);
  static int64_t local_month_start(int64_t now);

 protected:
  explicit Ledger(std::string name) : name_(std::move(name)) {}

  // What the request's last row says, the same for every store. No verdict: this
  // run claims it (`why` says why a task of it is submitted again). `fix` is done
  // in the same transaction before the verdict is given.
  enum class Fix { None, MarkUnanswered, DropClaim };
  struct Reading {
    std::optional<Verdict> verdict;
    std::string why;
    Fix fix = Fix::None;
  };
  static Reading read_last(const LedgerRow& last, int64_t now, bool resume, bool owner_alive);
  static inline const std::string kDiedSubmitting = "the submitting process ended before the reply";
  // Rows whose quote counts as spent: a submit that may have billed, or did.
  static constexpr const char* kSpentStates =
      "('submitting','unanswered','submitted','delivered','gone')";
  // The stores' schema (tables, columns, states) this build reads and writes.
  static constexpr int64_t kSchemaVersion = 1;
  static std::string newer_schema(int64_t version);
  static bool over_budget(double spent, std::optional<double> quote, double budget);

 private:
  const std::string name_;
};

}  // namespace kling
