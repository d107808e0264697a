// One sync of one filesystem (sync_one) and its steps: the checks before it sends, the plan
// (from a bookmark when the base snapshot is gone), marks after a lost acknowledgement, the
// choice of what to send (a new snapshot, an unsent one, the rest of an interrupted one) and
// what follows a verified transfer. Also `sync` over several filesystems.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "agent/fault/fault.h"
#include "agent/logic/records.h"
#include "agent/logic/role_switch.h"
#include "agent/logic/send_choice.h"
#include "agent/logic/sync_plan.h"
#include "agent/logic/zfs_names.h"
#include "agent/logic/zrep_props.h"
#include "agent/ops/replicator.h"
#include "agent/roles/switch_steps.h"
#include "agent/rpc/wire.h"
#include "common/unix_time.h"

namespace zrep {
namespace {

// The incremental plan; when there is none and OpenZFS keeps bookmarks, one from a bookmark.
Result<SyncPlan> plan_incremental(const Zfs& zfs, const std::string& fs,
                                  const std::vector<SnapshotInfo>& local,
                                  const std::vector<SnapshotInfo>& remote_snaps,
                                  const std::string& remote_desc) {
  auto plan = plan_sync(local, remote_snaps, fs, remote_desc);
  if (!plan && zfs.features().bookmarks) {
    // The base snapshot is gone here (none in common, or only older ones than the peer's
    // newest), but a bookmark of it can still be the incremental base.
    auto marks = zfs.list_bookmarks(fs);
    if (marks && !marks->empty()) {
      auto from_mark = plan_sync_with_bookmarks(local, *marks, remote_snaps, fs, remote_desc);
      if (from_mark) {
        spdlog::info("{}: the base snapshot is gone; sending incrementally from bookmark {}", fs,
                     from_mark->base.name);
        plan = std::move(from_mark);
      }
    }
  }
  return plan;
}

// A previous sync whose acknowledgement was lost: the snapshot arrived, only the marks are
// missing. Mark it; do not send it again.
Status mark_lost_acks(const Zfs& zfs, PeerClient& peer, const std::string& fs, const SyncPlan& plan,
                      const std::string& dest_host, const std::string& dest_fs, int64_t now) {
  for (const auto& name : plan.mark_local) {
    spdlog::info("{}: {} is already on {}, marking it sent", fs, name, dest_host);
    ZREP_RETURN_IF_ERROR(zfs.set_prop(name, props::kSent, std::to_string(now)));
  }
  if (!plan.mark_remote.empty()) {
    peer::MarkSentRequest mark;
    mark.set_fs(dest_fs);
    mark.set_sent_time(now);
    for (uint64_t g : plan.mark_remote) mark.add_guids(g);
    auto marked = peer.mark_sent(mark);
    if (!marked) return marked.error();
  }
  return Status::ok();
}

// After a verified transfer: the snapshots the destination reports, marked sent here.
Status mark_arrived(const Zfs& zfs, const std::string& fs, const peer::ReceiveReply& done,
                    int64_t now) {
  std::set<uint64_t> there;
  for (const auto& s : done.snapshots()) there.insert(s.guid());
  auto after = zfs.list_snapshots(fs);
  if (!after) return after.error();
  for (const auto& s : *after) {
    if (!s.sent && there.contains(s.guid)) {
      ZREP_RETURN_IF_ERROR(zfs.set_prop(s.name, props::kSent, std::to_string(now)));
    }
  }
  return Status::ok();
}

}  // namespace

// What one sync knows before it chooses what to send.
struct Replicator::SyncRun {
  std::string fs, dest_host, dest_fs;
  std::string given_snapshot;  // a recursive snapshot the caller made, or empty
  std::chrono::steady_clock::time_point started;
  int64_t now = 0;
};

Result<std::string> Replicator::choose_snapshot(const std::string& fs,
                                                const std::vector<SnapshotInfo>& local,
                                                const SyncPlan& plan) {
  // Unsent zrep snapshots after the base pile up when transfers keep failing after they start
  // (a flaky WAN). Past max_unsent, send the newest of them instead of making another.
  const std::vector<const SnapshotInfo*> unsent = unsent_after(local, plan.base);
  const ScheduleConfig schedule = config_.schedule_settings();
  if (!unsent.empty() && unsent.size() >= schedule.max_unsent) {
    spdlog::info(
        "{}: {} unsent snapshot(s) already (max_unsent {}); sending {} instead of making "
        "another",
        fs, unsent.size(), schedule.max_unsent, unsent.back()->name);
    return unsent.back()->name;
  }
  if (schedule.min_free_bytes > 0) {
    auto avail = zfs_.available_bytes(fs);
    if (!avail) return avail.error();
    if (*avail < schedule.min_free_bytes) {
      return make_error(ErrorCode::kNoSpace,
                        fs + " has only " + std::to_string(*avail) +
                            " bytes available, below min_free (" +
                            std::to_string(schedule.min_free_bytes) +
                            "); no snapshot was made. Free space on the pool, or lower min_free "
                            "in " +
                            config_.source);
    }
  }
  const std::string snap = fs + "@" + format_zrep_snap(plan.next_seq);
  ZREP_RETURN_IF_ERROR(zfs_.snapshot(snap));
  return snap;
}

Result<control::Transfers> Replicator::sync(const control::SyncCommand& cmd,
                                            const ProgressSink& progress) {
  std::vector<std::string> targets(cmd.fs().begin(), cmd.fs().end());
  if (cmd.all()) {
    auto managed = managed_filesystems({});
    if (!managed) return managed.error();
    for (const auto& [name, p] : *managed) {
      if (props::get(p, props::kMaster) == "yes" && props::get(p, props::kMemberOf).empty()) {
        targets.push_back(name);
      }
    }
  }
  if (targets.empty() && !cmd.all()) {
    return make_error(ErrorCode::kInvalidArgument, "name a filesystem to sync, or 'all'");
  }
  control::Transfers results;
  std::vector<std::string> failures;
  std::optional<ErrorCode> code;
  for (const auto& fs : targets) {
    auto r = sync_one(fs, progress, "");
    if (r) {
      // One, or a recursive pairing's members.
      for (auto& t : *r->mutable_transfers()) *results.add_transfers() = std::move(t);
    } else {
      failures.push_back(fs + ": " + r.error().message);
      code = code && *code != r.error().code ? ErrorCode::kConflict : r.error().code;
      *results.add_transfers() = failed_transfer(fs, r.error().message);
    }
  }
  if (!failures.empty()) {
    // One failure keeps its own code (unavailable, no-space, ...); the message lists them all.
    std::string msg = failures.size() == 1 ? failures[0]
                                           : std::to_string(failures.size()) + " of " +
                                                 std::to_string(targets.size()) + " syncs failed";
    if (failures.size() > 1) {
      for (const auto& f : failures) msg += "\n  " + f;
    }
    return make_error(*code, msg);
  }
  return results;
}

Status Replicator::sync_refusal(const std::string& fs, const props::PropMap& p) {
  if (props::get(p, props::kMaster) != "yes") {
    return make_error(ErrorCode::kConflict,
                      fs + " is not a zrep master on " + config_.host +
                          " (zrep:master is not 'yes'); sync runs on the master, or run "
                          "'zrep-agent init' first");
  }
  const std::string dest_host = props::get(p, props::kDestHost);
  const std::string dest_fs = props::get(p, props::kDestFs);
  if (dest_host.empty() || dest_fs.empty()) {
    return make_error(ErrorCode::kConflict, fs + " has no zrep:dest-host/zrep:dest-fs");
  }
  if (!props::get(p, props::kFenced).empty()) {
    check_later(fs);
    return demoted_refusal(fs, config_.host, props::get(p, props::kFenced));
  }
  if (!props::get(p, props::kSwitch).empty()) {
    // An interrupted failover: resolve it first; it decides who is master now.
    check_later(fs);
    return make_error(ErrorCode::kConflict,
                      fs + " has an unfinished failover (" + props::get(p, props::kSwitch) +
                          "); it sends nothing until the agent resolves it with " + dest_host +
                          " (it retries by itself)");
  }
  return Status::ok();
}

Status Replicator::check_sync_destination(const std::string& fs, const props::PropMap& p,
                                          const peer::DescribeReply& remote,
                                          const std::string& dest_host,
                                          const std::string& dest_fs) {
  ZREP_RETURN_IF_ERROR(fence_locked(fs, p, remote, dest_host));
  fault_point("sync-locked");
  if (!remote.exists()) {
    return make_error(ErrorCode::kNotFound, dest_fs + " does not exist on " + dest_host +
                                                "; run 'zrep-agent init --force' to send it again");
  }
  if (auto it = remote.props().find(props::kFenced); it != remote.props().end()) {
    return demoted_refusal(dest_fs, dest_host, it->second);
  }
  return Status::ok();
}

Result<control::Transfers> Replicator::sync_one(const std::string& fs, const ProgressSink& progress,
                                                const std::string& given_snapshot) {
  ZREP_RETURN_IF_ERROR(validate_dataset_name(fs));
  std::optional<FsLock> held;
  if (auto h = lock(fs, "sync"); h) {
    held.emplace(std::move(*h));
  } else {
    return h.error();
  }
  auto started = std::chrono::steady_clock::now();
  auto p = zfs_.get_props(fs, props::filesystem_props());
  if (!p) return failed(fs, p.error());
  if (given_snapshot.empty()) {
    // A recursive pairing syncs as a whole, from its root (which locks each member itself).
    if (props::get(*p, props::kRecursive) == "yes") {
      held.reset();
      return sync_recursive(fs, progress);
    }
    if (!props::get(*p, props::kMemberOf).empty()) {
      return make_error(ErrorCode::kConflict, fs + " is part of the recursive pairing of " +
                                                  props::get(*p, props::kMemberOf) +
                                                  "; sync that instead");
    }
  }
  if (Status refused = sync_refusal(fs, *p); !refused) return failed(fs, refused.error());
  const std::string dest_host = props::get(*p, props::kDestHost);
  const std::string dest_fs = props::get(*p, props::kDestFs);
  auto peer = connect_locked(dest_host, dest_fs, "sync");
  if (!peer) return failed(fs, peer.error());
  auto remote = describe_pair(**peer, fs, *p, dest_fs);
  if (!remote) return failed(fs, remote.error());
  if (Status s = check_sync_destination(fs, *p, *remote, dest_host, dest_fs); !s) {
    return failed(fs, s.error());
  }
  auto local = zfs_.list_snapshots(fs);
  if (!local) return failed(fs, local.error());
  auto plan = plan_incremental(zfs_, fs, *local, from_wire(dest_fs, remote->snapshots()),
                               dest_host + ":" + dest_fs);
  if (!plan) return failed(fs, plan.error());
  const SyncRun run{fs, dest_host, dest_fs, given_snapshot, started, unix_now()};
  if (Status s = mark_lost_acks(zfs_, **peer, fs, *plan, dest_host, dest_fs, run.now); !s) {
    return failed(fs, s.error());
  }
  auto sent = send_next(run, *peer, *remote, *local, *plan, progress);
  if (!sent) return sent.error();
  control::Transfers one;
  *one.add_transfers() = std::move(*sent);
  return one;
}

std::string Replicator::resume_choice(const SyncRun& run, PeerClient& peer,
                                      const peer::DescribeReply& remote,
                                      const std::vector<SnapshotInfo>& local, const SyncPlan& plan,
                                      peer::ReceiveRequest& req) {
  const std::string& fs = run.fs;
  const auto rec =
      parse_receiving(props::get(props::PropMap(remote.props().begin(), remote.props().end()),
                                 props::kReceiving))
          .value_or(ReceivingRecord{});
  const std::string name = fs + "@" + rec.snap;
  // The partial receive and its record are the peer's words: resumed only for an unsent
  // zrep snapshot after the base, and a token that names exactly it (OpenZFS here).
  auto it = resumable_snapshot(local, name, std::to_string(rec.guid), std::to_string(rec.base_guid),
                               plan.base);
  Status fits = it.status();
  if (it) {
    auto raw = use_raw(fs, peer);
    fits = raw ? check_resume_token_here(remote.resume_token(), it->name, it->guid, plan.base.guid,
                                         *raw)
               : Status(raw.error());
  }
  if (fits) {
    spdlog::info("{}: resuming the interrupted transfer of {} to {}", fs, name, run.dest_host);
    req.set_resume_token(remote.resume_token());
    return name;
  }
  spdlog::warn("{}: not resuming on {}: {}", fs, run.dest_host, fits.message());
  spdlog::warn(
      "{}: {}:{} holds a partial receive of {} that cannot be resumed (that "
      "snapshot or its base is gone here); it is discarded and the transfer "
      "starts over from {}",
      fs, run.dest_host, run.dest_fs, rec.snap.empty() ? "?" : name, plan.base.name);
  return std::string();
}

Result<control::Transfer> Replicator::send_next(const SyncRun& run, LockedPeer& peer,
                                                const peer::DescribeReply& remote,
                                                const std::vector<SnapshotInfo>& local,
                                                const SyncPlan& plan,
                                                const ProgressSink& progress) {
  const std::string& fs = run.fs;
  peer::ReceiveRequest req;
  req.set_dest_fs(run.dest_fs);
  // An interrupted transfer that the destination can resume: send only the rest of it, when
  // its snapshot is still here. Otherwise the destination drops it and this run starts over.
  Result<std::string> snap = std::string();
  bool discarded_partial = false;
  if (!remote.resume_token().empty()) {
    snap = resume_choice(run, *peer, remote, local, plan, req);
    discarded_partial = snap->empty();
  }
  if (req.resume_token().empty()) {
    snap = run.given_snapshot.empty() ? choose_snapshot(fs, local, plan) : run.given_snapshot;
  }
  if (!snap) return failed(fs, snap.error());
  // Made by this run: a new snapshot (not an unsent one sent again past max_unsent, not the
  // one a resumed transfer names), or the caller's recursive snapshot.
  const bool created =
      made_by_this_run(!req.resume_token().empty(), !run.given_snapshot.empty(), local, *snap);
  auto done = send_snapshot(*peer, *snap, &plan.base, req, progress);
  if (!done) {
    // Keep the snapshot only when the peer may have it (the connection broke): the next sync
    // finds it there by GUID. A refusal means it never arrived: leave the source as it was.
    settle_failed_send(*snap, run.dest_host, run.dest_fs, created, plan.base.guid);
    return failed(fs, done.error());
  }
  if (Status s = mark_arrived(zfs_, fs, *done, run.now); !s) return failed(fs, s.error());
  if (Status h = hold_base(zfs_, fs, done->received_guid()); !h) {
    spdlog::warn("{}: could not move the hold to the new base: {}", fs, h.message());
  }
  bookmark_base(*snap);
  double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - run.started).count();
  record_result(fs, Status::ok(), done->raw_bytes(), secs);
  // Retention after a verified sync, on both sides. A failure here does not undo the sync.
  auto expired = expire_one(fs, peer.client.get(), done->received_guid());
  if (!expired)
    spdlog::warn("{}: retention after the sync failed: {}", fs, expired.error().message);
  spdlog::info("sync {} -> {}:{}: {} from {} ({} bytes, {:.3f} s, GUID verified)", fs,
               run.dest_host, run.dest_fs, *snap, plan.base.name, done->raw_bytes(), secs);
  control::Transfer out = sent_transfer(fs, run.dest_host, run.dest_fs, *snap,
                                        done->received_guid(), done->raw_bytes(), secs);
  out.set_base(plan.base.name);
  out.set_marked_after_lost_ack(plan.mark_local.size() + plan.mark_remote.size());
  out.set_resumed(!req.resume_token().empty());
  out.set_discarded_partial(discarded_partial);
  if (expired) {
    *out.mutable_expired() = std::move(*expired);
  } else {
    out.set_expire_error(expired.error().message);
  }
  return out;
}

}  // namespace zrep
