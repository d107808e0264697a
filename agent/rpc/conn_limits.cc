#include "agent/rpc/conn_limits.h"

#include <algorithm>

namespace zrep {

SlotCounter::Slot::~Slot() { owner_->release(key_); }

std::shared_ptr<SlotCounter> SlotCounter::create(int global_limit, int per_key_limit) {
  return std::shared_ptr<SlotCounter>(new SlotCounter(global_limit, per_key_limit));
}

std::shared_ptr<SlotCounter::Slot> SlotCounter::try_acquire(const std::string& key, Refusal* why) {
  {
    std::lock_guard lk(mu_);
    Refusal refusal = Refusal::kNone;
    auto it = per_key_.find(key);
    if (total_ >= global_limit_) {
      refusal = Refusal::kGlobal;
    } else if (it != per_key_.end() && it->second >= per_key_limit_) {
      refusal = Refusal::kPerKey;
    }
    if (why != nullptr) *why = refusal;
    if (refusal != Refusal::kNone) return nullptr;
    ++total_;
    ++per_key_[key];
  }
  return std::shared_ptr<Slot>(new Slot(shared_from_this(), key));
}

void SlotCounter::release(const std::string& key) {
  std::lock_guard lk(mu_);
  --total_;
  auto it = per_key_.find(key);
  if (it != per_key_.end() && --it->second <= 0) per_key_.erase(it);
}

int SlotCounter::held() const {
  std::lock_guard lk(mu_);
  return total_;
}

int SlotCounter::held(const std::string& key) const {
  std::lock_guard lk(mu_);
  auto it = per_key_.find(key);
  return it == per_key_.end() ? 0 : it->second;
}

std::chrono::milliseconds AcceptBackoff::failed() {
  auto delay = next_;
  next_ = std::min(next_ * 2, max_);
  return delay;
}

bool LogThrottle::allow(Clock::time_point now, int* suppressed) {
  std::lock_guard lk(mu_);
  if (last_ && now - *last_ < every_) {
    ++suppressed_;
    return false;
  }
  last_ = now;
  if (suppressed != nullptr) *suppressed = suppressed_;
  suppressed_ = 0;
  return true;
}

}  // namespace zrep
