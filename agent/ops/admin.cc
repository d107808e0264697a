// The administrative commands and views: expire (retention, here and on the destination),
// changedest, clear, list and status.
#include <spdlog/spdlog.h>

#include <set>

#include "agent/logic/records.h"
#include "agent/logic/send_choice.h"
#include "agent/logic/sync_plan.h"
#include "agent/logic/zfs_names.h"
#include "agent/logic/zrep_props.h"
#include "agent/ops/replicator.h"
#include "agent/ops/replicator_internal.h"
#include "agent/roles/retention_step.h"
#include "agent/rpc/wire.h"
#include "common/unix_time.h"
#include "crypto/pki.h"

namespace zrep {
namespace {

// A status entry's view of the zrep snapshots: how many, how many unsent, the last synced one
// and the lag.
void add_snapshot_state(control::FsStatus& e, const std::vector<SnapshotInfo>& snaps, int64_t now) {
  const SnapshotInfo* last_sent = nullptr;
  for (const auto& s : snaps) {
    if (parse_zrep_snap(snap_part_of(s.name)) && s.sent) last_sent = &s;
  }
  e.set_zrep_snapshots(snaps.size());
  e.set_unsent_snapshots(waiting_to_send(snaps));
  if (last_sent != nullptr) {
    e.set_last_synced_snapshot(last_sent->name);
    e.set_last_sync_time(*last_sent->sent);
    // Lag: how old the newest data both sides hold is.
    if (last_sent->creation > 0) e.set_lag_seconds(now - last_sent->creation);
  }
}

// A status entry's view of what this daemon remembers of the filesystem.
void add_record(control::FsStatus& e, const FsRecord& r) {
  if (!r.running.empty()) {
    e.set_running(r.running);
    e.set_running_since(unix_time(r.running_since));
  }
  if (r.last_success) {
    e.set_last_transfer_bytes(r.last_bytes);
    e.set_last_transfer_seconds(r.last_seconds);
  }
  if (r.next_run) e.set_next_run(unix_time(*r.next_run));
  if (r.failures_in_a_row > 0) e.set_failures_in_a_row(r.failures_in_a_row);
  if (!r.last_error.empty()) {
    e.set_last_error(r.last_error);
    e.set_last_error_code(std::string(error_code_name(r.last_error_code)));
    e.set_last_error_time(unix_time(*r.last_error_time));
  }
}

}  // namespace

control::LinkView link_view(const LinkReport& l) {
  control::LinkView v;
  v.set_direction(l.dialled ? "dials" : "listens");
  v.set_state(l.up ? "up" : "down");
  if (l.up_since) v.set_up_since(*l.up_since);
  if (l.down_since) v.set_down_since(*l.down_since);
  if (l.last_heard) v.set_last_heard(*l.last_heard);
  if (!l.up && !l.last_error.empty()) v.set_error(l.last_error);
  return v;
}

Result<control::Expired> Replicator::expire_one(const std::string& fs, PeerClient* peer,
                                                uint64_t keep_guid) {
  auto p = zfs_.get_props(fs, props::filesystem_props());
  if (!p) return p.error();
  const bool master = props::get(*p, props::kMaster) == "yes";
  auto policy = retention_policy(config_, fs, *p);
  if (!policy) return policy.error();
  // keep_guid 0: the newest common snapshot as the sent marks here say.
  auto done = apply_retention(zfs_, fs, *policy,
                              keep_guid == 0 ? std::nullopt : std::optional(keep_guid), master);
  if (!done) return done.error();
  control::Expired out;
  out.set_fs(fs);
  out.set_savecount(done->savecount);
  for (const auto& name : done->destroyed) out.add_destroyed(name);
  for (const auto& [name, why] : done->not_destroyed) (*out.mutable_not_destroyed())[name] = why;
  if (master && peer != nullptr) {
    peer::ExpireRequest req;
    req.set_fs(props::get(*p, props::kDestFs));
    req.set_keep_guid(done->keep_guid);
    auto remote = peer->expire(req);
    if (!remote) return remote.error();
    out.set_on_peer(true);
    *out.mutable_destroyed_on_peer() = remote->destroyed();
  }
  return out;
}

Result<control::ExpireResult> Replicator::expire(const control::ExpireCommand& cmd) {
  std::vector<std::string> targets(cmd.fs().begin(), cmd.fs().end());
  auto managed = managed_filesystems(targets);
  if (!managed) return managed.error();
  if (!cmd.all() && targets.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "name a filesystem to expire, or 'all'");
  }
  // One filesystem that cannot expire (its peer down, its lock held) does not stop the others.
  control::ExpireResult results;
  std::vector<Status> failures;
  for (const auto& [fs, p] : *managed) {
    auto r = expire_locked(fs, p);
    if (r) {
      *results.add_filesystems() = std::move(*r);
    } else {
      failures.push_back(Status(r.error()).with_context("expire " + fs));
    }
  }
  if (failures.size() == 1) return failures[0];
  if (!failures.empty()) {
    std::string msg = std::to_string(failures.size()) + " of " + std::to_string(managed->size()) +
                      " filesystems could not expire";
    for (const auto& f : failures) msg += "\n  " + f.message();
    return make_error(failures[0].code(), msg);
  }
  return results;
}

