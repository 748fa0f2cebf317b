#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Run one example from examples/ against kling-emulator and check what it made.

    run_example.py EXAMPLE --emulator PATH --examples DIR [--c-example PATH]

EXAMPLE is c, python, transcode, hls, compositor, live-channel, live-queue, rtsp or rtsp-story. Exit status: 0 passed,
1 failed, 77 skipped (python only, when no python3 with PyGObject + Gst exists).
Python 3 standard library only; gst-launch-1.0 and gst-discoverer-1.0 do the probing.
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "support"))
from kling_emulator import Emulator, Failure, check, read_until  # noqa: E402

SCALE = 4                            # the emulator's --video-scale
WIDTH, HEIGHT = 1280 // SCALE, 720 // SCALE   # a 16:9 clip
DURATION = 5.0                       # klingsrc's default duration, in seconds
PROPS = ["journal=none", "poll-interval=100"]  # extra klingsrc properties for every run
RUN_TIMEOUT = 60                     # per command, a hang net below meson's timeouts to print what hung


def run(cmd, env, **kwargs):
    print("$", " ".join(cmd), flush=True)
    try:
        res = subprocess.run(cmd, env=env, capture_output=True, text=True,
                             timeout=RUN_TIMEOUT, **kwargs)
    except subprocess.TimeoutExpired as e:
        for text, stream in ((e.stdout, sys.stdout), (e.stderr, sys.stderr)):
            text = text.decode(errors="replace") if isinstance(text, bytes) else text
            print(text or "", end="", file=stream)
        raise Failure(f"still running after {RUN_TIMEOUT} s")
    print(res.stdout, end="")
    print(res.stderr, end="", file=sys.stderr)
    print(f"(exit status {res.returncode})", flush=True)
    return res


