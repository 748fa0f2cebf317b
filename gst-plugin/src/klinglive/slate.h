// What klinglivesrc shows while no clip is ready: a card (the prompt being
// made, its status, the time spent) drawn with pango/cairo in the output's
// format only when its text changes (at most once a second), or the user's
// image decoded and scaled once. Each frame period pushes the same buffer.
#pragma once

#include <gst/video/video.h>

#include <string>

namespace kling::live {

class Slate {
 public:
  Slate() = default;
  ~Slate();
  Slate(const Slate&) = delete;
  Slate& operator=(const Slate&) = delete;

  // The output format changed: the next buffer() draws again.
  void set_format(const GstVideoInfo& info);
  // "" for the card; otherwise a PNG/JPEG path, decoded at the next buffer().
  void set_image(const std::string& location);
  // The slate for these lines (a ref the caller owns); the card is drawn again
  // only when the text differs from the last one.
  GstBuffer* buffer(const std::string& title, const std::string& detail);
  // Why the image could not be shown ("" when it was); the card shows meanwhile.
  const std::string& image_error() const { return image_error_; }

 private:
  GstBuffer* draw_card(const std::string& title, const std::string& detail);
  GstBuffer* decode_image();

  GstVideoInfo info_{};
  bool have_format_ = false;
  std::string image_;
  std::string image_error_;
  GstBuffer* image_buffer_ = nullptr;
  bool image_tried_ = false;
  GstBuffer* card_ = nullptr;
  std::string card_text_;
};

}  // namespace kling::live
