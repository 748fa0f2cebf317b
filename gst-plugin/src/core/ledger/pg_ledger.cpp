// SPDX-License-Identifier: LGPL-2.1-or-later
#include "core/ledger/pg_ledger.h"

#include <gio/gio.h>
#include <libpq-fe.h>

#include <climits>
#include <cstring>
#include <utility>

namespace kling {

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS kling_ledger_schema(version integer NOT NULL);
CREATE TABLE IF NOT EXISTS kling_tasks(
  row_id bigserial PRIMARY KEY,
  fingerprint text NOT NULL,
  account text NOT NULL,
  origin text NOT NULL,
  model text NOT NULL,
  prompt text NOT NULL DEFAULT '',
  variation integer NOT NULL DEFAULT 0,
  state text NOT NULL,
  task_id text NOT NULL DEFAULT '',
  status text NOT NULL DEFAULT '',
  outputs text NOT NULL DEFAULT '',
  quote double precision,
  currency text NOT NULL DEFAULT '',
  owner text NOT NULL DEFAULT '',
  created bigint NOT NULL,
  updated bigint NOT NULL,
  detail text NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS kling_tasks_by_fingerprint ON kling_tasks(fingerprint, row_id);
CREATE INDEX IF NOT EXISTS kling_tasks_by_task ON kling_tasks(task_id);
CREATE INDEX IF NOT EXISTS kling_tasks_by_account ON kling_tasks(account, created);
INSERT INTO kling_ledger_schema SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM kling_ledger_schema);
)sql";

#define KLING_PG_COLUMNS                                                                     \
  "row_id, fingerprint, account, origin, model, prompt, variation, state, task_id, status, " \
  "outputs, quote, "                                                                         \
  "currency, owner, created, updated, detail"

// The session's advisory lock: held while the connection lives, seen by every other
// session in pg_locks (two-int keys have objsubid 2; the request locks take one bigint).
constexpr const char* kOwnerAlive =
    "(owner <> '' AND (owner = $2 OR EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = "
    "'advisory' "
    "AND l.objsubid = 2 AND l.granted AND owner = 'pg:' || l.classid || ':' || l.objid)))";

// Server-side keepalives: the session of a machine that lost power ends, and its lock
// with it, within 10 + 3 * 5 s.
constexpr const char* kSessionOptions =
    "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3";

std::string text_of(std::optional<double> v) {
  if (!v) return "";
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];
  return g_ascii_dtostr(buffer, sizeof buffer, *v);
}

int64_t now_unix() {
  return g_get_real_time() / G_USEC_PER_SEC;
}

}  // namespace

class PgLedger::Result {
 public:
  Result() = default;
  explicit Result(PGresult* r) : r_(r) {}
  Result(Result&& o) noexcept : r_(std::exchange(o.r_, nullptr)) {}
  Result& operator=(Result&& o) noexcept {
    PQclear(r_);
    r_ = std::exchange(o.r_, nullptr);
    return *this;
  }
  ~Result() { PQclear(r_); }
  explicit operator bool() const {
    return r_ && (PQresultStatus(r_) == PGRES_COMMAND_OK || PQresultStatus(r_) == PGRES_TUPLES_OK);
  }
  int rows() const { return r_ ? PQntuples(r_) : 0; }
  int64_t affected() const { return r_ ? g_ascii_strtoll(PQcmdTuples(r_), nullptr, 10) : 0; }
  std::string text(int row, int col) const { return PQgetvalue(r_, row, col); }
  int64_t integer(int row, int col) const {
    return g_ascii_strtoll(PQgetvalue(r_, row, col), nullptr, 10);
  }
  std::optional<double> real(int row, int col) const {
    if (PQgetisnull(r_, row, col)) return std::nullopt;
    return g_ascii_strtod(PQgetvalue(r_, row, col), nullptr);
  }
  LedgerRow row(int i) const {
    LedgerRow r;
    r.row = integer(i, 0);
    r.fingerprint = text(i, 1);
    r.account = text(i, 2);
    r.origin = text(i, 3);
    r.model = text(i, 4);
    r.prompt = text(i, 5);
    r.variation = static_cast<unsigned>(integer(i, 6));
    r.state = text(i, 7);
    r.task_id = text(i, 8);
    r.status = text(i, 9);
    r.outputs = split_outputs(text(i, 10));
    r.quote = real(i, 11);
    r.currency = text(i, 12);
    r.owner = text(i, 13);
    r.created = integer(i, 14);
    r.updated = integer(i, 15);
    r.detail = text(i, 16);
    return r;
  }

