// SPDX-License-Identifier: LGPL-2.1-or-later
#include "klinglive/playback/slate.h"

#include <gst/app/gstappsink.h>
#include <pango/pangocairo.h>

#include <utility>

#include "klinglive/playback/frames_chain.h"

GST_DEBUG_CATEGORY_EXTERN(gst_kling_live_src_debug);
#define GST_CAT_DEFAULT gst_kling_live_src_debug

namespace kling::live {

namespace {
// One font map for every card, so that what load_fonts() loaded serves every thread
// (Pango's default map is one per thread). A font map is not thread-safe: the lock.
std::mutex font_lock;
PangoFontMap* font_map() {
  static PangoFontMap* const map = pango_cairo_font_map_new();  // lives as long as the process
  return map;
}

GstBuffer* draw_card(const GstVideoInfo& info, const std::string& title, const std::string& detail);
GstBuffer* decode_image(const GstVideoInfo& info, const std::string& location, std::string* error);
}  // namespace

Slate::~Slate() = default;

void Slate::load_fonts() {
  static std::once_flag once;
  std::call_once(once, [] {
    GstVideoInfo info;
    gst_video_info_set_format(&info, GST_VIDEO_FORMAT_BGRx, 64, 48);
    GstBuffer* card = draw_card(info, "Ag", "Ag");  // both fonts, laid out and drawn
    if (card) gst_buffer_unref(card);
  });
}

void Slate::Maker::start(std::function<void()> make) {
  join();  // done: returns at once
  done_.store(false, std::memory_order_relaxed);
  thread_ = NamedThread(name_, [this, make = std::move(make)] {
    make();
    done_.store(true, std::memory_order_release);
  });
}

void Slate::stop() {
  card_maker_.join();
  image_maker_.join();
}

void Slate::set_format(const GstVideoInfo& info) {
  info_ = info;
  have_format_ = true;
  pictures_ = std::make_shared<Pictures>();  // a thread still drawing keeps the old ones
  image_asked_ = false;
}

void Slate::set_image(const std::string& location) {
  if (location == image_) return;
  image_ = location;
  image_asked_ = false;
  std::lock_guard<std::mutex> lock(pictures_->mutex);
  gst_clear_buffer(&pictures_->image);
}

GstBuffer* Slate::buffer(const std::string& title, const std::string& detail) {
  if (!have_format_) return nullptr;
  auto pictures = pictures_;
  const GstVideoInfo info = info_;
  if (!image_.empty() && !image_asked_ && !image_maker_.busy()) {  // else at a later frame
    image_asked_ = true;
    image_maker_.start([pictures, info, location = image_] {
      std::string error;
      GstBuffer* image = decode_image(info, location, &error);
      std::lock_guard<std::mutex> lock(pictures->mutex);
      gst_clear_buffer(&pictures->image);
      pictures->image = image;
      pictures->image_error = error;
    });
  }
  std::string text = title + "\n" + detail;
  {
    std::lock_guard<std::mutex> lock(pictures->mutex);
    image_error_ = pictures->image_error;
    if (pictures->image && !image_.empty()) return gst_buffer_ref(pictures->image);
    // A card for the last format may still be drawing: this one waits a frame.
    if (pictures->card && (text == pictures->card_text || pictures->drawing || card_maker_.busy()))
      return gst_buffer_ref(pictures->card);
    if (pictures->card) {
      pictures->drawing = true;
      card_maker_.start([pictures, info, title, detail, text] {
        GstBuffer* card = draw_card(info, title, detail);
        std::lock_guard<std::mutex> lock(pictures->mutex);
        if (card) {
          gst_clear_buffer(&pictures->card);
          pictures->card = card;
        }
        pictures->card_text = text;
        pictures->drawing = false;
      });
      return gst_buffer_ref(pictures->card);
    }
  }
  // The first card, at once: nothing else to show yet.
  GstBuffer* card = draw_card(info, title, detail);
  std::lock_guard<std::mutex> lock(pictures->mutex);
  if (!card) return nullptr;
  gst_clear_buffer(&pictures->card);
  pictures->card = card;
  pictures->card_text = text;
  return gst_buffer_ref(card);
}

namespace {

// The prompt in bold over the status, centred, on the grey card.
void draw_text(cairo_t* cr, int w, int h, const std::string& title, const std::string& detail) {
  std::lock_guard<std::mutex> fonts(font_lock);
  PangoContext* context = pango_font_map_create_context(font_map());
  pango_cairo_update_context(cr, context);
  PangoLayout* layout = pango_layout_new(context);
  g_object_unref(context);
  pango_layout_set_width(layout, static_cast<int>(w * 0.85) * PANGO_SCALE);
  pango_layout_set_wrap(layout, PANGO_WRAP_WORD_CHAR);
  pango_layout_set_alignment(layout, PANGO_ALIGN_CENTER);
  pango_layout_set_ellipsize(layout, PANGO_ELLIPSIZE_END);
  pango_layout_set_height(layout, -4);  // at most four lines of prompt
  g_autofree char* font = g_strdup_printf("Sans Bold %d", std::max(6, h / 24));
  PangoFontDescription* desc = pango_font_description_from_string(font);
  pango_layout_set_font_description(layout, desc);
  pango_layout_set_text(layout, title.c_str(), -1);
  int tw, th;
  pango_layout_get_pixel_size(layout, &tw, &th);
  cairo_set_source_rgb(cr, 0.92, 0.92, 0.92);
  cairo_move_to(cr, w * 0.075, h * 0.45 - th);
  pango_cairo_show_layout(cr, layout);
  g_autofree char* small = g_strdup_printf("Sans %d", std::max(5, h / 36));
  pango_font_description_free(desc);
  desc = pango_font_description_from_string(small);
  pango_layout_set_font_description(layout, desc);
  pango_layout_set_text(layout, detail.c_str(), -1);
  cairo_set_source_rgb(cr, 0.75, 0.75, 0.75);
  cairo_move_to(cr, w * 0.075, h * 0.55);
  pango_cairo_show_layout(cr, layout);
  pango_font_description_free(desc);
  g_object_unref(layout);
}

// Draws in BGRx with cairo, then converts once to the output format.
GstBuffer* draw_card(const GstVideoInfo& info_, const std::string& title,
                     const std::string& detail) {
  const int w = GST_VIDEO_INFO_WIDTH(&info_), h = GST_VIDEO_INFO_HEIGHT(&info_);
  cairo_surface_t* surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
  cairo_t* cr = cairo_create(surface);
  cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);  // neutral grey: told apart from any clip
  cairo_paint(cr);
  draw_text(cr, w, h, title, detail);
  cairo_destroy(cr);
  cairo_surface_flush(surface);

