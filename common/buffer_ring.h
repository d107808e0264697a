// BufferRing: a fixed set of byte buffers shuttling between one producer thread and one
// consumer thread. `free` holds empty buffers, `full` filled ones in the order they were pushed.
//
// Only `depth` buffers ever exist, so memory stays flat whatever the stream's size, and a slow
// consumer pushes back on the producer (take_free blocks) instead of queueing without bound.
//
// Two ways to end: close() is the orderly one (the consumer still gets what is queued, then the
// end), stop() the abrupt one (both sides give up at once, queued buffers are not delivered).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <vector>

#include "common/result.h"

namespace zrep {

class BufferRing {
 public:
  explicit BufferRing(size_t depth);
  BufferRing(const BufferRing&) = delete;
  BufferRing& operator=(const BufferRing&) = delete;

  // Producer side.
  // Waits for an empty buffer. False once the ring is stopped.
  bool take_free(std::vector<uint8_t>& out);
  void push_full(std::vector<uint8_t> buffer);
  // No more buffers: the consumer drains what is queued, then sees the end. `end` is the
  // producer's reason to stop early (e.g. a read error), ok for a normal end.
  void close(Status end = Status::ok());

  // Consumer side.
  enum class Next { kBuffer, kEnd, kNothingYet };
  // Waits up to `wait` for a filled buffer. kEnd once the ring is stopped, or closed and drained.
  Next pop_full(std::vector<uint8_t>& out, std::chrono::milliseconds wait);
  // Waits for a filled buffer. False once the ring is stopped, or closed and drained.
  bool pop_full(std::vector<uint8_t>& out);
  // The consumer cannot go on: records why (see status()) and stops the ring.
  void fail(Status error);

  // Either side.
  // Returns a buffer to the free list (the consumer when done with it, or the producer with one
  // it did not fill).
  void give_back(std::vector<uint8_t> buffer);
  // Wakes every waiter; take_free and pop_full end at once, whatever is still queued.
  void stop();
  bool stopped();
  // The first error passed to close() or fail(), else ok.
  Status status();

 private:
  // These three with mu_ held.
  bool can_pop() const;
  Next pop_locked(std::vector<uint8_t>& out);
  void record(Status status);

  std::mutex mu_;
  std::condition_variable free_cv_;
  std::condition_variable full_cv_;
  std::deque<std::vector<uint8_t>> free_;
  std::deque<std::vector<uint8_t>> full_;
  bool closed_ = false;
  bool stopped_ = false;
  Status status_;
};

}  // namespace zrep
