// SPDX-License-Identifier: LGPL-2.1-or-later
// DownloadStore without GStreamer and without a network: where each byte is
// after it arrives, depending on what the reader took and what was asked.
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "core/storage/download_store.h"
#include "core/storage/video_cache.h"
#include "support/store_helpers.h"

using kling::DownloadStore;
using Where = DownloadStore::Piece::Where;

namespace {

constexpr size_t kChunk = DownloadStore::kChunkSize;
constexpr size_t kChunks = 20;  // more than stay in memory

// Bytes that never repeat at a chunk-aligned distance (xorshift): a piece from
// the wrong chunk cannot pass for the right one.
std::string pattern(size_t size) {
  std::string out(size, '\0');
  uint64_t x = 88172645463325252ull;
  for (size_t i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    out[i] = static_cast<char>(x >> 56);
  }
  return out;
}

std::unique_ptr<DownloadStore> new_store() {
  kling::Error error;
  auto store = DownloadStore::create(&error);
  g_assert_nonnull(store.get());
  return store;
}

void test_untaken_chunks_are_spilled() {
  auto store = new_store();
  const std::string data = pattern(kChunks * kChunk + 123);
  download_into(*store, data, false);
  auto pieces = store->locate(0, data.size());
  g_assert_true(pieces.front().where == Where::File);   // evicted before anybody read it
  g_assert_true(pieces.back().where == Where::Memory);  // the last chunks stay in memory
  g_assert_true(bytes_at(*store, 0, data.size()) == data);
}

void test_taken_chunks_are_let_go_and_filled_back() {
  auto store = new_store();
  const std::string data = pattern(kChunks * kChunk + 123);
  download_into(*store, data, true);
  // The reader kept up: what left memory was never written.
  auto pieces = store->locate(kChunk + 7, 3 * kChunk);
  g_assert_cmpuint(pieces.size(), ==, 1);
  g_assert_true(pieces[0].where == Where::Hole);
  g_assert_cmpuint(pieces[0].offset, ==, kChunk + 7);
  g_assert_cmpuint(pieces[0].size, ==, 3 * kChunk);
  // One hole from the start to where the chunks still in memory begin.
  pieces = store->locate(0, data.size());
  g_assert_true(pieces[0].where == Where::Hole && pieces[0].offset == 0);
  g_assert_cmpuint(pieces[0].size % kChunk, ==, 0);
  g_assert_true(pieces[1].where == Where::Memory && pieces[1].offset == pieces[0].size);
  g_assert_true(bytes_at(*store, pieces[1].offset, data.size() - pieces[1].offset) ==
                data.substr(pieces[1].offset));

  kling::Error error;
  g_assert_true(store->fill(kChunk, data.data() + kChunk, 2 * kChunk, &error));
  g_assert_true(bytes_at(*store, kChunk + 7, kChunk) == data.substr(kChunk + 7, kChunk));
  pieces = store->locate(kChunk, 3 * kChunk);
  g_assert_true(pieces[0].where == Where::File && pieces[0].size == 2 * kChunk);
  g_assert_true(pieces[1].where == Where::Hole);
  // A cache copy needs every byte: refused while there are holes.
  g_autofree char* path = g_build_filename(g_get_tmp_dir(), "kling-store-copy-XXXXXX", nullptr);
  int fd = g_mkstemp(path);
  g_assert_cmpint(fd, >=, 0);
  g_assert_false(store->copy_to(fd));
  close(fd);
  g_unlink(path);
}

void test_partly_taken_chunk_is_spilled() {
  auto store = new_store();
  const std::string data = pattern(kChunks * kChunk);
  kling::Error error;
  for (size_t offset = 0; offset < data.size(); offset += kChunk) {
    size_t capacity = 0;
    char* buffer = store->write_buffer(&capacity);
    memcpy(buffer, data.data() + offset, kChunk);
    g_assert_true(store->commit(buffer, kChunk, &error));
    if (offset == 0) store->locate(0, kChunk / 2);  // only half of chunk 0 (a seek went elsewhere)
    if (offset == kChunk) store->locate(kChunk + 10, kChunk - 10);  // chunk 1 but its first bytes
  }
  g_assert_true(store->locate(0, kChunk)[0].where == Where::File);
  g_assert_true(store->locate(kChunk, kChunk)[0].where == Where::File);
  g_assert_true(bytes_at(*store, 0, 2 * kChunk) == data.substr(0, 2 * kChunk));
}

void test_keep_everything_spills_taken_chunks() {
  auto store = new_store();
  store->keep_everything();
  const std::string data = pattern(kChunks * kChunk + 5);
  download_into(*store, data, true);
  for (const auto& piece : store->locate(0, data.size())) g_assert_true(piece.where != Where::Hole);
  g_assert_true(bytes_at(*store, 0, data.size()) == data);
  // Every byte, the ones still in memory too, reaches the cache copy.
  g_autofree char* path = g_build_filename(g_get_tmp_dir(), "kling-store-copy-XXXXXX", nullptr);
  int fd = g_mkstemp(path);
  g_assert_true(store->copy_to(fd));
  close(fd);
  g_autofree char* copied = nullptr;
  gsize length = 0;
  g_assert_true(g_file_get_contents(path, &copied, &length, nullptr));
  g_unlink(path);
  g_assert_true(std::string(copied, length) == data);
}

// A store made in the cache folder keeps every byte, taken or not: the whole video
// becomes the entry without a copy.
void test_cache_entry_keeps_everything() {
  g_autofree char* dir = g_dir_make_tmp("kling-store-XXXXXX", nullptr);
  kling::Error error;
  auto store = DownloadStore::create(&error, dir);
  g_assert_nonnull(store.get());
  const std::string data = pattern(kChunks * kChunk);
  download_into(*store, data, true);
  const kling::VideoCache cache(dir);
  std::string why, task_id;
  g_assert_true(cache.save(kling::Request(), "entry", "task-1", *store, &why));
  auto saved = cache.open("entry", &task_id);
  g_assert_nonnull(saved.get());
  g_assert_cmpstr(task_id.c_str(), ==, "task-1");
  g_assert_cmpuint(saved->have(), ==, data.size());
  g_assert_true(bytes_at(*saved, 0, data.size()) == data);
  g_autoptr(GDir) listing = g_dir_open(dir, 0, nullptr);
  while (const char* name = g_dir_read_name(listing)) {
    g_autofree char* path = g_build_filename(dir, name, nullptr);
    g_unlink(path);
  }
  g_rmdir(dir);
}

void test_reads_spanning_chunks_share_memory() {
  auto store = new_store();
  const std::string data = pattern(4 * kChunk);
  download_into(*store, data, false);
  auto pieces = store->locate(kChunk / 2, 2 * kChunk);
  g_assert_cmpuint(pieces.size(), ==, 3);  // the end of chunk 0, chunk 1, the start of chunk 2
  for (const auto& piece : pieces) g_assert_true(piece.where == Where::Memory && piece.chunk);
  g_assert_true(bytes_at(*store, kChunk / 2, 2 * kChunk) == data.substr(kChunk / 2, 2 * kChunk));
}

// A reader that located memory pieces may use them after the store let go of
// them (a refetch of a hole in the same range takes a while): the pieces hold
// their chunks, and the store never reuses a chunk a piece still holds.
void test_located_pieces_outlive_the_ring() {
  auto store = new_store();
  const std::string data = pattern(kChunks * kChunk);
  kling::Error error;
  auto commit_chunk = [&](size_t index) {
    size_t capacity = 0;
    char* buffer = store->write_buffer(&capacity);
    memcpy(buffer, data.data() + index * kChunk, kChunk);
    g_assert_true(store->commit(buffer, kChunk, &error));
  };
  for (size_t i = 0; i < 4; i++) commit_chunk(i);
  auto pieces = store->locate(kChunk / 2, 3 * kChunk);  // taken: these may be let go
  for (size_t i = 4; i < kChunks; i++)
    commit_chunk(i);  // far past the ring: chunks 0-3 leave memory unwritten, the pool turns over
  g_assert_true(store->locate(kChunk, kChunk, false)[0].where == Where::Hole);
  std::string held;
  for (const auto& piece : pieces) {
    g_assert_true(piece.where == Where::Memory);
    held.append(piece.data, piece.size);
  }
  g_assert_true(held == data.substr(kChunk / 2, 3 * kChunk));
}

}  // namespace

