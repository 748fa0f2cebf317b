// SPDX-License-Identifier: LGPL-2.1-or-later
// Who holds a claim on the machine's SQLite ledger, and whether it still runs: each
// process holds a lock (Linux's open file description lock) on one byte of
// "<ledger>-owners", named by a random token, while it lives. The kernel drops the
// lock when the process ends, however it ends (kill -9 too), so "is its owner alive?"
// is a lock test: no pid that could be reused, no lease to renew. A fleet's server
// does the same with a session-level advisory lock (pg_ledger.h).
#pragma once

#include <string>

namespace kling {

class OwnerLock {
 public:
  // This process's owner name on the ledger at `ledger_path` ("lock:N"), its lock taken on
  // first use (again in a forked child, which is an owner of its own); "" and `error` when
  // it cannot be taken.
  static std::string self(const std::string& ledger_path, std::string* error);
  // True while the process that is `owner` on this ledger lives.
  static bool alive(const std::string& ledger_path, const std::string& owner);
};

}  // namespace kling
