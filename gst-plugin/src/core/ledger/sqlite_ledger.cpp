// SPDX-License-Identifier: LGPL-2.1-or-later
#include "core/ledger/sqlite_ledger.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "core/ledger/owner_lock.h"

namespace kling {

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS tasks(
  row INTEGER PRIMARY KEY AUTOINCREMENT,
  fingerprint TEXT NOT NULL,
  account TEXT NOT NULL,
  origin TEXT NOT NULL,
  model TEXT NOT NULL,
  prompt TEXT NOT NULL DEFAULT '',
  variation INTEGER NOT NULL DEFAULT 0,
  state TEXT NOT NULL,
  task_id TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL DEFAULT '',
  outputs TEXT NOT NULL DEFAULT '',
  quote REAL,
  currency TEXT NOT NULL DEFAULT '',
  owner TEXT NOT NULL DEFAULT '',
  created INTEGER NOT NULL,
  updated INTEGER NOT NULL,
  detail TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS tasks_by_fingerprint ON tasks(fingerprint, row);
CREATE INDEX IF NOT EXISTS tasks_by_task ON tasks(task_id);
CREATE INDEX IF NOT EXISTS tasks_by_account ON tasks(account, created);
)sql";

constexpr const char* kColumns =
    "row, fingerprint, account, origin, model, prompt, variation, state, task_id, status, "
    "outputs, quote, currency, owner, created, updated, detail";

// One prepared statement, finalized on scope exit.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) { sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  explicit operator bool() const { return stmt_ != nullptr; }
  Statement& bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Statement& bind(int i, std::optional<double> v) {
    if (v)
      sqlite3_bind_double(stmt_, i, *v);
    else
      sqlite3_bind_null(stmt_, i);
    return *this;
  }
  int step() { return stmt_ ? sqlite3_step(stmt_) : SQLITE_ERROR; }
  std::string text(int i) const {
    const unsigned char* t = sqlite3_column_text(stmt_, i);
    return t ? reinterpret_cast<const char*>(t) : "";
  }
  int64_t integer(int i) const { return sqlite3_column_int64(stmt_, i); }
  std::optional<double> real(int i) const {
    if (sqlite3_column_type(stmt_, i) == SQLITE_NULL) return std::nullopt;
    return sqlite3_column_double(stmt_, i);
  }
  LedgerRow row() const {
    LedgerRow r;
    r.row = integer(0);
    r.fingerprint = text(1);
    r.account = text(2);
    r.origin = text(3);
    r.model = text(4);
    r.prompt = text(5);
    r.variation = static_cast<unsigned>(integer(6));
    r.state = text(7);
    r.task_id = text(8);
    r.status = text(9);
    r.outputs = Ledger::split_outputs(text(10));
    r.quote = real(11);
    r.currency = text(12);
    r.owner = text(13);
    r.created = integer(14);
    r.updated = integer(15);
    r.detail = text(16);
    return r;
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

int64_t now_us() {
  return g_get_monotonic_time();
}

}  // namespace

int SqliteLedger::busy(void* data, int count) {
  auto* self = static_cast<SqliteLedger*>(data);
  if (count == 0) self->busy_since_us_ = now_us();
  if (g_cancellable_is_cancelled(self->cancellable_) ||
      now_us() - self->busy_since_us_ > int64_t(self->lock_wait_ms_) * 1000)
    return 0;  // give up: the statement returns SQLITE_BUSY
  g_usleep(count < 10 ? 2000 : 10000);
  return 1;
}

std::unique_ptr<Ledger> SqliteLedger::open(const std::string& path, std::string* error,
                                           GCancellable* cancellable, unsigned lock_wait_ms) {
  g_autofree char* dir = g_path_get_dirname(path.c_str());
  if (g_mkdir_with_parents(dir, 0700) != 0) {
    *error = "cannot create " + std::string(dir) + ": " + g_strerror(errno);
    return nullptr;
  }
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    *error = "cannot open the ledger " + path + ": " + (db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_close(db);
    return nullptr;
  }
  std::unique_ptr<SqliteLedger> ledger(new SqliteLedger(path, db, cancellable, lock_wait_ms));
  sqlite3_busy_handler(db, &SqliteLedger::busy, ledger.get());
  if (!ledger->set_up(error)) {
    *error = "cannot use the ledger " + path + ": " + *error;
    return nullptr;
  }
  g_chmod(path.c_str(), 0600);
  return ledger;
}

bool SqliteLedger::set_up(std::string* error) {
  // Processes that make the ledger at once meet SQLITE_BUSY where SQLite does not
  // call the busy handler (the switch to WAL, a lock upgrade it refuses to avoid a
  // deadlock): the whole set-up is tried again, within the same bounds as a lock wait.
  const int64_t since = now_us();
  for (;;) {
    // WAL: readers never block the writer; FULL: a committed "submitting" survives a power cut.
    // Once made, neither step writes: a ledger another process holds locked still opens.
    if (exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", error) && exec(kSchema, error)) {
      int64_t version = -1;
      {
        Statement v(db_, "PRAGMA user_version");  // finalized before any write
        if (v.step() == SQLITE_ROW) version = v.integer(0);
      }
      if (version == kSchemaVersion) return true;
      if (version > kSchemaVersion) {
        *error = newer_schema(version);
        return false;
      }
      // 0: made before versions were kept (the same tables), or just now.
      if (version == 0 &&
          exec(("PRAGMA user_version = " + std::to_string(kSchemaVersion)).c_str(), error))
        return true;
    }
    const int code = sqlite3_errcode(db_) & 0xff;
    if ((code != SQLITE_BUSY && code != SQLITE_LOCKED) ||
        g_cancellable_is_cancelled(cancellable_) ||
        now_us() - since > int64_t(lock_wait_ms_) * 1000)
      return false;
    g_usleep(5000);
  }
}

SqliteLedger::~SqliteLedger() {
  sqlite3_close(db_);
}

bool SqliteLedger::exec(const char* sql, std::string* error) {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) == SQLITE_OK) return true;
  if (error) *error = message ? message : sqlite3_errmsg(db_);
  sqlite3_free(message);
  return false;
}