Result<control::Expired> Replicator::expire_locked(const std::string& fs, const props::PropMap& p) {
  auto held = lock(fs, "expire");
  if (!held) return held.error();
  std::optional<LockedPeer> peer;
  if (props::get(p, props::kMaster) == "yes") {
    auto connected =
        connect_locked(props::get(p, props::kDestHost), props::get(p, props::kDestFs), "expire");
    if (!connected) return Status(connected.error()).with_context("on the destination");
    peer.emplace(std::move(*connected));
  }
  return expire_one(fs, peer ? peer->client.get() : nullptr, 0);
}

Result<control::ChangeDestResult> Replicator::changedest(const control::ChangeDestCommand& cmd) {
  const std::string& fs = cmd.fs();
  ZREP_RETURN_IF_ERROR(validate_dataset_name(cmd.dest_fs()));
  auto managed = managed_filesystems({fs});
  if (!managed) return managed.error();
  const auto& p = managed->at(fs);
  if (props::get(p, props::kMaster) != "yes") {
    return make_error(ErrorCode::kConflict,
                      fs + " is not a master here; run changedest on its master");
  }
  auto held = lock(fs, "changedest");
  if (!held) return held.error();
  auto peer = connect_locked(cmd.remote_host(), cmd.dest_fs(), "changedest");
  if (!peer) return peer.error();
  auto remote = (*peer)->describe(cmd.dest_fs());
  if (!remote) return remote.error();
  if (!remote->exists()) {
    return make_error(ErrorCode::kNotFound, cmd.dest_fs() + " does not exist on " +
                                                cmd.remote_host() +
                                                "; use 'zrep-agent init' for a new destination");
  }
  auto local = zfs_.list_snapshots(fs);
  if (!local) return local.error();
  auto there = from_wire(cmd.dest_fs(), remote->snapshots());
  auto plan = plan_sync(*local, there, fs, cmd.remote_host() + ":" + cmd.dest_fs());
  if (!plan) return Status(plan.error()).with_context("changedest refused");
  std::set<uint64_t> remote_guids;
  for (const auto& s : there) remote_guids.insert(s.guid);

  const int64_t now = unix_now();
  peer::PairRequest req;
  req.set_dest_fs(cmd.dest_fs());
  *req.mutable_pairing() = make_pairing(fs, cmd.remote_host(), cmd.dest_fs(), p);
  req.set_sent_time(now);
  for (const auto& s : *local) {
    if (remote_guids.contains(s.guid)) req.add_sent_guids(s.guid);
  }
  ZREP_RETURN_IF_ERROR((*peer)->pair(req));
  // Sent marks now speak of the new destination.
  for (const auto& s : *local) {
    if (remote_guids.contains(s.guid)) {
      ZREP_RETURN_IF_ERROR(zfs_.set_prop(s.name, props::kSent, std::to_string(now)));
    } else if (s.sent) {
      ZREP_RETURN_IF_ERROR(zfs_.inherit_prop(s.name, props::kSent));
    }
  }
  ZREP_RETURN_IF_ERROR(zfs_.set_prop(fs, props::kDestHost, cmd.remote_host()));
  ZREP_RETURN_IF_ERROR(zfs_.set_prop(fs, props::kDestFs, cmd.dest_fs()));
  spdlog::info("{} now replicates to {}:{} (common snapshot {})", fs, cmd.remote_host(),
               cmd.dest_fs(), plan->base.name);
  control::ChangeDestResult out;
  out.set_fs(fs);
  out.set_dest_host(cmd.remote_host());
  out.set_dest_fs(cmd.dest_fs());
  out.set_common_snapshot(plan->base.name);
  out.set_previous(props::get(p, props::kDestHost) + ":" + props::get(p, props::kDestFs));
  return out;
}

