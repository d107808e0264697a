// Planned failover, coordinated by the master: the command on either host (a standby asks its
// master), the checks of both sides, the journal, the final incremental or the failover at a
// named snapshot, and the prepare/commit steps on the standby. The ZFS steps both hosts run
// are in agent/roles/switch_steps.h; agent/FAILOVER.md describes the state machine.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "agent/fault/fault.h"
#include "agent/logic/records.h"
#include "agent/logic/role_switch.h"
#include "agent/logic/snapshots.h"
#include "agent/logic/sync_plan.h"
#include "agent/logic/zfs_names.h"
#include "agent/logic/zrep_props.h"
#include "agent/ops/replicator.h"
#include "agent/roles/switch_steps.h"
#include "agent/rpc/wire.h"
#include "common/sanitize.h"
#include "common/unix_time.h"

namespace zrep {
namespace {

// The destination must be the standby of fs here, with no switch of its own, at fs's epoch.
Status check_standby(const std::string& here, const std::string& fs,
                     const peer::DescribeReply& remote, const std::string& dest_host,
                     const std::string& dest_fs, uint64_t epoch) {
  props::PropMap rp(remote.props().begin(), remote.props().end());
  if (props::get(rp, props::kSrcHost) != here || props::get(rp, props::kSrcFs) != fs ||
      props::get(rp, props::kMaster) == "yes") {
    return make_error(ErrorCode::kConflict, dest_fs + " on " + dest_host +
                                                " is not the standby of " + here + ":" + fs +
                                                "; nothing was changed");
  }
  if (!props::get(rp, props::kSwitch).empty()) {
    return make_error(ErrorCode::kConflict,
                      dest_fs + " on " + dest_host + " records an unfinished switch (" +
                          props::get(rp, props::kSwitch) +
                          "); its agent resolves it by itself. Try again in a few seconds");
  }
  if (effective_epoch(rp) != epoch) {
    return make_error(ErrorCode::kConflict, dest_fs + " on " + dest_host + " is at epoch " +
                                                props::get(rp, props::kEpoch) + ", " + fs +
                                                " here at " + std::to_string(epoch));
  }
  return Status::ok();
}

// The standby prepares the switch, then commits it: from the commit on, it is the master.
Status prepare_and_commit(PeerClient& peer, const std::string& dest_fs, const SwitchJournal& j) {
  peer::SwitchRequest step;
  step.set_fs(dest_fs);
  step.set_journal(format_journal(j));
  step.set_step(peer::SwitchRequest::PREPARE);
  if (auto r = peer.switch_step(step); !r) return r.error();
  fault_point("prepared");
  step.set_step(peer::SwitchRequest::COMMIT);
  if (auto r = peer.switch_step(step); !r) return r.error();
  fault_point("committed");
  return Status::ok();
}

// After a failover at a named snapshot: where the old master kept what it held after it.
std::optional<std::string> newer_kept_in(const Zfs& zfs, const std::string& fs, uint64_t epoch) {
  auto kept = zfs.get_props(fs, {props::kKept});
  const auto rec = parse_kept(kept ? props::get(*kept, props::kKept) : std::string());
  if (rec && rec->epoch == epoch) return rec->aside;
  return std::nullopt;
}

}  // namespace

FailoverOutcome failover_outcome_from_peer(const peer::TakeoverReply& reply) {
  FailoverOutcome done{.fs = sanitize_peer_text(reply.fs()),
                       .old_master = sanitize_peer_text(reply.old_master()),
                       .new_master = sanitize_peer_text(reply.new_master()),
                       .new_master_fs = sanitize_peer_text(reply.new_master_fs()),
                       .epoch = reply.epoch(),
                       .snapshot = sanitize_peer_text(reply.snapshot()),
                       .bytes = reply.bytes(),
                       .seconds = reply.seconds(),
                       .newer_kept_in = std::nullopt};
  if (reply.has_newer_kept_in()) done.newer_kept_in = sanitize_peer_text(reply.newer_kept_in());
  return done;
}

// What a planned failover does, decided before anything changes.
struct Replicator::FailoverPlan {
  std::string fs, dest_host, dest_fs;
  std::string snapshot;  // the named snapshot it fails over at (its part), or empty
  std::string at;        // fs@snapshot, or empty: a final incremental goes first
  SwitchJournal j;
  std::vector<SnapshotInfo> local, there;  // both sides' snapshots
};

Result<control::FailoverResult> Replicator::failover(const control::FailoverCommand& cmd,
                                                     const ProgressSink& progress) {
  const std::string& fs = cmd.fs();
  auto managed = managed_filesystems({fs});
  if (!managed) return managed.error();
  const auto& p = managed->at(fs);
  if (props::get(p, props::kMaster) == "yes") {
    auto done = run_failover(fs, cmd.snapshot(), progress);
    if (!done) return done.error();
    return failover_result(*done);
  }
  // On the standby: the master coordinates every switch; ask it.
  return ask_master(fs, p, cmd.snapshot());
}

Result<control::FailoverResult> Replicator::ask_master(const std::string& fs,
                                                       const props::PropMap& p,
                                                       const std::string& snapshot) {
  const std::string master_host = props::get(p, props::kSrcHost);
  auto peer = connect(master_host);
  if (!peer) {
    return Status(peer.error())
        .with_context("a planned failover of " + fs + " needs its master " + master_host +
                      " (when it is down for good, 'takeover --force' promotes this copy)");
  }
  peer::TakeoverRequest req;
  req.set_fs(props::get(p, props::kSrcFs));
  req.set_snapshot(snapshot);
  auto reply = (*peer)->takeover(req, std::chrono::hours(24));
  if (!reply) return reply.error();
  return failover_result(failover_outcome_from_peer(*reply));
}

Result<FailoverOutcome> Replicator::failover_for_peer(const std::string& fs,
                                                      const std::string& snapshot,
                                                      const std::string& requester) {
  ZREP_RETURN_IF_ERROR(validate_dataset_name(fs));
  auto p = zfs_.get_props(fs, props::filesystem_props());
  if (!p) return p.error();
  if (props::get(*p, props::kMaster) != "yes") {
    return make_error(ErrorCode::kConflict,
                      fs + " is not the master on " + config_.host + "; nothing to take over");
  }
  if (props::get(*p, props::kDestHost) != requester) {
    return make_error(ErrorCode::kPermissionDenied,
                      fs + " on " + config_.host + " replicates to '" +
                          props::get(*p, props::kDestHost) + "', not to '" + requester + "'");
  }
  spdlog::info("{} asks for a planned failover of {}", requester, fs);
  return run_failover(fs, snapshot, {});
}

Status Replicator::failover_refusal(const std::string& fs, const props::PropMap& p) {
  if (props::get(p, props::kMaster) != "yes") {
    return make_error(ErrorCode::kConflict, fs + " is not the master on " + config_.host);
  }
  if (props::get(p, props::kRecursive) == "yes" || !props::get(p, props::kMemberOf).empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      fs + " is part of a recursive pairing; failing a tree over is not "
                           "supported yet. Nothing was changed");
  }
  if (!props::get(p, props::kSwitch).empty()) {
    auto r = recover_locked(fs, nullptr);
    return make_error(ErrorCode::kConflict, fs + " had an unfinished failover; recovery: " +
                                                (r ? *r : r.error().message) +
                                                ". Run the failover again if still wanted");
  }
  return Status::ok();
}

