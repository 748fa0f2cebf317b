// SPDX-License-Identifier: LGPL-2.1-or-later
/* live_late: how punctual two live sources are, side by side in one pipeline.
 *
 *   live_late [--clips N] [--seconds S] PIPELINE-DESCRIPTION
 *
 * The description has two synchronising sinks named "live" and "ref" (klinglivesrc's branch
 * and its anchor's, e.g. videotestsrc is-live=true), on one pipeline clock. For every buffer
 * reaching each sink's pad, how far behind the clock it arrives (running time now - pts); a
 * frame is late past two frame periods (its own duration). Runs until N `clip-start`
 * kling/live messages have been seen and one more second has played (or S seconds), then
 * prints one line per sink:
 *
 *   live frames=3012 late=0 worst_ms=41.2 late_clip=0 late_slate=0 clips=100
 *   ref  frames=3012 late=0 worst_ms=39.8
 *
 * late_clip / late_slate split klinglivesrc's late frames by what was on air (the last
 * kling/live event before the frame: clip-start, or slate). Exit status 1 on a timeout or
 * an error.
 *
 * Build: gcc -O2 -o live_late live_late.c $(pkg-config --cflags --libs gstreamer-1.0)
 */
#include <gst/gst.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const char* name;
  guint64 frames, late, late_clip, late_slate;
  GstClockTimeDiff worst;
} Sink;

static GstElement* pipeline;
static Sink sinks[2] = {{"live", 0, 0, 0, 0, 0}, {"ref", 0, 0, 0, 0, 0}};
static GMutex lock;
static int clips, on_clip, wanted = 100;
static GMainLoop* loop;
static gboolean failed;

static GstPadProbeReturn on_buffer(GstPad* pad, GstPadProbeInfo* info, gpointer data) {
  Sink* s = data;
  GstBuffer* buffer = GST_PAD_PROBE_INFO_BUFFER(info);
  GstClock* clock = gst_element_get_clock(pipeline);
  if (!clock || !GST_BUFFER_PTS_IS_VALID(buffer)) {
    if (clock) gst_object_unref(clock);
    return GST_PAD_PROBE_OK;
  }
  GstClockTimeDiff behind = GST_CLOCK_DIFF(
      GST_BUFFER_PTS(buffer), gst_clock_get_time(clock) - gst_element_get_base_time(pipeline));
  gst_object_unref(clock);
  GstClockTime period =
      GST_BUFFER_DURATION_IS_VALID(buffer) ? GST_BUFFER_DURATION(buffer) : GST_SECOND / 30;
  g_mutex_lock(&lock);
  s->frames++;
  if (behind > s->worst) s->worst = behind;
  if (behind > (GstClockTimeDiff)(2 * period)) {
    s->late++;
    if (on_clip)
      s->late_clip++;
    else
      s->late_slate++;
  }
  g_mutex_unlock(&lock);
  return GST_PAD_PROBE_OK;
}

static gboolean stop(gpointer data) {
  g_main_loop_quit(loop);
  return G_SOURCE_REMOVE;
}

static GstBusSyncReply on_sync(GstBus* bus, GstMessage* msg, gpointer data) {
  if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ELEMENT && gst_message_has_name(msg, "kling/live")) {
    const char* event = gst_structure_get_string(gst_message_get_structure(msg), "event");
    g_mutex_lock(&lock);
    if (!g_strcmp0(event, "clip-start")) {
      on_clip = 1;
      if (++clips == wanted) g_timeout_add(1000, stop, NULL);
    } else if (!g_strcmp0(event, "slate")) {
      on_clip = 0;
    }
    g_mutex_unlock(&lock);
  }
  return GST_BUS_PASS;
}

static gboolean on_bus(GstBus* bus, GstMessage* msg, gpointer data) {
  if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
    GError* error = NULL;
    gst_message_parse_error(msg, &error, NULL);
    fprintf(stderr, "error: %s\n", error->message);
    g_error_free(error);
    failed = TRUE;
    g_main_loop_quit(loop);
  }
  return TRUE;
}

static gboolean timeout(gpointer data) {
  fprintf(stderr, "timeout after %d clips\n", clips);
  failed = TRUE;
  g_main_loop_quit(loop);
  return G_SOURCE_REMOVE;
}

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  int seconds = 600, i = 1;
  for (; i < argc - 1; i++) {
    if (!strcmp(argv[i], "--clips"))
      wanted = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--seconds"))
      seconds = atoi(argv[++i]);
    else
      break;
  }
  if (i != argc - 1) {
    fprintf(stderr, "usage: live_late [--clips N] [--seconds S] PIPELINE\n");
    return 2;
  }
  GError* error = NULL;
  pipeline = gst_parse_launch(argv[i], &error);
  if (!pipeline) {
    fprintf(stderr, "%s\n", error->message);
    return 2;
  }
  for (int k = 0; k < 2; k++) {
    GstElement* sink = gst_bin_get_by_name(GST_BIN(pipeline), sinks[k].name);
    if (!sink) {
      fprintf(stderr, "no element named %s\n", sinks[k].name);
      return 2;
    }
    GstPad* pad = gst_element_get_static_pad(sink, "sink");
    gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, on_buffer, &sinks[k], NULL);
    gst_object_unref(pad);
    gst_object_unref(sink);
  }
  loop = g_main_loop_new(NULL, FALSE);
  GstBus* bus = gst_element_get_bus(pipeline);
  gst_bus_set_sync_handler(bus, on_sync, NULL, NULL);
  gst_bus_add_watch(bus, on_bus, NULL);
  g_timeout_add_seconds(seconds, timeout, NULL);
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  g_main_loop_run(loop);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  for (int k = 0; k < 2; k++) {
    Sink* s = &sinks[k];
    printf("%-4s frames=%" G_GUINT64_FORMAT " late=%" G_GUINT64_FORMAT " worst_ms=%.1f", s->name,
           s->frames, s->late, s->worst / 1e6);
    if (k == 0)
      printf(" late_clip=%" G_GUINT64_FORMAT " late_slate=%" G_GUINT64_FORMAT " clips=%d",
             s->late_clip, s->late_slate, clips);
    printf("\n");
  }
  gst_object_unref(bus);
  gst_object_unref(pipeline);
  return failed ? 1 : 0;
}
