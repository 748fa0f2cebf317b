// SPDX-License-Identifier: LGPL-2.1-or-later
/* progress.c: embed klingsrc in a pipeline and follow the generation on the bus.
 *
 *   kling-progress-example [--display] PROMPT [PROPERTY=VALUE ...]
 *
 * Runs `klingsrc ! decodebin ! videoconvert ! fakesink` (autovideosink with --display)
 * and prints what klingsrc posts: GstProgress messages (submit, poll, download, ...),
 * `kling/task` element messages (one per status change) and errors, with the task id
 * from the error's details so a paid task can be picked up again with request-id=ID.
 *
 * The key and the API come from WAVESPEED_API_KEY and WAVESPEED_BASE_URL, or from
 * api-key=... api-url=... on the command line; any other klingsrc property can be set
 * the same way (duration=10 aspect-ratio=9:16 ...).
 *
 * Ctrl-C sets the pipeline to NULL at once. A task that was already submitted goes on
 * at WaveSpeed (klingsrc never cancels it remotely); its id is in the lines printed.
 */
#include <glib-unix.h>
#include <gst/gst.h>

typedef struct {
  GMainLoop* loop;
  int exit_code;
} App;

static const char* progress_type_nick(GstProgressType type) {
  switch (type) {
    case GST_PROGRESS_TYPE_START:
      return "start";
    case GST_PROGRESS_TYPE_CONTINUE:
      return "continue";
    case GST_PROGRESS_TYPE_COMPLETE:
      return "complete";
    case GST_PROGRESS_TYPE_CANCELED:
      return "canceled";
    case GST_PROGRESS_TYPE_ERROR:
      return "error";
    default:
      return "?";
  }
}

/* `kling/task`: id, status, model, outputs (array of URLs), has-nsfw-contents,
 * inference-time (ms, -1 unknown), error, code. */
static void print_task(const GstStructure* task) {
  const gchar* error = gst_structure_get_string(task, "error");
  const GValue* outputs = gst_structure_get_value(task, "outputs");

  g_print("Task %s: %s", gst_structure_get_string(task, "id"),
          gst_structure_get_string(task, "status"));
  if (outputs != NULL && gst_value_array_get_size(outputs) > 0)
    g_print(", video at %s", g_value_get_string(gst_value_array_get_value(outputs, 0)));
  if (error != NULL && *error != '\0') g_print(", error: %s", error);
  g_print("\n");
}

/* Errors carry the task id (empty before a task exists) and the HTTP status. */
static void print_error(GstMessage* msg) {
  g_autoptr(GError) err = NULL;
  g_autofree gchar* debug = NULL;
  const GstStructure* details = NULL;
  const gchar* task_id = NULL;
  guint http_status = 0;

  gst_message_parse_error(msg, &err, &debug);
  gst_message_parse_error_details(msg, &details);
  if (details != NULL) {
    task_id = gst_structure_get_string(details, "task-id");
    gst_structure_get_uint(details, "http-status-code", &http_status);
  }

  g_printerr("Error from %s: %s\n", GST_OBJECT_NAME(GST_MESSAGE_SRC(msg)), err->message);
  if (task_id != NULL && *task_id != '\0') g_printerr("Task id: %s\n", task_id);
  if (http_status != 0) g_printerr("HTTP status: %u\n", http_status);
  if (debug != NULL) g_printerr("Debug: %s\n", debug);
}

