// SPDX-License-Identifier: LGPL-2.1-or-later
// Story mode (`continue=true`): every request after the first is made from the
// last frame of the clip before it, as the `image` of an image-to-video model
// (`continue-model`), so the channel tells one story across clips. Generation
// is serial: the next request starts only once the previous clip's last frame
// is known (its clip decoded to the end); meanwhile the schedule shows the
// slate or `when-idle`. A clip that ends with no frame (failed) starts a new
// story from the next prompt alone.
#pragma once

#include <memory>
#include <string>

#include "klinglive/forwarded_properties.h"
#include "klinglive/playback/last_frame.h"

namespace kling::live {

class Story {
 public:
  // Where the frames are written: $XDG_CACHE_HOME/gst-kling/story.
  static std::string frames_dir();

  // True when the next request may start now.
  bool may_start();
  // The child klingsrc's properties for `request`: `defaults`, and after the
  // first clip the model `model` and the previous clip's last frame as `image`
  // (aspect-ratio dropped: the image gives the shape). A kling:// URI is kept as is.
  PropertyValues next(const PropertyValues& defaults, const std::string& request,
                      const std::string& model);
  // The request just started; its last frame will be the next one's image.
  void started(std::shared_ptr<LastFrame> frame) { previous_ = std::move(frame); }
  // A new run tells a new story.
  void reset() { previous_.reset(); }

 private:
  std::shared_ptr<LastFrame> previous_;
};

}  // namespace kling::live
