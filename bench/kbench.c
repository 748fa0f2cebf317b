// SPDX-License-Identifier: LGPL-2.1-or-later
/* kbench: the measuring harness of bench/run.sh.
 *
 *   kbench [OPTIONS] PIPELINE-DESCRIPTION
 *
 * Runs N copies of a gst-launch style pipeline in this one process (-n N; "%d" in the
 * description becomes the copy's index) until every copy reaches EOS or an error, and prints
 * one "key=value" line per figure (times in ms since the pipelines were set to PLAYING):
 *
 *   t_poll_complete  klingsrc posted GstProgress COMPLETE code "poll" (the poll that saw
 *                    `completed`); timestamped in the posting thread (bus sync handler)
 *   t_first_buffer   first buffer through the src pad of the element named "src" (pad probe);
 *                    with --probe NAME, through the sink pad of element NAME instead
 *   t_download_done  klingsrc posted GstProgress COMPLETE code "download"
 *   t_eos            EOS of the (last) pipeline
 *   latency_ms       t_first_buffer - t_poll_complete
 *   bytes            bytes seen by the probe (copy 0)
 *   cpu_user_s/cpu_sys_s  getrusage(RUSAGE_SELF) from just before PLAYING to the end
 *   maxrss_kb        getrusage ru_maxrss (peak RSS of the process)
 *   threads_max / threads_base  /proc/self/status Threads, sampled every 20 ms / before PLAYING
 *   rss_base_kb      VmRSS before PLAYING
 *
 * --seek-from-end BYTES: once the first buffer went through and the size is known (from the
 * kling/download message), a flushing BYTES seek to size - BYTES is made from the main loop;
 * t_seek, have_at_seek (bytes downloaded then, from the last kling/download message),
 * seek_target and t_seek_buffer (first buffer at or past the target) are printed.
 *
 * Build: gcc -O2 -o kbench kbench.c $(pkg-config --cflags --libs gstreamer-1.0)
 */
#include <gst/gst.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define MAXP 256

static gint64 t0;
static gint64 t_poll_complete = -1, t_first_buffer = -1, t_download_done = -1, t_eos = -1;
static gint64 t_seek = -1, t_seek_buffer = -1;
static guint64 seek_target = 0, have_at_seek = 0, bytes_seen = 0;
static gint64 last_download_bytes = -1, download_total = -1;
static guint64 seek_from_end = 0;
static gboolean seek_done = FALSE, seek_scheduled = FALSE;
static int n_pipelines = 1, n_finished = 0, n_errors = 0;
static GstElement* pipelines[MAXP];
static GMainLoop* loop;
static int threads_max = 0;
static GMutex lock;

static gint64 now_us(void) {
  return g_get_monotonic_time() - t0;
}
static double ms(gint64 us) {
  return us < 0 ? -1.0 : us / 1000.0;
}

static long status_field(const char* name) {
  FILE* f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  size_t n = strlen(name);
  if (!f) return -1;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, name, n) == 0) {
      v = strtol(line + n, NULL, 10);
      break;
    }
  fclose(f);
  return v;
}

static gboolean sample(gpointer data) {
  (void)data;
  int t = (int)status_field("Threads:");
  if (t > threads_max) threads_max = t;
  return G_SOURCE_CONTINUE;
}

static GstBusSyncReply sync_handler(GstBus* bus, GstMessage* msg, gpointer data) {
  (void)bus;
  (void)data;
  gint64 t = now_us();
  if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_PROGRESS) {
    GstProgressType type;
    gchar *code = NULL, *text = NULL;
    gst_message_parse_progress(msg, &type, &code, &text);
    g_mutex_lock(&lock);
    if (type == GST_PROGRESS_TYPE_COMPLETE && g_strcmp0(code, "poll") == 0 && t_poll_complete < 0)
      t_poll_complete = t;
    if (type == GST_PROGRESS_TYPE_COMPLETE && g_strcmp0(code, "download") == 0)
      t_download_done = t; /* the last one (scale mode: the last element to finish) */
    g_mutex_unlock(&lock);
    g_free(code);
    g_free(text);
  } else if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ELEMENT) {
    const GstStructure* s = gst_message_get_structure(msg);
    if (s && gst_structure_has_name(s, "kling/download")) {
      guint64 b = 0;
      gint64 total = -1;
      gst_structure_get_uint64(s, "bytes", &b);
      gst_structure_get_int64(s, "total", &total);
      g_mutex_lock(&lock);
      last_download_bytes = (gint64)b;
      if (total > 0) download_total = total;
      g_mutex_unlock(&lock);
    }
  }
  return GST_BUS_PASS;
}