Result<FailoverOutcome> Replicator::run_failover(const std::string& fs, const std::string& snapshot,
                                                 const ProgressSink& progress) {
  auto held = lock(fs, "failover");
  if (!held) return held.error();
  auto started = std::chrono::steady_clock::now();
  auto p = zfs_.get_props(fs, props::filesystem_props());
  if (!p) return p.error();
  ZREP_RETURN_IF_ERROR(failover_refusal(fs, *p));
  const std::string dest_host = props::get(*p, props::kDestHost);
  const std::string dest_fs = props::get(*p, props::kDestFs);
  const uint64_t epoch = effective_epoch(*p);

  auto peer = connect_locked(dest_host, dest_fs, "failover");
  if (!peer) return Status(peer.error()).with_context("failover of " + fs);
  auto remote = describe_pair(**peer, fs, *p, dest_fs);
  if (!remote) return remote.error();
  if (!remote->exists()) {
    return make_error(ErrorCode::kNotFound, dest_fs + " does not exist on " + dest_host);
  }
  ZREP_RETURN_IF_ERROR(fence_locked(fs, *p, *remote, dest_host));
  ZREP_RETURN_IF_ERROR(check_standby(config_.host, fs, *remote, dest_host, dest_fs, epoch));
  auto local = zfs_.list_snapshots(fs);
  if (!local) return local.error();
  auto there = from_wire(dest_fs, remote->snapshots());

  auto next = next_epoch(epoch);
  if (!next) return next.error();
  FailoverPlan plan{fs,
                    dest_host,
                    dest_fs,
                    snapshot,
                    "",
                    SwitchJournal{*next, config_.host, fs, dest_host, dest_fs, 0},
                    std::move(*local),
                    std::move(there)};
  if (!snapshot.empty()) {
    plan.at = fs + "@" + snapshot;
    auto base = base_at_snapshot(plan);
    if (!base) return base.error();
    plan.j.base_guid = *base;
  }
  return hand_over(plan, *peer, progress, started);
}