static gboolean on_bus_message(G_GNUC_UNUSED GstBus* bus, GstMessage* msg, gpointer user_data) {
  App* app = user_data;

  switch (GST_MESSAGE_TYPE(msg)) {
    case GST_MESSAGE_PROGRESS: {
      GstProgressType type;
      g_autofree gchar *code = NULL, *text = NULL;

      gst_message_parse_progress(msg, &type, &code, &text);
      g_print("Progress: (%s) %s [%s]\n", code, text, progress_type_nick(type));
      break;
    }
    case GST_MESSAGE_ELEMENT:
      /* kling/download (bytes, total) also comes here, up to 10 times a second. */
      if (gst_message_has_name(msg, "kling/task")) print_task(gst_message_get_structure(msg));
      break;
    case GST_MESSAGE_WARNING: {
      g_autoptr(GError) err = NULL;

      gst_message_parse_warning(msg, &err, NULL);
      g_printerr("Warning: %s\n", err->message);
      break;
    }
    case GST_MESSAGE_ERROR:
      print_error(msg);
      app->exit_code = 1;
      g_main_loop_quit(app->loop);
      break;
    case GST_MESSAGE_EOS:
      g_print("Done: the whole video went through the pipeline.\n");
      g_main_loop_quit(app->loop);
      break;
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

static gboolean on_sigint(gpointer user_data) {
  App* app = user_data;

  g_printerr(
      "Interrupted: stopping. A submitted task goes on at WaveSpeed "
      "(its id is above).\n");
  app->exit_code = 130;
  g_main_loop_quit(app->loop);
  return G_SOURCE_CONTINUE; /* removed in main() */
}

/* PROPERTY=VALUE, parsed the way gst-launch-1.0 parses it. */
static gboolean set_property_arg(GstElement* element, const gchar* arg) {
  g_auto(GStrv) pair = g_strsplit(arg, "=", 2);

  if (pair[0] == NULL || pair[1] == NULL ||
      g_object_class_find_property(G_OBJECT_GET_CLASS(element), pair[0]) == NULL) {
    g_printerr("Not a klingsrc PROPERTY=VALUE: %s\n", arg);
    return FALSE;
  }
  gst_util_set_object_arg(G_OBJECT(element), pair[0], pair[1]);
  return TRUE;
}

int main(int argc, char* argv[]) {
  gboolean display = FALSE;
  GOptionEntry entries[] = {{"display", 'd', 0, G_OPTION_ARG_NONE, &display,
                             "Show the video (autovideosink) instead of discarding it", NULL},
                            G_OPTION_ENTRY_NULL};
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GstElement) pipeline = NULL;
  g_autoptr(GstElement) src = NULL;
  g_autoptr(GstBus) bus = NULL;
  App app = {NULL, 0};
  guint sigint_id;

  context = g_option_context_new("PROMPT [PROPERTY=VALUE ...]");
  g_option_context_set_summary(
      context, "Generate a video with klingsrc and print its progress from the bus.");
  g_option_context_add_main_entries(context, entries, NULL);
  g_option_context_add_group(context, gst_init_get_option_group());
  if (!g_option_context_parse(context, &argc, &argv, &error) || argc < 2) {
    g_printerr("%s\n",
               error ? error->message
                     : "Usage: kling-progress-example [--display] PROMPT [PROPERTY=VALUE ...]");
    return 2;
  }

  pipeline =
      gst_parse_launch(display ? "klingsrc name=src ! decodebin ! videoconvert ! autovideosink"
                               : "klingsrc name=src ! decodebin ! videoconvert ! fakesink",
                       &error);
  if (pipeline == NULL) {
    /* Most often: the plugin is not found (set GST_PLUGIN_PATH to build/gst-plugin). */
    g_printerr("Cannot build the pipeline: %s\n", error->message);
    return 1;
  }

  /* Set the prompt directly: no quoting rules to get wrong. */
  src = gst_bin_get_by_name(GST_BIN(pipeline), "src");
  g_object_set(src, "prompt", argv[1], NULL);
  for (int i = 2; i < argc; i++)
    if (!set_property_arg(src, argv[i])) return 2;

  app.loop = g_main_loop_new(NULL, FALSE);
  bus = gst_element_get_bus(pipeline);
  gst_bus_add_watch(bus, on_bus_message, &app);
  sigint_id = g_unix_signal_add(SIGINT, on_sigint, &app);

  /* A bad setting (no key, no prompt...) fails here, before anything is sent. */
  if (gst_element_set_state(pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    g_autoptr(GstMessage) msg = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);

    if (msg != NULL)
      print_error(msg);
    else
      g_printerr("The pipeline cannot start.\n");
    app.exit_code = 1;
  } else {
    g_main_loop_run(app.loop);
  }

  /* NULL at once: klingsrc stops polling or downloading without waiting. */
  gst_element_set_state(pipeline, GST_STATE_NULL);
  g_source_remove(sigint_id);
  gst_bus_remove_watch(bus);
  g_main_loop_unref(app.loop);
  return app.exit_code;
}
