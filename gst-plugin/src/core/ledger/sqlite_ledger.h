// SPDX-License-Identifier: LGPL-2.1-or-later
// The machine's ledger: one SQLite file (WAL, BEGIN IMMEDIATE, a bounded and
// cancellable busy wait) shared by every process and element of the machine. A claim's
// owner is alive while it holds its lock in "<file>-owners" (owner_lock.h).
#pragma once

#include <memory>
#include <string>

#include "core/ledger/ledger.h"

struct sqlite3;

namespace kling {

class SqliteLedger final : public Ledger {
 public:
  // Opens (creating) the database at `path`.
  static std::unique_ptr<Ledger> open(const std::string& path, std::string* error,
                                      GCancellable* cancellable, unsigned lock_wait_ms);
  ~SqliteLedger() override;

  Decision claim(const Identity& identity, int64_t now, bool resume) override;
  Budget begin_submit(int64_t row, std::optional<double> quote, const std::string& currency,
                      std::optional<double> budget, int64_t day_start, double* spent,
                      std::string* error) override;
  bool mark_submitted(int64_t row, const std::string& task_id, const std::string& status,
                      std::string* error) override;
  void mark_unanswered(int64_t row, const std::string& detail) override;
  void release(int64_t row) override;
  bool set_status(const std::string& task_id, const std::string& status,
                  const std::vector<std::string>& outputs, const std::string& state,
                  const std::string& detail, std::string* error) override;
  std::vector<LedgerRow> list(size_t limit) override;
  std::optional<LedgerRow> find_task(const std::string& task_id) override;
  std::vector<Spend> spent_since(int64_t since) override;
  bool add_row(const LedgerRow& row, bool* added, std::string* error) override;

 private:
  SqliteLedger(const std::string& path, sqlite3* db, GCancellable* cancellable,
               unsigned lock_wait_ms)
      : Ledger(path), db_(db), cancellable_(cancellable), lock_wait_ms_(lock_wait_ms) {}
  bool exec(const char* sql, std::string* error);
  bool set_up(std::string* error);
  bool fix(const LedgerRow& last, Fix fix, std::string* error);
  static int busy(void* self, int count);

  sqlite3* db_;
  GCancellable* cancellable_;  // not owned: outlived by its owner
  unsigned lock_wait_ms_;
  int64_t busy_since_us_ = 0;
};

}  // namespace kling