static gboolean do_seek(gpointer data) {
  (void)data;
  g_mutex_lock(&lock);
  gint64 total = download_total;
  have_at_seek = last_download_bytes < 0 ? 0 : (guint64)last_download_bytes;
  g_mutex_unlock(&lock);
  if (total <= 0) return G_SOURCE_CONTINUE; /* size not known yet: retry */
  seek_target = (guint64)total > seek_from_end ? (guint64)total - seek_from_end : 0;
  t_seek = now_us();
  seek_done = TRUE;
  if (!gst_element_seek_simple(pipelines[0], GST_FORMAT_BYTES, GST_SEEK_FLAG_FLUSH,
                               (gint64)seek_target))
    g_printerr("kbench: seek refused\n");
  return G_SOURCE_REMOVE;
}

static GstPadProbeReturn probe(GstPad* pad, GstPadProbeInfo* info, gpointer data) {
  (void)pad;
  (void)data;
  GstBuffer* buf = GST_PAD_PROBE_INFO_BUFFER(info);
  gint64 t = now_us();
  g_mutex_lock(&lock);
  if (t_first_buffer < 0) t_first_buffer = t;
  bytes_seen += gst_buffer_get_size(buf);
  if (seek_done && t_seek_buffer < 0 && GST_BUFFER_OFFSET_IS_VALID(buf) &&
      GST_BUFFER_OFFSET(buf) >= seek_target)
    t_seek_buffer = t;
  gboolean schedule = seek_from_end > 0 && !seek_scheduled;
  if (schedule) seek_scheduled = TRUE;
  g_mutex_unlock(&lock);
  if (schedule) g_timeout_add(1, do_seek, NULL);
  return GST_PAD_PROBE_OK;
}

/* klingsrc posts "download" COMPLETE right after the last byte is in the store, racing the
 * EOS that byte leads to (and a demuxer may end long before the download): give it up to 10 s. */
static gboolean maybe_quit(gpointer data) {
  static int waited = 0;
  (void)data;
  g_mutex_lock(&lock);
  gboolean wait = t_poll_complete >= 0 && t_download_done < 0 && n_errors == 0 && waited++ < 1000;
  g_mutex_unlock(&lock);
  if (wait) return G_SOURCE_CONTINUE;
  g_main_loop_quit(loop);
  return G_SOURCE_REMOVE;
}

static gboolean on_message(GstBus* bus, GstMessage* msg, gpointer data) {
  (void)bus;
  int idx = GPOINTER_TO_INT(data);
  switch (GST_MESSAGE_TYPE(msg)) {
    case GST_MESSAGE_EOS:
      t_eos = now_us();
      n_finished++;
      break;
    case GST_MESSAGE_ERROR: {
      GError* err = NULL;
      gchar* dbg = NULL;
      gst_message_parse_error(msg, &err, &dbg);
      g_printerr("kbench: pipeline %d: ERROR from %s: %s (%s)\n", idx, GST_OBJECT_NAME(msg->src),
                 err->message, dbg ? dbg : "");
      g_clear_error(&err);
      g_free(dbg);
      n_errors++;
      n_finished++;
      break;
    }
    default:
      break;
  }
  if (n_finished >= n_pipelines) g_timeout_add(10, maybe_quit, NULL);
  return TRUE;
}

static gboolean on_timeout(gpointer data) {
  (void)data;
  g_printerr("kbench: timed out\n");
  n_errors++;
  g_main_loop_quit(loop);
  return G_SOURCE_REMOVE;
}

