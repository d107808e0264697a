#include "agent/daemon/scheduler.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace zrep {
namespace {

// How often the list of mastered filesystems is read again (a new init, a failover, a clear).
constexpr std::chrono::seconds kRefreshEvery{10};
// How often queued recovery and fencing work is looked at.
constexpr std::chrono::seconds kSweepEvery{3};

}  // namespace

std::chrono::seconds retry_delay(std::chrono::seconds interval, int failures,
                                 std::chrono::seconds cap) {
  if (failures <= 0) return interval;
  auto delay = interval;
  for (int i = 1; i < failures && delay < cap; ++i) delay *= 2;
  return std::min(delay, cap);
}

std::vector<std::string> pick_runs(
    std::vector<std::pair<std::string, std::chrono::system_clock::time_point>> due, size_t running,
    size_t cap) {
  const size_t slots = running >= cap ? 0 : cap - running;
  std::stable_sort(due.begin(), due.end(),
                   [](const auto& a, const auto& b) { return a.second < b.second; });
  if (due.size() > slots) due.resize(slots);
  std::vector<std::string> out;
  for (auto& d : due) out.push_back(std::move(d.first));
  return out;
}

Scheduler::Scheduler(const Config& config, Replicator& replicator, SessionRegistry& sessions)
    : config_(config), replicator_(replicator), sessions_(sessions) {}

Scheduler::~Scheduler() { stop(); }

void Scheduler::start() {
  thread_ = std::thread([this] { loop(); });
}

void Scheduler::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Scheduler::peer_answers(const std::string& peer) {
  {
    std::lock_guard lk(mu_);
    const auto now = Clock::now();
    for (auto& [fs, e] : entries_) {
      if (e.peer != peer || e.failures == 0 || e.next_run <= now) continue;
      spdlog::info("scheduler: {} answers again; syncing {} now", peer, fs);
      e.next_run = now;
    }
  }
  wake_.notify_all();
}

void Scheduler::settings_changed() {
  {
    std::lock_guard lk(mu_);
    const auto now = Clock::now();
    next_refresh_ = {};
    for (auto& [fs, e] : entries_) {
      const auto interval = config_.interval_for(fs);
      if (e.running || e.failures > 0 || interval.count() == 0) continue;
      e.next_run = std::min(e.next_run, now + interval);
    }
  }
  wake_.notify_all();
}

void Scheduler::sweep(Clock::time_point now) {
  // Recovery of interrupted failovers and fencing checks: everything once at start, then what
  // was queued. On its own thread: it may wait for a peer.
  if (sweeping_ || now < next_sweep_) return;
  sweeping_ = true;
  const bool everything = !swept_once_;
  swept_once_ = true;
  next_sweep_ = now + kSweepEvery;
  bool started = sessions_.spawn([this, everything] {
    replicator_.sweep(everything);
    std::lock_guard lk(mu_);
    sweeping_ = false;
  });
  if (!started) sweeping_ = false;
}

void Scheduler::loop() {
  std::unique_lock lk(mu_);
  while (!stopping_) {
    auto now = Clock::now();
    sweep(now);
    if (now >= next_refresh_) {
      lk.unlock();
      refresh(now);
      lk.lock();
      next_refresh_ = now + kRefreshEvery;
    }
    lk.unlock();
    run_due(now);
    lk.lock();
    wake_.wait_for(lk, std::chrono::seconds(1), [this] { return stopping_; });
  }
}

void Scheduler::refresh(Clock::time_point now) {
  auto mastered = replicator_.mastered_filesystems();
  if (!mastered) {
    spdlog::warn("scheduler: cannot list filesystems: {}", mastered.error().message);
    return;
  }
  std::lock_guard lk(mu_);
  // Kept: what is still mastered and scheduled (a reload may have set its interval to 0), and
  // runs in flight.
  for (auto it = entries_.begin(); it != entries_.end();) {
    const bool kept =
        (mastered->contains(it->first) && config_.interval_for(it->first).count() > 0) ||
        it->second.running;
    it = kept ? std::next(it) : entries_.erase(it);
  }
  for (const auto& [fs, peer] : *mastered) {
    if (config_.interval_for(fs).count() == 0) continue;
    auto [it, added] = entries_.try_emplace(fs);
    it->second.peer = peer;
    if (added) {
      it->second.next_run = now;
      spdlog::info("scheduler: {} every {} s", fs, config_.interval_for(fs).count());
    }
  }
}

