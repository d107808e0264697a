// What this host does for an authenticated peer: describe a filesystem, receive a send stream
// into it, mark snapshots sent. Every dataset a peer names is validated and checked against the
// datasets its [[peer]] entry allows before any zfs command runs.
//
// One PeerService serves one session on that session's thread. Its methods are in the files
// of this folder by concern: peer_service.cc (the session, dispatch, locks), authorize.cc,
// describe.cc, replica.cc, receive.cc, failover.cc.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "agent/config/config.h"
#include "agent/logic/failover_outcome.h"
#include "agent/logic/lock_table.h"
#include "agent/logic/zrep_props.h"
#include "agent/rpc/peer_session.h"
#include "agent/rpc/wire.h"
#include "agent/zfs/zfs.h"
#include "proto/peer.pb.h"

namespace zrep {

// kPermissionDenied unless `dataset` lies within one of the datasets the peer's entry allows.
Status authorize(const Config& config, const std::string& peer_name, const std::string& dataset);

// What a session needs of the rest of the daemon.
struct PeerHooks {
  LockTable* locks = nullptr;
  // Runs a planned failover of fs (mastered here) to the session's peer, at `snapshot` when
  // not empty; returns its result.
  std::function<Result<FailoverOutcome>(const std::string& fs, const std::string& snapshot,
                                        const std::string& peer)>
      takeover;
  // Something about fs needs a look soon: an unfinished switch, or a peer that claims a
  // higher epoch for a filesystem mastered here (fencing).
  std::function<void(const std::string& fs)> check_later;
};

class PeerService {
 public:
  PeerService(const Config& config, const Zfs& zfs, PeerSession& session, PeerHooks hooks)
      : config_(config), zfs_(zfs), session_(session), hooks_(std::move(hooks)) {}
  ~PeerService();
  PeerService(const PeerService&) = delete;
  PeerService& operator=(const PeerService&) = delete;

  // Serves requests until the peer hangs up or the session fails. Returns the reason it ended
  // (kUnavailable for a normal hang-up).
  Status serve();

 private:
  // Runs one request and sends its reply (or its error).
  Status handle(const peer::Request& req);
  // Runs the method for the request's kind; fills reply's body when it succeeds.
  Status dispatch(const peer::Request& req, peer::Reply& reply);
  Status clear(const peer::ClearRequest& req);
  Result<peer::DescribeReply> describe(const peer::DescribeRequest& req);
  Result<peer::MarkSentReply> mark_sent(const peer::MarkSentRequest& req);
  Result<peer::ExpireReply> expire(const peer::ExpireRequest& req);
  // dest must be a destination here that this peer replicates into.
  Status check_destination_of_peer(const std::string& dest, const props::PropMap& p);
  // Sends "ready", receives the stream; returns the final reply.
  Result<peer::ReceiveReply> receive(uint64_t id, const peer::ReceiveRequest& req);
  // The steps of receive, in order (receive.cc).
  struct ReceiveAttempt;
  // Refuses a dest that exists and is not this peer's replica; then resumes the partial
  // receive on dest that the sender names, or discards one it does not. True: it resumes.
  Result<bool> check_owner_and_partial(const peer::ReceiveRequest& req, const std::string& target);
  // Sets an old copy aside (init --force) and marks an incremental's dest as receiving.
  Status prepare_target(ReceiveAttempt& a);
  Result<RecvSpec> recv_spec(const ReceiveAttempt& a);
  // Starts zfs recv, sends "ready" and feeds it the stream; returns the raw bytes received.
  Result<uint64_t> run_stream(uint64_t id, ReceiveAttempt& a, const RecvSpec& spec);
  // Verifies the received snapshot's GUID, marks, holds and mounts it; returns the reply.
  Result<peer::ReceiveReply> finish_receive(const ReceiveAttempt& a, uint64_t raw_bytes);
  // Undoes what the receive changed (as far as it got) and returns e.
  Error fail_receive(const ReceiveAttempt& a, const Error& e, bool received_something);
  Status check_receive(const peer::ReceiveRequest& req);
  Result<peer::PairReply> pair(const peer::PairRequest& req);
  Status check_pairing(const peer::Pairing& p);
  Status write_pairing(const std::string& dest, const peer::Pairing& p);
  Status after_receive(const peer::ReceiveRequest& req, peer::ReceiveReply& reply);
  // Removes what a receive that failed verification left: the new filesystem (init) or the
  // snapshots after the base.
  void undo_receive(const peer::ReceiveRequest& req);
  Status lock(const peer::LockRequest& req);
  // The lock on fs for one request: none needed when this session holds it already.
  Result<HeldLock> hold(const std::string& fs, const char* operation);
  bool session_holds(const std::string& fs);
  Result<peer::SwitchReply> switch_step(const peer::SwitchRequest& req);
  Result<peer::TakeoverReply> takeover(const peer::TakeoverRequest& req);
  // A peer that masters the other side of a pairing at a higher epoch took over fs.
  void note_requester(const peer::DescribeRequest& req, const props::PropMap& p);

  const Config& config_;
  const Zfs& zfs_;
  PeerSession& session_;
  PeerHooks hooks_;
  std::vector<std::string> tokens_;  // locks this session took with LockRequest
};

}  // namespace zrep
