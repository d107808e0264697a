// The administrative commands and views: expire (retention, here and on the destination),
// changedest, clear, list and status.
#include <spdlog/spdlog.h>

#include <set>

#include "agent/logic/retention.h"
#include "agent/logic/sync_plan.h"
#include "agent/logic/zfs_names.h"
#include "agent/logic/zrep_props.h"
#include "agent/ops/replicator.h"
#include "agent/rpc/wire.h"
#include "common/unix_time.h"

namespace zrep {
namespace {

using Clock = std::chrono::system_clock;
using nlohmann::json;

int64_t to_unix(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// A status entry's view of the zrep snapshots: how many, how many unsent, the last synced one
// and the lag.
void add_snapshot_state(json& e, const std::vector<SnapshotInfo>& snaps, int64_t now) {
  const SnapshotInfo* last_sent = nullptr;
  size_t unsent = 0;
  for (const auto& s : snaps) {
    if (!parse_zrep_snap(snap_part_of(s.name))) continue;
    if (s.sent)
      last_sent = &s;
    else
      ++unsent;
  }
  e["zrep_snapshots"] = snaps.size();
  e["unsent_snapshots"] = unsent;
  if (last_sent != nullptr) {
    e["last_synced_snapshot"] = last_sent->name;
    e["last_sync_time"] = *last_sent->sent;
    // Lag: how old the newest data both sides hold is.
    if (last_sent->creation > 0) e["lag_seconds"] = now - last_sent->creation;
  }
}

// A status entry's view of what this daemon remembers of the filesystem.
void add_record(json& e, const FsRecord& r) {
  if (!r.running.empty()) {
    e["running"] = r.running;
    e["running_since"] = to_unix(r.running_since);
  }
  if (r.last_success) {
    e["last_transfer_bytes"] = r.last_bytes;
    e["last_transfer_seconds"] = r.last_seconds;
  }
  if (r.next_run) e["next_run"] = to_unix(*r.next_run);
  if (r.failures_in_a_row > 0) e["failures_in_a_row"] = r.failures_in_a_row;
  if (!r.last_error.empty()) {
    e["last_error"] = r.last_error;
    e["last_error_time"] = to_unix(*r.last_error_time);
  }
}

}  // namespace

Result<json> Replicator::expire_one(const std::string& fs, PeerClient* peer, uint64_t keep_guid) {
  auto p = zfs_.get_props(fs, props::filesystem_props());
  if (!p) return p.error();
  const bool master = props::get(*p, props::kMaster) == "yes";
  auto savecount = parse_savecount(props::get(*p, props::kSavecount));
  if (!savecount) return savecount.error();
  auto snaps = zfs_.list_snapshots(fs);
  if (!snaps) return snaps.error();
  if (keep_guid == 0) {
    // The newest snapshot the other side is known to hold: on the master the newest marked
    // sent, on a destination the newest received.
    for (const auto& s : *snaps) {
      if (!parse_zrep_snap(snap_part_of(s.name))) continue;
      if (!master || s.sent) keep_guid = s.guid;
    }
  }
  json out{{"fs", fs}, {"savecount", *savecount}, {"destroyed", json::array()}};
  for (const auto& name : plan_retention({*snaps, *savecount, keep_guid, master})) {
    // One that cannot go (a clone made from it, an admin's hold) does not stop the others.
    if (Status s = zfs_.destroy_snapshot(name); !s) {
      spdlog::warn("{}: retention could not destroy {}: {}", fs, name, s.message());
      out["not_destroyed"][name] = s.message();
      continue;
    }
    out["destroyed"].push_back(name);
  }
  if (master && peer != nullptr) {
    peer::ExpireRequest req;
    req.set_fs(props::get(*p, props::kDestFs));
    req.set_keep_guid(keep_guid);
    auto remote = peer->expire(req);
    if (!remote) return remote.error();
    out["destroyed_on_peer"] =
        json(std::vector<std::string>(remote->destroyed().begin(), remote->destroyed().end()));
  }
  return out;
}

Result<json> Replicator::expire(const control::ExpireCommand& cmd) {
  std::vector<std::string> targets(cmd.fs().begin(), cmd.fs().end());
  auto managed = managed_filesystems(targets);
  if (!managed) return managed.error();
  if (!cmd.all() && targets.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "name a filesystem to expire, or 'all'");
  }
  json results = json::array();
  for (const auto& [fs, p] : *managed) {
    auto held = lock(fs, "expire");
    if (!held) return held.error();
    std::optional<LockedPeer> peer;
    if (props::get(p, props::kMaster) == "yes") {
      auto connected =
          connect_locked(props::get(p, props::kDestHost), props::get(p, props::kDestFs), "expire");
      if (!connected) {
        return Status(connected.error()).with_context("expire " + fs + " on the destination");
      }
      peer.emplace(std::move(*connected));
    }
    auto r = expire_one(fs, peer ? peer->client.get() : nullptr, 0);
    if (!r) return Status(r.error()).with_context("expire " + fs);
    results.push_back(*r);
  }
  return results;
}

Result<json> Replicator::changedest(const control::ChangeDestCommand& cmd) {
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
  return json{{"fs", fs},
              {"dest_host", cmd.remote_host()},
              {"dest_fs", cmd.dest_fs()},
              {"common_snapshot", plan->base.name},
              {"previous", props::get(p, props::kDestHost) + ":" + props::get(p, props::kDestFs)}};
}

Result<json> Replicator::clear(const control::ClearCommand& cmd) {
  const std::string& fs = cmd.fs();
  auto managed = managed_filesystems({fs});
  if (!managed) return managed.error();
  const auto p = managed->at(fs);
  json out{{"fs", fs}};
  if (props::get(p, props::kRecursive) == "yes") {
    // A recursive pairing: its members first (the root last, so running clear again after a
    // failure finds the tree).
    auto members = zfs_.list_filesystems(fs);
    if (!members) return members.error();
    out["members"] = json::array();
    for (auto it = members->rbegin(); it != members->rend(); ++it) {
      auto mp = zfs_.get_props(*it, {props::kMemberOf});
      if (!mp || props::get(*mp, props::kMemberOf) != fs) continue;
      control::ClearCommand c;
      c.set_fs(*it);
      c.set_remote_host(cmd.remote_host());
      auto r = clear(c);
      if (!r) return Status(r.error()).with_context("clear " + fs + " (its member " + *it + ")");
      out["members"].push_back(*it);
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
    out["cleared_on_peer"] = props::get(p, props::kDestFs);
  }
  ZREP_RETURN_IF_ERROR(clear_zrep_properties(zfs_, fs));
  spdlog::info("cleared the zrep properties of {}", fs);
  return out;
}

Result<json> Replicator::list_snapshots(const std::string& fs) {
  auto managed = managed_filesystems({fs});
  if (!managed) return managed.error();
  auto snaps = zfs_.list_snapshots(fs);
  if (!snaps) return snaps.error();
  json out = json::array();
  for (const auto& s : *snaps) {
    if (!parse_zrep_snap(snap_part_of(s.name))) continue;
    json e{{"snapshot", s.name}, {"guid", std::to_string(s.guid)}, {"created", s.creation}};
    e["sent"] = s.sent ? json(*s.sent) : json(nullptr);
    out.push_back(std::move(e));
  }
  return out;
}

Result<json> Replicator::list(const control::ListCommand& cmd) {
  if (!cmd.snapshots_of().empty()) return list_snapshots(cmd.snapshots_of());
  auto managed = managed_filesystems({cmd.fs().begin(), cmd.fs().end()});
  if (!managed) return managed.error();
  json out = json::array();
  for (const auto& [name, p] : *managed) {
    bool master = props::get(p, props::kMaster) == "yes";
    // Named filesystems are listed whatever their role; otherwise masters, or with -L replicas.
    if (cmd.fs().empty() && master == cmd.incoming()) continue;
    out.push_back(json{{"fs", name},
                       {"role", master ? "master" : "destination"},
                       {"src_host", props::get(p, props::kSrcHost)},
                       {"src_fs", props::get(p, props::kSrcFs)},
                       {"dest_host", props::get(p, props::kDestHost)},
                       {"dest_fs", props::get(p, props::kDestFs)},
                       {"savecount", props::get(p, props::kSavecount)},
                       {"epoch", props::get(p, props::kEpoch)}});
  }
  return out;
}

Result<json> Replicator::status(const control::StatusCommand& cmd) {
  auto managed = managed_filesystems({cmd.fs().begin(), cmd.fs().end()});
  if (!managed) return managed.error();
  json out = json::array();
  const int64_t now = unix_now();
  for (const auto& [name, p] : *managed) {
    bool master = props::get(p, props::kMaster) == "yes";
    json e{{"fs", name},
           {"role", master ? "master" : "destination"},
           {"peer", master ? props::get(p, props::kDestHost) : props::get(p, props::kSrcHost)},
           {"peer_fs", master ? props::get(p, props::kDestFs) : props::get(p, props::kSrcFs)},
           {"epoch", props::get(p, props::kEpoch)}};
    auto snaps = zfs_.list_snapshots(name);
    if (snaps) {
      add_snapshot_state(e, *snaps, now);
    } else {
      e["error"] = snaps.error().message;
    }
    if (auto h = locks_.holder(name)) {
      e["lock"] = json{{"host", h->owner.host},
                       {"agent", h->owner.instance},
                       {"operation", h->owner.operation},
                       {"since", to_unix(h->since)},
                       {"text", describe_holder(name, config_.host, *h)}};
    }
    if (links_ != nullptr) {
      if (auto link = links_->describe(e["peer"].get<std::string>())) e["link"] = *link;
    }
    if (!props::get(p, props::kFenced).empty()) {
      e["role"] = "demoted";
      e["fenced"] = props::get(p, props::kFenced);
    }
    if (!props::get(p, props::kSwitch).empty()) e["switch"] = props::get(p, props::kSwitch);
    if (!props::get(p, props::kTakeover).empty()) {
      e["forced_takeover"] = props::get(p, props::kTakeover);
    }
    if (!props::get(p, props::kKept).empty()) e["kept"] = props::get(p, props::kKept);
    std::lock_guard lk(mu_);
    if (auto it = records_.find(name); it != records_.end()) add_record(e, it->second);
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace zrep
