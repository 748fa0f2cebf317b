// SPDX-License-Identifier: LGPL-2.1-or-later
// The ledger's write lock held as another process would hold it (another
// SQLite connection), for the suites that show what waits on it. Header only:
// a suite that includes it links sqlite3.
#pragma once

#include <sqlite3.h>

#include <string>

#include "support/klingsrc_case.h"

struct HeldLedger {
  explicit HeldLedger(const std::string& path) {
    g_assert_cmpint(sqlite3_open(path.c_str(), &db), ==, SQLITE_OK);
    g_assert_cmpint(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), ==, SQLITE_OK);
  }
  ~HeldLedger() {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close(db);
  }
  HeldLedger(const HeldLedger&) = delete;
  HeldLedger& operator=(const HeldLedger&) = delete;
  sqlite3* db = nullptr;
};

// A run with another prompt makes the ledger (its tables) at `path`.
inline void make_ledger(FakeWaveSpeed& fake, const std::string& path) {
  auto run = make_run(fake);
  g_object_set(run->src, "journal", path.c_str(), "prompt", "another prompt", nullptr);
  play_to_end(*run);
  g_assert_true(run->eos);
}
