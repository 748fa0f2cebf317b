// SPDX-License-Identifier: LGPL-2.1-or-later
#include "klinglive/output/live_clock.h"

namespace kling::live {

GstClockTime ClockWaiter::running_time(GstElement* element) {
  GstClock* clock = gst_element_get_clock(element);
  if (!clock) return 0;
  GstClockTime now = gst_clock_get_time(clock), base = gst_element_get_base_time(element);
  gst_object_unref(clock);
  return now > base ? now - base : 0;
}

bool ClockWaiter::wait_until(GstElement* element, GstClockTime rt) {
  GstClock* clock = gst_element_get_clock(element);
  if (!clock) return true;
  GstClockID id = gst_clock_new_single_shot_id(clock, gst_element_get_base_time(element) + rt);
  gst_object_unref(clock);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (flushing_) {
      gst_clock_id_unref(id);
      return false;
    }
    id_ = id;
  }
  GstClockReturn ret = gst_clock_id_wait(id, nullptr);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    id_ = nullptr;
  }
  gst_clock_id_unref(id);
  return ret != GST_CLOCK_UNSCHEDULED;
}

void ClockWaiter::unlock() {
  std::lock_guard<std::mutex> lock(mutex_);
  flushing_ = true;
  if (id_) gst_clock_id_unschedule(id_);
}

void ClockWaiter::unlock_stop() {
  std::lock_guard<std::mutex> lock(mutex_);
  flushing_ = false;
}

}  // namespace kling::live
