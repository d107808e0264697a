// Reaching peers: a session to a peer (dialled, or over the link it keeps to this host), the
// peer's lock on its side of a pairing, the describe that tells it ours, a cheap probe, and
// whether a filesystem goes raw to a peer.
#include <memory>

#include "agent/logic/records.h"
#include "agent/logic/role_switch.h"
#include "agent/logic/zrep_props.h"
#include "agent/ops/replicator.h"
#include "agent/rpc/wire.h"
#include "common/unix_time.h"

namespace zrep {

Result<Replicator::LockedPeer> Replicator::connect_locked(const std::string& peer_name,
                                                          const std::string& remote_fs,
                                                          const std::string& operation) {
  auto peer = connect(peer_name);
  if (!peer) return peer.error();
  std::string token = instance_id_ + "-" + locks_.new_token();
  ZREP_RETURN_IF_ERROR((*peer)->lock(remote_fs, operation, token));
  return LockedPeer(std::move(*peer), remote_fs, token);
}

Result<peer::DescribeReply> Replicator::describe_pair(PeerClient& peer, const std::string& fs,
                                                      const props::PropMap& p,
                                                      const std::string& remote_fs) {
  peer::DescribeRequest req;
  req.set_fs(remote_fs);
  req.set_requester_fs(fs);
  req.set_requester_epoch(recorded_epoch(p));
  req.set_requester_is_master(props::get(p, props::kMaster) == "yes");
  return peer.describe(req);
}

Result<bool> Replicator::use_raw(const std::string& fs, PeerClient& peer) {
  const bool possible = zfs_.features().raw_send && peer.peer_hello().zfs().raw_send();
  if (auto configured = config_.raw_for(fs)) {
    if (*configured && !possible) {
      return make_error(
          ErrorCode::kInvalidArgument,
          fs + " has raw = true in " + config_.source +
              ", but raw sends need OpenZFS on both hosts (here: " + zfs_.features().version +
              ", " + peer.peer_name() + ": " + peer.peer_hello().zfs().version() + ")");
    }
    return *configured;
  }
  if (!possible) return false;
  auto p = zfs_.get_props(fs, {"encryption"});
  if (!p) return p.error();
  const std::string enc = props::get(*p, "encryption");
  return !enc.empty() && enc != "off" && enc != "-";
}

Result<std::unique_ptr<PeerClient>> Replicator::connect(const std::string& peer_name) {
  const std::optional<PeerConfig> peer = config_.find_peer(peer_name);
  if (!peer) {
    return make_error(ErrorCode::kNotFound, "unknown peer '" + peer_name +
                                                "': it has no [[peer]] entry in " + config_.source);
  }
  // A peer this host may not dial is reached over the link it keeps to this host.
  auto session =
      !peer->address && links_ != nullptr
          ? links_->request_session(peer_name)
          : dial_peer(config_, tls_, *peer, make_hello(config_, zfs_.features(), instance_id_));
  if (!session) return session.error();
  {
    std::lock_guard lk(mu_);
    last_contact_[peer_name] = unix_now();
  }
  return std::make_unique<PeerClient>(std::move(*session), config_.io_timeout, sessions_);
}

bool Replicator::probe_peer(const std::string& peer_name) {
  const std::optional<PeerConfig> peer = config_.find_peer(peer_name);
  if (peer && !peer->address && links_ != nullptr) return links_->connected(peer_name);
  return connect(peer_name).is_ok();
}

}  // namespace zrep
