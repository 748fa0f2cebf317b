// SPDX-License-Identifier: LGPL-2.1-or-later
// The machine's ledger of paid work: one SQLite database (WAL, BEGIN IMMEDIATE,
// a bounded and cancellable busy wait) shared by every process and element.
// Each row is one submit of one request identity: who holds it, what it was
// quoted, which task it made, what came back. claim() decides, in one
// transaction across processes, whether a request replays, follows a task in
// flight, waits for another run's submit, is refused, or may be submitted.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;
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
  std::string owner;    // "pid:start-time" of the process holding a claim
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

  // Opens (creating) the database at `path`. `cancellable`, when given and
  // cancelled, ends any lock wait at once; every wait is bounded by `lock_wait_ms`.
  static std::unique_ptr<Ledger> open(const std::string& path, std::string* error,
                                      GCancellable* cancellable = nullptr,
                                      unsigned lock_wait_ms = 10000);
  // $XDG_STATE_HOME/gst-kling/ledger.db
  static std::string default_path();
  ~Ledger();
  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;

  enum class Verdict {
    Submit,      // a claim row was inserted for this run: check the price, then submit
    Replay,      // delivered and still alive: stream `row`'s output, submit nothing
    Follow,      // a task of this request is in flight or finished: poll `row.task_id`
    Wait,        // another live run is submitting it: ask again shortly
    Unanswered,  // an earlier submit never got its reply: refuse
    Busy,        // the ledger could not be read (locked too long, cancelled, an error)
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
  Decision claim(const Identity& identity, int64_t now, bool resume);

  // The claim becomes a submit about to be sent, with its quote, unless the day's
  // spend of this account (quotes since `day_start`) plus `quote` passes `budget`.
  // Refused: the claim is removed and `spent` tells the day's spend so far.
  enum class Budget { Ok, OverBudget, Error };
  Budget begin_submit(int64_t row, std::optional<double> quote, const std::string& currency,
                      std::optional<double> budget, int64_t day_start, double* spent,
                      std::string* error);
  bool mark_submitted(int64_t row, const std::string& task_id, const std::string& status,
                      std::string* error);
  void mark_unanswered(int64_t row, const std::string& detail);
  // No task can exist (refused, never sent, or never got past the price check).
  void release(int64_t row);
  // Every row of `task_id` (a task may be followed under several fingerprints).
  bool set_status(const std::string& task_id, const std::string& status,
                  const std::vector<std::string>& outputs, const std::string& state,
                  const std::string& detail, std::string* error);

  // Reading, for kling-tasks.
  std::vector<LedgerRow> list(size_t limit);
  std::optional<LedgerRow> find_task(const std::string& task_id);
  struct Spend {
    std::string account;
    std::string currency;
    double amount = 0;
    int tasks = 0;
  };
  std::vector<Spend> spent_since(int64_t since);

  // This process as a claim owner: "pid:start-time".
  static std::string self_owner();
  // True while the process named by `owner` runs.
  static bool owner_alive(const std::string& owner);
  // Local midnight today and the first of this month, as unix seconds.
  static int64_t local_day_start(int64_t now);
  static int64_t local_month_start(int64_t now);

 private:
  Ledger(sqlite3* db, GCancellable* cancellable, unsigned lock_wait_ms)
      : db_(db), cancellable_(cancellable), lock_wait_ms_(lock_wait_ms) {}
  bool exec(const char* sql, std::string* error);
  bool set_up(std::string* error);
  static int busy(void* self, int count);

  sqlite3* db_;
  GCancellable* cancellable_;  // not owned: outlived by its owner
  unsigned lock_wait_ms_;
  int64_t busy_since_us_ = 0;
};

}  // namespace kling
