#include "video_cache.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "json_util.h"

namespace kling {

namespace {

// Writes `fill`'s output to a temporary file in `path`'s folder, then renames it over
// `path`: for a video, too big to hold in memory for g_file_set_contents_full.
template <typename Fill>
bool write_atomically(const std::string& path, Fill fill, std::string* error) {
  std::string tmp = path + ".tmp-XXXXXX";
  int fd = g_mkstemp_full(tmp.data(), O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) {
    *error = "cannot create " + tmp + ": " + g_strerror(errno);
    return false;
  }
  bool ok = fill(fd) && fsync(fd) == 0;
  int saved = errno;
  ok = close(fd) == 0 && ok;
  if (ok && g_rename(tmp.c_str(), path.c_str()) == 0)
    return true;
  *error = "cannot write " + path + ": " + g_strerror(ok ? errno : saved);
  g_unlink(tmp.c_str());
  return false;
}

}  // namespace

std::string VideoCache::entry(const std::string& fingerprint, const char* ext) const {
  g_autofree char* path = g_build_filename(dir_.c_str(), (fingerprint + ext).c_str(), nullptr);
  return path;
}

std::unique_ptr<DownloadStore> VideoCache::open(const std::string& fingerprint,
                                                std::string* task_id) const {
  if (!enabled())
    return nullptr;
  // The .json is written last: without it the entry is incomplete.
  g_autoptr(JsonParser) parser = json_parser_new_immutable();
  if (!json_parser_load_from_file(parser, entry(fingerprint, ".json").c_str(), nullptr))
    return nullptr;
  JsonNode* root = json_parser_get_root(parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT(root))
    return nullptr;
  JsonObject* o = json_node_get_object(root);
  auto store = DownloadStore::open_complete(entry(fingerprint, ".mp4"));
  if (!store || static_cast<int64_t>(store->have()) != json_object_get_int_member_with_default(o, "size", -1))
    return nullptr;
  *task_id = json_object_get_string_member_with_default(o, "id", "");
  return store;
}

bool VideoCache::save(const Request& r, const std::string& task_id, DownloadStore& store,
                      std::string* error, GCancellable* cancellable) const {
  if (!enabled())
    return true;
  if (g_mkdir_with_parents(dir_.c_str(), 0700) != 0) {
    *error = "cannot create " + dir_ + ": " + g_strerror(errno);
    return false;
  }
  const std::string fp = r.fingerprint();
  const std::string video = entry(fp, ".mp4");
  if (!store.flush_to_disk(error))
    return false;
  // Linked or renamed into place when it can be; copied otherwise.
  if (!store.persist(video, error) &&
      !write_atomically(video, [&](int fd) {
        return store.copy_to(fd, [cancellable] { return g_cancellable_is_cancelled(cancellable); });
      }, error))
    return false;

  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json::add_string(b, "id", task_id);
  json::add_string(b, "model", r.model);
  json::add_string(b, "prompt", r.prompt);
  json::add_string(b, "negative_prompt", r.negative_prompt);
  json::add_string(b, "aspect_ratio", r.aspect_ratio);
  json::add_int(b, "duration", r.duration);
  json::add_int(b, "size", static_cast<int64_t>(store.have()));
  json_builder_end_object(b);
  const std::string json = json::to_string(b);
  // Written last, durably: without it the entry does not exist.
  g_autoptr(GError) gerror = nullptr;
  if (!g_file_set_contents_full(entry(fp, ".json").c_str(), json.data(),
                                static_cast<gssize>(json.size()),
                                static_cast<GFileSetContentsFlags>(G_FILE_SET_CONTENTS_CONSISTENT |
                                                                   G_FILE_SET_CONTENTS_DURABLE),
                                0600, &gerror)) {
    *error = gerror->message;
    return false;
  }
  return true;
}

}  // namespace kling
