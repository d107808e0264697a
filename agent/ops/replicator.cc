// The core of Replicator: its construction, this daemon's per-filesystem locks and what it
// remembers of each filesystem (FsRecord), which filesystems zrep manages here, and the
// pairing properties a master records.
#include "agent/ops/replicator.h"

#include <algorithm>
#include <thread>

#include "agent/logic/metric_names.h"
#include "agent/logic/records.h"
#include "agent/logic/retention.h"
#include "agent/logic/role_switch.h"
#include "agent/logic/zfs_names.h"
#include "agent/logic/zrep_props.h"
#include "common/metrics.h"

namespace zrep {
namespace {

using Clock = std::chrono::system_clock;

}  // namespace

Replicator::FsLock::~FsLock() {
  if (r_ == nullptr) return;
  std::lock_guard lk(r_->mu_);
  r_->records_[fs_].running.clear();
}

Replicator::LockedPeer::~LockedPeer() {
  if (client) (void)client->lock(fs, "", token, true);
}

Replicator::Replicator(const Config& config, const Zfs& zfs, TlsContext& tls,
                       std::string instance_id, LockTable& locks, SessionRegistry* sessions,
                       LinkHub* links)
    : config_(config),
      zfs_(zfs),
      tls_(tls),
      instance_id_(std::move(instance_id)),
      sessions_(sessions),
      links_(links),
      locks_(locks) {}

Result<Replicator::FsLock> Replicator::lock(const std::string& fs, const std::string& operation) {
  std::string token = locks_.new_token();
  const LockOwner me{config_.host, instance_id_, operation, token};
  // This daemon's own background checks (recovery, fencing) hold a lock for a moment: wait
  // for them (up to 20 s, woken when they release it) rather than refuse a command as busy.
  // Anything else is refused at once.
  Status got = locks_.acquire_waiting(
      fs, me, std::chrono::seconds(0), std::chrono::seconds(20), [this](const LockInfo& h) {
        return h.owner.instance == instance_id_ &&
               (h.owner.operation == "recover" || h.owner.operation == "fence");
      });
  ZREP_RETURN_IF_ERROR(got);
  std::lock_guard lk(mu_);
  FsRecord& rec = records_[fs];
  rec.running = operation;
  rec.running_since = Clock::now();
  return FsLock(this, fs, HeldLock(&locks_, fs, token));
}

Error Replicator::failed(const std::string& fs, const Error& e) {
  record_result(fs, e, 0, 0);
  return e;
}

std::string Replicator::last_error_of(const std::string& fs) {
  std::lock_guard lk(mu_);
  auto it = records_.find(fs);
  return it == records_.end() || it->second.last_error.empty() ? "none recorded"
                                                               : it->second.last_error;
}

void Replicator::record_result(const std::string& fs, const Status& status, uint64_t bytes,
                               double seconds) {
  auto& m = metrics::Registry::global();
  if (status) {
    m.add(metric::kSyncs, {{"fs", fs}});
    m.add(metric::kSentBytes, {{"fs", fs}}, static_cast<double>(bytes));
    m.observe(metric::kSyncDuration, {{"fs", fs}}, seconds);
  } else {
    m.add(metric::kSyncFailures,
          {{"fs", fs}, {"reason", std::string(error_code_name(status.code()))}});
  }
  std::lock_guard lk(mu_);
  FsRecord& rec = records_[fs];
  if (status) {
    rec.last_success = Clock::now();
    rec.last_bytes = bytes;
    rec.last_seconds = seconds;
    rec.last_error.clear();
    rec.last_error_time.reset();
  } else {
    rec.last_error = status.message();
    rec.last_error_code = status.code();
    rec.last_error_time = Clock::now();
  }
}

Result<std::map<std::string, std::map<std::string, std::string>>> Replicator::managed_filesystems(
    const std::vector<std::string>& only) {
  for (const auto& fs : only) ZREP_RETURN_IF_ERROR(validate_dataset_name(fs));
  auto found = zfs_.find_local_props(props::filesystem_props());
  if (!found) return found.error();
  std::map<std::string, std::map<std::string, std::string>> out;
  for (auto& [name, p] : *found) {
    // A filesystem is this host's when it masters it as the source, or holds it as the
    // destination. (Several "hosts" may share one ZFS, as in the tests; and a pairing's
    // properties name both hosts.)
    bool master = props::get(p, props::kMaster) == "yes";
    std::string owner = master ? props::get(p, props::kSrcHost) : props::get(p, props::kDestHost);
    // A demoted old master is this host's whatever a demotion cut short left in its pairing.
    if (!props::get(p, props::kFenced).empty()) {
      owner = parse_fenced(props::get(p, props::kFenced)).by != config_.host ? config_.host : "";
    }
    if (owner != config_.host) continue;
    if (!only.empty() && std::find(only.begin(), only.end(), name) == only.end()) continue;
    out[name] = std::move(p);
  }
  for (const auto& fs : only) {
    if (!out.contains(fs)) {
      return make_error(ErrorCode::kNotFound, fs + " is not replicated by zrep on " + config_.host);
    }
  }
  return out;
}

Result<std::map<std::string, std::string>> Replicator::mastered_filesystems() {
  auto managed = managed_filesystems({});
  if (!managed) return managed.error();
  std::map<std::string, std::string> out;
  for (const auto& [fs, p] : *managed) {
    if (props::get(p, props::kMaster) == "yes" && props::get(p, props::kMemberOf).empty()) {
      out[fs] = props::get(p, props::kDestHost);  // members of a recursive pairing go with it
    }
  }
  return out;
}

void Replicator::note_schedule(const std::string& fs, Clock::time_point next_run, int failures) {
  std::lock_guard lk(mu_);
  FsRecord& rec = records_[fs];
  rec.next_run = next_run;
  rec.failures_in_a_row = failures;
}

peer::Pairing Replicator::make_pairing(const std::string& fs, const std::string& dest_host,
                                       const std::string& dest_fs, const props::PropMap& p) const {
  peer::Pairing pairing;
  pairing.set_src_fs(fs);
  pairing.set_src_host(config_.host);
  pairing.set_dest_fs(dest_fs);
  pairing.set_dest_host(dest_host);
  pairing.set_savecount(parse_savecount(props::get(p, props::kSavecount)).is_ok()
                            ? *parse_savecount(props::get(p, props::kSavecount))
                            : props::kDefaultSavecount);
  pairing.set_epoch(effective_epoch(p));
  return pairing;
}

Status Replicator::write_master_pairing(const peer::Pairing& pairing) {
  const std::string& fs = pairing.src_fs();
  ZREP_RETURN_IF_ERROR(
      write_pairing(zfs_, fs,
                    {fs, pairing.src_host(), pairing.dest_fs(), pairing.dest_host(),
                     std::to_string(pairing.savecount()), std::to_string(pairing.epoch())},
                    PairingOrder::kEpochLast));
  return zfs_.set_prop(fs, props::kMaster, "yes");
}

}  // namespace zrep