Result<uint64_t> Replicator::base_at_snapshot(const FailoverPlan& plan) {
  const std::string& fs = plan.fs;
  const std::string& at = plan.at;
  const std::string& snapshot = plan.snapshot;
  ZREP_RETURN_IF_ERROR(validate_snapshot_name(at));
  // What is newer than @SNAP here is kept, never rolled back: its last state in a snapshot,
  // then (after the commit) the whole filesystem aside (finish_old_master).
  for (const std::string& taken :
       {kept_snapshot_name(fs, plan.j.epoch), kept_aside_name(fs, plan.j.epoch)}) {
    auto e = zfs_.exists(taken);
    if (!e) return e.error();
    if (*e) {
      return make_error(ErrorCode::kAlreadyExists,
                        taken + " exists; a failover at " + snapshot + " keeps what " + fs +
                            " holds after it under that name. Rename it; nothing was changed");
    }
  }
  auto mine = std::find_if(plan.local.begin(), plan.local.end(),
                           [&](const SnapshotInfo& s) { return s.name == at; });
  if (mine == plan.local.end()) {
    return make_error(ErrorCode::kNotFound,
                      at + " does not exist on " + config_.host + "; nothing was changed");
  }
  const SnapshotInfo* theirs = find_guid(plan.there, mine->guid);
  if (theirs == nullptr) {
    return make_error(ErrorCode::kNotFound,
                      plan.dest_host + ":" + plan.dest_fs + " has no snapshot with the GUID of " +
                          at +
                          "; a failover at a snapshot needs it on both sides. Nothing was "
                          "changed");
  }
  const std::pair<const std::vector<SnapshotInfo>*, std::string> sides[] = {
      {&plan.local, config_.host}, {&plan.there, plan.dest_host}};
  for (const auto& [snaps, host] : sides) {
    const SnapshotInfo* base = find_guid(*snaps, mine->guid);
    After after = snapshots_after(*snaps, *base);
    if (!after.foreign.empty()) {
      return make_error(ErrorCode::kConflict,
                        "on " + host + ", snapshots zrep did not make come after " + snapshot +
                            " (" + names_of(after.foreign) +
                            "); failover at it would destroy them. Nothing was changed");
    }
  }
  return mine->guid;
}