  GstVideoInfo bgrx;
  gst_video_info_set_format(&bgrx, GST_VIDEO_FORMAT_BGRx, w, h);
  bgrx.stride[0] = cairo_image_surface_get_stride(surface);
  GST_VIDEO_INFO_FPS_N(&bgrx) = GST_VIDEO_INFO_FPS_N(&info_);  // the converter asks for equal rates
  GST_VIDEO_INFO_FPS_D(&bgrx) = GST_VIDEO_INFO_FPS_D(&info_);
  GstVideoFrame in, out;
  GstBuffer* src = gst_buffer_new_wrapped_full(
      GST_MEMORY_FLAG_READONLY, cairo_image_surface_get_data(surface),
      static_cast<gsize>(bgrx.stride[0]) * h, 0, static_cast<gsize>(bgrx.stride[0]) * h, surface,
      [](gpointer s) { cairo_surface_destroy(static_cast<cairo_surface_t*>(s)); });
  GstBuffer* dst = gst_buffer_new_allocate(nullptr, GST_VIDEO_INFO_SIZE(&info_), nullptr);
  bool ok = false;
  if (gst_video_frame_map(&in, &bgrx, src, GST_MAP_READ)) {
    if (gst_video_frame_map(&out, &info_, dst, GST_MAP_WRITE)) {
      GstVideoConverter* conv = gst_video_converter_new(&bgrx, &info_, nullptr);
      if (conv) {
        gst_video_converter_frame(conv, &in, &out);
        gst_video_converter_free(conv);
        ok = true;
      }
      gst_video_frame_unmap(&out);
    }
    gst_video_frame_unmap(&in);
  }
  gst_buffer_unref(src);
  if (!ok) gst_clear_buffer(&dst);
  return dst;
}

// filesrc ! decodebin ! the frames chain (frames_chain.h) in the output's format, once.
GstBuffer* decode_image(const GstVideoInfo& info_, const std::string& image_,
                        std::string* image_error_) {
  g_autoptr(GstElement) pipeline = GST_ELEMENT(gst_object_ref_sink(gst_pipeline_new(nullptr)));
  GstElement* f = gst_element_factory_make("filesrc", nullptr);
  GstElement* decode = gst_element_factory_make("decodebin", nullptr);
  g_autoptr(GstCaps) caps = gst_video_info_to_caps(&info_);
  // A still image has no frame rate of its own.
  gst_structure_remove_field(gst_caps_get_structure(caps, 0), "framerate");
  FramesChain chain;
  if (!f || !decode || !add_frames_chain(GST_BIN(pipeline), caps, false, &chain)) {
    for (GstElement* e : {f, decode})
      if (e) gst_object_unref(gst_object_ref_sink(e));
    *image_error_ = "filesrc, decodebin or a video element is missing";
    return nullptr;
  }
  gst_bin_add_many(GST_BIN(pipeline), f, decode, nullptr);
  gst_element_link(f, decode);
  g_signal_connect(decode, "pad-added", G_CALLBACK(link_video_pad), chain.convert);
  g_object_set(f, "location", image_.c_str(), nullptr);
  g_object_set(chain.sink, "sync", FALSE, nullptr);
  GstAppSink* s = chain.sink;
  gst_element_set_state(pipeline, GST_STATE_PAUSED);
  GstSample* sample = gst_app_sink_try_pull_preroll(s, 5 * GST_SECOND);
  GstBuffer* buffer = nullptr;
  if (sample) {
    buffer = gst_buffer_copy_deep(gst_sample_get_buffer(sample));
    gst_sample_unref(sample);
  } else {
    *image_error_ = "could not decode " + image_ + " as an image";
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
  return buffer;
}

}  // namespace

}  // namespace kling::live
