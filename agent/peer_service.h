// What this host does for an authenticated peer: describe a filesystem, receive a send stream
// into it, mark snapshots sent. Every dataset a peer names is validated and checked against the
// datasets its [[peer]] entry allows before any zfs command runs.
//
// One PeerService serves one session on that session's thread.
#pragma once

#include <string>

#include "agent/config.h"
#include "agent/peer_session.h"
#include "agent/zfs.h"
#include "agent/zrep_props.h"
#include "proto/peer.pb.h"

namespace zrep {

// kPermissionDenied unless `dataset` lies within one of the datasets the peer's entry allows.
Status authorize(const Config& config, const std::string& peer_name, const std::string& dataset);

class PeerService {
 public:
  PeerService(const Config& config, const Zfs& zfs, PeerSession& session)
      : config_(config), zfs_(zfs), session_(session) {}

  // Serves requests until the peer hangs up or the session fails. Returns the reason it ended
  // (kUnavailable for a normal hang-up).
  Status serve();

 private:
  Status handle(const peer::Request& req);
  Result<peer::DescribeReply> describe(const peer::DescribeRequest& req);
  Result<peer::MarkSentReply> mark_sent(const peer::MarkSentRequest& req);
  Result<peer::ExpireReply> expire(const peer::ExpireRequest& req);
  // dest must be a destination here that this peer replicates into.
  Status check_destination_of_peer(const std::string& dest, const props::PropMap& p);
  // Sends "ready", receives the stream; returns the final reply.
  Result<peer::ReceiveReply> receive(uint64_t id, const peer::ReceiveRequest& req);
  Status check_receive(const peer::ReceiveRequest& req);
  Result<peer::PairReply> pair(const peer::PairRequest& req);
  Status check_pairing(const peer::Pairing& p);
  Status write_pairing(const std::string& dest, const peer::Pairing& p);
  Status after_receive(const peer::ReceiveRequest& req, peer::ReceiveReply& reply);
  // Removes what a receive that failed verification left: the new filesystem (init) or the
  // snapshots after the base.
  void undo_receive(const peer::ReceiveRequest& req);

  const Config& config_;
  const Zfs& zfs_;
  PeerSession& session_;
};

// The snapshots of fs in wire form (snapshot parts only).
void to_wire(const std::vector<SnapshotInfo>& snaps,
             google::protobuf::RepeatedPtrField<peer::Snapshot>* out);
std::vector<SnapshotInfo> from_wire(const std::string& fs,
                                    const google::protobuf::RepeatedPtrField<peer::Snapshot>& in);

}  // namespace zrep
