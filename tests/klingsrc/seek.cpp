// SPDX-License-Identifier: LGPL-2.1-or-later
// Seeks and reads anywhere: bytes a push-mode reader let go are read again from
// the CDN with Range (a refusal is a clear error), pull mode keeps every byte.
#include <gst/gst.h>

#include <memory>
#include <mutex>
#include <string>

#include "support/klingsrc_case.h"

namespace {

using Fixture = FakeApiFixture;

// The CDN's first reply stops after ten chunks and the resume waits a backoff
// (poll-interval 300 ms): meanwhile the reader takes every chunk there is, so in
// push mode the early ones leave memory without being written to disk.
void cut_first_download_after_ten_chunks(Fixture* f, std::unique_ptr<Run>& run) {
  const std::string video = f->fake->video;
  f->fake->on_download = [video](int n, const std::string&) -> std::optional<FakeReply> {
    if (n != 1) return std::nullopt;
    FakeReply r{200, video, "video/mp4"};
    r.cut_after = 10 * kChunk;
    return r;
  };
  g_object_set(run->src, "poll-interval", 300u, nullptr);
}

// Seeks a pipeline at EOS to byte `offset` and plays to the end again.
void seek_and_play_to_end(Run& run, guint64 offset) {
  {
    std::lock_guard<std::mutex> lock(run.mutex);
    run.bytes.clear();
  }
  run.eos = false;
  g_assert_true(
      gst_element_seek_simple(run.pipeline, GST_FORMAT_BYTES, GST_SEEK_FLAG_FLUSH, offset));
  play_to_end(run);
}

// True when the CDN was asked for bytes from `from` on (to the end or to a bound).
bool cdn_got_range(FakeWaveSpeed& fake, guint64 from) {
  const std::string prefix = "bytes=" + std::to_string(from) + "-";
  for (const auto& r : fake.requests())
    if (r.server == "cdn" && r.range.rfind(prefix, 0) == 0) return true;
  return false;
}

void test_push_seek_back_reads_let_go_bytes_again(Fixture* f, gconstpointer) {
  auto run = make_run(*f->fake);
  cut_first_download_after_ten_chunks(f, run);
  play_to_end(*run);
  g_assert_no_error(run->error);
  g_assert_true(run->bytes == f->fake->video);
  g_assert_cmpint(f->fake->count("cdn", "GET"), ==, 2);

  // Chunk 3 was taken by the reader and let go: the seek reads it again from the CDN.
  const guint64 offset = 3 * kChunk + 1000;
  seek_and_play_to_end(*run, offset);
  g_assert_no_error(run->error);
  g_assert_true(run->eos);
  g_assert_cmpuint(run->bytes.size(), ==, f->fake->video.size() - offset);
  g_assert_true(run->bytes == f->fake->video.substr(offset));
  g_assert_true(cdn_got_range(*f->fake, offset));
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);
  for (const auto& r : f->fake->requests())  // the key never goes to the CDN, read again or not
    g_assert_true(r.server != "cdn" || r.authorization.empty());
}

void test_refused_reread_is_a_clear_error(Fixture* f, gconstpointer) {
  auto run = make_run(*f->fake);
  cut_first_download_after_ten_chunks(f, run);
  play_to_end(*run);
  g_assert_true(run->eos);
  const std::string video = f->fake->video;
  f->fake->on_download = [video](int n, const std::string&) -> std::optional<FakeReply> {
    if (n <= 2) return FakeReply{200, video, "video/mp4"};
    return FakeReply{410, "expired", "text/plain"};
  };
  seek_and_play_to_end(*run, 3 * kChunk);
  assert_error(*run, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND, "HTTP 410");
  g_assert_true(contains(run->error->message, f->fake->task_id));
  g_assert_true(contains(run->error->message, "again"));
  g_assert_cmpint(f->fake->count("cdn", "GET"), ==, 3);  // a 410 is not retried
}

// Pull mode (qtdemux, typefind) reads anywhere: every byte stays on disk and
// reading a part again makes no request.
void test_pull_mode_keeps_every_byte(Fixture* f, gconstpointer) {
  auto run = make_run(*f->fake);
  cut_first_download_after_ten_chunks(f, run);
  GstPad* pad = gst_element_get_static_pad(run->src, "src");
  g_assert_cmpint(gst_element_set_state(run->src, GST_STATE_READY), ==, GST_STATE_CHANGE_SUCCESS);
  g_assert_true(gst_pad_activate_mode(pad, GST_PAD_MODE_PULL, TRUE));
  auto read = [&](guint64 offset, guint size) {
    GstBuffer* buffer = nullptr;
    g_assert_cmpint(gst_pad_get_range(pad, offset, size, &buffer), ==, GST_FLOW_OK);
    GstMapInfo map;
    gst_buffer_map(buffer, &map, GST_MAP_READ);
    std::string bytes(reinterpret_cast<const char*>(map.data), map.size);
    gst_buffer_unmap(buffer, &map);
    gst_buffer_unref(buffer);
    return bytes;
  };
  std::string all;
  for (guint64 offset = 0; offset < f->fake->video.size(); offset += kChunk)
    all += read(offset, kChunk);
  g_assert_true(all == f->fake->video);
  g_assert_true(read(3 * kChunk + 5, 2 * kChunk) ==
                f->fake->video.substr(3 * kChunk + 5, 2 * kChunk));
  g_assert_cmpint(f->fake->count("cdn", "GET"), ==, 2);  // the first reply and its resume only
  g_assert_true(gst_pad_activate_mode(pad, GST_PAD_MODE_PULL, FALSE));
  gst_object_unref(pad);
}

}  // namespace

int main(int argc, char** argv) {
  klingsrc_test_init(&argc, &argv);
  add_case("/klingsrc/seek/push-seek-back-reads-let-go-bytes-again",
           test_push_seek_back_reads_let_go_bytes_again);
  add_case("/klingsrc/seek/refused-reread-is-a-clear-error", test_refused_reread_is_a_clear_error);
  add_case("/klingsrc/seek/pull-mode-keeps-every-byte", test_pull_mode_keeps_every_byte);
  return g_test_run();
}
