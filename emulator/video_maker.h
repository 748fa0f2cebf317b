// SPDX-License-Identifier: LGPL-2.1-or-later
// kling-emulator: renders the "generated" video with GStreamer.
//
// Each job runs its own pipeline on its own thread (videotestsrc ball +
// the prompt in a textoverlay -> x264enc -> mp4mux -> filesink, plus
// audiotestsrc -> AAC for models with sound), so the
// server loop never waits on encoding. The file appears under its final
// name only once it is complete.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace emu {

struct VideoJob {
  std::string prompt;
  std::string aspect_ratio;  // 16:9, 9:16, 1:1
  int duration_s = 5;
  int scale = 1;           // divide width and height by this
  bool faststart = true;   // moov before mdat
  bool audio = false;      // add an AAC sound track (a tone) of the same length
  std::string image_path;  // image-to-video: the still the clip shows (else the ball)
  std::string path;        // final file name
};

class VideoMaker {
 public:
  // done(path, error): error empty on success. Called on the job's thread.
  using Done = std::function<void(const std::string& error)>;

  VideoMaker() = default;
  ~VideoMaker() { stop_all(); }
  VideoMaker(const VideoMaker&) = delete;
  VideoMaker& operator=(const VideoMaker&) = delete;

  void start(VideoJob job, Done done);

  // Aborts running jobs and joins their threads.
  void stop_all();

  // 1280x720, 720x1280, 960x960, divided by scale (rounded to even).
  static void dimensions(const std::string& aspect_ratio, int scale, int* width, int* height);

  // Runs one job to completion on the calling thread; returns an error or "".
  // An image that does not decode falls back to the ball.
  static std::string render(const VideoJob& job, const std::atomic<bool>& stop);

 private:
  static std::string render_once(const VideoJob& job, const std::atomic<bool>& stop);

  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  struct Worker {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> finished;
  };
  std::vector<Worker> workers_;  // finished ones are joined at the next start()
};

}  // namespace emu
