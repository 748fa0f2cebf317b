// SPDX-License-Identifier: LGPL-2.1-or-later
// kling-emulator as a subprocess for the end-to-end suites: started on
// loopback with the given flags, stopped (SIGTERM) when the object goes. The
// suites' way of playing a fixture pipeline to its end is in pipeline_run.h.
#pragma once

#include <gio/gio.h>
#include <gst/gst.h>

#include <memory>
#include <string>
#include <vector>

#include "support/pipeline_run.h"

struct Emulator {
  GSubprocess* process = nullptr;
  std::string api;
  std::string log_path;
  std::string output_dir;

  ~Emulator();
  // The request log (one JSON line per request), its whole lines only.
  std::string log() const;
};

// Runs $KLING_EMULATOR with `--latency-ms latency_ms --video-scale 4`, its request log and
// output dir in a temp folder, then `flags`.
std::unique_ptr<Emulator> start_emulator(std::vector<std::string> flags, int latency_ms = 300);
