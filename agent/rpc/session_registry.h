// Tracks the threads serving connections, so shutdown can close their streams and wait for
// them. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>

#include "common/byte_stream.h"

namespace zrep {

class SessionRegistry {
 public:
  // Runs `fn` on a new detached thread that counts as live until it returns. Refused (returns
  // false) once stopping.
  bool spawn(std::function<void()> fn);
  // A stream to shut down at stop; remove it before destroying it.
  void add(ByteStream* stream);
  void remove(ByteStream* stream);
  // Shuts every registered stream down and refuses new threads.
  void stop();
  // Shuts down the registered streams `pred` picks (say, those of a revoked certificate);
  // returns how many.
  int close_if(const std::function<bool(ByteStream&)>& pred);
  // Waits until no session thread is left, or the timeout. True when all ended.
  bool wait_idle(std::chrono::milliseconds timeout);

 private:
  std::mutex mu_;
  std::condition_variable idle_;
  std::set<ByteStream*> streams_;
  int threads_ = 0;
  bool stopping_ = false;
};

// Registers a stream for the lifetime of a scope.
class ScopedStream {
 public:
  ScopedStream(SessionRegistry& r, ByteStream* s) : r_(r), s_(s) { r_.add(s_); }
  ~ScopedStream() { r_.remove(s_); }
  ScopedStream(const ScopedStream&) = delete;
  ScopedStream& operator=(const ScopedStream&) = delete;

 private:
  SessionRegistry& r_;
  ByteStream* s_;
};

}  // namespace zrep