int main(int argc, char** argv) {
  gchar* probe_name = NULL;
  gint timeout_s = 120;
  gint64 seek_opt = 0;
  gint stagger_ms = 0;
  GOptionEntry entries[] = {
      {"copies", 'n', 0, G_OPTION_ARG_INT, &n_pipelines, "Pipelines in this process", "N"},
      {"probe", 'p', 0, G_OPTION_ARG_STRING, &probe_name, "Probe this element's sink pad", "NAME"},
      {"timeout", 't', 0, G_OPTION_ARG_INT, &timeout_s, "Give up after S seconds", "S"},
      {"stagger-ms", 0, 0, G_OPTION_ARG_INT, &stagger_ms, "Start the copies MS apart", "MS"},
      {"seek-from-end", 0, 0, G_OPTION_ARG_INT64, &seek_opt,
       "Seek to size-BYTES after the first buffer", "BYTES"},
      {NULL}};
  GError* error = NULL;
  GOptionContext* ctx = g_option_context_new("PIPELINE-DESCRIPTION");
  g_option_context_add_main_entries(ctx, entries, NULL);
  g_option_context_add_group(ctx, gst_init_get_option_group());
  if (!g_option_context_parse(ctx, &argc, &argv, &error) || argc != 2 || n_pipelines < 1 ||
      n_pipelines > MAXP) {
    g_printerr("usage: kbench [-n N] [--probe NAME] [--seek-from-end B] 'PIPELINE'\n");
    return 2;
  }
  seek_from_end = (guint64)seek_opt;
  g_mutex_init(&lock);
  loop = g_main_loop_new(NULL, FALSE);

  for (int i = 0; i < n_pipelines; i++) {
    GString* desc = g_string_new(argv[1]);
    gchar* idx = g_strdup_printf("%d", i);
    g_string_replace(desc, "%d", idx, 0);
    g_free(idx);
    pipelines[i] = gst_parse_launch(desc->str, &error);
    g_string_free(desc, TRUE);
    if (!pipelines[i]) {
      g_printerr("kbench: %s\n", error->message);
      return 2;
    }
    GstBus* bus = gst_element_get_bus(pipelines[i]);
    gst_bus_set_sync_handler(bus, sync_handler, NULL, NULL);
    gst_bus_add_watch(bus, on_message, GINT_TO_POINTER(i));
    gst_object_unref(bus);
    if (i == 0) {
      const char* name = probe_name ? probe_name : "src";
      GstElement* e = gst_bin_get_by_name(GST_BIN(pipelines[i]), name);
      if (!e) {
        g_printerr("kbench: no element named %s\n", name);
        return 2;
      }
      GstPad* pad = gst_element_get_static_pad(e, probe_name ? "sink" : "src");
      gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, probe, NULL, NULL);
      gst_object_unref(pad);
      gst_object_unref(e);
    }
  }

  long rss_base = status_field("VmRSS:");
  int threads_base = (int)status_field("Threads:");
  threads_max = threads_base;
  struct rusage r0, r1;
  getrusage(RUSAGE_SELF, &r0);
  g_timeout_add(20, sample, NULL);
  g_timeout_add_seconds((guint)timeout_s, on_timeout, NULL);
  t0 = g_get_monotonic_time();
  for (int i = 0; i < n_pipelines; i++)
    if ((i > 0 && stagger_ms > 0 ? g_usleep((gulong)stagger_ms * 1000), 0 : 0),
        gst_element_set_state(pipelines[i], GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
      g_printerr("kbench: pipeline %d refused PLAYING\n", i);
      n_errors++;
      n_finished++;
    }
  if (n_finished < n_pipelines) g_main_loop_run(loop);
  sample(NULL);
  getrusage(RUSAGE_SELF, &r1);
  gint64 t_end = now_us();

  double cu =
      (r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) + (r1.ru_utime.tv_usec - r0.ru_utime.tv_usec) / 1e6;
  double cs =
      (r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) + (r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) / 1e6;
  printf("copies=%d\nerrors=%d\nfinished=%d\n", n_pipelines, n_errors, n_finished - n_errors);
  printf(
      "t_poll_complete=%.3f\nt_first_buffer=%.3f\nt_download_done=%.3f\nt_eos=%.3f\nt_end=%.3f\n",
      ms(t_poll_complete), ms(t_first_buffer), ms(t_download_done), ms(t_eos), ms(t_end));
  if (t_poll_complete >= 0 && t_first_buffer >= 0)
    printf("latency_ms=%.3f\n", ms(t_first_buffer - t_poll_complete));
  printf("bytes=%" G_GUINT64_FORMAT "\n", bytes_seen);
  if (seek_from_end > 0)
    printf("t_seek=%.3f\nseek_target=%" G_GUINT64_FORMAT "\nhave_at_seek=%" G_GUINT64_FORMAT
           "\ndownload_total=%" G_GINT64_FORMAT "\nt_seek_buffer=%.3f\n",
           ms(t_seek), seek_target, have_at_seek, download_total, ms(t_seek_buffer));
  printf("cpu_user_s=%.3f\ncpu_sys_s=%.3f\n", cu, cs);
  printf("maxrss_kb=%ld\nrss_base_kb=%ld\nthreads_base=%d\nthreads_max=%d\n", r1.ru_maxrss,
         rss_base, threads_base, threads_max);
  fflush(stdout);
  for (int i = 0; i < n_pipelines; i++) {
    gst_element_set_state(pipelines[i], GST_STATE_NULL);
    gst_object_unref(pipelines[i]);
  }
  return n_errors ? 1 : 0;
}
