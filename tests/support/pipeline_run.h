// SPDX-License-Identifier: LGPL-2.1-or-later
// What the element tests share: one pipeline run recorded as it happens (the
// bytes at the sink, progress, kling/task and tag messages, the end), and
// assertions on it.
#pragma once

#include <gst/gst.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "support/assert_str.h"

struct Progress {
  GstProgressType type;
  std::string code;
  std::string text;
};

// One pipeline run: what reached the sink and what came on the bus, in order.
struct Run {
  GstElement* pipeline = nullptr;
  GstElement* src = nullptr;
  std::mutex mutex;
  std::string bytes;
  int buffers = 0;
  bool saw_progress_complete = false;
  bool buffer_before_complete = false;
  std::vector<Progress> progress;
  std::vector<std::string> task_messages;  // serialized kling/task structures
  std::string last_task_status;
  std::string last_task_output;
  GstTagList* tags = nullptr;
  GError* error = nullptr;
  std::string debug;
  bool eos = false;

  ~Run();
};

// Parses `desc` (with a `name=src` element and maybe a `fakesink name=sink`) and
// records what the sink gets and what the bus carries.
std::unique_ptr<Run> parse_run(const std::string& desc);
// Plays a (non-live) pipeline to its EOS, asserting it comes within `timeout_s`, then NULL.
void play_to_eos(GstElement* pipeline, unsigned timeout_s = 20);
// Runs a pipeline that makes a file (a fixture) to its EOS; an error fails the test.
void run_to_eos(const std::string& desc, unsigned timeout_s = 30);
// Writes a one-frame PNG of videotestsrc's `pattern` at `width`x`height` to `path`.
void write_png(const std::string& path, const char* pattern, int width, int height,
               const char* pngenc_options = "");
// Plays until EOS or an error, at most `timeout_s`.
void play_to_end(Run& run, unsigned timeout_s = 20);
void assert_error(Run& run, GQuark domain, int code, const char* in_message);
// Plays `run` as play_to_end() does and says whether a tag event titled `title`
// reached the sink pad of its element named "sink".
bool title_reaches_sink(Run& run, const std::string& title, unsigned timeout_s = 20);
std::string random_bytes(size_t size);
bool contains(const std::string& haystack, const std::string& needle);
// True when some progress text so far has `words` in it.
bool progress_says(Run& run, const char* words);
// Unsets what a user's shell may set and an element would read (the key, the API
// URL, the money limits): a test sets its own.
void unset_kling_environment();