// The disk a download uses is bounded: by max-size, and by the size announced.
void test_size_is_bounded() {
  auto store = new_store();
  store->set_max_size(3 * kChunk);
  kling::Error error;
  g_assert_false(store->set_total(3 * kChunk + 1, &error));
  g_assert_true(error.kind == kling::ErrorKind::TooLarge);
  g_assert_false(store->total().has_value());
  size_t capacity = 0;
  for (int i = 0; i < 3; i++)
    g_assert_true(store->commit(store->write_buffer(&capacity), kChunk, &error));
  g_assert_false(store->commit(store->write_buffer(&capacity), 1, &error));  // nothing announced
  g_assert_true(error.kind == kling::ErrorKind::TooLarge);

  auto announced = new_store();
  g_assert_true(announced->set_total(kChunk + 10, &error));
  g_assert_true(announced->commit(announced->write_buffer(&capacity), kChunk, &error));
  g_assert_false(announced->commit(announced->write_buffer(&capacity), 11, &error));
  g_assert_true(error.kind == kling::ErrorKind::BadReply);
  g_assert_cmpuint(announced->have(), ==, kChunk);
  g_assert_true(announced->commit(announced->write_buffer(&capacity), 10, &error));
}

// A writer thread fills chunks while a reader thread takes them without a
// copy and drops each one a buffer later, as a buffer downstream would: the
// writer reuses the chunks the reader let go, and every byte still reads right
// (also run under scripts/tsan.sh).
void test_chunks_reused_across_threads() {
  auto store = new_store();
  const std::string data = pattern(64 * kChunk + 5);
  std::thread writer([&] { download_into(*store, data, false); });
  std::string got;
  std::shared_ptr<kling::Chunk> held;  // the last buffer "downstream"
  kling::Error error;
  for (uint64_t offset = 0;;) {
    size_t size = kChunk;
    const auto wait = store->wait_for(offset, &size, &error);
    if (wait == DownloadStore::Wait::Eos) break;
    g_assert_true(wait == DownloadStore::Wait::Ready);
    for (const auto& piece : store->locate(offset, size)) {
      if (piece.where == Where::Memory) {
        got.append(piece.data, piece.size);
        held = piece.chunk;
      } else {
        std::string part(piece.size, '\0');
        g_assert_true(store->read(piece.offset, piece.size, reinterpret_cast<uint8_t*>(&part[0])));
        got += part;
      }
    }
    offset += size;
  }
  held.reset();
  writer.join();
  g_assert_cmpuint(got.size(), ==, data.size());
  g_assert_true(got == data);
}

int main(int argc, char** argv) {
  g_test_init(&argc, &argv, nullptr);
  g_test_add_func("/core/store/untaken-chunks-are-spilled", test_untaken_chunks_are_spilled);
  g_test_add_func("/core/store/taken-chunks-are-let-go-and-filled-back",
                  test_taken_chunks_are_let_go_and_filled_back);
  g_test_add_func("/core/store/partly-taken-chunk-is-spilled", test_partly_taken_chunk_is_spilled);
  g_test_add_func("/core/store/keep-everything-spills-taken-chunks",
                  test_keep_everything_spills_taken_chunks);
  g_test_add_func("/core/store/cache-entry-keeps-everything", test_cache_entry_keeps_everything);
  g_test_add_func("/core/store/reads-spanning-chunks-share-memory",
                  test_reads_spanning_chunks_share_memory);
  g_test_add_func("/core/store/located-pieces-outlive-the-ring",
                  test_located_pieces_outlive_the_ring);
  g_test_add_func("/core/store/size-is-bounded", test_size_is_bounded);
  g_test_add_func("/core/store/chunks-reused-across-threads", test_chunks_reused_across_threads);
  return g_test_run();
}
