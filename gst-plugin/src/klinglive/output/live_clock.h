// SPDX-License-Identifier: LGPL-2.1-or-later
// The wait both of klinglivesrc's outputs (video and audio) make for each
// buffer: until the pipeline clock reaches its running time, cancellable by
// unlock() like any GstBaseSrc wait.
#pragma once

#include <gst/gst.h>

#include <mutex>

namespace kling::live {

class ClockWaiter {
 public:
  // Running time now on `element`'s clock (0 without a clock).
  static GstClockTime running_time(GstElement* element);
  // Waits until running time `rt`; false when unlocked (flushing).
  bool wait_until(GstElement* element, GstClockTime rt);
  void unlock();
  void unlock_stop();

 private:
  std::mutex mutex_;
  GstClockID id_ = nullptr;
  bool flushing_ = false;
};

}  // namespace kling::live
