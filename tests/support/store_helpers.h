// SPDX-License-Identifier: LGPL-2.1-or-later
// What the DownloadStore tests share: writing a download into a store as the
// task runner does, and reading a range back from wherever its bytes are.
#pragma once

#include <glib.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "core/storage/download_store.h"

// Writes `data` a chunk at a time; with `take`, a reader keeping up takes each
// chunk as soon as it is there (a push-mode stream).
inline void download_into(kling::DownloadStore& store, const std::string& data, bool take) {
  constexpr size_t kChunk = kling::DownloadStore::kChunkSize;
  kling::Error error;
  g_assert_true(store.set_total(data.size(), &error));
  for (size_t offset = 0; offset < data.size(); offset += kChunk) {
    size_t capacity = 0;
    char* buffer = store.write_buffer(&capacity);
    g_assert_cmpuint(capacity, ==, kChunk);
    const size_t n = std::min(kChunk, data.size() - offset);
    memcpy(buffer, data.data() + offset, n);
    g_assert_true(store.commit(buffer, n, &error));
    if (take)
      for (const auto& piece : store.locate(offset, n))
        g_assert_true(piece.where == kling::DownloadStore::Piece::Where::Memory);
  }
  store.finish();
}

// The bytes of [offset, offset + size), which must all be in memory or on disk.
inline std::string bytes_at(kling::DownloadStore& store, uint64_t offset, size_t size) {
  using Where = kling::DownloadStore::Piece::Where;
  std::string out;
  for (const auto& piece : store.locate(offset, size, false)) {
    g_assert_true(piece.where != Where::Hole);
    if (piece.where == Where::Memory) {
      out.append(piece.data, piece.size);
    } else {
      std::string part(piece.size, '\0');
      g_assert_true(store.read(piece.offset, piece.size, reinterpret_cast<uint8_t*>(&part[0])));
      out += part;
    }
  }
  return out;
}