Result<control::ClearResult> Replicator::clear(const control::ClearCommand& cmd) {
  const std::string& fs = cmd.fs();
  auto managed = managed_filesystems({fs});
  if (!managed) return managed.error();
  const auto p = managed->at(fs);
  control::ClearResult out;
  out.set_fs(fs);
  if (props::get(p, props::kRecursive) == "yes") {
    // A recursive pairing: its members first (the root last, so running clear again after a
    // failure finds the tree).
    auto members = zfs_.list_filesystems(fs);
    if (!members) return members.error();
    out.set_tree(true);
    for (auto it = members->rbegin(); it != members->rend(); ++it) {
      auto mp = zfs_.get_props(*it, {props::kMemberOf});
      if (!mp || props::get(*mp, props::kMemberOf) != fs) continue;
      control::ClearCommand c;
      c.set_fs(*it);
      c.set_remote_host(cmd.remote_host());
      auto r = clear(c);
      if (!r) return Status(r.error()).with_context("clear " + fs + " (its member " + *it + ")");
      out.add_members(*it);
    }
  }
  auto held = lock(fs, "clear");
  if (!held) return held.error();
  if (!cmd.remote_host().empty()) {
    // The replica on the peer first: if that fails, nothing changed here.
    const bool master = props::get(p, props::kMaster) == "yes";
    if (!master) {
      return make_error(ErrorCode::kInvalidArgument,
                        fs + " is a replica here; clear it on its master to clear both sides");
    }
    if (props::get(p, props::kDestHost) != cmd.remote_host()) {
      return make_error(ErrorCode::kInvalidArgument, fs + " is replicated to " +
                                                         props::get(p, props::kDestHost) +
                                                         ", not to " + cmd.remote_host());
    }
    auto peer = connect(cmd.remote_host());
    if (!peer) return peer.error();
    ZREP_RETURN_IF_ERROR((*peer)->clear(props::get(p, props::kDestFs)));
    out.set_cleared_on_peer(props::get(p, props::kDestFs));
  }
  ZREP_RETURN_IF_ERROR(clear_zrep_properties(zfs_, fs));
  spdlog::info("cleared the zrep properties of {}", fs);
  return out;
}

Result<control::SnapshotList> Replicator::list_snapshots(const std::string& fs) {
  auto managed = managed_filesystems({fs});
  if (!managed) return managed.error();
  auto snaps = zfs_.list_snapshots(fs);
  if (!snaps) return snaps.error();
  // Why each stays (or that it goes at the next sync or expire), as retention would decide now.
  const props::PropMap& p = managed->begin()->second;
  auto policy = retention_policy(config_, fs, p);
  if (!policy) return policy.error();
  std::map<std::string, std::string> why;
  for (const auto& d :
       retention_decisions(*snaps, *policy, std::nullopt, props::get(p, props::kMaster) == "yes")) {
    why[d.name] = d.why;
  }
  control::SnapshotList out;
  out.set_savecount(policy->savecount);
  out.set_grid(policy->grid.text());
  for (const auto& s : *snaps) {
    if (!parse_zrep_snap(snap_part_of(s.name))) continue;
    auto* e = out.add_snapshots();
    e->set_snapshot(s.name);
    e->set_guid(s.guid);
    e->set_created(s.creation);
    if (s.sent) e->set_sent(*s.sent);
    e->set_retention(why[s.name]);
  }
  return out;
}

