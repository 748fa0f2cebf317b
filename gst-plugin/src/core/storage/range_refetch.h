// SPDX-License-Identifier: LGPL-2.1-or-later
// Bytes a DownloadStore let go of, read again from their URL with a Range
// request when a reader comes back for them (a seek back in push mode, a replay
// of the same request): a push-mode stream then never writes to disk.
#pragma once

#include <gio/gio.h>

#include <cstdint>

#include "core/request/request.h"
#include "core/storage/download_store.h"
#include "core/util/error.h"

namespace kling {

// Read again at least this much at once: a reader going on from there finds its
// next bytes on disk instead of making a request per buffer.
constexpr uint64_t kRefetchSpan = 4 * 1024 * 1024;

enum class Refetch { Done, Cancelled, Failed };

// Writes [offset, offset + size) of the store's source into the store's file.
// Blocks the calling thread (its own GMainContext and SoupSession, the
// request's TLS settings and retries); `cancellable` ends it at once. The API
// key is never sent: the source is a CDN URL.
Refetch refetch(const Request& request, DownloadStore& store, uint64_t offset, uint64_t size,
                GCancellable* cancellable, const std::string& task_id, Error* error);

}  // namespace kling