bool SqliteLedger::fix(const LedgerRow& last, Fix fix, std::string* error) {
  if (fix == Fix::None) return true;
  Statement s(db_, fix == Fix::MarkUnanswered
                       ? "UPDATE tasks SET state = 'unanswered', detail = ?2 WHERE row = ?1"
                       : "DELETE FROM tasks WHERE row = ?1");
  s.bind(1, last.row);
  if (fix == Fix::MarkUnanswered) s.bind(2, kDiedSubmitting);
  if (s.step() == SQLITE_DONE) return true;
  *error = sqlite3_errmsg(db_);
  return false;
}

Ledger::Decision SqliteLedger::claim(const Identity& id, int64_t now, bool resume) {
  Decision d;
  // IMMEDIATE takes the write lock first: no two processes decide at once.
  if (!exec("BEGIN IMMEDIATE", &d.error)) return d;
  auto fail = [&] {
    if (d.error.empty()) d.error = sqlite3_errmsg(db_);
    exec("ROLLBACK", nullptr);
    return d;
  };
  Statement q(db_, (std::string("SELECT ") + kColumns +
                    " FROM tasks WHERE fingerprint = ? ORDER BY row DESC LIMIT 1")
                       .c_str());
  q.bind(1, id.fingerprint);
  const int rc = q.step();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return fail();
  if (rc == SQLITE_ROW) {
    const LedgerRow r = q.row();
    const Reading reading = read_last(
        r, now, resume,
        (r.state == kClaimed || r.state == kSubmitting) && OwnerLock::alive(name(), r.owner));
    if (!fix(r, reading.fix, &d.error)) return fail();
    if (reading.verdict) {
      d.row = r;
      if (!exec("COMMIT", &d.error)) return fail();
      d.verdict = *reading.verdict;
      return d;
    }
    d.why = reading.why;
  }
  // A claim no other process could see as alive would not stop them: none is made.
  const std::string owner = OwnerLock::self(name(), &d.error);
  if (owner.empty()) return fail();
  Statement ins(db_,
                "INSERT INTO tasks(fingerprint, account, origin, model, prompt, variation, "
                "state, owner, created, updated) VALUES(?,?,?,?,?,?,'claimed',?,?,?)");
  ins.bind(1, id.fingerprint)
      .bind(2, id.account)
      .bind(3, id.origin)
      .bind(4, id.model)
      .bind(5, id.prompt)
      .bind(6, static_cast<int64_t>(id.variation))
      .bind(7, owner)
      .bind(8, now)
      .bind(9, now);
  if (ins.step() != SQLITE_DONE) return fail();
  d.row.row = sqlite3_last_insert_rowid(db_);
  d.row.fingerprint = id.fingerprint;
  d.row.state = kClaimed;
  d.row.created = now;
  if (!exec("COMMIT", &d.error)) return fail();
  d.verdict = Verdict::Submit;
  return d;
}

