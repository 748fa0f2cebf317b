// SPDX-License-Identifier: LGPL-2.1-or-later
#include "klinglive/playback/last_frame.h"

#include <cairo.h>
#include <glib/gstdio.h>
#include <gst/video/video.h>

#include <cstring>
#include <utility>

#include "klinglive/playback/call_async.h"

GST_DEBUG_CATEGORY_EXTERN(gst_kling_live_src_debug);
#define GST_CAT_DEFAULT gst_kling_live_src_debug

namespace kling::live {

namespace {

cairo_status_t append_png(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

// <64 hex digits>.png: a frame write_frame_png() made, nothing else in the folder.
bool is_frame_name(const char* name) {
  if (strlen(name) != 64 + 4 || !g_str_has_suffix(name, ".png")) return false;
  for (int i = 0; i < 64; i++)
    if (!g_ascii_isxdigit(name[i])) return false;
  return true;
}

// A frame is read (named, uploaded) moments after it is written, and written again
// (a new mtime) whenever a story is replayed: an hour-old frame is of no more use.
// A channel in story mode writes one a clip: kept, gigabytes a day.
void remove_old_frames(const std::string& dir) {
  g_autoptr(GDir) d = g_dir_open(dir.c_str(), 0, nullptr);
  if (!d) return;
  const gint64 oldest = g_get_real_time() / G_USEC_PER_SEC - kStoryFrameMaxAgeS;
  while (const char* name = g_dir_read_name(d)) {
    if (!is_frame_name(name)) continue;
    g_autofree char* path = g_build_filename(dir.c_str(), name, nullptr);
    GStatBuf st;
    if (g_stat(path, &st) == 0 && st.st_mtime < oldest && g_unlink(path) == 0)
      GST_DEBUG("story: removed the old frame %s", path);
  }
}

}  // namespace

std::string write_frame_png(GstBuffer* buffer, GstCaps* caps, const std::string& dir,
                            std::string* error) {
  GstVideoInfo in;
  if (!caps || !gst_video_info_from_caps(&in, caps)) {
    *error = "the clip's last frame has no video format";
    return "";
  }
  // cairo's RGB24 is a native-endian 32-bit xRGB word.
  const GstVideoFormat rgb =
      G_BYTE_ORDER == G_LITTLE_ENDIAN ? GST_VIDEO_FORMAT_BGRx : GST_VIDEO_FORMAT_xRGB;
  GstVideoInfo out;
  gst_video_info_set_format(&out, rgb, GST_VIDEO_INFO_WIDTH(&in), GST_VIDEO_INFO_HEIGHT(&in));
  // The converter asks both sides to agree on what it does not convert.
  GST_VIDEO_INFO_FPS_N(&out) = GST_VIDEO_INFO_FPS_N(&in);
  GST_VIDEO_INFO_FPS_D(&out) = GST_VIDEO_INFO_FPS_D(&in);
  GST_VIDEO_INFO_INTERLACE_MODE(&out) = GST_VIDEO_INFO_INTERLACE_MODE(&in);
  GST_VIDEO_INFO_PAR_N(&out) = GST_VIDEO_INFO_PAR_N(&in);
  GST_VIDEO_INFO_PAR_D(&out) = GST_VIDEO_INFO_PAR_D(&in);
  GstVideoFrame src, dst;
  if (!gst_video_frame_map(&src, &in, buffer, GST_MAP_READ)) {
    *error = "the clip's last frame could not be read";
    return "";
  }
  g_autoptr(GstBuffer) converted = gst_buffer_new_allocate(nullptr, out.size, nullptr);
  gst_video_frame_map(&dst, &out, converted, GST_MAP_WRITE);
  GstVideoConverter* convert = gst_video_converter_new(&in, &out, nullptr);
  gst_video_converter_frame(convert, &src, &dst);
  gst_video_converter_free(convert);
  gst_video_frame_unmap(&src);

  std::string png;
  cairo_surface_t* surface = cairo_image_surface_create_for_data(
      static_cast<unsigned char*>(GST_VIDEO_FRAME_PLANE_DATA(&dst, 0)), CAIRO_FORMAT_RGB24,
      GST_VIDEO_INFO_WIDTH(&out), GST_VIDEO_INFO_HEIGHT(&out),
      GST_VIDEO_FRAME_PLANE_STRIDE(&dst, 0));
  cairo_status_t status = cairo_surface_write_to_png_stream(surface, append_png, &png);
  cairo_surface_destroy(surface);
  gst_video_frame_unmap(&dst);
  if (status != CAIRO_STATUS_SUCCESS) {
    *error = std::string("the clip's last frame could not be made a PNG: ") +
             cairo_status_to_string(status);
    return "";
  }
  g_autofree char* sum = g_compute_checksum_for_data(
      G_CHECKSUM_SHA256, reinterpret_cast<const guchar*>(png.data()), png.size());
  g_autofree char* name = g_strdup_printf("%s.png", sum);
  g_autofree char* path = g_build_filename(dir.c_str(), name, nullptr);
  g_autoptr(GError) err = nullptr;
  if (g_mkdir_with_parents(dir.c_str(), 0700) != 0 ||
      !g_file_set_contents(path, png.data(), static_cast<gssize>(png.size()), &err)) {
    *error =
        "could not write " + std::string(path) + ": " + (err ? err->message : g_strerror(errno));
    return "";
  }
  remove_old_frames(dir);
  return path;
}

LastFrame::~LastFrame() {
  gst_clear_buffer(&last_);
}

void LastFrame::watch(GstPad* pad) {
  gst_pad_add_probe(
      pad, GstPadProbeType(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
      on_probe, new std::shared_ptr<LastFrame>(shared_from_this()),
      [](gpointer d) { delete static_cast<std::shared_ptr<LastFrame>*>(d); });
}

GstPadProbeReturn LastFrame::on_probe(GstPad* pad, GstPadProbeInfo* info, gpointer data) {
  LastFrame* self = static_cast<std::shared_ptr<LastFrame>*>(data)->get();
  if (GstBuffer* buffer = GST_PAD_PROBE_INFO_BUFFER(info); buffer && GST_IS_BUFFER(buffer)) {
    std::lock_guard<std::mutex> lock(self->mutex_);
    if (!self->known_) gst_buffer_replace(&self->last_, buffer);
  } else if (GstEvent* event = GST_PAD_PROBE_INFO_EVENT(info);
             event && GST_EVENT_TYPE(event) == GST_EVENT_EOS) {
    self->finish(pad);
    return GST_PAD_PROBE_REMOVE;
  }
  return GST_PAD_PROBE_OK;
}

// At the decoder's EOS. Made a PNG off the clip's streaming thread (encoding a
// 1080p frame takes a good part of the few frames the appsink holds), so the EOS
// reaches the appsink at once and the clip's end is seen in time on air.
void LastFrame::finish(GstPad* pad) {
  GstBuffer* last = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (known_ || writing_) return;
    writing_ = true;  // known once written, even if the clip goes meanwhile
    last = std::exchange(last_, nullptr);
  }
  std::shared_ptr<GstBuffer> buffer(last, [](GstBuffer* b) { gst_clear_buffer(&b); });
  std::shared_ptr<GstCaps> caps(gst_pad_get_current_caps(pad),
                                [](GstCaps* c) { gst_clear_caps(&c); });
  g_autoptr(GstElement) element = gst_pad_get_parent_element(pad);
  auto write = [self = shared_from_this(), buffer, caps](GstElement*) {
    std::string error, path;
    if (buffer)
      path = write_frame_png(buffer.get(), caps.get(), self->dir_, &error);
    else
      error = "the clip ended with no frame";
    GST_INFO("story: the clip's last frame is %s%s", path.empty() ? "missing: " : path.c_str(),
             error.c_str());
    std::lock_guard<std::mutex> lock(self->mutex_);
    self->known_ = true;
    self->path_ = path;
    self->error_ = error;
  };
  if (element)
    call_async(element, std::move(write));
  else
    write(nullptr);
}

void LastFrame::abandon() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (known_ || writing_) return;
  known_ = true;
  error_ = "the clip ended before its last frame";
  gst_clear_buffer(&last_);
}

bool LastFrame::known() {
  std::lock_guard<std::mutex> lock(mutex_);
  return known_;
}

std::string LastFrame::path() {
  std::lock_guard<std::mutex> lock(mutex_);
  return path_;
}

std::string LastFrame::error() {
  std::lock_guard<std::mutex> lock(mutex_);
  return error_;
}

}  // namespace kling::live
