// SPDX-License-Identifier: LGPL-2.1-or-later
// A black, opaque frame in any raw video format: what klinglivesrc shows when it
// has no picture of the right format (nothing drawn yet, a frame of the caps
// before a renegotiation). Made from an opaque black AYUV picture through
// GstVideoConverter, so packed YUV (YUY2, UYVY) gets its chroma at 128, RGB is
// 0,0,0, and every alpha channel is opaque: no per-format memset to get wrong.
#pragma once

#include <gst/video/video.h>

namespace kling::live {

// A new buffer of `info`'s size and format, or nullptr when it cannot be converted.
GstBuffer* black_frame(const GstVideoInfo& info);

}  // namespace kling::live