Result<control::ListResult> Replicator::list(const control::ListCommand& cmd) {
  auto managed = managed_filesystems({cmd.fs().begin(), cmd.fs().end()});
  if (!managed) return managed.error();
  control::ListResult out;
  for (const auto& [name, p] : *managed) {
    bool master = props::get(p, props::kMaster) == "yes";
    // Named filesystems are listed whatever their role; otherwise masters, or with -L replicas.
    if (cmd.fs().empty() && master == cmd.incoming()) continue;
    const PairingRecord pairing = pairing_of(p);
    auto* e = out.add_pairings();
    e->set_fs(name);
    e->set_role(master ? "master" : "destination");
    e->set_src_host(pairing.src_host);
    e->set_src_fs(pairing.src_fs);
    e->set_dest_host(pairing.dest_host);
    e->set_dest_fs(pairing.dest_fs);
    e->set_savecount(pairing.savecount.value_or(""));
    e->set_epoch(pairing.epoch.value_or(""));
  }
  return out;
}

Result<control::StatusResult> Replicator::status(const control::StatusCommand& cmd) {
  auto managed = managed_filesystems({cmd.fs().begin(), cmd.fs().end()});
  if (!managed) return managed.error();
  control::StatusResult out;
  const int64_t now = unix_now();
  out.set_host(config_.host);
  out.set_max_switch_age_seconds(config_.alert_settings().max_switch_age.count());
  if (auto expires = certificate_not_after(config_.tls_paths().cert_file)) {
    out.set_certificate_not_after(*expires);
  }
  for (const auto& [name, p] : *managed) {
    bool master = props::get(p, props::kMaster) == "yes";
    const PairingRecord pairing = pairing_of(p);
    control::FsStatus& e = *out.add_filesystems();
    e.set_fs(name);
    e.set_role(master ? "master" : "destination");
    e.set_peer(master ? pairing.dest_host : pairing.src_host);
    e.set_peer_fs(master ? pairing.dest_fs : pairing.src_fs);
    e.set_epoch(pairing.epoch.value_or(""));
    const LagLimits limits = config_.lag_limits_for(name);
    e.set_warn_lag_seconds(limits.warn.count());
    e.set_crit_lag_seconds(limits.crit.count());
    auto snaps = zfs_.list_snapshots(name);
    if (snaps) {
      add_snapshot_state(e, *snaps, now);
    } else {
      e.set_error(snaps.error().message);
    }
    if (auto h = locks_.holder(name)) {
      auto* l = e.mutable_lock();
      l->set_host(h->owner.host);
      l->set_agent(h->owner.instance);
      l->set_operation(h->owner.operation);
      l->set_since(unix_time(h->since));
      l->set_text(describe_holder(name, config_.host, *h));
    }
    if (links_ != nullptr) {
      if (auto link = links_->describe(e.peer())) *e.mutable_link() = link_view(*link);
    }
    if (!props::get(p, props::kFenced).empty()) {
      e.set_role("demoted");
      e.set_fenced(props::get(p, props::kFenced));
    }
    if (!props::get(p, props::kSwitch).empty()) {
      e.set_unfinished_switch(props::get(p, props::kSwitch));
      std::lock_guard lk(mu_);
      e.set_unfinished_switch_since(unix_time(
          switch_seen_.try_emplace(name, std::chrono::system_clock::now()).first->second));
    } else {
      std::lock_guard lk(mu_);
      switch_seen_.erase(name);
    }
    if (!props::get(p, props::kTakeover).empty()) {
      e.set_forced_takeover(props::get(p, props::kTakeover));
    }
    if (!props::get(p, props::kKept).empty()) e.set_kept(props::get(p, props::kKept));
    std::lock_guard lk(mu_);
    if (auto it = records_.find(name); it != records_.end()) add_record(e, it->second);
  }
  return out;
}

}  // namespace zrep
