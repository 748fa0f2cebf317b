// SPDX-License-Identifier: LGPL-2.1-or-later
#include "core/session/element_session.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/storage/range_refetch.h"
#include "core/storage/video_cache.h"

namespace kling {

// One generation: what an earlier run of the same request left behind.
struct ElementSession::State {
  std::string fingerprint;
  std::string task_id;
  bool submit_uncertain = false;  // a submit may have made a task we have no id for
  std::shared_ptr<DownloadStore> store;
  std::unique_ptr<TaskRunner> runner;
  // A cached video whose bytes are yet to be checked against this SHA-256: none is served before.
  std::string unverified_sha;
  bool verifying = false;  // a read is checking it (unlocked)
};

ElementSession::ElementSession(TaskEvents events)
    : events_(std::move(events)), cancellable_(GRef<GCancellable>::adopt(g_cancellable_new())) {}

ElementSession::~ElementSession() {
  stop();
  join_previous();
}

void ElementSession::progress(ProgressType type, const char* code, const std::string& text) {
  if (events_.progress) events_.progress(type, code, text);
}

std::optional<Error> ElementSession::start(Request request) {
  // A local image is read (hashed) here: its bytes, not its path, name the request.
  if (auto error = resolve_local_image(&request)) return error;
  if (auto error = validate(request)) return error;
  // Named once, here, before any network (it may read the origin's catalogue on disk):
  // the cache lookup below, the ledger and the cache entry all use this name.
  const std::string fingerprint = request.fingerprint();
  std::optional<std::string> replaying;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    // A read checking a cached video uses the state: not replaced under it.
    verified_.wait(lock, [this] { return !state_ || !state_->verifying; });
    if (!state_ || state_->fingerprint != fingerprint) {
      auto state = std::make_unique<State>();
      state->fingerprint = fingerprint;
      state->task_id = request.request_id;
      // A finished video of the very same request replays from the cache: nothing is
      // submitted. Its bytes are checked by the first read (a state change does not wait
      // for a hash of the whole video, and a stop() ends it).
      VideoCache cache(request.cache_dir);
      if ((state->store =
               cache.open_unverified(fingerprint, &state->task_id, &state->unverified_sha))) {
        replaying = "Found the cached video of task " + state->task_id + " in " + cache.dir() +
                    "; checking its SHA-256 before it plays";
      } else {
        Error error;
        state->store = DownloadStore::create(&error, request.cache_dir);
        if (!state->store) {
          state_.reset();
          return error;
        }
      }
      state_ = std::move(state);
    } else if (!request.cache_dir.empty() && !state_->store->let_go_any()) {
      // A cache entry needs every byte: keep them from now on, if none was let go yet.
      state_->store->keep_everything();
    }
    state_->store->set_flushing(false);
    request_ = std::move(request);
  }
  if (replaying)  // said unlocked: the listener may read task_id()
    progress(ProgressType::Start, "cache", *replaying);
  return std::nullopt;
}

void ElementSession::stop() {
  join_previous();
  std::unique_ptr<TaskRunner> runner;
  State* state = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    request_.reset();
    state = state_.get();
    if (state) {
      state->store->set_flushing(true);  // a read waiting for bytes ends now
      runner = std::move(state->runner);
    }
    if (runner) stopping_ = runner.get();
  }
  if (!runner) return;
  // Unlocked: the worker's last events may call task_id().
  const bool joined = runner->stop();
  std::lock_guard<std::mutex> lock(mutex_);
  stopping_ = nullptr;
  stopped_.notify_all();
  if (state_.get() == state) {
    // Read what the task came to only once its worker is done with it.
    state->task_id = runner->task_id();
    state->submit_uncertain = state->task_id.empty() && runner->submit_uncertain();
    // A task that ended badly is done with: running the request again submits anew.
    if (runner->task_failed()) state_.reset();
  }
  if (!joined)  // stopped from its own thread: joined before another runner starts
    previous_ = std::move(runner);
}

void ElementSession::join_previous() {
  std::unique_ptr<TaskRunner> previous;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    previous = std::move(previous_);
  }
  if (!previous || previous->join()) return;
  std::lock_guard<std::mutex> lock(mutex_);  // still on its own thread: later
  if (!previous_) previous_ = std::move(previous);
}