 private:
  PGresult* r_ = nullptr;
};

PgLedger::PgLedger(std::string uri, GCancellable* cancellable, unsigned wait_ms)
    : Ledger(display_name_of(uri)),
      uri_(std::move(uri)),
      cancellable_(cancellable),
      wait_ms_(wait_ms) {
  if (PQconninfoOption* options = PQconninfoParse(uri_.c_str(), nullptr)) {
    for (PQconninfoOption* o = options; o->keyword; o++)
      if (o->val && *o->val && strcmp(o->keyword, "password") == 0) password_ = o->val;
    PQconninfoFree(options);
  }
}

std::string PgLedger::display_name_of(const std::string& uri) {
  // Rebuilt from what libpq reads: nothing the URI carries is shown but where it leads.
  char* parse_error = nullptr;
  PQconninfoOption* options = PQconninfoParse(uri.c_str(), &parse_error);
  if (!options) {
    PQfreemem(parse_error);  // it may quote the URI
    return "(a PostgreSQL URI libpq cannot read)";
  }
  std::string user, host, port, dbname;
  for (PQconninfoOption* o = options; o->keyword; o++) {
    const std::string value = o->val ? o->val : "";
    if (strcmp(o->keyword, "user") == 0)
      user = value;
    else if (strcmp(o->keyword, "host") == 0)
      host = value;
    else if (strcmp(o->keyword, "port") == 0)
      port = value;
    else if (strcmp(o->keyword, "dbname") == 0)
      dbname = value;
  }
  PQconninfoFree(options);
  if (host.find(':') != std::string::npos && host.find(',') == std::string::npos)
    host = "[" + host + "]";
  return "postgresql://" + (user.empty() ? "" : user + "@") + host +
         (port.empty() ? "" : ":" + port) + (dbname.empty() ? "" : "/" + dbname);
}

std::string PgLedger::scrub(std::string message) const {
  // libpq's messages name the host and user, never the password: this keeps it so.
  for (size_t at; !password_.empty() && (at = message.find(password_)) != std::string::npos;)
    message.replace(at, password_.size(), "***");
  // One line: libpq ends lines with "\n" and indents its hints with "\t".
  for (char& c : message)
    if (c == '\n' || c == '\t') c = ' ';
  while (!message.empty() && message.back() == ' ') message.pop_back();
  for (size_t at; (at = message.find("  ")) != std::string::npos;) message.erase(at, 1);
  return message;
}

PgLedger::~PgLedger() {
  drop();
}

std::unique_ptr<Ledger> PgLedger::open(const std::string& uri, std::string* error,
                                       GCancellable* cancellable, unsigned wait_ms) {
  std::unique_ptr<PgLedger> ledger(new PgLedger(uri, cancellable, wait_ms));
  if (!ledger->connect(error) || !ledger->set_up(error)) {
    *error = "cannot use the ledger " + ledger->name() + ": " + *error;
    return nullptr;
  }
  return ledger;
}

void PgLedger::drop() {
  if (conn_) PQfinish(conn_);
  conn_ = nullptr;
}

// Waits until the connection's socket can be read (or written), within the
// statement's deadline; false (and why) when it passed or `cancellable_` fired.
bool PgLedger::await(bool writing, std::string* error) {
  GPollFD fds[2] = {{PQsocket(conn_), static_cast<gushort>(writing ? G_IO_OUT : G_IO_IN), 0},
                    {-1, G_IO_IN, 0}};
  const bool cancellable = cancellable_ && g_cancellable_make_pollfd(cancellable_, &fds[1]);
  const int64_t left_ms = (deadline_us_ - g_get_monotonic_time()) / 1000;
  const int n = left_ms > 0 ? g_poll(fds, cancellable ? 2 : 1,
                                     static_cast<int>(std::min<int64_t>(left_ms, INT_MAX)))
                            : 0;
  if (cancellable) g_cancellable_release_fd(cancellable_);
  if (g_cancellable_is_cancelled(cancellable_)) {
    *error = "cancelled";
    return false;
  }
  if (n == 0) {
    *error = "no answer within " + std::to_string(wait_ms_) + " ms";
    return false;
  }
  return true;
}

