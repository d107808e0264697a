// Replicator's failover, takeover, resync, crash recovery and fencing: the coordinator's side
// of a role switch. The ZFS steps both hosts run are in agent/roles/switch_steps.h, the
// decisions in agent/logic/role_switch.h; agent/FAILOVER.md describes the state machine.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <sstream>
#include <utility>

#include "agent/fault/fault.h"
#include "agent/logic/snapshots.h"
#include "agent/logic/sync_plan.h"
#include "agent/logic/zfs_names.h"
#include "agent/logic/zrep_props.h"
#include "agent/ops/replicator.h"
#include "agent/roles/switch_steps.h"
#include "agent/rpc/wire.h"
#include "common/host_name.h"
#include "common/sanitize.h"
#include "common/unix_time.h"

namespace zrep {
namespace {

using nlohmann::json;

std::string fenced_text(const props::PropMap& p) { return props::get(p, props::kFenced); }

}  // namespace

Result<json> Replicator::failover(const control::FailoverCommand& cmd,
                                  const ProgressSink& progress) {
  const std::string& fs = cmd.fs();
  auto managed = managed_filesystems({fs});
  if (!managed) return managed.error();
  const auto& p = managed->at(fs);
  if (props::get(p, props::kMaster) == "yes") return run_failover(fs, cmd.snapshot(), progress);
  // On the standby: the master coordinates every switch; ask it.
  return ask_master(fs, p, cmd.snapshot());
}

Result<json> Replicator::ask_master(const std::string& fs, const props::PropMap& p,
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
  auto parsed = json::parse(reply->result_json(), nullptr, false);
  if (parsed.is_discarded()) return make_error(ErrorCode::kProtocol, "bad takeover reply");
  return parsed;
}

Result<json> Replicator::takeover(const control::TakeoverCommand& cmd,
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
  if (!cmd.force()) return ask_master(fs, p, "");

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
  uint64_t epoch = std::max<uint64_t>(1, parse_epoch(props::get(*fresh, props::kEpoch)));
  if (!props::get(*fresh, props::kSwitch).empty()) {
    // A planned switch stopped half-way: a committed one is finished, an uncommitted one is
    // superseded by this takeover.
    auto j = parse_journal(props::get(*fresh, props::kSwitch));
    if (j && j->new_host == config_.host && epoch >= j->epoch) {
      ZREP_RETURN_IF_ERROR(finish_new_master(zfs_, *j));
      return json{{"fs", fs}, {"master", config_.host}, {"epoch", epoch}, {"forced", false}};
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
  ZREP_RETURN_IF_ERROR(zfs_.set_prop(
      fs, props::kTakeover,
      "forced at=" + std::to_string(unix_now()) + " epoch=" + std::to_string(next) + " old=" +
          master_host + ":" + master_fs + " snapshot=" + std::string(snap_part_of(last.name))));
  ZREP_RETURN_IF_ERROR(zfs_.rollback(last.name, false));
  ZREP_RETURN_IF_ERROR(zfs_.set_prop(fs, props::kEpoch, std::to_string(next)));
  fault_point("forced-committed");
  auto finished = finish_forced_takeover(zfs_, config_.host, fs);
  if (!finished) return finished.error();
  spdlog::warn(
      "FORCED TAKEOVER: {} is the master on {} at epoch {}, from {} (last received); "
      "{} will demote itself when it comes back",
      fs, config_.host, next, last.name, master_host);
  return json{{"fs", fs},       {"master", config_.host}, {"epoch", next},
              {"forced", true}, {"snapshot", last.name},  {"old_master", master_host}};
}

Result<json> Replicator::failover_for_peer(const std::string& fs, const std::string& snapshot,
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

Result<json> Replicator::run_failover(const std::string& fs, const std::string& snapshot,
                                      const ProgressSink& progress) {
  auto held = lock(fs, "failover");
  if (!held) return held.error();
  auto started = std::chrono::steady_clock::now();
  auto p = zfs_.get_props(fs, props::filesystem_props());
  if (!p) return p.error();
  if (props::get(*p, props::kMaster) != "yes") {
    return make_error(ErrorCode::kConflict, fs + " is not the master on " + config_.host);
  }
  if (props::get(*p, props::kRecursive) == "yes" || !props::get(*p, props::kMemberOf).empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      fs + " is part of a recursive pairing; failing a tree over is not "
                           "supported yet. Nothing was changed");
  }
  if (!props::get(*p, props::kSwitch).empty()) {
    auto r = recover_locked(fs, nullptr);
    return make_error(ErrorCode::kConflict, fs + " had an unfinished failover; recovery: " +
                                                (r ? *r : r.error().message) +
                                                ". Run the failover again if still wanted");
  }
  const std::string dest_host = props::get(*p, props::kDestHost);
  const std::string dest_fs = props::get(*p, props::kDestFs);
  const uint64_t epoch = std::max<uint64_t>(1, parse_epoch(props::get(*p, props::kEpoch)));

  auto peer = connect_locked(dest_host, dest_fs, "failover");
  if (!peer) return Status(peer.error()).with_context("failover of " + fs);
  auto remote = describe_pair(**peer, fs, *p, dest_fs);
  if (!remote) return remote.error();
  if (!remote->exists()) {
    return make_error(ErrorCode::kNotFound, dest_fs + " does not exist on " + dest_host);
  }
  ZREP_RETURN_IF_ERROR(fence_locked(fs, *p, *remote, dest_host));
  props::PropMap rp(remote->props().begin(), remote->props().end());
  if (props::get(rp, props::kSrcHost) != config_.host || props::get(rp, props::kSrcFs) != fs ||
      props::get(rp, props::kMaster) == "yes") {
    return make_error(ErrorCode::kConflict, dest_fs + " on " + dest_host +
                                                " is not the standby of " + config_.host + ":" +
                                                fs + "; nothing was changed");
  }
  if (!props::get(rp, props::kSwitch).empty()) {
    return make_error(ErrorCode::kConflict,
                      dest_fs + " on " + dest_host + " records an unfinished switch (" +
                          props::get(rp, props::kSwitch) +
                          "); its agent resolves it by itself. Try again in a few seconds");
  }
  if (std::max<uint64_t>(1, parse_epoch(props::get(rp, props::kEpoch))) != epoch) {
    return make_error(ErrorCode::kConflict, dest_fs + " on " + dest_host + " is at epoch " +
                                                props::get(rp, props::kEpoch) + ", " + fs +
                                                " here at " + std::to_string(epoch));
  }
  auto local = zfs_.list_snapshots(fs);
  if (!local) return local.error();
  auto there = from_wire(dest_fs, remote->snapshots());

  auto next = next_epoch(epoch);
  if (!next) return next.error();
  SwitchJournal j{*next, config_.host, fs, dest_host, dest_fs, 0};
  std::string at;
  if (!snapshot.empty()) {
    at = fs + "@" + snapshot;
    ZREP_RETURN_IF_ERROR(validate_snapshot_name(at));
    // What is newer than @SNAP here is kept, never rolled back: its last state in a snapshot,
    // then (after the commit) the whole filesystem aside (finish_old_master).
    for (const std::string& taken :
         {kept_snapshot_name(fs, j.epoch), kept_aside_name(fs, j.epoch)}) {
      auto e = zfs_.exists(taken);
      if (!e) return e.error();
      if (*e) {
        return make_error(ErrorCode::kAlreadyExists,
                          taken + " exists; a failover at " + snapshot + " keeps what " + fs +
                              " holds after it under that name. Rename it; nothing was changed");
      }
    }
    auto mine = std::find_if(local->begin(), local->end(),
                             [&](const SnapshotInfo& s) { return s.name == at; });
    if (mine == local->end()) {
      return make_error(ErrorCode::kNotFound,
                        at + " does not exist on " + config_.host + "; nothing was changed");
    }
    const SnapshotInfo* theirs = find_guid(there, mine->guid);
    if (theirs == nullptr) {
      return make_error(ErrorCode::kNotFound,
                        dest_host + ":" + dest_fs + " has no snapshot with the GUID of " + at +
                            "; a failover at a snapshot needs it on both sides. Nothing was "
                            "changed");
    }
    const std::pair<const std::vector<SnapshotInfo>*, std::string> sides[] = {
        {&*local, config_.host}, {&there, dest_host}};
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
    j.base_guid = mine->guid;
  }

  // Fence the master. The journal goes first, so recovery sees any crash after it.
  ZREP_RETURN_IF_ERROR(zfs_.set_prop(fs, props::kSwitch, format_journal(j)));
  fault_point("journal");
  auto undo = [&](const Error& e) -> Error {
    spdlog::error("failover of {} failed: {}", fs, e.message);
    auto r = recover_locked(fs, peer->client.get());
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
    auto plan = plan_sync(*local, there, fs, dest_host + ":" + dest_fs);
    if (!plan) return undo(plan.error());
    const std::string snap = fs + "@" + format_zrep_snap(plan->next_seq);
    if (Status s = zfs_.snapshot(snap); !s) return undo(s.error());
    peer::ReceiveRequest req;
    req.set_dest_fs(dest_fs);
    auto done = send_snapshot(**peer, snap, &plan->base, req, progress);
    if (!done) return undo(done.error());
    if (Status s = zfs_.set_prop(snap, props::kSent, std::to_string(unix_now())); !s) {
      return undo(s.error());
    }
    auto mine = zfs_.get_props(snap, {"guid"});
    if (!mine) return undo(mine.error());
    if (props::get(*mine, "guid") != std::to_string(done->received_guid())) {
      return undo(make_error(ErrorCode::kCorrupt, dest_host + " reports GUID " +
                                                      std::to_string(done->received_guid()) +
                                                      " for " + snap + ", which has " +
                                                      props::get(*mine, "guid") + " here"));
    }
    j.base_guid = done->received_guid();
    bytes = done->raw_bytes();
    final_snap = snap;
  }
  // With @SNAP, nothing is rolled back here before the commit point: an abandoned switch
  // must leave the master as it was. finish_old_master rolls back after the commit.
  fault_point("final-sent");
  if (Status s = zfs_.set_prop(fs, props::kSwitch, format_journal(j)); !s) return undo(s.error());

  peer::SwitchRequest step;
  step.set_fs(dest_fs);
  step.set_journal(format_journal(j));
  step.set_step(peer::SwitchRequest::PREPARE);
  if (auto r = (*peer)->switch_step(step); !r) return undo(r.error());
  fault_point("prepared");
  step.set_step(peer::SwitchRequest::COMMIT);
  if (auto r = (*peer)->switch_step(step); !r) return undo(r.error());
  fault_point("committed");
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
  json out{{"fs", fs},
           {"old_master", config_.host},
           {"new_master", dest_host},
           {"new_master_fs", dest_fs},
           {"epoch", j.epoch},
           {"snapshot", final_snap},
           {"bytes", bytes},
           {"seconds", secs}};
  if (!at.empty()) {
    auto kept = zfs_.get_props(fs, {props::kKept});
    const auto rec = parse_record(kept ? props::get(*kept, props::kKept) : std::string());
    if (rec.contains("aside") && parse_epoch(rec.at("epoch")) == j.epoch) {
      out["newer_kept_in"] = rec.at("aside");
    }
  }
  return out;
}

Result<std::string> Replicator::recover_locked(const std::string& fs, PeerClient* peer) {
  auto p = zfs_.get_props(fs, props::filesystem_props());
  if (!p) return p.error();
  const std::string text = props::get(*p, props::kSwitch);
  if (text.empty()) return std::string("nothing to recover");
  auto j = parse_journal(text);
  if (!j) return j.error();
  if (!(j->old_host == config_.host && j->old_fs == fs) &&
      !(j->new_host == config_.host && j->new_fs == fs)) {
    return make_error(ErrorCode::kConflict, fs + "'s switch journal (" + text + ") names neither " +
                                                config_.host + ":" + fs +
                                                " as the old nor as the "
                                                "new master; an operator must look at it");
  }
  RecoveryInput in{config_.host, *j,
                   std::max<uint64_t>(1, parse_epoch(props::get(*p, props::kEpoch))), std::nullopt};
  std::optional<LockedPeer> fresh;
  bool peer_has_journal = false;
  if (j->old_host == config_.host && in.local_epoch < j->epoch) {
    // Only the new master knows whether it committed: ask it.
    Result<peer::DescribeReply> d = make_error(ErrorCode::kUnavailable, "not asked");
    if (peer != nullptr) d = peer->describe(j->new_fs);
    if (!d) {
      auto c = connect_locked(j->new_host, j->new_fs, "recover");
      if (c) {
        fresh.emplace(std::move(*c));
        peer = fresh->client.get();
        d = peer->describe(j->new_fs);
      } else {
        d = c.error();
      }
    }
    if (d) {
      props::PropMap rp(d->props().begin(), d->props().end());
      in.peer_epoch = d->exists() ? parse_epoch(props::get(rp, props::kEpoch)) : 0;
      peer_has_journal = d->exists() && props::get(rp, props::kSwitch) == text;
    } else {
      spdlog::warn("{}: cannot ask {} about the unfinished switch: {}", fs, j->new_host,
                   d.error().message);
    }
  }
  const Recovery decision = decide_recovery(in);
  spdlog::info("{}: unfinished switch ({}): {}", fs, text, recovery_name(decision));
  switch (decision) {
    case Recovery::kFinishAsNewMaster:
      ZREP_RETURN_IF_ERROR(finish_new_master(zfs_, *j));
      break;
    case Recovery::kFinishAsDestination:
      ZREP_RETURN_IF_ERROR(finish_old_master(zfs_, *j));
      break;
    case Recovery::kAbortHere:
      ZREP_RETURN_IF_ERROR(zfs_.inherit_prop(fs, props::kSwitch));
      break;
    case Recovery::kAbortAndUnfence:
      if (peer_has_journal && peer != nullptr) {
        peer::SwitchRequest abort;
        abort.set_fs(j->new_fs);
        abort.set_journal(text);
        abort.set_step(peer::SwitchRequest::ABORT);
        if (auto r = peer->switch_step(abort); !r) {
          // It forgets the journal by itself once our lock is gone; it cannot commit without us.
          spdlog::warn("{}: {} did not drop its journal ({}); it will by itself", fs, j->new_host,
                       r.error().message);
        }
      }
      // The snapshot this switch made of the master's last state (at a named snapshot) goes:
      // the filesystem itself still holds all of it.
      if (auto e = zfs_.exists(kept_snapshot_name(fs, j->epoch)); e && *e) {
        if (Status d = zfs_.destroy_snapshot(kept_snapshot_name(fs, j->epoch)); !d) {
          spdlog::warn("{}: could not remove {}: {}", fs, kept_snapshot_name(fs, j->epoch),
                       d.message());
        }
      }
      ZREP_RETURN_IF_ERROR(zfs_.set_prop(fs, props::kReadonly, "off"));
      ZREP_RETURN_IF_ERROR(zfs_.inherit_prop(fs, props::kSwitch));
      break;
    case Recovery::kWaitForPeer:
      check_later(fs);
      return make_error(ErrorCode::kUnavailable,
                        fs + " stays read-only: " + j->new_host +
                            " cannot be asked whether the failover committed; the agent asks "
                            "again by itself");
  }
  return std::string(recovery_name(decision));
}

Result<ClaimJudgement> Replicator::judge_peer_claim(const std::string& fs, const props::PropMap& p,
                                                    const peer::DescribeReply& remote,
                                                    const std::string& peer_host) {
  props::PropMap rp(remote.props().begin(), remote.props().end());
  PeerClaim claim;
  claim.here_host = config_.host;
  claim.here_fs = fs;
  claim.peer_host = peer_host;
  claim.peer_fs = props::get(p, props::kDestFs);
  claim.my_epoch = std::max<uint64_t>(1, parse_epoch(props::get(p, props::kEpoch)));
  claim.peer_epoch = parse_epoch(props::get(rp, props::kEpoch));
  claim.peer_is_master = props::get(rp, props::kMaster) == "yes";
  claim.peer_src_host = props::get(rp, props::kSrcHost);
  claim.peer_src_fs = props::get(rp, props::kSrcFs);
  claim.peer_dest_host = props::get(rp, props::kDestHost);
  claim.peer_dest_fs = props::get(rp, props::kDestFs);
  claim.peer_takeover = props::get(rp, props::kTakeover);
  if (claim.peer_epoch <= claim.my_epoch) return ClaimJudgement{};
  const std::string at = parse_record(claim.peer_takeover)["snapshot"];
  for (const auto& s : remote.snapshots()) {
    if (!at.empty() && s.name() == at) claim.takeover_guid = s.guid();
  }
  auto local = zfs_.list_snapshots(fs);
  if (!local) return local.error();
  std::vector<LocalSnap> mine;
  for (const auto& s : *local) mine.push_back({s.guid, s.sent.has_value()});
  return judge_claim(claim, mine);
}

Status Replicator::fence_locked(const std::string& fs, const props::PropMap& p,
                                const peer::DescribeReply& remote, const std::string& peer_host) {
  if (!remote.exists()) return Status::ok();
  props::PropMap rp(remote.props().begin(), remote.props().end());
  const uint64_t mine = std::max<uint64_t>(1, parse_epoch(props::get(p, props::kEpoch)));
  const uint64_t theirs = parse_epoch(props::get(rp, props::kEpoch));
  const bool peer_master = props::get(rp, props::kMaster) == "yes";
  const std::string dest_fs = props::get(p, props::kDestFs);
  auto judged = judge_peer_claim(fs, p, remote, peer_host);
  if (!judged) return judged.error();
  switch (judged->verdict) {
    case ClaimVerdict::kNoClaim:
      if (check_fence(mine, theirs, peer_master) != Fence::kBothMasters) return Status::ok();
      {
        std::string msg = "SPLIT BRAIN: " + fs + " on " + config_.host + " and " + dest_fs +
                          " on " + peer_host + " both claim to be the master at epoch " +
                          std::to_string(mine) +
                          ". Neither sends until an operator decides which copy wins: on the other "
                          "host run 'zrep-agent clear FS --yes' and rename FS aside with 'zfs "
                          "rename' (its data stays), then on the winner 'zrep-agent init' to it "
                          "again";
        spdlog::error("{}", msg);
        return make_error(ErrorCode::kConflict, msg);
      }
    case ClaimVerdict::kPeerAhead:
      return make_error(ErrorCode::kConflict,
                        dest_fs + " on " + peer_host + " is at epoch " + std::to_string(theirs) +
                            ", above " + std::to_string(mine) + " here, but not a master (a " +
                            "takeover there not finished?); nothing is sent until that is clear");
    case ClaimVerdict::kUnbacked: {
      // A claim this host's own state contradicts demotes nothing: fs stays the writable
      // master; only this run's send is refused.
      std::string msg = "REFUSED CLAIM: " + printable_text(judged->why) + ". " + fs + " on " +
                        config_.host +
                        " stays the writable master; nothing is sent to it until its "
                        "properties are consistent again";
      spdlog::error("{}", msg);
      return make_error(ErrorCode::kConflict, msg);
    }
    case ClaimVerdict::kTakenOver:
      break;
  }
  // The peer took over (a forced takeover while this host was away): step down at once.
  spdlog::error("FENCED: {} on {} is at epoch {}, {} here at {}: demoting {} (read-only, no sends)",
                dest_fs, peer_host, theirs, fs, mine, fs);
  ZREP_RETURN_IF_ERROR(zfs_.set_prop(fs, props::kReadonly, "on"));
  auto local = zfs_.list_snapshots(fs);
  if (!local) return local.error();
  auto there = from_wire(dest_fs, remote.snapshots());
  const SnapshotInfo* common = newest_common(*local, there);
  const int64_t now = unix_now();
  std::string kept = fs + "@zrep-fenced-e" + std::to_string(theirs);
  if (std::any_of(local->begin(), local->end(), [&](const auto& s) { return s.name == kept; })) {
    kept += "-" + std::to_string(now);
  }
  ZREP_RETURN_IF_ERROR(zfs_.snapshot(kept));
  uint64_t written = 0;
  if (common != nullptr) {
    auto size = zfs_.stream_size(common->name, kept);
    if (size) {
      written = *size;
    } else {
      spdlog::warn("{}: cannot measure what was written since {}: {}", fs, common->name,
                   size.error().message);
    }
  }
  const std::string record =
      "epoch=" + std::to_string(theirs) + " by=" + peer_host + " peer_fs=" + dest_fs +
      " at=" + std::to_string(now) +
      " common=" + (common != nullptr ? std::string(snap_part_of(common->name)) : "none") +
      " written=" + std::to_string(written) + " kept=" + std::string(snap_part_of(kept));
  // The record first: from then on nothing is sent from or into fs, and the sweep completes
  // the demotion after a crash (finish_demotion).
  ZREP_RETURN_IF_ERROR(zfs_.set_prop(fs, props::kFenced, record));
  ZREP_RETURN_IF_ERROR(finish_demotion(zfs_, config_.host, fs));
  std::string msg = fs + " on " + config_.host + " was demoted: " + peer_host +
                    " took over at epoch " + std::to_string(theirs) + "; " +
                    std::to_string(written) +
                    " bytes were written here since the common snapshot " +
                    (common != nullptr ? common->name : std::string("(none)")) + ", kept in " +
                    kept + ". Run 'zrep-agent resync " + fs + "' to replicate from " + peer_host +
                    " again (the divergent data is kept aside)";
  spdlog::error("{}", msg);
  return make_error(ErrorCode::kConflict, msg);
}

Result<json> Replicator::resync(const control::ResyncCommand& cmd) {
  const std::string& fs = cmd.fs();
  auto managed = managed_filesystems({fs});
  if (!managed) return managed.error();
  auto held = lock(fs, "resync");
  if (!held) return held.error();
  auto p = zfs_.get_props(fs, props::filesystem_props());
  if (!p) return p.error();
  if (fenced_text(*p).empty()) {
    return make_error(ErrorCode::kConflict,
                      fs + " on " + config_.host +
                          " is not demoted; resync is for an old master fenced after a takeover");
  }
  const std::string new_host = props::get(*p, props::kSrcHost);
  const std::string new_fs = props::get(*p, props::kSrcFs);
  const std::string epoch = props::get(*p, props::kEpoch);
  auto peer = connect(new_host);
  if (!peer) return Status(peer.error()).with_context("resync of " + fs);
  auto remote = (*peer)->describe(new_fs);
  if (!remote) return remote.error();
  props::PropMap rp(remote->props().begin(), remote->props().end());
  if (!remote->exists() || props::get(rp, props::kMaster) != "yes") {
    return make_error(ErrorCode::kConflict,
                      new_fs + " on " + new_host + " is not a master; nothing to resync from");
  }
  auto local = zfs_.list_snapshots(fs);
  if (!local) return local.error();
  const SnapshotInfo* common = newest_common(*local, from_wire(new_fs, remote->snapshots()));
  if (common == nullptr) {
    return make_error(ErrorCode::kNotFound,
                      fs + " shares no snapshot with " + new_host + ":" + new_fs +
                          "; start over with 'zrep-agent init --force' on " + new_host);
  }
  // Keep everything this copy holds: the whole filesystem moves aside, and a clone of the
  // common snapshot, promoted so it owns the snapshots up to it, takes its place.
  std::string aside = fs + "-diverged-e" + epoch;
  if (auto e = zfs_.exists(aside); !e || *e) aside += "-" + std::to_string(unix_now());
  ZREP_RETURN_IF_ERROR(validate_dataset_name(aside));
  const std::string common_part(snap_part_of(common->name));
  ZREP_RETURN_IF_ERROR(zfs_.rename_filesystem(fs, aside));
  Status made = zfs_.clone(aside + "@" + common_part, fs);
  if (made) made = zfs_.set_prop(fs, props::kReadonly, "on");
  if (made) made = zfs_.promote(fs);
  if (!made) {
    auto still = zfs_.exists(fs);
    Status gone = (!still || *still) ? zfs_.destroy_filesystem(fs, false) : Status::ok();
    if (!gone) {
      return make_error(
          made.code(), "resync of " + fs + " failed: " + made.message() +
                           "; the copy is intact as " + aside +
                           ", and the clone made in its place could not be removed (" +
                           gone.message() + "): destroy " + fs + ", rename " + aside + " back to " +
                           fs + ", and run resync again");
    }
    if (Status back = zfs_.rename_filesystem(aside, fs); !back) {
      return make_error(made.code(), "resync of " + fs + " failed: " + made.message() +
                                         "; the copy is intact as " + aside +
                                         " but could not be renamed back (" + back.message() +
                                         "): rename it to " + fs + " and run resync again");
    }
    return made.error();
  }
  ZREP_RETURN_IF_ERROR(set_props(zfs_, fs,
                                 {{props::kSrcFs, new_fs},
                                  {props::kSrcHost, new_host},
                                  {props::kDestFs, fs},
                                  {props::kDestHost, config_.host},
                                  {props::kEpoch, epoch},
                                  {props::kSavecount, props::get(*p, props::kSavecount).empty()
                                                          ? std::to_string(props::kDefaultSavecount)
                                                          : props::get(*p, props::kSavecount)}}));
  hold_base_or_warn(zfs_, fs, common->guid);
  for (const auto& name : props::pairing_props()) (void)zfs_.inherit_prop(aside, name);
  (void)zfs_.set_prop(aside, props::kReadonly, "on");
  spdlog::info(
      "resync {}: the divergent copy is kept as {}; {} is at {} and receives from {} again", fs,
      aside, fs, common->name, new_host);
  return json{{"fs", fs},           {"kept_as", aside},    {"common_snapshot", common->name},
              {"master", new_host}, {"master_fs", new_fs}, {"fenced", fenced_text(*p)}};
}

// ---- recovery and fencing in the background ----

void Replicator::check_later(const std::string& fs) {
  std::lock_guard lk(mu_);
  pending_.insert(fs);
}

bool Replicator::sweep(bool everything) {
  std::set<std::string> todo;
  {
    std::lock_guard lk(mu_);
    todo.swap(pending_);
    everything = everything || std::exchange(full_sweep_pending_, false);
  }
  if (todo.empty() && !everything) return false;
  auto found = zfs_.find_local_props(props::filesystem_props());
  if (!found) {
    spdlog::warn("recovery: cannot list filesystems: {}", found.error().message);
    std::lock_guard lk(mu_);
    pending_.insert(todo.begin(), todo.end());
    full_sweep_pending_ = full_sweep_pending_ || everything;
    return true;
  }
  bool unresolved = false;
  // Runs `fix` on fs under its lock; on failure fs is looked at again next time.
  auto locked = [&](const std::string& fs, const char* what, const std::function<Status()>& fix) {
    auto held = lock(fs, what);
    Status s = held ? fix() : Status(held.error());
    if (!s) {
      spdlog::warn("{} of {}: {}", what, fs, s.message());
      check_later(fs);
      unresolved = true;
    }
  };
  for (const auto& entry : *found) {
    // Not a structured binding: lambdas below capture these, which clang 14 (fuzz build) refuses.
    const std::string& fs = entry.first;
    const auto& p = entry.second;
    const bool master = props::get(p, props::kMaster) == "yes";
    const std::string journal = props::get(p, props::kSwitch);
    const std::string fenced = fenced_text(p);
    if (!journal.empty()) {
      // Only this host's side of a switch (several hosts may share one ZFS, as in the tests).
      auto j = parse_journal(journal);
      if (j && j->old_host == config_.host && fs == kept_aside_name(j->old_fs, j->epoch) &&
          parse_epoch(props::get(p, props::kEpoch)) >= j->epoch) {
        // A set-aside (failover at a named snapshot) cut short: finish the old master's part.
        locked(j->old_fs, "recover", [&] { return finish_old_master(zfs_, *j); });
        continue;
      }
      if (j && !(j->old_host == config_.host && j->old_fs == fs) &&
          !(j->new_host == config_.host && j->new_fs == fs)) {
        continue;
      }
      locked(fs, "recover", [&]() -> Status {
        auto r = recover_locked(fs, nullptr);
        if (r) spdlog::info("recovery of {}: {}", fs, *r);
        return r.status();
      });
      continue;
    }
    if (!fenced.empty()) {
      if (master && parse_record(fenced)["by"] != config_.host) {
        locked(fs, "fence", [&] { return finish_demotion(zfs_, config_.host, fs); });
      }
      continue;
    }
    if (!props::get(p, props::kTakeover).empty() && !master &&
        props::get(p, props::kDestHost) == config_.host) {
      locked(fs, "takeover",
             [&] { return finish_forced_takeover(zfs_, config_.host, fs).status(); });
      continue;
    }
    if (!master || props::get(p, props::kSrcHost) != config_.host) continue;
    if (!everything && !todo.contains(fs)) continue;
    // A master: is the peer at a higher epoch (it took over while this host was away)? Asked
    // without the lock, so a sync or failover started meanwhile is not refused as busy.
    const std::string dest_host = props::get(p, props::kDestHost);
    auto peer = connect(dest_host);
    if (!peer) continue;  // the next sync checks again
    auto remote = describe_pair(**peer, fs, p, props::get(p, props::kDestFs));
    if (!remote || !remote->exists()) continue;
    auto judged = judge_peer_claim(fs, p, *remote, dest_host);
    if (!judged || judged->verdict != ClaimVerdict::kTakenOver) {
      if (judged && judged->verdict == ClaimVerdict::kUnbacked) {
        spdlog::error("REFUSED CLAIM: {}; {} stays the writable master",
                      printable_text(judged->why), fs);
      }
      continue;
    }
    locked(fs, "fence", [&]() -> Status {
      // Look again under the lock: a failover may have changed the roles meanwhile.
      auto fresh = zfs_.get_props(fs, props::filesystem_props());
      if (!fresh) return fresh.status();
      if (props::get(*fresh, props::kMaster) != "yes" ||
          !props::get(*fresh, props::kSwitch).empty() ||
          props::get(*fresh, props::kEpoch) != props::get(p, props::kEpoch)) {
        return Status::ok();
      }
      Status demoted = fence_locked(fs, *fresh, *remote, dest_host);
      // fence_locked reports a demotion as an error for the caller; here it is the outcome.
      auto after = zfs_.get_props(fs, {props::kFenced});
      return after && !fenced_text(*after).empty() ? Status::ok() : demoted;
    });
  }
  return unresolved;
}

}  // namespace zrep
