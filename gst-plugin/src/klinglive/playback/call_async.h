// SPDX-License-Identifier: LGPL-2.1-or-later
// gst_element_call_async() with a C++ callable: its captures are owned by the
// call and destroyed with it, whether or not it ran.
#pragma once

#include <gst/gst.h>

#include "common/handoff.h"

namespace kling::live {

template <typename F>
void call_async(GstElement* element, F fn) {
  gst_element_call_async(
      element, [](GstElement* e, gpointer data) { Handoff<F>::take(data)(e); },
      Handoff<F>::give(std::move(fn)), Handoff<F>::drop);
}

}  // namespace kling::live