bool PgLedger::connect(std::string* error) {
  // Ours first: what the URI says (dbname, expanded last) wins.
  const char* keys[] = {"application_name", "options", "dbname", nullptr};
  const char* values[] = {"gst-kling", kSessionOptions, uri_.c_str(), nullptr};
  conn_ = PQconnectStartParams(keys, values, 1);
  deadline_us_ = g_get_monotonic_time() + int64_t(wait_ms_) * 1000;
  for (PostgresPollingStatusType s = PGRES_POLLING_WRITING; s != PGRES_POLLING_OK;
       s = PQconnectPoll(conn_)) {
    if (!conn_ || PQstatus(conn_) == CONNECTION_BAD || s == PGRES_POLLING_FAILED) {
      *error = conn_ ? scrub(PQerrorMessage(conn_)) : "out of memory";
      drop();
      return false;
    }
    if (!await(s == PGRES_POLLING_WRITING, error)) {
      *error = "cannot connect: " + *error;
      drop();
      return false;
    }
  }
  PQsetNoticeProcessor(
      conn_, [](void*, const char*) {}, nullptr);  // "already exists, skipping"
  // This session's owner lock: the same token again after a reconnect, while free.
  for (int attempt = 0; attempt < 8; attempt++) {
    if (!owner_a_ || attempt > 0) {
      // Seeded afresh from /dev/urandom: a forked child must not draw its parent's numbers.
      GRand* fresh = g_rand_new();
      owner_a_ = g_rand_int_range(fresh, 1, INT_MAX);
      owner_b_ = g_rand_int_range(fresh, 1, INT_MAX);
      g_rand_free(fresh);
    }
    const std::string a = std::to_string(owner_a_), b = std::to_string(owner_b_);
    Result got = run("SELECT pg_try_advisory_lock($1::int4, $2::int4)", {&a, &b}, error);
    if (!got) return false;
    if (got.text(0, 0) == "t") {
      owner_ = "pg:" + a + ":" + b;
      return true;
    }
  }
  *error = "no free owner lock";
  drop();
  return false;
}

bool PgLedger::set_up(std::string* error) {
  {
    Result version = run("SELECT max(version) FROM kling_ledger_schema", {}, error);
    if (version && version.rows() == 1 && version.integer(0, 0) == kSchemaVersion)
      return true;  // made before: one round trip
    if (version && version.integer(0, 0) > kSchemaVersion) {
      *error = newer_schema(version.integer(0, 0));
      return false;
    }
  }
  error->clear();
  // Made once, whoever comes first: the others wait on the lock, then find it made.
  const std::string key = "kling-ledger-schema";
  if (!exec("BEGIN", error)) return false;
  if (!run("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", {&key}, error) ||
      !exec(kSchema, error) || !exec("COMMIT", error)) {
    rollback();
    return false;
  }
  return true;
}

PgLedger::Result PgLedger::run(const char* sql, std::initializer_list<const std::string*> params,
                               std::string* error) {
  if (!conn_ && !connect(error)) return Result();
  std::vector<const char*> values;
  for (const std::string* p : params) values.push_back(p ? p->c_str() : nullptr);
  deadline_us_ = g_get_monotonic_time() + int64_t(wait_ms_) * 1000;
  // Without parameters, a script of several statements may be sent at once.
  const int sent = values.empty() ? PQsendQuery(conn_, sql)
                                  : PQsendQueryParams(conn_, sql, static_cast<int>(values.size()),
                                                      nullptr, values.data(), nullptr, nullptr, 0);
  Result last;
  std::string failed = sent ? "" : scrub(PQerrorMessage(conn_));
  while (sent) {
    while (PQisBusy(conn_)) {
      if (!await(false, &failed) || !PQconsumeInput(conn_)) {
        if (failed.empty()) failed = scrub(PQerrorMessage(conn_));
        drop();  // the server ends the transaction with the connection
        *error = failed;
        return Result();
      }
    }
    PGresult* r = PQgetResult(conn_);
    if (!r) break;
    last = Result(r);
    if (!last && failed.empty()) failed = scrub(PQresultErrorMessage(r));
  }
  if (!failed.empty()) {
    *error = failed;
    if (PQstatus(conn_) == CONNECTION_BAD) drop();
    return Result();
  }
  return last;
}

bool PgLedger::exec(const char* sql, std::string* error) {
  return static_cast<bool>(run(sql, {}, error));
}

void PgLedger::rollback() {
  std::string ignored;
  if (conn_) run("ROLLBACK", {}, &ignored);
}

