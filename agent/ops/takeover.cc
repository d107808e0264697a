// takeover on the standby: a planned one asks the master (a failover it coordinates); a
// forced one (--force, the master is gone) promotes the last received snapshot here, one epoch
// up, in three steps the sweep finishes or forgets after a crash.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "agent/fault/fault.h"
#include "agent/logic/records.h"
#include "agent/logic/role_switch.h"
#include "agent/logic/zfs_names.h"
#include "agent/logic/zrep_props.h"
#include "agent/ops/replicator.h"
#include "agent/roles/switch_steps.h"
#include "common/unix_time.h"

namespace zrep {

Result<TakeoverOutcome> Replicator::takeover(const control::TakeoverCommand& cmd,
                                             const ProgressSink& progress) {
  const std::string& fs = cmd.fs();
  auto managed = managed_filesystems({fs});
  if (!managed) return managed.error();
  const auto p = managed->at(fs);
  if (props::get(p, props::kMaster) == "yes") {
    return make_error(ErrorCode::kConflict,
                      fs + " is already the master on " + config_.host +
                          "; takeover runs on the standby (use 'failover' to hand the role over)");
  }
  const std::string master_host = props::get(p, props::kSrcHost);
  const std::string master_fs = props::get(p, props::kSrcFs);
  (void)progress;
  if (!cmd.force()) {
    auto done = ask_master(fs, p, "");
    if (!done) return done.error();
    return TakeoverOutcome(std::move(*done));
  }

  // Forced: the master is gone. Promote the last received snapshot here, one epoch up.
  auto held = lock(fs, "takeover");
  if (!held) return held.error();
  if (auto probe = connect(master_host); probe) {
    return make_error(ErrorCode::kConflict,
                      master_host +
                          " answers: a forced takeover would throw away what it has not "
                          "sent yet. Run 'zrep-agent takeover " +
                          fs + "' (a planned failover) instead, or stop its agent first");
  }
  auto fresh = zfs_.get_props(fs, props::filesystem_props());
  if (!fresh) return fresh.error();
  uint64_t epoch = effective_epoch(*fresh);
  if (!props::get(*fresh, props::kSwitch).empty()) {
    // A planned switch stopped half-way: a committed one is finished, an uncommitted one is
    // superseded by this takeover.
    auto j = parse_journal(props::get(*fresh, props::kSwitch));
    if (j && j->new_host == config_.host && epoch >= j->epoch) {
      ZREP_RETURN_IF_ERROR(finish_new_master(zfs_, *j));
      return TakeoverOutcome(takeover_result(fs, config_.host, epoch));
    }
    ZREP_RETURN_IF_ERROR(zfs_.inherit_prop(fs, props::kSwitch));
  }
  auto snaps = zfs_.list_snapshots(fs);
  if (!snaps) return snaps.error();
  if (snaps->empty()) {
    return make_error(ErrorCode::kNotFound, fs + " has no snapshot to take over at");
  }
  const SnapshotInfo& last = snaps->back();
  auto next_or = next_epoch(epoch);
  if (!next_or) return next_or.error();
  const uint64_t next = *next_or;
  // Three steps, so a crash anywhere is finished or forgotten by the sweep
  // (finish_forced_takeover): the intent, the commit (the new epoch), the master role.
  ZREP_RETURN_IF_ERROR(zfs_.set_prop(fs, props::kTakeover,
                                     format_takeover({unix_now(), next, master_host, master_fs,
                                                      std::string(snap_part_of(last.name))})));
  ZREP_RETURN_IF_ERROR(zfs_.rollback(last.name, false));
  ZREP_RETURN_IF_ERROR(zfs_.set_prop(fs, props::kEpoch, std::to_string(next)));
  fault_point("forced-committed");
  auto finished = finish_forced_takeover(zfs_, config_.host, fs);
  if (!finished) return finished.error();
  spdlog::warn(
      "FORCED TAKEOVER: {} is the master on {} at epoch {}, from {} (last received); "
      "{} will demote itself when it comes back",
      fs, config_.host, next, last.name, master_host);
  control::TakeoverResult out = takeover_result(fs, config_.host, next);
  out.set_forced(true);
  out.set_snapshot(last.name);
  out.set_old_master(master_host);
  return TakeoverOutcome(std::move(out));
}

}  // namespace zrep
