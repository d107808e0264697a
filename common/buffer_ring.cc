#include "common/buffer_ring.h"

#include <algorithm>
#include <utility>

namespace zrep {

BufferRing::BufferRing(size_t depth) : free_(std::max<size_t>(depth, 1)) {}

bool BufferRing::take_free(std::vector<uint8_t>& out) {
  std::unique_lock lock(mu_);
  free_cv_.wait(lock, [&] { return stopped_ || !free_.empty(); });
  if (stopped_) return false;
  out = std::move(free_.front());
  free_.pop_front();
  return true;
}

void BufferRing::push_full(std::vector<uint8_t> buffer) {
  std::lock_guard lock(mu_);
  full_.push_back(std::move(buffer));
  full_cv_.notify_one();
}

void BufferRing::close(Status end) {
  std::lock_guard lock(mu_);
  record(std::move(end));
  closed_ = true;
  full_cv_.notify_all();
}

BufferRing::Next BufferRing::pop_full(std::vector<uint8_t>& out, std::chrono::milliseconds wait) {
  std::unique_lock lock(mu_);
  full_cv_.wait_for(lock, wait, [&] { return can_pop(); });
  return pop_locked(out);
}

bool BufferRing::pop_full(std::vector<uint8_t>& out) {
  std::unique_lock lock(mu_);
  full_cv_.wait(lock, [&] { return can_pop(); });
  return pop_locked(out) == Next::kBuffer;
}

void BufferRing::fail(Status error) {
  std::lock_guard lock(mu_);
  record(std::move(error));
  stopped_ = true;
  free_cv_.notify_all();
  full_cv_.notify_all();
}

void BufferRing::give_back(std::vector<uint8_t> buffer) {
  std::lock_guard lock(mu_);
  free_.push_back(std::move(buffer));
  free_cv_.notify_one();
}

void BufferRing::stop() {
  std::lock_guard lock(mu_);
  stopped_ = true;
  free_cv_.notify_all();
  full_cv_.notify_all();
}

bool BufferRing::stopped() {
  std::lock_guard lock(mu_);
  return stopped_;
}

Status BufferRing::status() {
  std::lock_guard lock(mu_);
  return status_;
}

bool BufferRing::can_pop() const { return stopped_ || closed_ || !full_.empty(); }

BufferRing::Next BufferRing::pop_locked(std::vector<uint8_t>& out) {
  if (stopped_) return Next::kEnd;
  if (!full_.empty()) {
    out = std::move(full_.front());
    full_.pop_front();
    return Next::kBuffer;
  }
  return closed_ ? Next::kEnd : Next::kNothingYet;
}

// The first error wins: a later close() after the consumer failed must not hide the failure.
void BufferRing::record(Status status) {
  if (status_ && !status) status_ = std::move(status);
}

}  // namespace zrep
