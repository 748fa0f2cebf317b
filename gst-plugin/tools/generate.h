// SPDX-License-Identifier: LGPL-2.1-or-later
// `kling-tasks generate PROMPT`: one generation made ahead of time, under every
// money rule klingsrc keeps, by the element's own session (ElementSession, the
// TaskRunner under it), and the kling:// URI that then replays it at no cost.
#pragma once

#include <string>

namespace kling::tools {

// argv[0] is "generate". `ledger` is kling-tasks' --ledger (the element's journal).
// Exit status: 0 done (or on the ledger, with --no-wait), 1 failed, 2 refused before anything was
// sent.
int generate(int argc, char** argv, const std::string& ledger);

// The usage lines of `generate`, for kling-tasks --help.
extern const char kGenerateUsage[];

}  // namespace kling::tools