Ledger::Decision PgLedger::claim(const Identity& id, int64_t now, bool resume) {
  Decision d;
  const std::string key = "kling-request:" + id.fingerprint;
  if (!exec("BEGIN", &d.error)) return d;
  // Held to the transaction's end: no two machines decide about one request at once.
  static const std::string last_sql =
      std::string("SELECT " KLING_PG_COLUMNS ", ") + kOwnerAlive +
      " FROM kling_tasks WHERE fingerprint = $1 ORDER BY row_id DESC LIMIT 1";
  Result last;
  if (!run("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", {&key}, &d.error) ||
      !(last = run(last_sql.c_str(), {&id.fingerprint, &owner_}, &d.error))) {
    rollback();
    return d;
  }
  if (last.rows() == 1) {
    const LedgerRow r = last.row(0);
    const Reading reading = read_last(r, now, resume, last.text(0, 17) == "t");
    const std::string row = std::to_string(r.row);
    bool fixed = true;
    if (reading.fix == Fix::MarkUnanswered)
      fixed = static_cast<bool>(
          run("UPDATE kling_tasks SET state = 'unanswered', detail = $2 WHERE row_id = $1::bigint",
              {&row, &kDiedSubmitting}, &d.error));
    else if (reading.fix == Fix::DropClaim)
      fixed = static_cast<bool>(
          run("DELETE FROM kling_tasks WHERE row_id = $1::bigint", {&row}, &d.error));
    if (!fixed) {
      rollback();
      return d;
    }
    if (reading.verdict) {
      d.row = r;
      if (!exec("COMMIT", &d.error)) {
        rollback();
        return d;
      }
      d.verdict = *reading.verdict;
      return d;
    }
    d.why = reading.why;
  }
  const std::string variation = std::to_string(id.variation), at = std::to_string(now);
  Result made = run(
      "INSERT INTO kling_tasks(fingerprint, account, origin, model, prompt, variation, state, "
      "owner, created, "
      "updated) VALUES($1, $2, $3, $4, $5, $6::int, 'claimed', $7, $8::bigint, $8::bigint) "
      "RETURNING row_id",
      {&id.fingerprint, &id.account, &id.origin, &id.model, &id.prompt, &variation, &owner_, &at},
      &d.error);
  if (!made || !exec("COMMIT", &d.error)) {
    rollback();
    return d;
  }
  d.row.row = made.integer(0, 0);
  d.row.fingerprint = id.fingerprint;
  d.row.state = kClaimed;
  d.row.created = now;
  d.verdict = Verdict::Submit;
  return d;
}

Ledger::Budget PgLedger::begin_submit(int64_t row_id, std::optional<double> quote,
                                      const std::string& currency, std::optional<double> budget,
                                      int64_t day_start, double* spent, std::string* error) {
  const std::string row = std::to_string(row_id);
  *spent = 0;
  if (!exec("BEGIN", error)) return Budget::Error;
  Result held = run(
      "SELECT account FROM kling_tasks WHERE row_id = $1::bigint AND state = 'claimed' FOR UPDATE",
      {&row}, error);
  if (held && held.rows() == 0)
    *error =
        "this run's claim is no longer in the ledger (its connection dropped and another run took "
        "it over)";
  if (!held || held.rows() == 0) {
    rollback();
    return Budget::Error;
  }
  if (budget) {
    // One machine at a time adds up an account's day: the sum holds fleet-wide.
    const std::string key = "kling-account:" + held.text(0, 0), since = std::to_string(day_start);
    static const std::string sum_sql =
        std::string(
            "SELECT COALESCE(SUM(quote), 0) FROM kling_tasks WHERE account = $1 AND created >= "
            "$2::bigint AND row_id <> $3::bigint AND state IN ") +
        kSpentStates;
    const std::string account = held.text(0, 0);
    Result sum;
    if (!run("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", {&key}, error) ||
        !(sum = run(sum_sql.c_str(), {&account, &since, &row}, error))) {
      rollback();
      return Budget::Error;
    }
    *spent = sum.real(0, 0).value_or(0);
    if (over_budget(*spent, quote, *budget)) {
      if (!run("DELETE FROM kling_tasks WHERE row_id = $1::bigint", {&row}, error) ||
          !exec("COMMIT", error)) {
        rollback();
        return Budget::Error;
      }
      return Budget::OverBudget;
    }
  }
  const std::string amount = text_of(quote), at = std::to_string(now_unix());
  if (!run("UPDATE kling_tasks SET state = 'submitting', quote = $2::float8, currency = $3, "
           "updated = $4::bigint "
           "WHERE row_id = $1::bigint",
           {&row, quote ? &amount : nullptr, &currency, &at}, error) ||
      !exec("COMMIT", error)) {
    rollback();
    return Budget::Error;
  }
  return Budget::Ok;
}

bool PgLedger::mark_submitted(int64_t row_id, const std::string& task_id, const std::string& status,
                              std::string* error) {
  const std::string row = std::to_string(row_id), at = std::to_string(now_unix());
  return static_cast<bool>(
      run("UPDATE kling_tasks SET state = 'submitted', task_id = $2, status = $3, "
          "updated = $4::bigint, owner = '' WHERE row_id = $1::bigint",
          {&row, &task_id, &status, &at}, error));
}

