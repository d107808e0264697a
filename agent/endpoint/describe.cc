// Describe: what a peer learns of a filesystem here (whether it and its parent exist, and for
// a dataset paired with that peer its properties, snapshots, resume token and free space),
// and the fencing hint a describe carries (a peer that took over at a higher epoch).
#include <spdlog/spdlog.h>

#include <algorithm>

#include "agent/endpoint/endpoint_internal.h"
#include "agent/endpoint/peer_service.h"
#include "agent/logic/peer_trust.h"
#include "agent/logic/records.h"
#include "agent/logic/role_switch.h"
#include "agent/logic/zfs_names.h"
#include "agent/logic/zrep_props.h"

namespace zrep {

using endpoint_internal::parent_of;

Result<peer::DescribeReply> PeerService::describe(const peer::DescribeRequest& req) {
  ZREP_RETURN_IF_ERROR(validate_dataset_name(req.fs()));
  ZREP_RETURN_IF_ERROR(authorize(config_, session_.peer_name, req.fs()));
  peer::DescribeReply reply;
  auto exists = zfs_.exists(req.fs());
  if (!exists) return exists.error();
  reply.set_exists(*exists);
  std::string parent = parent_of(req.fs());
  if (*exists) {
    reply.set_parent_exists(true);
    auto p = zfs_.get_props(req.fs(), props::filesystem_props());
    if (!p) return p.error();
    // A dataset not paired with this peer: it learns that it exists (so init refuses it), not
    // its properties, snapshots (GUIDs) or partial receive (agent/logic/peer_trust.h).
    if (!paired_with_peer(*p, session_.peer_name)) return reply;
    for (const auto& [k, v] : *p) (*reply.mutable_props())[k] = v;
    note_requester(req, *p);
    auto snaps = zfs_.list_snapshots(req.fs());
    if (!snaps) return snaps.error();
    to_wire(*snaps, reply.mutable_snapshots());
    auto token = zfs_.resume_token(req.fs());
    if (token) reply.set_resume_token(*token);
  } else if (!parent.empty()) {
    auto pe = zfs_.exists(parent);
    if (!pe) return pe.error();
    reply.set_parent_exists(*pe);
  }
  std::string space_of = *exists ? req.fs() : parent;
  if (!space_of.empty() && reply.parent_exists()) {
    auto avail = zfs_.available_bytes(space_of);
    if (avail) reply.set_available_bytes(*avail);
  }
  return reply;
}

void PeerService::note_requester(const peer::DescribeRequest& req, const props::PropMap& p) {
  // The peer masters its side of our pairing at a higher epoch than ours: it took over.
  if (!req.requester_is_master() || props::get(p, props::kMaster) != "yes") return;
  if (props::get(p, props::kDestHost) != session_.peer_name ||
      props::get(p, props::kDestFs) != req.requester_fs()) {
    return;
  }
  // Only a claim that could be true is looked into (the check itself judges it against local
  // state, Replicator::judge_peer_claim): one epoch up, never past kMaxEpoch.
  const uint64_t mine = effective_epoch(p);
  if (!is_plausible_epoch(req.requester_epoch()) || req.requester_epoch() != mine + 1) return;
  if (hooks_.check_later) {
    spdlog::warn("peer {} masters {} at epoch {}, above {} here: checking whether to step down",
                 session_.peer_name, req.requester_fs(), req.requester_epoch(),
                 props::get(p, props::kEpoch));
    hooks_.check_later(req.fs());
  }
}

}  // namespace zrep
