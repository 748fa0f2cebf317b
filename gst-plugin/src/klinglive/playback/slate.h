// SPDX-License-Identifier: LGPL-2.1-or-later
// What klinglivesrc shows while no clip is ready: a card (the prompt being
// made, its status, the time spent) drawn with pango/cairo in the output's
// format only when its text changes (at most once a second), or the user's
// image decoded and scaled once. Each frame period pushes the same buffer.
// Only the very first card is drawn on the caller's thread; later cards and
// the image are made on a thread of their own ("kling-slate"), the previous
// one showing meanwhile, so the live output never waits for them. Those
// threads are joined before the next starts, at stop() and when the slate
// goes: none outlives the element's stop.
#pragma once

#include <gst/video/video.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "core/util/named_thread.h"

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
  // Waits for a picture still being made (the output has stopped: nothing
  // uses the slate meanwhile); the next buffer() may start another.
  void stop();
  // Why the image could not be shown ("" when it was); the card shows meanwhile.
  const std::string& image_error() const { return image_error_; }
  // Loads fontconfig and the card's fonts, once per process. The first text layout
  // takes from tens of ms to a second on a busy machine: the element calls this when
  // it starts, so that the first card, drawn on the output's thread, is not late.
  static void load_fonts();

 private:
  // The pictures, shared with the thread making the next one.
  struct Pictures {
    std::mutex mutex;
    GstBuffer* card = nullptr;
    std::string card_text;
    bool drawing = false;
    GstBuffer* image = nullptr;
    std::string image_error;
    ~Pictures() {
      gst_clear_buffer(&card);
      gst_clear_buffer(&image);
    }
  };

  // One thread making a picture at a time, owned: started only when the last
  // one is done, so starting and the destructor join at once or after that
  // one picture.
  class Maker {
   public:
    explicit Maker(const char* name) : name_(name) {}
    Maker(const Maker&) = delete;
    Maker& operator=(const Maker&) = delete;
    ~Maker() { join(); }
    bool busy() const { return !done_.load(std::memory_order_acquire); }
    void start(std::function<void()> make);
    void join() {
      if (thread_.joinable()) thread_.join();
    }

   private:
    const char* name_;
    NamedThread thread_;
    std::atomic<bool> done_{true};
  };

  GstVideoInfo info_{};
  bool have_format_ = false;
  std::string image_;
  bool image_asked_ = false;
  std::string image_error_;
  std::shared_ptr<Pictures> pictures_ = std::make_shared<Pictures>();
  // Last: joined first when the slate goes.
  Maker card_maker_{"kling-slate"};
  Maker image_maker_{"kling-slate-img"};
};

}  // namespace kling::live