Result<peer::ReceiveReply> Replicator::send_final(const FailoverPlan& plan, PeerClient& peer,
                                                  const std::string& snap, const SnapshotInfo& base,
                                                  const ProgressSink& progress) {
  ZREP_RETURN_IF_ERROR(zfs_.snapshot(snap));
  peer::ReceiveRequest req;
  req.set_dest_fs(plan.dest_fs);
  auto done = send_snapshot(peer, snap, &base, req, progress);
  if (!done) return done.error();
  ZREP_RETURN_IF_ERROR(zfs_.set_prop(snap, props::kSent, std::to_string(unix_now())));
  auto mine = zfs_.get_props(snap, {"guid"});
  if (!mine) return mine.error();
  if (props::get(*mine, "guid") != std::to_string(done->received_guid())) {
    return make_error(ErrorCode::kCorrupt,
                      plan.dest_host + " reports GUID " + std::to_string(done->received_guid()) +
                          " for " + snap + ", which has " + props::get(*mine, "guid") + " here");
  }
  return done;
}

Result<FailoverOutcome> Replicator::hand_over(FailoverPlan& plan, LockedPeer& peer,
                                              const ProgressSink& progress,
                                              std::chrono::steady_clock::time_point started) {
  const std::string& fs = plan.fs;
  const std::string& dest_host = plan.dest_host;
  const std::string& dest_fs = plan.dest_fs;
  const std::string& at = plan.at;
  SwitchJournal& j = plan.j;
  // Fence the master. The journal goes first, so recovery sees any crash after it.
  ZREP_RETURN_IF_ERROR(zfs_.set_prop(fs, props::kSwitch, format_journal(j)));
  fault_point("journal");
  auto undo = [&](const Error& e) -> Error {
    spdlog::error("failover of {} failed: {}", fs, e.message);
    auto r = recover_locked(fs, peer.client.get());
    record_result(fs, e, 0, 0);
    return make_error(e.code, "failover of " + fs + " failed: " + e.message +
                                  ". Recovery: " + (r ? *r : r.error().message));
  };
  if (Status s = zfs_.set_prop(fs, props::kReadonly, "on"); !s) return undo(s.error());
  fault_point("fenced");
  spdlog::info("failover {} -> {}:{}: {} is read-only now", fs, dest_host, dest_fs, fs);
  if (!at.empty()) {
    // The master's last state, written after @SNAP or not: kept with the rest after the commit.
    if (Status s = zfs_.snapshot(kept_snapshot_name(fs, j.epoch)); !s) return undo(s.error());
  }

  uint64_t bytes = 0;
  std::string final_snap = at;
  if (at.empty()) {
    auto next = plan_sync(plan.local, plan.there, fs, dest_host + ":" + dest_fs);
    if (!next) return undo(next.error());
    const std::string snap = fs + "@" + format_zrep_snap(next->next_seq);
    auto done = send_final(plan, *peer, snap, next->base, progress);
    if (!done) return undo(done.error());
    j.base_guid = done->received_guid();
    bytes = done->raw_bytes();
    final_snap = snap;
  }
  // With @SNAP, nothing is rolled back here before the commit point: an abandoned switch
  // must leave the master as it was. finish_old_master rolls back after the commit.
  fault_point("final-sent");
  if (Status s = zfs_.set_prop(fs, props::kSwitch, format_journal(j)); !s) return undo(s.error());
  if (Status s = prepare_and_commit(*peer, dest_fs, j); !s) return undo(s.error());
  // Committed: from here on the switch happened whatever fails.
  if (Status s = finish_old_master(zfs_, j); !s) {
    check_later(fs);
    return make_error(s.code(), "failover of " + fs + " committed (" + dest_host +
                                    " is the master now) but demoting " + fs + " here failed: " +
                                    s.message() + "; the agent retries by itself");
  }
  fault_point("demoted");
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  record_result(fs, Status::ok(), bytes, secs);
  spdlog::info("failover of {} done: {}:{} is the master at epoch {}, base {}", fs, dest_host,
               dest_fs, j.epoch, final_snap);
  FailoverOutcome out{
      .fs = fs,
      .old_master = config_.host,
      .new_master = dest_host,
      .new_master_fs = dest_fs,
      .epoch = j.epoch,
      .snapshot = final_snap,
      .bytes = bytes,
      .seconds = secs,
      .newer_kept_in = at.empty() ? std::nullopt : newer_kept_in(zfs_, fs, j.epoch)};
  return out;
}

}  // namespace zrep