Ledger::Budget SqliteLedger::begin_submit(int64_t row, std::optional<double> quote,
                                          const std::string& currency, std::optional<double> budget,
                                          int64_t day_start, double* spent, std::string* error) {
  if (!exec("BEGIN IMMEDIATE", error)) return Budget::Error;
  auto fail = [&] {
    if (error->empty()) *error = sqlite3_errmsg(db_);
    exec("ROLLBACK", nullptr);
    return Budget::Error;
  };
  *spent = 0;
  if (budget) {
    Statement q(
        db_, (std::string("SELECT COALESCE(SUM(quote), 0) FROM tasks WHERE account = "
                          "(SELECT account FROM tasks WHERE row = ?) AND created >= ? AND row != ? "
                          "AND state IN ") +
              kSpentStates)
                 .c_str());
    q.bind(1, row).bind(2, day_start).bind(3, row);
    if (q.step() != SQLITE_ROW) return fail();
    *spent = q.real(0).value_or(0);
    if (over_budget(*spent, quote, *budget)) {
      Statement del(db_, "DELETE FROM tasks WHERE row = ?");
      del.bind(1, row);
      if (del.step() != SQLITE_DONE || !exec("COMMIT", error)) return fail();
      return Budget::OverBudget;
    }
  }
  // Only this run's claim, still there: one another run took for a dead one's is not sent.
  Statement u(db_,
              "UPDATE tasks SET state = 'submitting', quote = ?, currency = ?, updated = ? "
              "WHERE row = ? AND state = 'claimed'");
  u.bind(1, quote)
      .bind(2, currency)
      .bind(3, static_cast<int64_t>(g_get_real_time() / G_USEC_PER_SEC))
      .bind(4, row);
  if (u.step() != SQLITE_DONE) return fail();
  if (sqlite3_changes(db_) != 1) {
    *error = "this run's claim is no longer in the ledger";
    return fail();
  }
  if (!exec("COMMIT", error)) return fail();
  return Budget::Ok;
}

bool SqliteLedger::mark_submitted(int64_t row, const std::string& task_id,
                                  const std::string& status, std::string* error) {
  Statement u(db_,
              "UPDATE tasks SET state = 'submitted', task_id = ?, status = ?, updated = ?, owner = "
              "'' WHERE row = ?");
  u.bind(1, task_id)
      .bind(2, status)
      .bind(3, static_cast<int64_t>(g_get_real_time() / G_USEC_PER_SEC))
      .bind(4, row);
  if (u.step() == SQLITE_DONE) return true;
  *error = sqlite3_errmsg(db_);
  return false;
}

void SqliteLedger::mark_unanswered(int64_t row, const std::string& detail) {
  // `updated` stays the time begin_submit() recorded: when the submit went out (the
  // refusal names it, to find the task on the dashboard), not when its wait ended.
  Statement u(db_, "UPDATE tasks SET state = 'unanswered', detail = ?, owner = '' WHERE row = ?");
  u.bind(1, detail).bind(2, row);
  u.step();
}

