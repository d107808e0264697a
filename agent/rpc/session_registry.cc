#include "agent/rpc/session_registry.h"

#include <system_error>
#include <thread>

#include "crypto/tls.h"

namespace zrep {

bool SessionRegistry::spawn(std::function<void()> fn) {
  {
    std::lock_guard lk(mu_);
    if (stopping_) return false;
    ++threads_;
  }
  try {
    std::thread([this, fn = std::move(fn)]() mutable {
      fn();
      // Everything the thread holds goes before it counts as ended: the daemon may exit as soon
      // as the count is 0, before a detached thread's exit handlers run (OpenSSL's per-thread
      // random generators would be left behind).
      fn = nullptr;
      release_thread_tls_state();
      std::lock_guard lk(mu_);
      if (--threads_ == 0) idle_.notify_all();
    }).detach();
  } catch (const std::system_error&) {
    // Out of threads: refuse this connection rather than die.
    std::lock_guard lk(mu_);
    if (--threads_ == 0) idle_.notify_all();
    return false;
  }
  return true;
}

void SessionRegistry::add(ByteStream* stream) {
  std::lock_guard lk(mu_);
  streams_.insert(stream);
  if (stopping_) stream->close();
}

void SessionRegistry::remove(ByteStream* stream) {
  std::lock_guard lk(mu_);
  streams_.erase(stream);
}

void SessionRegistry::stop() {
  std::lock_guard lk(mu_);
  stopping_ = true;
  for (ByteStream* s : streams_) s->close();
}

int SessionRegistry::close_if(const std::function<bool(ByteStream&)>& pred) {
  std::lock_guard lk(mu_);
  int n = 0;
  for (ByteStream* s : streams_) {
    if (pred(*s)) {
      s->close();
      ++n;
    }
  }
  return n;
}

bool SessionRegistry::wait_idle(std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  return idle_.wait_for(lk, timeout, [this] { return threads_ == 0; });
}

}  // namespace zrep
