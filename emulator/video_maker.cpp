// SPDX-License-Identifier: LGPL-2.1-or-later
// kling-emulator: GStreamer generation of the output MP4.
#include "video_maker.h"

#include <glib/gstdio.h>
#include <gst/gst.h>

#include <cerrno>
#include <memory>

namespace emu {

namespace {

constexpr int kFps = 25;
constexpr int kAudioRate = 48000;
constexpr int kAudioBuffersPerSecond = 50;

// The AAC encoder bookworm has: gstreamer1.0-libav's, else plugins-bad's.
const char* aac_encoder() {
  for (const char* name : {"avenc_aac", "voaacenc"}) {
    GstElementFactory* factory = gst_element_factory_find(name);
    if (factory) {
      gst_object_unref(factory);
      return name;
    }
  }
  return nullptr;
}

struct PipelineDeleter {
  void operator()(GstElement* pipeline) const {
    gst_element_set_state(pipeline, GST_STATE_NULL);
    gst_object_unref(pipeline);
  }
};

}  // namespace

void VideoMaker::dimensions(const std::string& aspect_ratio, int scale, int* width, int* height) {
  int w = 1280, h = 720;
  if (aspect_ratio == "9:16") {
    w = 720;
    h = 1280;
  } else if (aspect_ratio == "1:1") {
    w = h = 960;
  }
  if (scale < 1) scale = 1;
  *width = MAX(2, (w / scale) & ~1);
  *height = MAX(2, (h / scale) & ~1);
}

std::string VideoMaker::render(const VideoJob& job, const std::atomic<bool>& stop) {
  std::string error = render_once(job, stop);
  if (!error.empty() && !job.image_path.empty() && !stop.load()) {
    VideoJob ball = job;
    ball.image_path.clear();
    error = render_once(ball, stop);
  }
  return error;
}

// The pipeline that renders `job` into the sink named "sink"; "" without an AAC encoder
// for a job with sound.
static std::string describe_pipeline(const VideoJob& job, int width, int height) {
  // A sound track: a 440 Hz tone, exactly as long as the video.
  std::string audio_branch;
  if (job.audio) {
    const char* encoder = aac_encoder();
    if (!encoder) return "";
    g_autofree char* branch = g_strdup_printf(
        " audiotestsrc wave=sine freq=440 volume=0.3 samplesperbuffer=%d num-buffers=%d"
        " ! audio/x-raw,rate=%d,channels=2 ! audioconvert ! %s ! aacparse ! mux.",
        kAudioRate / kAudioBuffersPerSecond, job.duration_s * kAudioBuffersPerSecond, kAudioRate,
        encoder);
    audio_branch = branch;
  }

  // The picture: the task's image held still (scaled into the frame, bordered), or a ball.
  g_autofree char* picture =
      job.image_path.empty()
          ? g_strdup_printf(
                "videotestsrc pattern=ball background-color=0xff1d3557 foreground-color=0xfff1faee"
                " num-buffers=%d",
                job.duration_s * kFps)
          : g_strdup_printf(
                "filesrc name=image ! decodebin ! videoconvert ! videoscale add-borders=true"
                " ! video/x-raw,format=I420,width=%d,height=%d,pixel-aspect-ratio=1/1"
                " ! imagefreeze num-buffers=%d",
                width, height, job.duration_s * kFps);
  g_autofree char* description = g_strdup_printf(
      "%s ! video/x-raw,format=I420,width=%d,height=%d,framerate=%d/1"
      " ! textoverlay name=text wrap-mode=wordchar valignment=center halignment=center"
      "   font-desc=\"Sans 20\" shaded-background=true"
      " ! timeoverlay valignment=bottom halignment=right font-desc=\"Sans 12\""
      " ! x264enc speed-preset=ultrafast key-int-max=%d ! h264parse"
      " ! mp4mux name=mux ! filesink name=sink%s",
      picture, width, height, kFps, 2 * kFps, audio_branch.c_str());
  return description;
}

std::string VideoMaker::render_once(const VideoJob& job, const std::atomic<bool>& stop) {
  int width = 0, height = 0;
  dimensions(job.aspect_ratio, job.scale, &width, &height);
  const std::string partial = job.path + ".part";
  const std::string moov_tmp = job.path + ".moov";

  std::string description = describe_pipeline(job, width, height);
  if (description.empty())
    return "no AAC encoder (avenc_aac from gstreamer1.0-libav, or voaacenc from "
           "gstreamer1.0-plugins-bad)";
  GError* error = nullptr;
  GstElement* raw = gst_parse_launch(description.c_str(), &error);
  if (!raw || error) {
    std::string message = error ? error->message : "cannot build the pipeline";
    g_clear_error(&error);
    if (raw) gst_object_unref(raw);
    return message;
  }
  std::unique_ptr<GstElement, PipelineDeleter> pipeline(raw);

  g_autoptr(GstElement) text = gst_bin_get_by_name(GST_BIN(raw), "text");
  g_autoptr(GstElement) mux = gst_bin_get_by_name(GST_BIN(raw), "mux");
  g_autoptr(GstElement) sink = gst_bin_get_by_name(GST_BIN(raw), "sink");
  g_object_set(text, "text", job.prompt.c_str(), NULL);
  g_object_set(mux, "faststart", job.faststart ? TRUE : FALSE, "faststart-file", moov_tmp.c_str(),
               NULL);
  g_object_set(sink, "location", partial.c_str(), NULL);
  if (!job.image_path.empty()) {
    g_autoptr(GstElement) image = gst_bin_get_by_name(GST_BIN(raw), "image");
    g_object_set(image, "location", job.image_path.c_str(), NULL);
  }

  if (gst_element_set_state(raw, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    return "cannot start the pipeline";

  std::string result;
  g_autoptr(GstBus) bus = gst_element_get_bus(raw);
  for (;;) {
    if (stop.load()) {
      result = "stopped";
      break;
    }
    g_autoptr(GstMessage) msg = gst_bus_timed_pop_filtered(
        bus, 100 * GST_MSECOND, GstMessageType(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
    if (!msg) continue;
    if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
      g_autoptr(GError) err = nullptr;
      gst_message_parse_error(msg, &err, nullptr);
      result = err ? err->message : "pipeline error";
    }
    break;
  }
  pipeline.reset();
  g_unlink(moov_tmp.c_str());
  if (result.empty() && g_rename(partial.c_str(), job.path.c_str()) != 0)
    result = std::string("cannot rename the output: ") + g_strerror(errno);
  if (!result.empty()) g_unlink(partial.c_str());
  return result;
}

void VideoMaker::start(VideoJob job, Done done) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto it = workers_.begin(); it != workers_.end();) {
    if (it->finished->load()) {
      it->thread.join();
      it = workers_.erase(it);
    } else {
      ++it;
    }
  }
  auto finished = std::make_shared<std::atomic<bool>>(false);
  std::thread thread([this, finished, job = std::move(job), done = std::move(done)]() {
    std::string error = render(job, stop_);
    if (!stop_.load()) done(error);
    finished->store(true);
  });
  workers_.push_back({std::move(thread), finished});
}

void VideoMaker::stop_all() {
  stop_.store(true);
  std::vector<Worker> workers;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    workers.swap(workers_);
  }
  for (auto& worker : workers) worker.thread.join();
}

}  // namespace emu
