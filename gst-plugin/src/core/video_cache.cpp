#include "video_cache.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "atomic_file.h"
#include "json_util.h"

namespace kling {

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
                      std::string* error) const {
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
      !write_atomically(video, [&](int fd) { return store.copy_to(fd); }, error))
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
  return write_atomically(entry(fp, ".json"), [&](int fd) {
    return write(fd, json.data(), json.size()) == static_cast<ssize_t>(json.size());
  }, error);
}

}  // namespace kling
