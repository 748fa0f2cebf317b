// SPDX-License-Identifier: LGPL-2.1-or-later
// kling-emulator: the options every part of the emulator reads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace emu {

struct Config {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string cdn_host = "127.0.0.1";
  int cdn_port = 0;
  std::string storage_host = "127.0.0.1";  // where uploads go (neither API nor CDN)
  int storage_port = 0;
  bool allow_remote = false;

  std::string api_key = "emulator-key";
  int latency_ms = 3000;

  std::string video_file;    // serve this file instead of generating
  int video_scale = 1;       // divide generated width/height by this
  bool moov_at_end = false;  // generated files: moov after mdat
  std::string output_dir;    // where generated files go (empty: a temp dir)

  std::string request_log;  // JSON lines, one per request

  // Money: the quote and the account.
  std::optional<double> price;  // --price: every model's base price (per 5 s)
  bool no_price = false;        // the price endpoint answers 404
  bool fail_price = false;      // ... 500
  double balance = 100.0;       // starting credit, US dollars
  bool check_balance = false;   // --balance given: a submit above the balance is refused (402)
  bool no_balance = false;      // the balance endpoint answers 404 (and no credit check)
  bool fail_balance = false;    // ... 500

  bool no_models = false;    // GET /api/v3/models answers 404 (submits still checked)
  bool fail_models = false;  // ... 500

  // Faults.
  int fail_submits_429 = 0;
  int retry_after_s = 1;
  int fail_polls_500 = 0;
  int fail_polls_502 = 0;
  bool fail_task = false;
  int fail_task_code = 0;
  std::string fail_task_message;
  int cut_downloads = 0;
  int64_t cut_after_bytes = 0;
  bool expire_outputs = false;
  bool hang_submit = false;
  bool hang_polls = false;
  bool processing_5004 = false;

  int sync_timeout_ms = 60000;  // enable_sync_mode: the longest a submit reply waits
  std::string key_role;         // the key's role may not create tasks (403 with error_code)
};

}  // namespace emu
