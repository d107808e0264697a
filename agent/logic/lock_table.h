// Per-filesystem locks of one daemon, shared by its own operations (sync, failover, expire...)
// and the requests its peers make (receive, failover steps). A lock has an owner (host, agent
// instance, operation) and a lease: a holder that vanishes without releasing it (its
// connection cut silently) loses it when the lease runs out. A peer session's locks are also
// released the moment the session ends, so an agent killed with SIGKILL frees them at once.
//
// Thread-safe. Pure bookkeeping: no I/O.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"

namespace zrep {

struct LockOwner {
  std::string host;       // who asked: this host, or the peer of a session
  std::string instance;   // that agent's instance id (random per daemon start)
  std::string operation;  // "sync", "failover", ...
  std::string token;      // unique per acquisition; the same token renews
};

struct LockInfo {
  LockOwner owner;
  std::chrono::system_clock::time_point since;
  std::chrono::steady_clock::time_point expires;  // steady_clock::time_point::max(): no lease
  // No renewal extends the lock past this (max(): no limit).
  std::chrono::steady_clock::time_point limit = std::chrono::steady_clock::time_point::max();
  std::chrono::seconds max_hold{0};  // what set `limit` (0: none)
};

class LockTable {
 public:
  using Steady = std::chrono::steady_clock;
  explicit LockTable(std::string here) : here_(std::move(here)) {}

  // Takes `fs` for `owner` until released or `lease` passes without a renewal (lease 0: until
  // released). The same token renews. kConflict naming the holder when someone else holds it.
  // With max_hold > 0 the lock ends max_hold after it was first taken, whatever renews it, and
  // an owner host that kept it that long (never released it) may not take it again with a
  // limit for another max_hold, so others get their turn.
  Status acquire(const std::string& fs, const LockOwner& owner, std::chrono::seconds lease,
                 Steady::time_point now = Steady::now(),
                 std::chrono::seconds max_hold = std::chrono::seconds(0));
  // As acquire (without max_hold), but while fs is held by a holder `may_wait_for` accepts,
  // waits for it: woken by each release, or when that holder's lease runs out, until `wait`
  // has passed. A holder it does not accept is refused at once, as acquire does.
  Status acquire_waiting(const std::string& fs, const LockOwner& owner, std::chrono::seconds lease,
                         std::chrono::milliseconds wait,
                         const std::function<bool(const LockInfo&)>& may_wait_for);
  // Renews every lock held with `token`; with lease 0 they do not expire until renewed again.
  void renew(const std::string& token, std::chrono::seconds lease,
             Steady::time_point now = Steady::now());
  void release(const std::string& fs, const std::string& token);
  // Releases every lock held with one of `tokens` (a peer session ended). Returns the filesystems.
  std::vector<std::string> release_all(const std::vector<std::string>& tokens);
  // A token no other acquisition in this daemon uses.
  std::string new_token();
  // The live holder of fs, if any.
  std::optional<LockInfo> holder(const std::string& fs, Steady::time_point now = Steady::now());

 private:
  Status acquire_locked(const std::string& fs, const LockOwner& owner, std::chrono::seconds lease,
                        Steady::time_point now, std::chrono::seconds max_hold);

  const std::string here_;  // this host's name, for messages
  std::mutex mu_;
  std::condition_variable released_;  // notified whenever a lock is released
  std::map<std::string, LockInfo> locks_;
  // A host that sat on its lock of fs until the limit may not lock fs again until `until`,
  // whoever held fs in between (kept apart from locks_, which the next holder overwrites).
  struct Bar {
    std::string host;
    Steady::time_point until;
  };
  std::map<std::string, Bar> barred_;
  uint64_t next_token_ = 1;  // guarded by mu_
};

// "fs on HOST is locked by PEER (agent ID) for 'failover' since 12:00:01 UTC"
std::string describe_holder(const std::string& fs, const std::string& here, const LockInfo& info);

// Releases a lock at the end of a scope.
class HeldLock {
 public:
  HeldLock() = default;
  HeldLock(LockTable* table, std::string fs, std::string token)
      : table_(table), fs_(std::move(fs)), token_(std::move(token)) {}
  HeldLock(HeldLock&& o) noexcept
      : table_(std::exchange(o.table_, nullptr)),
        fs_(std::move(o.fs_)),
        token_(std::move(o.token_)) {}
  HeldLock& operator=(HeldLock&& o) noexcept {
    if (this != &o) {
      reset();
      table_ = std::exchange(o.table_, nullptr);
      fs_ = std::move(o.fs_);
      token_ = std::move(o.token_);
    }
    return *this;
  }
  HeldLock(const HeldLock&) = delete;
  HeldLock& operator=(const HeldLock&) = delete;
  ~HeldLock() { reset(); }
  void reset() {
    if (table_ != nullptr) table_->release(fs_, token_);
    table_ = nullptr;
  }
  const std::string& token() const { return token_; }

 private:
  LockTable* table_ = nullptr;
  std::string fs_;
  std::string token_;
};

}  // namespace zrep