void SqliteLedger::release(int64_t row) {
  Statement del(db_, "DELETE FROM tasks WHERE row = ? AND state IN ('claimed','submitting')");
  del.bind(1, row);
  del.step();
}

bool SqliteLedger::set_status(const std::string& task_id, const std::string& status,
                              const std::vector<std::string>& outputs, const std::string& state,
                              const std::string& detail, std::string* error) {
  // Outputs and detail are kept when a later status carries none.
  Statement u(
      db_,
      "UPDATE tasks SET status = CASE WHEN ?1 = '' THEN status ELSE ?1 END, "
      "outputs = CASE WHEN ?2 = '' THEN outputs ELSE ?2 END, "
      "state = CASE WHEN ?3 = '' THEN state ELSE ?3 END, "
      "detail = CASE WHEN ?4 = '' THEN detail ELSE ?4 END, updated = ?5 WHERE task_id = ?6");
  u.bind(1, status)
      .bind(2, join_outputs(outputs))
      .bind(3, state)
      .bind(4, detail)
      .bind(5, static_cast<int64_t>(g_get_real_time() / G_USEC_PER_SEC))
      .bind(6, task_id);
  if (u.step() == SQLITE_DONE) return true;
  *error = sqlite3_errmsg(db_);
  return false;
}

std::vector<LedgerRow> SqliteLedger::list(size_t limit) {
  std::vector<LedgerRow> rows;
  Statement q(
      db_, (std::string("SELECT ") + kColumns + " FROM tasks ORDER BY row DESC LIMIT ?").c_str());
  q.bind(1, static_cast<int64_t>(limit));
  while (q.step() == SQLITE_ROW) rows.push_back(q.row());
  return rows;
}

std::optional<LedgerRow> SqliteLedger::find_task(const std::string& task_id) {
  Statement q(db_, (std::string("SELECT ") + kColumns +
                    " FROM tasks WHERE task_id = ? ORDER BY row DESC LIMIT 1")
                       .c_str());
  q.bind(1, task_id);
  if (q.step() == SQLITE_ROW) return q.row();
  return std::nullopt;
}

std::vector<Ledger::Spend> SqliteLedger::spent_since(int64_t since) {
  std::vector<Spend> out;
  Statement q(db_,
              (std::string("SELECT account, currency, COALESCE(SUM(quote), 0), COUNT(*) FROM tasks "
                           "WHERE created >= ? AND state IN ") +
               kSpentStates + " GROUP BY account, currency ORDER BY account")
                  .c_str());
  q.bind(1, since);
  while (q.step() == SQLITE_ROW)
    out.push_back({q.text(0), q.text(1), q.real(2).value_or(0), static_cast<int>(q.integer(3))});
  return out;
}

bool SqliteLedger::add_row(const LedgerRow& r, bool* added, std::string* error) {
  Statement ins(
      db_,
      "INSERT INTO tasks(fingerprint, account, origin, model, prompt, variation, state, task_id, "
      "status, outputs, quote, currency, created, updated, detail) SELECT "
      "?1,?2,?3,?4,?5,?6,?7,?8,?9,"
      "?10,?11,?12,?13,?14,?15 WHERE NOT EXISTS (SELECT 1 FROM tasks WHERE fingerprint = ?1 AND "
      "task_id = ?8 AND created = ?13)");
  ins.bind(1, r.fingerprint)
      .bind(2, r.account)
      .bind(3, r.origin)
      .bind(4, r.model)
      .bind(5, r.prompt)
      .bind(6, static_cast<int64_t>(r.variation))
      .bind(7, r.state)
      .bind(8, r.task_id)
      .bind(9, r.status)
      .bind(10, join_outputs(r.outputs))
      .bind(11, r.quote)
      .bind(12, r.currency)
      .bind(13, r.created)
      .bind(14, r.updated)
      .bind(15, r.detail);
  if (ins.step() != SQLITE_DONE) {
    *error = sqlite3_errmsg(db_);
    return false;
  }
  *added = sqlite3_changes(db_) == 1;
  return true;
}

}  // namespace kling
