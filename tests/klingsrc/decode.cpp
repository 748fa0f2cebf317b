// SPDX-License-Identifier: LGPL-2.1-or-later
// Real MP4s (faststart and moov at the end) through decodebin in pull mode and
// in push mode (a queue before it): every frame, and one submit despite the
// random-access probe.
#include <gst/gst.h>

#include <string>

#include "support/klingsrc_case.h"

namespace {

using Fixture = FakeApiFixture;

void decode(Fixture* f, bool faststart, bool push_mode) {
  f->fake->video = make_mp4(faststart);
  std::string desc = std::string("klingsrc name=src ! ") + (push_mode ? "queue ! " : "") +
                     "decodebin ! videoconvert ! fakesink name=sink";
  auto run = make_run(*f->fake, desc);
  play_to_end(*run, 60);
  g_assert_no_error(run->error);
  g_assert_true(run->eos);
  g_assert_cmpint(run->buffers, ==, 45);  // every frame of the clip
  // The random-access probe (start/stop/start) must not have billed twice.
  g_assert_cmpint(f->fake->count("api", "POST"), ==, 1);
}

void test_decode_faststart_pull(Fixture* f, gconstpointer) {
  decode(f, true, false);
}

void test_decode_moov_at_end_pull(Fixture* f, gconstpointer) {
  decode(f, false, false);
}

void test_decode_faststart_push(Fixture* f, gconstpointer) {
  decode(f, true, true);
}

void test_decode_moov_at_end_push(Fixture* f, gconstpointer) {
  decode(f, false, true);
}

}  // namespace

int main(int argc, char** argv) {
  klingsrc_test_init(&argc, &argv);
  add_case("/klingsrc/decode/faststart-pull-mode", test_decode_faststart_pull);
  add_case("/klingsrc/decode/moov-at-end-pull-mode", test_decode_moov_at_end_pull);
  add_case("/klingsrc/decode/faststart-push-mode", test_decode_faststart_push);
  add_case("/klingsrc/decode/moov-at-end-push-mode", test_decode_moov_at_end_push);
  return g_test_run();
}
