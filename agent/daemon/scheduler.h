// Automatic replication: syncs every filesystem this host masters at its interval
// (sync_interval, or a [[filesystem]] override), one run per filesystem at a time and at most
// max_parallel_syncs runs at once (the longest due first).
//
// When runs fail (peer down, WAN down) the retry delay doubles up to max_backoff; meanwhile a
// cheap reachability check (TCP + TLS + Hello, no snapshot) runs every interval, and the moment
// the peer answers the next sync runs at once. A failing run makes no snapshot before the peer
// answered, and at most max_unsent snapshots pile up (Replicator::choose_snapshot), so a day
// with the link down leaves the pool as it was.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "agent/config/config.h"
#include "agent/ops/replicator.h"
#include "agent/rpc/session_registry.h"

namespace zrep {

// The delay before retry number `failures` (1 = after the first failure): the interval,
// doubled per further failure, capped. Pure.
std::chrono::seconds retry_delay(std::chrono::seconds interval, int failures,
                                 std::chrono::seconds cap);

// Which of the due filesystems (with the time each became due) start now, with `running` runs
// going and at most `cap` at once: the longest due first. Pure.
std::vector<std::string> pick_runs(
    std::vector<std::pair<std::string, std::chrono::system_clock::time_point>> due, size_t running,
    size_t cap);

class Scheduler {
 public:
  Scheduler(const Config& config, Replicator& replicator, SessionRegistry& sessions);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Starts the loop: scheduled syncs (when any filesystem has an interval), and recovery of
  // interrupted failovers and fencing checks (always; see Replicator::sweep).
  void start();
  void stop();  // returns once the loop ended (runs in flight end with the sessions)
  // `peer` is reachable again (a link came up): its failing filesystems run now.
  void peer_answers(const std::string& peer);
  // The config was reloaded: reads the filesystems and their intervals again at once; a run
  // due later than one new interval from now is due then.
  void settings_changed();

 private:
  using Clock = std::chrono::system_clock;
  struct Entry {
    std::string peer;
    Clock::time_point next_run;
    Clock::time_point next_probe;
    int failures = 0;
    bool running = false;
  };

  void loop();
  void sweep(Clock::time_point now);  // with mu_ held
  void refresh(Clock::time_point now);
  void run_due(Clock::time_point now);
  void finished(const std::string& fs, const Status& result);
  // On a thread of its own: is `peer` back? Then its filesystems run now.
  void probe(const std::string& peer, const std::vector<std::string>& filesystems);

  const Config& config_;
  Replicator& replicator_;
  SessionRegistry& sessions_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::map<std::string, Entry> entries_;  // guarded by mu_
  Clock::time_point next_refresh_{};
  Clock::time_point next_sweep_{};
  std::set<std::string> probing_;  // peers probed right now; guarded by mu_
  bool sweeping_ = false;          // guarded by mu_
  bool swept_once_ = false;        // guarded by mu_
  std::thread thread_;
};

}  // namespace zrep