// Starts the task on the first read, never in start().
std::shared_ptr<DownloadStore> ElementSession::ensure_running(Error* error, bool* flushing) {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    // A stop() on the worker's own thread (a bus sync handler) has yet to say what the task came
    // to.
    stopped_.wait(lock, [this] { return stopping_ == nullptr; });
    if (!previous_) break;
    // Two workers must never write one store: the one that stop() could not join
    // (cancelled, it ends promptly) is joined first.
    std::unique_ptr<TaskRunner> previous = std::move(previous_);
    lock.unlock();
    const bool joined = previous->join();
    lock.lock();
    if (!joined) {  // on that very thread: cannot happen for a read, never loop on it
      previous_ = std::move(previous);
      break;
    }
  }
  if (!state_ || !request_) {
    *flushing = true;
    return nullptr;
  }
  if (!state_->unverified_sha.empty() || state_->verifying)
    if (!verify_replay(lock, error, flushing)) return nullptr;
  std::shared_ptr<DownloadStore> store = state_->store;
  if (state_->runner || store->complete()) return store;
  // The last submit on this element never got its reply: another could bill twice.
  if (state_->submit_uncertain && request_->resume_unfinished) {
    // SETTINGS, as the ledger's refusal in any other run: the user must choose.
    *error = {ErrorKind::Settings,
              "An earlier submit of this request may have created a task whose reply never "
              "arrived: not submitting again, to avoid a second charge",
              "Find the task on your WaveSpeed dashboard and set request-id, or change variation "
              "(or set resume-unfinished=false) to pay for a new one",
              0,
              {}};
    return nullptr;
  }
  try {
    store->clear_error();
    state_->runner = std::make_unique<TaskRunner>(*request_, state_->fingerprint, state_->task_id,
                                                  store, events_);
    state_->runner->start();
    return store;
  } catch (const std::exception& e) {  // no thread to be had
    state_->runner.reset();
    *error = {ErrorKind::Network, "Cannot start the task's thread", e.what(), 0, state_->task_id};
    return nullptr;
  }
}

// A cached video is served only once its bytes match the SHA-256 of its entry.
// Checked here, unlocked, by one read at a time (another waits for its word); a
// stop() or flushing seek ends the check (a later read checks again). Bytes that
// differ are a miss, as in start(): a new store, and the request runs as if
// nothing were cached. `lock` (of mutex_) is held on entry and on return.
bool ElementSession::verify_replay(std::unique_lock<std::mutex>& lock, Error* error,
                                   bool* flushing) {
  verified_.wait(lock, [this] { return !state_ || !state_->verifying; });
  if (!state_ || !request_) {
    *flushing = true;
    return false;
  }
  if (state_->unverified_sha.empty()) return true;  // another read checked it
  State* state = state_.get();
  std::shared_ptr<DownloadStore> store = state->store;
  const std::string sha = state->unverified_sha;
  const std::string about =
      "the cached video of task " + state->task_id + " in " + request_->cache_dir;
  state->verifying = true;
  lock.unlock();
  const VideoCache::Check check =
      VideoCache::verify(*store, sha, [&store] { return store->flushing(); });
  if (check == VideoCache::Check::Same)  // said unlocked: the listener may read task_id()
    progress(ProgressType::Complete, "cache", "Replaying " + about + "; nothing submitted");
  else if (check == VideoCache::Check::Differs)
    progress(ProgressType::Complete, "cache",
             "Not replaying " + about +
                 ": its bytes do not match their SHA-256; the request runs as if "
                 "nothing were cached");
  lock.lock();
  state->verifying = false;
  verified_.notify_all();
  if (state_.get() != state || !request_ || check == VideoCache::Check::Stopped) {
    *flushing = true;
    return false;
  }
  state->unverified_sha.clear();
  if (check == VideoCache::Check::Differs) {
    std::unique_ptr<DownloadStore> fresh = DownloadStore::create(error, request_->cache_dir);
    if (!fresh) return false;
    state->store = std::move(fresh);
    state->task_id = request_->request_id;
  }
  return true;
}

