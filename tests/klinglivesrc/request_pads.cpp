// SPDX-License-Identifier: LGPL-2.1-or-later
// klinglivesrc's `audio` request pad behaves as any element's pad: inactive while
// the element is in NULL or READY, activated with the element's state change to
// PAUSED (or at once when requested in PAUSED), and one only, however many threads
// ask for it at the same moment.
#include <gst/gst.h>

#include <atomic>
#include <thread>

namespace {

GstElement* make_live() {
  GstElement* live = gst_element_factory_make("klinglivesrc", nullptr);
  g_assert_nonnull(live);
  // A key and a loopback URL that is never reached: no state here goes to PLAYING.
  g_object_set(live, "api-key", "test-key", "api-url", "http://127.0.0.1:9", "journal", "",
               nullptr);
  return GST_ELEMENT(gst_object_ref_sink(live));
}

void test_inactive_until_paused() {
  g_autoptr(GstElement) live = make_live();
  GstPad* pad = gst_element_request_pad_simple(live, "audio");
  g_assert_nonnull(pad);
  g_assert_false(gst_pad_is_active(pad));  // NULL: like any pad, not yet active
  g_assert_cmpint(gst_element_set_state(live, GST_STATE_READY), ==, GST_STATE_CHANGE_SUCCESS);
  g_assert_false(gst_pad_is_active(pad));
  g_assert_cmpint(gst_element_set_state(live, GST_STATE_PAUSED), !=, GST_STATE_CHANGE_FAILURE);
  g_assert_true(gst_pad_is_active(pad));  // with the element's state change
  gst_element_set_state(live, GST_STATE_READY);
  g_assert_false(gst_pad_is_active(pad));
  gst_element_release_request_pad(live, pad);
  gst_object_unref(pad);
  gst_element_set_state(live, GST_STATE_NULL);
}

void test_active_when_requested_in_paused() {
  g_autoptr(GstElement) live = make_live();
  g_assert_cmpint(gst_element_set_state(live, GST_STATE_PAUSED), !=, GST_STATE_CHANGE_FAILURE);
  GstPad* pad = gst_element_request_pad_simple(live, "audio");
  g_assert_nonnull(pad);
  g_assert_true(gst_pad_is_active(pad));
  gst_element_set_state(live, GST_STATE_NULL);
  gst_element_release_request_pad(live, pad);
  gst_object_unref(pad);
}

// Two threads ask at once, round after round: one gets the pad, the other nothing (and no
// second "audio" pad, which GStreamer refuses with a critical). The element's own
// request_new_pad is called, as gst_element_request_pad() does: GStreamer's check for an
// existing pad of that name comes before it, without a lock, and is racy itself.
void test_one_pad_under_racing_requests() {
  for (int round = 0; round < 200; round++) {
    g_autoptr(GstElement) live = make_live();
    std::atomic<int> ready{0};
    GstPad* got[2] = {nullptr, nullptr};
    auto ask = [&](int i) {
      ready++;
      while (ready.load() < 2) {
      }
      GstPadTemplate* templ = gst_element_get_pad_template(live, "audio");
      got[i] = GST_ELEMENT_GET_CLASS(live)->request_new_pad(live, templ, nullptr, nullptr);
      if (got[i]) gst_object_ref(got[i]);  // as gst_element_request_pad() does
    };
    std::thread a(ask, 0), b(ask, 1);
    a.join();
    b.join();
    g_assert_cmpint((got[0] != nullptr) + (got[1] != nullptr), ==, 1);
    GstPad* pad = got[0] ? got[0] : got[1];
    g_assert_cmpint(live->numsrcpads, ==, 2);  // video and audio
    gst_element_release_request_pad(live, pad);
    gst_object_unref(pad);
    // Released, it may be requested again.
    pad = gst_element_request_pad_simple(live, "audio");
    g_assert_nonnull(pad);
    gst_element_release_request_pad(live, pad);
    gst_object_unref(pad);
  }
}

}  // namespace

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  g_test_init(&argc, &argv, nullptr);
  g_test_add_func("/klinglivesrc/request-pads/audio-inactive-until-paused",
                  test_inactive_until_paused);
  g_test_add_func("/klinglivesrc/request-pads/audio-active-when-requested-in-paused",
                  test_active_when_requested_in_paused);
  g_test_add_func("/klinglivesrc/request-pads/one-audio-pad-under-racing-requests",
                  test_one_pad_under_racing_requests);
  return g_test_run();
}