void Scheduler::run_due(Clock::time_point now) {
  std::vector<std::string> due;
  std::map<std::string, std::vector<std::string>> probes;  // peer -> its filesystems in backoff
  {
    std::lock_guard lk(mu_);
    size_t running = 0;
    for (auto& [fs, e] : entries_) {
      if (e.running) {
        ++running;
        continue;
      }
      if (now >= e.next_run) {
        due.push_back(fs);
      } else if (e.failures > 0 && now >= e.next_probe) {
        e.next_probe = now + config_.interval_for(fs);
        probes[e.peer].push_back(fs);
      }
      replicator_.note_schedule(fs, e.next_run, e.failures);
    }
    // At most max_parallel_syncs runs at once; the longest due go first, the rest wait for a
    // free slot (checked every second).
    std::vector<std::pair<std::string, Clock::time_point>> candidates;
    for (const auto& fs : due) candidates.emplace_back(fs, entries_[fs].next_run);
    due = pick_runs(std::move(candidates), running, config_.schedule_settings().max_parallel_syncs);
    for (const auto& fs : due) entries_[fs].running = true;
  }
  // A peer that answers again ends the backoff at once. Each peer is probed on a thread of its
  // own, one probe per peer at a time: a dead peer's connect timeout delays only its own
  // filesystems, never the due syncs or the probes of other peers.
  for (auto& [peer, filesystems] : probes) {
    {
      std::lock_guard lk(mu_);
      if (!probing_.insert(peer).second) continue;
    }
    bool started = sessions_.spawn(
        [this, peer = peer, filesystems = std::move(filesystems)] { probe(peer, filesystems); });
    if (!started) {
      std::lock_guard lk(mu_);
      probing_.erase(peer);
    }
  }
  for (const auto& fs : due) {
    bool started = sessions_.spawn([this, fs] {
      auto r = replicator_.sync_scheduled(fs);
      finished(fs, r.status());
    });
    if (!started) {
      std::lock_guard lk(mu_);
      entries_[fs].running = false;
    }
  }
}

void Scheduler::probe(const std::string& peer, const std::vector<std::string>& filesystems) {
  const bool answers = replicator_.probe_peer(peer);
  std::lock_guard lk(mu_);
  probing_.erase(peer);
  if (!answers || stopping_) return;
  const auto now = Clock::now();
  for (const auto& fs : filesystems) {
    auto it = entries_.find(fs);
    if (it == entries_.end() || it->second.running) continue;
    spdlog::info("scheduler: {} answers again; syncing {} now", peer, fs);
    it->second.next_run = now;  // the loop starts it within its next second
  }
}

void Scheduler::finished(const std::string& fs, const Status& result) {
  std::lock_guard lk(mu_);
  auto it = entries_.find(fs);
  if (it == entries_.end()) return;
  Entry& e = it->second;
  e.running = false;
  const auto now = Clock::now();
  const auto interval = config_.interval_for(fs);
  if (interval.count() == 0) {  // a reload took its schedule away while it ran
    entries_.erase(it);
    return;
  }
  const bool busy = !result && result.code() == ErrorCode::kBusy;
  if (result || busy) {
    // Done, or another run (a manual sync) was already at it: both count as up to date.
    e.failures = 0;
    e.next_run = now + interval;
  } else {
    ++e.failures;
    auto delay = retry_delay(interval, e.failures, config_.schedule_settings().max_backoff);
    e.next_run = now + delay;
    e.next_probe = now + interval;
    spdlog::warn("scheduler: sync of {} failed ({} in a row), next try in {} s: {}", fs, e.failures,
                 delay.count(), result.message());
  }
  replicator_.note_schedule(fs, e.next_run, e.failures);
}

}  // namespace zrep