ElementSession::Read ElementSession::read(uint64_t offset, size_t size, bool random_access) {
  using Where = DownloadStore::Piece::Where;
  Read r;
  bool flushing = false;
  r.store = ensure_running(&r.error, &flushing);
  if (!r.store) {
    r.status = flushing ? Read::Status::Flushing : Read::Status::Error;
    return r;
  }
  // Random access reads anywhere at any time: keep every byte on disk, read nothing twice.
  if (random_access) r.store->keep_everything();
  size_t length = size;
  switch (r.store->wait_for(offset, &length, &r.error)) {
    case DownloadStore::Wait::Flushing:
      r.status = Read::Status::Flushing;
      return r;
    case DownloadStore::Wait::Eos:
      r.status = Read::Status::Eos;
      return r;
    case DownloadStore::Wait::Failed:
      r.status = Read::Status::Error;
      return r;
    case DownloadStore::Wait::Ready:
      break;
  }
  r.offset = offset;
  r.size = length;
  // Located once: a Memory piece holds its chunk even if the store lets go of
  // it meanwhile, and a hole read again is on disk for good.
  r.pieces = r.store->locate(offset, length);
  r.in_memory = std::all_of(r.pieces.begin(), r.pieces.end(),
                            [](const auto& p) { return p.where == Where::Memory; });
  r.status = Read::Status::Ok;
  for (const auto& piece : r.pieces)
    if (piece.where == Where::Hole)
      if ((r.status = refetch_hole(*r.store, piece, &r.error)) != Read::Status::Ok) return r;
  return r;
}

// Reads a hole again from the CDN into the spill file: at least kRefetchSpan
// (a reader going on finds its next bytes there), up to the next byte present.
ElementSession::Read::Status ElementSession::refetch_hole(DownloadStore& store,
                                                          const DownloadStore::Piece& hole,
                                                          Error* error) {
  std::optional<Request> request = this->request();
  if (!request) return Read::Status::Flushing;
  const uint64_t span =
      std::min(std::max<uint64_t>(hole.size, kRefetchSpan), store.have() - hole.offset);
  const auto ahead = store.locate(hole.offset, static_cast<size_t>(span), false);
  if (ahead.front().where != DownloadStore::Piece::Where::Hole)
    return Read::Status::Ok;  // read again with an earlier hole (a server that ignores Range)
  const uint64_t size = ahead.front().size;  // the hole, up to the next byte present
  switch (refetch(*request, store, hole.offset, size, cancellable_.get(), task_id(), error)) {
    case Refetch::Done:
      return Read::Status::Ok;
    case Refetch::Cancelled:
      return Read::Status::Flushing;
    case Refetch::Failed:
      break;
  }
  return Read::Status::Error;
}

bool ElementSession::copy(const Read& read, uint8_t* dest, Error* error) {
  for (const auto& piece : read.pieces) {
    uint8_t* to = dest + (piece.offset - read.offset);
    if (piece.where == DownloadStore::Piece::Where::Memory) {
      memcpy(to, piece.data, piece.size);
    } else if (!read.store->read(piece.offset, piece.size, to)) {
      *error = {
          ErrorKind::Write, "Cannot read back the downloaded video", g_strerror(errno), 0, {}};
      return false;
    }
  }
  return true;
}

std::optional<uint64_t> ElementSession::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return state_ ? state_->store->total() : std::nullopt;
}

std::string ElementSession::task_id() const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (stopping_) return stopping_->task_id();
  if (!state_) return {};
  return state_->runner ? state_->runner->task_id() : state_->task_id;
}

std::optional<Request> ElementSession::request() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return request_;
}

void ElementSession::set_flushing(bool flushing) {
  if (flushing)
    g_cancellable_cancel(cancellable_.get());
  else
    g_cancellable_reset(cancellable_.get());
  std::lock_guard<std::mutex> lock(mutex_);
  if (state_) state_->store->set_flushing(flushing);
}

void ElementSession::announce_stop() {
  std::optional<std::string> text;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (state_ && state_->runner && !state_->store->complete()) {
      state_->runner->mark_stop_announced();
      const std::string id = state_->runner->task_id();
      text = id.empty() ? "Stopped before the task was submitted"
                        : "Stopped waiting for task " + id +
                              "; it goes on at WaveSpeed: resume with request-id=" + id;
    }
  }
  if (text)  // said unlocked: the listener may read task_id()
    progress(ProgressType::Canceled, "poll", *text);
}

}  // namespace kling
