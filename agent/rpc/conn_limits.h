// Limits on connections: counted slots with a global cap and a cap per key (a source address, a
// peer's certificate name), and the back-off of an accept loop that ran out of descriptors.
//
// A SlotCounter is checked and counted in one step under its mutex, on the thread that admits
// the connection, so a burst cannot overshoot the caps; the slot is given back when its Slot
// handle is destroyed (on whatever thread that happens). Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace zrep {

class SlotCounter : public std::enable_shared_from_this<SlotCounter> {
 public:
  // A held slot; destroying it gives the slot back.
  class Slot {
   public:
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot();

   private:
    friend class SlotCounter;
    Slot(std::shared_ptr<SlotCounter> owner, std::string key)
        : owner_(std::move(owner)), key_(std::move(key)) {}
    std::shared_ptr<SlotCounter> owner_;
    std::string key_;
  };

  // Why try_acquire refused.
  enum class Refusal { kNone, kGlobal, kPerKey };

  // Must be owned by a shared_ptr (slots keep their counter alive).
  static std::shared_ptr<SlotCounter> create(int global_limit, int per_key_limit);

  // A slot for `key`, or null when `global_limit` slots are held in all or `per_key_limit`
  // for this key; `why` (optional) says which.
  std::shared_ptr<Slot> try_acquire(const std::string& key, Refusal* why = nullptr);

  int held() const;
  int held(const std::string& key) const;
  int global_limit() const { return global_limit_; }
  int per_key_limit() const { return per_key_limit_; }

 private:
  SlotCounter(int global_limit, int per_key_limit)
      : global_limit_(global_limit), per_key_limit_(per_key_limit) {}
  void release(const std::string& key);

  const int global_limit_, per_key_limit_;
  mutable std::mutex mu_;
  int total_ = 0;
  std::map<std::string, int> per_key_;  // only keys with a slot held
};

// Retry delays for an accept loop whose accept() fails for lack of resources (EMFILE, ENFILE,
// ENOBUFS, ENOMEM): doubling from `first` to `max`, back to `first` after a success. Used on
// one thread.
class AcceptBackoff {
 public:
  explicit AcceptBackoff(std::chrono::milliseconds first = std::chrono::milliseconds(100),
                         std::chrono::milliseconds max = std::chrono::milliseconds(1000))
      : first_(first), max_(max), next_(first) {}

  // A failure: the delay before the next accept.
  std::chrono::milliseconds failed();
  void succeeded() { next_ = first_; }

 private:
  std::chrono::milliseconds first_, max_, next_;
};

// Lets one log message through per `every`, counting those it swallowed, so that a flood of
// connections cannot flood the log. Thread-safe.
class LogThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  explicit LogThrottle(std::chrono::milliseconds every = std::chrono::milliseconds(1000))
      : every_(every) {}
  // True when a message may be logged at `now`; then `suppressed` (optional) gets how many
  // were swallowed since the last one let through.
  bool allow(Clock::time_point now, int* suppressed = nullptr);
  bool allow(int* suppressed = nullptr) { return allow(Clock::now(), suppressed); }

 private:
  std::mutex mu_;
  std::chrono::milliseconds every_;
  std::optional<Clock::time_point> last_;
  int suppressed_ = 0;
};

}  // namespace zrep
