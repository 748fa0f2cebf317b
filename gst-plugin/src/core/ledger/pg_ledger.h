// SPDX-License-Identifier: LGPL-2.1-or-later
// The ledger on a PostgreSQL server, shared by every machine that names it
// (libpq, a postgresql:// URI with libpq's environment: PGPASSFILE, PGSSLMODE...).
// Each decision is one transaction under an advisory lock on the request's
// fingerprint (the budget: on the account), so two machines never decide at once.
// Liveness: each connection holds a session-level advisory lock named by its
// owner token; the server releases it when the connection ends (a process killed,
// or, through TCP keepalives, a machine that lost power: within about 25 s).
#pragma once

#include <memory>
#include <string>

#include "core/ledger/ledger.h"

typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;

namespace kling {

class PgLedger final : public Ledger {
 public:
  // Connects (bounded by `wait_ms`, ended by `cancellable`) and makes the schema on first use.
  static std::unique_ptr<Ledger> open(const std::string& uri, std::string* error,
                                      GCancellable* cancellable, unsigned wait_ms);
  ~PgLedger() override;
  // postgresql://user@host:port/db: no password, no option.
  static std::string display_name_of(const std::string& uri);

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

  // One statement's result, cleared on scope exit; false when it failed.
  class Result;

 private:
  PgLedger(std::string uri, GCancellable* cancellable, unsigned wait_ms);
  bool connect(std::string* error);
  bool await(bool writing, std::string* error);
  void drop();
  bool set_up(std::string* error);
  // Runs `sql` with text parameters (nullptr: NULL); on any failure the error is in `error`.
  Result run(const char* sql, std::initializer_list<const std::string*> params, std::string* error);
  bool exec(const char* sql, std::string* error);
  void rollback();
  std::string scrub(std::string message) const;

  std::string uri_;
  std::string password_;       // only to keep it out of messages
  GCancellable* cancellable_;  // not owned: outlived by its owner
  unsigned wait_ms_;
  PGconn* conn_ = nullptr;
  int owner_a_ = 0, owner_b_ = 0;  // the session's advisory lock, this process's claims' owner
  std::string owner_;              // "pg:A:B"
  int64_t deadline_us_ = 0;        // of the statement running
};

}  // namespace kling