void PgLedger::mark_unanswered(int64_t row_id, const std::string& detail) {
  // `updated` stays when the submit went out (what every refusal names).
  const std::string row = std::to_string(row_id);
  std::string ignored;
  run("UPDATE kling_tasks SET state = 'unanswered', detail = $2, owner = '' WHERE row_id = "
      "$1::bigint",
      {&row, &detail}, &ignored);
}

void PgLedger::release(int64_t row_id) {
  const std::string row = std::to_string(row_id);
  std::string ignored;
  run("DELETE FROM kling_tasks WHERE row_id = $1::bigint AND state IN ('claimed', 'submitting')",
      {&row}, &ignored);
}

bool PgLedger::set_status(const std::string& task_id, const std::string& status,
                          const std::vector<std::string>& outputs, const std::string& state,
                          const std::string& detail, std::string* error) {
  // Outputs and detail are kept when a later status carries none.
  const std::string urls = join_outputs(outputs), at = std::to_string(now_unix());
  return static_cast<bool>(run(
      "UPDATE kling_tasks SET status = CASE WHEN $1 = '' THEN status ELSE $1 END, "
      "outputs = CASE WHEN $2 = '' THEN outputs ELSE $2 END, "
      "state = CASE WHEN $3 = '' THEN state ELSE $3 END, "
      "detail = CASE WHEN $4 = '' THEN detail ELSE $4 END, updated = $5::bigint WHERE task_id = $6",
      {&status, &urls, &state, &detail, &at, &task_id}, error));
}

std::vector<LedgerRow> PgLedger::list(size_t limit) {
  std::vector<LedgerRow> rows;
  const std::string n = std::to_string(std::min<size_t>(limit, INT64_MAX));
  std::string error;
  Result r =
      run("SELECT " KLING_PG_COLUMNS " FROM kling_tasks ORDER BY row_id DESC LIMIT $1::bigint",
          {&n}, &error);
  for (int i = 0; i < r.rows(); i++) rows.push_back(r.row(i));
  return rows;
}

std::optional<LedgerRow> PgLedger::find_task(const std::string& task_id) {
  std::string error;
  Result r = run("SELECT " KLING_PG_COLUMNS
                 " FROM kling_tasks WHERE task_id = $1 ORDER BY row_id DESC LIMIT 1",
                 {&task_id}, &error);
  if (r.rows() == 1) return r.row(0);
  return std::nullopt;
}

std::vector<Ledger::Spend> PgLedger::spent_since(int64_t since) {
  std::vector<Spend> out;
  static const std::string sql =
      std::string(
          "SELECT account, currency, COALESCE(SUM(quote), 0), COUNT(*) FROM kling_tasks "
          "WHERE created >= $1::bigint AND state IN ") +
      kSpentStates + " GROUP BY account, currency ORDER BY account";
  const std::string from = std::to_string(since);
  std::string error;
  Result r = run(sql.c_str(), {&from}, &error);
  for (int i = 0; i < r.rows(); i++)
    out.push_back(
        {r.text(i, 0), r.text(i, 1), r.real(i, 2).value_or(0), static_cast<int>(r.integer(i, 3))});
  return out;
}

bool PgLedger::add_row(const LedgerRow& row, bool* added, std::string* error) {
  const std::string variation = std::to_string(row.variation), quote = text_of(row.quote),
                    urls = join_outputs(row.outputs), created = std::to_string(row.created),
                    updated = std::to_string(row.updated);
  Result r =
      run("INSERT INTO kling_tasks(fingerprint, account, origin, model, prompt, variation, state, "
          "task_id, status, "
          "outputs, quote, currency, created, updated, detail) SELECT $1, $2, $3, $4, $5, $6::int, "
          "$7, $8, $9, $10, "
          "$11::float8, $12, $13::bigint, $14::bigint, $15 WHERE NOT EXISTS (SELECT 1 FROM "
          "kling_tasks WHERE "
          "fingerprint = $1 AND task_id = $8 AND created = $13::bigint)",
          {&row.fingerprint, &row.account, &row.origin, &row.model, &row.prompt, &variation,
           &row.state, &row.task_id, &row.status, &urls, row.quote ? &quote : nullptr,
           &row.currency, &created, &updated, &row.detail},
          error);
  *added = r && r.affected() == 1;
  return static_cast<bool>(r);
}

}  // namespace kling
