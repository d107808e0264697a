// Failover requests of a peer: a step of a role switch that the peer coordinates, run here as
// the standby (switch_step, under the lock the session took), and a planned failover the
// peer asks this host, its master, to start (takeover, when allow_takeover says so).
#include "agent/endpoint/peer_service.h"
#include "agent/logic/zfs_names.h"
#include "agent/roles/switch_steps.h"

namespace zrep {

Result<peer::SwitchReply> PeerService::switch_step(const peer::SwitchRequest& req) {
  ZREP_RETURN_IF_ERROR(validate_dataset_name(req.fs()));
  ZREP_RETURN_IF_ERROR(authorize(config_, session_.peer_name, req.fs()));
  if (hooks_.locks != nullptr && !session_holds(req.fs())) {
    return make_error(ErrorCode::kConflict, "a switch step on " + req.fs() +
                                                " needs the lock on it, taken on this session");
  }
  auto r = standby_switch_step(config_, zfs_, session_.peer_name, req);
  // Whatever happens next to the session, the journal just written gets looked at.
  if (r && req.step() == peer::SwitchRequest::PREPARE && hooks_.check_later) {
    hooks_.check_later(req.fs());
  }
  return r;
}

Result<peer::TakeoverReply> PeerService::takeover(const peer::TakeoverRequest& req) {
  ZREP_RETURN_IF_ERROR(validate_dataset_name(req.fs()));
  ZREP_RETURN_IF_ERROR(authorize(config_, session_.peer_name, req.fs()));
  const std::optional<PeerConfig> peer = config_.find_peer(session_.peer_name);
  if (!peer || !peer->allow_takeover) {
    return make_error(ErrorCode::kPermissionDenied,
                      "peer '" + session_.peer_name + "' may not start a failover of " + req.fs() +
                          " on " + config_.host + ": its [[peer]] entry in " + config_.source +
                          " says allow_takeover = false. Run 'zrep-agent failover " + req.fs() +
                          "' on " + config_.host + " instead");
  }
  if (!req.snapshot().empty()) {
    ZREP_RETURN_IF_ERROR(validate_snapshot_name(req.fs() + "@" + req.snapshot()));
  }
  if (!hooks_.takeover) return make_error(ErrorCode::kInternal, "takeover is not available");
  auto r = hooks_.takeover(req.fs(), req.snapshot(), session_.peer_name);
  if (!r) return r.error();
  peer::TakeoverReply reply;
  reply.set_fs(r->fs);
  reply.set_old_master(r->old_master);
  reply.set_new_master(r->new_master);
  reply.set_new_master_fs(r->new_master_fs);
  reply.set_epoch(r->epoch);
  reply.set_snapshot(r->snapshot);
  reply.set_bytes(r->bytes);
  reply.set_seconds(r->seconds);
  if (r->newer_kept_in) reply.set_newer_kept_in(*r->newer_kept_in);
  return reply;
}

}  // namespace zrep
