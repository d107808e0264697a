#include "agent/logic/lock_table.h"

#include <algorithm>
#include <ctime>

namespace zrep {

Status LockTable::acquire(const std::string& fs, const LockOwner& owner, std::chrono::seconds lease,
                          Steady::time_point now, std::chrono::seconds max_hold) {
  std::lock_guard lk(mu_);
  return acquire_locked(fs, owner, lease, now, max_hold);
}

Status LockTable::acquire_waiting(const std::string& fs, const LockOwner& owner,
                                  std::chrono::seconds lease, std::chrono::milliseconds wait,
                                  const std::function<bool(const LockInfo&)>& may_wait_for) {
  std::unique_lock lk(mu_);
  const auto deadline = Steady::now() + wait;
  for (;;) {
    const auto now = Steady::now();
    Status got = acquire_locked(fs, owner, lease, now, std::chrono::seconds(0));
    if (got || now >= deadline) return got;
    auto it = locks_.find(fs);
    if (it == locks_.end() || it->second.expires <= now || !may_wait_for(it->second)) return got;
    released_.wait_until(lk, std::min(deadline, it->second.expires));
  }
}

Status LockTable::acquire_locked(const std::string& fs, const LockOwner& owner,
                                 std::chrono::seconds lease, Steady::time_point now,
                                 std::chrono::seconds max_hold) {
  auto expires = lease.count() > 0 ? now + lease : Steady::time_point::max();
  auto it = locks_.find(fs);
  if (it != locks_.end() && it->second.expires > now && it->second.owner.token != owner.token) {
    return make_error(ErrorCode::kBusy, "busy: " + describe_holder(fs, here_, it->second));
  }
  if (it != locks_.end() && it->second.owner.token == owner.token && it->second.expires > now) {
    it->second.expires = std::min(expires, it->second.limit);
    return Status::ok();
  }
  if (it != locks_.end() && it->second.limit != Steady::time_point::max() &&
      it->second.limit <= now) {
    // Its holder sat on it until the limit: others get the next max_hold, or a peer that takes
    // the lock again at once would hold it for ever after all.
    barred_[fs] = Bar{it->second.owner.host, it->second.limit + it->second.max_hold};
  }
  if (auto bar = barred_.find(fs); bar != barred_.end()) {
    if (bar->second.until <= now) {
      barred_.erase(bar);
    } else if (bar->second.host == owner.host && max_hold.count() > 0) {
      return make_error(ErrorCode::kBusy,
                        "busy: " + owner.host + " held " + fs +
                            (here_.empty() ? "" : " on " + here_) + " for the longest it may (" +
                            std::to_string(max_hold.count()) + " s); it may lock it again " +
                            std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                               bar->second.until - now)
                                               .count()) +
                            " s from now");
    }
  }
  const auto limit = max_hold.count() > 0 ? now + max_hold : Steady::time_point::max();
  locks_[fs] =
      LockInfo{owner, std::chrono::system_clock::now(), std::min(expires, limit), limit, max_hold};
  return Status::ok();
}

void LockTable::renew(const std::string& token, std::chrono::seconds lease,
                      Steady::time_point now) {
  std::lock_guard lk(mu_);
  for (auto& [fs, info] : locks_) {
    if (info.owner.token != token || info.expires <= now) continue;
    info.expires =
        std::min(lease.count() > 0 ? now + lease : Steady::time_point::max(), info.limit);
  }
}

void LockTable::release(const std::string& fs, const std::string& token) {
  std::lock_guard lk(mu_);
  auto it = locks_.find(fs);
  if (it != locks_.end() && it->second.owner.token == token) {
    locks_.erase(it);
    released_.notify_all();
  }
}

std::vector<std::string> LockTable::release_all(const std::vector<std::string>& tokens) {
  std::lock_guard lk(mu_);
  std::vector<std::string> released;
  for (auto it = locks_.begin(); it != locks_.end();) {
    if (std::find(tokens.begin(), tokens.end(), it->second.owner.token) != tokens.end()) {
      released.push_back(it->first);
      it = locks_.erase(it);
    } else {
      ++it;
    }
  }
  if (!released.empty()) released_.notify_all();
  return released;
}

std::string LockTable::new_token() {
  std::lock_guard lk(mu_);
  return "local-" + std::to_string(next_token_++);
}

std::optional<LockInfo> LockTable::holder(const std::string& fs, Steady::time_point now) {
  std::lock_guard lk(mu_);
  auto it = locks_.find(fs);
  if (it == locks_.end() || it->second.expires <= now) return std::nullopt;
  return it->second;
}

std::string describe_holder(const std::string& fs, const std::string& here, const LockInfo& info) {
  std::time_t t = std::chrono::system_clock::to_time_t(info.since);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char when[32];
  std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
  std::string out = fs + (here.empty() ? "" : " on " + here) + " is locked by " + info.owner.host +
                    " (agent " + info.owner.instance + ") for '" + info.owner.operation +
                    "' since " + when;
  return out;
}

}  // namespace zrep