def interrupt(cmd, emulator):
    """Start cmd (against --hang-polls), Ctrl-C it once klingsrc is polling, return (exit status,
    output). The poll is never answered and request-timeout is an hour, so the program exiting
    at all shows Ctrl-C ended the wait: RUN_TIMEOUT only reports a hang, it measures nothing."""
    cmd = [*cmd, "request-timeout=3600"]
    print("$", " ".join(cmd), "   # then Ctrl-C while it polls", flush=True)
    proc = subprocess.Popen(cmd, env=emulator.env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + RUN_TIMEOUT  # a bound on a hang, not a measure
    while emulator.polls() == 0 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    check(emulator.polls() > 0, "klingsrc submitted and is polling")
    asked = len(emulator.requests())
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise Failure(f"still waiting on the hung poll {RUN_TIMEOUT} s after Ctrl-C")
    print(out, end="")
    print(err, end="", file=sys.stderr)
    print(f"(exit status {proc.returncode} after SIGINT)", flush=True)
    check(len(emulator.requests()) == asked, "no request after Ctrl-C")
    return proc.returncode, out


def discover(path):
    """Duration (s), width and height of the first video stream, from gst-discoverer-1.0."""
    res = run(["gst-discoverer-1.0", "-v", path], probe_env())
    check(res.returncode == 0, f"gst-discoverer-1.0 reads {os.path.basename(path)}")
    h, m, s = re.search(r"Duration: (\d+):(\d+):([\d.]+)", res.stdout).groups()
    width = int(re.search(r"Width: (\d+)", res.stdout).group(1))
    height = int(re.search(r"Height: (\d+)", res.stdout).group(1))
    return int(h) * 3600 + int(m) * 60 + float(s), width, height, res.stdout


def probe_env():
    """The environment of the probes (gst-discoverer-1.0, the decode): without meson's random
    MALLOC_PERTURB_, with which GStreamer 1.22's flvdemux + avdec_h264 stall about one run in
    five on a file that decodes every other time (all threads idle, no EOS; seen with gdb).
    The probes check our files, not those plugins."""
    env = dict(os.environ)
    env.pop("MALLOC_PERTURB_", None)
    return env


def decodes(path):
    """Every frame decodes: filesrc ! decodebin ! fakesink exits 0. An FLV file's demuxer is
    named in the pipeline: when decodebin finds flvdemux by typefind, GStreamer 1.22 stalls
    before EOS in a few runs of 40 beside two CPU hogs (all threads waiting, seen with gdb; an
    FLV file flvmux made from videotestsrc does it too); `flvdemux ! decodebin`: none in 40."""
    demux = ["flvdemux", "!"] if path.endswith(".flv") else []
    res = run(["gst-launch-1.0", "-q", "filesrc", f"location={path}", "!", *demux, "decodebin",
               "!", "videoconvert", "!", "fakesink"], probe_env())
    return res.returncode == 0


def check_video(path, width=WIDTH, height=HEIGHT, codec=None):
    check(os.path.isfile(path) and os.path.getsize(path) > 0, f"{path} written")
    duration, w, h, info = discover(path)
    check(abs(duration - DURATION) < 0.25, f"duration {duration:.2f} s is about {DURATION} s")
    check((w, h) == (width, height), f"resolution {w}x{h} is {width}x{height}")
    if codec:
        check(codec in info, f"the video is {codec}")
    check(decodes(path), "it decodes")


def task_ids(output):
    return set(re.findall(r"Task ([0-9a-f]{8,}): ", output))


# ----------------------------------------------------------------- the examples

def example_c(args, workdir):
    with Emulator(args.emulator, workdir) as emulator:
        res = run([args.c_example, "a red fox in snow", *PROPS], emulator.env())
        check(res.returncode == 0, "kling-progress-example exited 0")
        ids = task_ids(res.stdout)
        check(len(ids) == 1, f"one task: {ids}")
        task = ids.pop()
        progress = [l for l in res.stdout.splitlines() if l.startswith("Progress: ")]
        # Not (download): klingsrc may post it after EOS, when the loop is gone.
        for code in ("submit", "poll"):
            check(any(f"({code})" in l and task in l for l in progress),
                  f"a Progress ({code}) line names task {task}")
        check(f"Task {task}: completed" in res.stdout, "the kling/task message says completed")

    with Emulator(args.emulator, workdir, "--fail-task=1200:prompt rejected") as emulator:
        res = run([args.c_example, "a red fox in snow", *PROPS], emulator.env())
        check(res.returncode == 1, "a failed task exits 1")
        task = task_ids(res.stdout).pop()
        check(f"Task id: {task}" in res.stderr, "the error prints the task id from its details")
        check("prompt rejected" in res.stderr, "and the API's message")

    with Emulator(args.emulator, workdir, "--hang-polls") as emulator:
        status, out = interrupt([args.c_example, "a red fox in snow", *PROPS], emulator)
        check(status == 130, "Ctrl-C ends the hung poll and exits 130")
        check(len(task_ids(out)) == 1, "the task id was printed before")


def find_python_with_gst():
    probe = ("import gi; gi.require_version('Gst', '1.0'); "
             "from gi.repository import Gst; Gst.init(None)")
    for python in dict.fromkeys([sys.executable, shutil.which("python3"), "/usr/bin/python3"]):
        if python and subprocess.run([python, "-c", probe], capture_output=True).returncode == 0:
            return python
    return None


def python_with_gst_or_skip():
    python = find_python_with_gst()
    if python is None:
        print("SKIP: no python3 with PyGObject and Gst 1.0 (python3-gi, gir1.2-gstreamer-1.0)")
        sys.exit(77)
    return python


def example_python(args, workdir):
    python = python_with_gst_or_skip()
    script = os.path.join(args.examples, "python", "generate.py")
    out = os.path.join(workdir, "fox.mp4")
    with Emulator(args.emulator, workdir) as emulator:
        res = run([python, script, "a red fox in snow", out, *PROPS], emulator.env())
        check(res.returncode == 0, "generate.py exited 0")
        task = task_ids(res.stdout).pop()
        check(any(l.startswith("Progress: (poll)") and task in l
                  for l in res.stdout.splitlines()), f"it printed the progress of task {task}")
        check_video(out, codec="H.264")

    interrupted = os.path.join(workdir, "interrupted.mp4")
    with Emulator(args.emulator, workdir, "--hang-polls") as emulator:
        status, _ = interrupt([python, script, "a red fox", interrupted, *PROPS], emulator)
        check(status == 130, "Ctrl-C ends the hung poll and exits 130")
        check(not os.path.exists(interrupted), "and leaves no partial file")


def example_transcode(args, workdir):
    script = os.path.join(args.examples, "transcode.sh")
    with Emulator(args.emulator, workdir) as emulator:
        for name, codec in (("fox.mp4", "H.264"), ("fox.webm", "VP9")):
            out = os.path.join(workdir, name)
            res = run(["sh", script, "a red fox in snow", out, *PROPS], emulator.env())
            check(res.returncode == 0, f"transcode.sh to {name} exited 0")
            check_video(out, codec=codec)


def example_hls(args, workdir):
    folder = os.path.join(workdir, "hls")
    with Emulator(args.emulator, workdir) as emulator:
        res = run(["sh", os.path.join(args.examples, "hls.sh"), "a red fox in snow", folder,
                   *PROPS], emulator.env())
    check(res.returncode == 0, "hls.sh exited 0")
    with open(os.path.join(folder, "playlist.m3u8")) as f:
        playlist = f.read()
    print(playlist)
    segments = re.findall(r"^(segment\d+\.ts)$", playlist, re.M)
    check(playlist.startswith("#EXTM3U"), "playlist.m3u8 is an HLS playlist")
    check(len(segments) >= 1, f"it lists {len(segments)} segment(s)")
    check("#EXT-X-ENDLIST" in playlist, "and is closed")
    for segment in segments:
        check(os.path.getsize(os.path.join(folder, segment)) > 0, f"{segment} exists")
    _, w, h, _ = discover(os.path.join(folder, segments[0]))
    check((w, h) == (WIDTH, HEIGHT), f"{segments[0]} is {w}x{h} video")


def example_compositor(args, workdir):
    out = os.path.join(workdir, "side-by-side.mp4")
    with Emulator(args.emulator, workdir) as emulator:
        env = dict(emulator.env(), CLIP_HEIGHT=str(HEIGHT))
        res = run(["sh", os.path.join(args.examples, "compositor.sh"), "a red fox",
                   "a white cat", out, *PROPS], env)
    check(res.returncode == 0, "compositor.sh exited 0")
    # The two inputs as the emulator made them (one file per task).
    inputs = sorted(f for f in os.listdir(emulator.videos) if f.endswith(".mp4"))
    check(len(inputs) == 2, f"two tasks were generated: {inputs}")
    widths = [discover(os.path.join(emulator.videos, name))[1] for name in inputs]
    check_video(out, width=sum(widths), height=HEIGHT, codec="H.264")


def flv_stream_seconds(path):
    """The last timestamp (s) of the video tags written whole in the FLV file at `path`, or 0:
    how much of the stream the recording holds, by the stream's own clock."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return 0.0
    if data[:3] != b"FLV" or len(data) < 13:
        return 0.0
    pos, last = int.from_bytes(data[5:9], "big") + 4, 0
    while pos + 11 <= len(data):
        kind, size = data[pos] & 0x1F, int.from_bytes(data[pos + 1:pos + 4], "big")
        if pos + 11 + size + 4 > len(data):
            break  # a tag not yet written whole
        if kind == 9:  # video
            last = int.from_bytes(data[pos + 4:pos + 7], "big") | (data[pos + 7] << 24)
        pos += 11 + size + 4
    return last / 1000.0


def example_live_channel(args, workdir):
    """The 24/7 channel into a file: slate, the first clip, the second from its start; Ctrl-C once
    the recording holds 8 s of stream (its own timestamps, not the wall clock: a busy machine
    starts the pipeline later, it does not make the stream shorter)."""
    playlist = os.path.join(workdir, "prompts.txt")
    with open(playlist, "w") as f:
        f.write("# the channel\na red fox in snow\na white cat\n")
    out = os.path.join(workdir, "channel.flv")
    wanted = 8.0  # past the slate and the first clip (5 s): the second is playing
    with Emulator(args.emulator, workdir) as emulator:
        env = dict(emulator.env(), SIZE=f"{WIDTH}x{HEIGHT}")
        cmd = ["sh", os.path.join(args.examples, "live_channel.sh"), playlist, out, *PROPS]
        print("$", " ".join(cmd), f"   # then Ctrl-C once the file holds {wanted} s", flush=True)
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        deadline = time.monotonic() + RUN_TIMEOUT  # a bound on a hang, not a measure
        while (flv_stream_seconds(out) < wanted and proc.poll() is None
               and time.monotonic() < deadline):
            time.sleep(0.1)
        recorded = flv_stream_seconds(out)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=RUN_TIMEOUT)
        print(stdout, end="")
        print(stderr, end="", file=sys.stderr)
        with open(emulator.request_log) as log:
            submits = log.read().count('"method":"POST","path":"/api/v3/kwaivgi/')  # not quotes
    check(recorded >= wanted, f"the recording reached {wanted} s of stream ({recorded:.2f} s)")
    check(proc.returncode == 0, "live_channel.sh ended cleanly on Ctrl-C")
    check(submits == 2, f"each line of the playlist was generated once ({submits} submits)")
    # gst-launch-1.0's own measure of how long the pipeline ran, PLAYING to EOS.
    ran = re.search(r"Execution ended after (\d+):(\d+):([\d.]+)", stdout)
    check(ran is not None, "gst-launch-1.0 said how long it ran")
    ran = int(ran.group(1)) * 3600 + int(ran.group(2)) * 60 + float(ran.group(3))
    duration, w, h, info = discover(out)
    check(recorded <= duration <= ran + 0.5,
          f"the file holds what was recorded and no more than the {ran:.2f} s the pipeline ran "
          f"({duration:.2f} s)")
    check((w, h) == (WIDTH, HEIGHT), f"at the size asked for ({w}x{h})")
    check("H.264" in info, "in H.264")
    check(decodes(out), "it decodes")


def example_live_queue(args, workdir):
    python = python_with_gst_or_skip()
    script = os.path.join(args.examples, "python", "live_queue.py")
    with Emulator(args.emulator, workdir) as emulator:
        res = run([python, script, "--sink", "fakesink sync=true", "one", "two", "three", "--",
                   *PROPS, "duration=5"], emulator.env(), )
    check(res.returncode == 0, "live_queue.py exited 0 after the last clip")
    starts = re.findall(r"^clip-start: '(\w+)'", res.stdout, re.M)
    check(starts[:3] == ["one", "two", "three"], f"the clips played in the order queued: {starts}")
    check(res.stdout.startswith("slate: 'one'"), "a slate showed while the first generated")


def example_rtsp(args, workdir):
    python = python_with_gst_or_skip()
    probe = "import gi; gi.require_version('GstRtspServer', '1.0')"
    if subprocess.run([python, "-c", probe]).returncode != 0:
        print("SKIP: no GstRtspServer for python3 (gir1.2-gst-rtsp-server-1.0)")
        sys.exit(77)
    with Emulator(args.emulator, workdir, "--hang-submit") as emulator:
        server = subprocess.Popen([python, os.path.join(args.examples, "rtsp_server.py"),
                                   "--port", "0", "--size", f"{WIDTH}x{HEIGHT}",
                                   "--prompt", "a red fox in snow", *PROPS],
                                  env=emulator.env(), stdout=subprocess.PIPE, text=True)
        try:
            url = server.stdout.readline().split()[-1]
            check(url.startswith("rtsp://"), f"the server listens at {url}")
            # The generation never ends (hung submit): the slate is what the client gets, within
            # the client's own give-up time (-t 10), not a duration measured here.
            res = run(["gst-discoverer-1.0", "-t", "10", url], emulator.env())
        finally:
            server.terminate()
            server.wait(10)
    check(res.returncode == 0 and re.search(r"video #\d+: H\.264", res.stdout),
          "an RTSP client receives H.264 video while the generation still runs")


def i420_frames(path, width, height):
    """The frames of a recording decoded to I420 at width x height, as bytes each."""
    raw = path + ".yuv"
    res = run(["gst-launch-1.0", "-q", "filesrc", f"location={path}", "!", "decodebin", "!",
               "videoconvert", "!", "videoscale", "!",
               f"video/x-raw,format=I420,width={width},height={height}", "!",
               "filesink", f"location={raw}"], os.environ)
    check(res.returncode == 0, f"{os.path.basename(path)} decodes")
    with open(raw, "rb") as f:
        data = f.read()
    size = width * height * 3 // 2
    return [data[i:i + size] for i in range(0, len(data) - size + 1, size)]


def marks(frame, width, height):
    """(bright pixels in the bottom-right quarter, the red slate, the black clip)."""
    y = frame[:width * height]
    v = frame[width * height * 5 // 4:]
    bright = sum(1 for row in range(height // 2, height)
                 for px in y[row * width + width // 2:(row + 1) * width] if px > 160)
    corner_v = v[2 * (width // 2) + 2]
    return bright, corner_v > 200, y[4 * width + 4] < 40 and 100 < corner_v < 156


def example_rtsp_story(args, workdir):
    """The RTSP channel as a story with a disclosure: the recording a client makes shows the
    text on clip frames only; the server logs the tags of each clip (RTP carries none)."""
    python = python_with_gst_or_skip()
    probe = "import gi; gi.require_version('GstRtspServer', '1.0')"
    if subprocess.run([python, "-c", probe]).returncode != 0:
        print("SKIP: no GstRtspServer for python3 (gir1.2-gst-rtsp-server-1.0)")
        sys.exit(77)
    clip, slate = os.path.join(workdir, "black.mp4"), os.path.join(workdir, "red.png")
    playlist, recording = os.path.join(workdir, "story.txt"), os.path.join(workdir, "rec.mkv")
    for desc in (f"videotestsrc pattern=black num-buffers=25 ! video/x-raw,width={WIDTH},"
                 f"height={HEIGHT},framerate=25/1 ! x264enc ! mp4mux ! filesink location={clip}",
                 f"videotestsrc pattern=red num-buffers=1 ! video/x-raw,width={WIDTH},"
                 f"height={HEIGHT} ! pngenc ! filesink location={slate}"):
        check(run(["gst-launch-1.0", "-q", *desc.split()], os.environ).returncode == 0,
              "the fixtures are made")
    with open(playlist, "w") as f:
        f.write("a black fox\nthe fox turns\n")
    with Emulator(args.emulator, workdir, "--video-file", clip) as emulator:
        env = dict(emulator.env(), XDG_CACHE_HOME=workdir)  # the story's frames
        server = subprocess.Popen([python, os.path.join(args.examples, "rtsp_server.py"),
                                   "--port", "0", "--size", f"{WIDTH}x{HEIGHT}",
                                   "--playlist", playlist, "continue=true", "when-idle=slate",
                                   "disclosure=AI-generated", f"slate-location={slate}", *PROPS],
                                  env=env, stdout=subprocess.PIPE, text=True)
        try:
            url = server.stdout.readline().split()[-1]
            check(url.startswith("rtsp://"), f"the server listens at {url}")
            client = ["gst-launch-1.0", "-e", "rtspsrc", f"location={url}", "latency=100", "!",
                      "rtph264depay", "!", "h264parse", "!", "matroskamux", "!", "filesink",
                      f"location={recording}"]
            print("$", " ".join(client), "   # then Ctrl-C once the second clip has played",
                  flush=True)
            proc = subprocess.Popen(client, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            # The event, not a guessed duration: the server says the second clip went on air.
            out = read_until(server.stdout.fileno(), lambda text: text.count("generated: ") >= 2,
                             RUN_TIMEOUT)
            time.sleep(2)  # that clip is 1 s of stream; the slate follows it
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=RUN_TIMEOUT)
        finally:
            server.terminate()
            rest, _ = server.communicate(timeout=10)
        out += rest
        print(out, end="")
        submits = [r["path"] for r in emulator.requests()
                   if r["server"] == "api" and r["method"] == "POST"
                   and r["path"].startswith("/api/v3/kwaivgi/")]
    generated = re.findall(r"^generated: (model=\S+, task-id=\w+) \((.*)\)$", out, re.M)
    check(len(generated) == 2, f"the server logged the tags of both clips: {generated}")
    check(all(comment == "AI-generated" for _, comment in generated), "with the disclosure")
    check(generated[1][0].startswith("model=kwaivgi/kling-v2.1-i2v-master,"),
          "the second clip continues the story (image-to-video)")
    check(len(submits) == 2 and submits[1] == "/api/v3/kwaivgi/kling-v2.1-i2v-master",
          f"two submits, the second from the first clip's last frame: {submits}")
    frames = [marks(f, WIDTH, HEIGHT) for f in i420_frames(recording, WIDTH, HEIGHT)]
    clip_frames = [b for b, red, black in frames if black]
    slate_frames = [b for b, red, black in frames if red]
    print(f"recording: {len(frames)} frames, clip {len(clip_frames)}, slate {len(slate_frames)}")
    check(len(clip_frames) >= 40 and all(b > 20 for b in clip_frames),
          "every clip frame of the recording shows the text")
    check(len(slate_frames) >= 10 and all(b == 0 for b in slate_frames),
          "no slate frame of the recording does")


EXAMPLES = {"c": example_c, "python": example_python, "transcode": example_transcode,
            "hls": example_hls, "compositor": example_compositor,
            "live-channel": example_live_channel, "live-queue": example_live_queue,
            "rtsp": example_rtsp, "rtsp-story": example_rtsp_story}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("example", choices=EXAMPLES)
    parser.add_argument("--emulator", required=True, help="the kling-emulator executable")
    parser.add_argument("--examples", required=True, help="the examples/ source folder")
    parser.add_argument("--c-example", help="the kling-progress-example executable")
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix=f"kling-example-{args.example}-")
    try:
        EXAMPLES[args.example](args, workdir)
    except (Failure, subprocess.TimeoutExpired, OSError, AttributeError, IndexError,
            KeyError) as e:
        print(f"FAIL: {type(e).__name__}: {e} (files kept in {workdir})")
        return 1
    shutil.rmtree(workdir)
    print(f"PASS: examples/{args.example}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
