// What a peer changes on a replica it feeds, besides receiving into it: the pairing (pair, for
// changedest, and write_pairing, also after an init's receive), zrep:sent marks on its
// snapshots (mark_sent), retention (expire) and clearing its zrep properties (clear).
#include <spdlog/spdlog.h>

#include <set>
#include <vector>

#include "agent/endpoint/peer_service.h"
#include "agent/logic/peer_trust.h"
#include "agent/logic/zfs_names.h"
#include "agent/logic/zrep_props.h"
#include "agent/roles/retention_step.h"

namespace zrep {

Status PeerService::write_pairing(const std::string& dest, const peer::Pairing& p) {
  // A destination must never be written to: an incremental receive would refuse it.
  ZREP_RETURN_IF_ERROR(zfs_.set_prop(dest, props::kReadonly, "on"));
  ZREP_RETURN_IF_ERROR(
      zrep::write_pairing(zfs_, dest,
                          {p.src_fs(), session_.peer_name, dest, config_.host,
                           std::to_string(p.savecount()), std::to_string(p.epoch())},
                          PairingOrder::kEpochLast));
  (void)zfs_.inherit_prop(dest, props::kMaster);
  return Status::ok();
}

Result<peer::PairReply> PeerService::pair(const peer::PairRequest& req) {
  const std::string& dest = req.dest_fs();
  ZREP_RETURN_IF_ERROR(validate_dataset_name(dest));
  ZREP_RETURN_IF_ERROR(authorize(config_, session_.peer_name, dest));
  ZREP_RETURN_IF_ERROR(check_pairing(req.pairing()));
  auto held = hold(dest, "changedest");
  if (!held) return held.error();
  auto exists = zfs_.exists(dest);
  if (!exists) return exists.error();
  if (!*exists) {
    return make_error(ErrorCode::kNotFound, dest + " does not exist on " + config_.host +
                                                "; use 'zrep-agent init' for a new destination");
  }
  auto p = zfs_.get_props(dest, props::filesystem_props());
  if (!p) return p.error();
  // Only a replica this peer feeds already (or one the operator here marked for it): the GUIDs
  // the peer echoes never make an unmanaged or another peer's dataset its destination.
  ZREP_RETURN_IF_ERROR(
      check_may_pair(dest, *p, session_.peer_name, req.pairing().src_fs(), config_.host));
  auto snaps = zfs_.list_snapshots(dest);
  if (!snaps) return snaps.error();
  std::vector<const SnapshotInfo*> common;
  for (const auto& s : *snaps) {
    for (uint64_t g : req.sent_guids()) {
      if (s.guid == g) common.push_back(&s);
    }
  }
  if (common.empty()) {
    return make_error(ErrorCode::kNotFound, dest + " on " + config_.host +
                                                " holds no snapshot in common with the source");
  }
  ZREP_RETURN_IF_ERROR(write_pairing(dest, req.pairing()));
  for (const auto* s : common) {
    ZREP_RETURN_IF_ERROR(zfs_.set_prop(s->name, props::kSent, std::to_string(req.sent_time())));
  }
  spdlog::info("peer {}: {} is now the destination of {}:{}", session_.peer_name, dest,
               session_.peer_name, req.pairing().src_fs());
  return peer::PairReply{};
}

Status PeerService::clear(const peer::ClearRequest& req) {
  const std::string& fs = req.fs();
  Status result = validate_dataset_name(fs);
  if (result) result = authorize(config_, session_.peer_name, fs);
  Result<HeldLock> held = result ? hold(fs, "clear") : Result<HeldLock>(result.error());
  if (result) result = held.status();
  if (result) {
    auto p = zfs_.get_props(fs, props::filesystem_props());
    result = p ? check_destination_of_peer(fs, *p) : p.status();
  }
  if (result) result = clear_zrep_properties(zfs_, fs);
  if (result) spdlog::info("peer {}: cleared the zrep properties of {}", session_.peer_name, fs);
  return result;
}

Result<peer::MarkSentReply> PeerService::mark_sent(const peer::MarkSentRequest& req) {
  ZREP_RETURN_IF_ERROR(validate_dataset_name(req.fs()));
  ZREP_RETURN_IF_ERROR(authorize(config_, session_.peer_name, req.fs()));
  auto held = hold(req.fs(), "mark-sent");
  if (!held) return held.error();
  // Only the replica this peer feeds: marks on a master's snapshots would let retention destroy
  // snapshots that were never sent.
  auto p = zfs_.get_props(req.fs(), props::filesystem_props());
  if (!p) return p.error();
  ZREP_RETURN_IF_ERROR(check_destination_of_peer(req.fs(), *p));
  auto snaps = zfs_.list_snapshots(req.fs());
  if (!snaps) return snaps.error();
  // Each snapshot once, however often the request names its GUID.
  const std::set<uint64_t> guids(req.guids().begin(), req.guids().end());
  peer::MarkSentReply reply;
  for (const auto& s : *snaps) {
    if (s.sent || !guids.contains(s.guid)) continue;
    ZREP_RETURN_IF_ERROR(zfs_.set_prop(s.name, props::kSent, std::to_string(req.sent_time())));
    reply.set_marked(reply.marked() + 1);
  }
  return reply;
}

Result<peer::ExpireReply> PeerService::expire(const peer::ExpireRequest& req) {
  ZREP_RETURN_IF_ERROR(validate_dataset_name(req.fs()));
  ZREP_RETURN_IF_ERROR(authorize(config_, session_.peer_name, req.fs()));
  auto held = hold(req.fs(), "expire");
  if (!held) return held.error();
  auto p = zfs_.get_props(req.fs(), props::filesystem_props());
  if (!p) return p.error();
  ZREP_RETURN_IF_ERROR(check_destination_of_peer(req.fs(), *p));
  // The master's newest common snapshot is kept whatever the count; 0 (it does not know one)
  // destroys nothing.
  auto policy = retention_policy(config_, req.fs(), *p);
  if (!policy) return policy.error();
  auto done = apply_retention(zfs_, req.fs(), *policy, req.keep_guid(), false);
  if (!done) return done.error();
  peer::ExpireReply reply;
  for (const auto& name : done->destroyed) reply.add_destroyed(std::string(snap_part_of(name)));
  if (reply.destroyed_size() > 0) {
    spdlog::info("peer {}: expired {} snapshot(s) of {} (savecount {})", session_.peer_name,
                 reply.destroyed_size(), req.fs(), done->savecount);
  }
  return reply;
}

}  // namespace zrep
