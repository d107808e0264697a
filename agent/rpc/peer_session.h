// An authenticated session with one peer agent: TLS 1.3 with both certificates checked, then the
// Hello exchange (protocol version, host names, ZFS features).
//
// The dialling side drives: PeerClient sends requests one at a time and reads their replies.
// A session is used by one thread at a time (a transfer's sender may write while it polls for
// the receiver's abort, which FrameChannel allows).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "agent/config/config.h"
#include "agent/logic/zfs_types.h"
#include "agent/rpc/conn_limits.h"
#include "agent/rpc/session_registry.h"
#include "common/result.h"
#include "crypto/tls.h"
#include "proto/frame.h"
#include "proto/peer.pb.h"
#include "zrep_version.h"

namespace zrep {

inline constexpr uint32_t kProtocolVersion = zrep::peer::VERSION_CURRENT;
// kAgentVersion: CMakeLists.txt project(VERSION).

struct PeerSession {
  std::unique_ptr<TlsStream> stream;
  std::unique_ptr<FrameChannel> channel;
  std::string peer_name;   // authenticated by certificate
  peer::Hello peer_hello;  // what the peer said of itself
  // Dialled sessions: the peer has no address for this host and needs a link (agent/rpc/link.h).
  bool needs_link = false;
  // Accepted sessions: the peer's session slot (AcceptLimits::sessions), held while it lives.
  std::shared_ptr<void> slot;
};

peer::Hello make_hello(const Config& config, const ZfsFeatures& features,
                       const std::string& instance_id);

// Checks a Hello against the certificate's name and our protocol version.
Status check_hello(const peer::Hello& hello, const std::string& cert_name);

peer::Error to_wire(const Error& e);
Error from_wire(const peer::Error& e, const std::string& peer_name);

// Dials `peer` (it must have an address), authenticates it and exchanges Hellos. `mine` says
// the session's purpose (PURPOSE_REQUESTS unless set). TLS and the Hello exchange have one
// deadline in all (config.handshake_timeout, from the TCP connection); every frame on the
// session must then arrive whole within config.frame_timeout of its first byte.
Result<std::unique_ptr<PeerSession>> dial_peer(const Config& config, TlsContext& tls,
                                               const PeerConfig& peer, const peer::Hello& mine);

// What the listening side counts by the peer's certificate name (agent/rpc/conn_limits.h).
struct AcceptLimits {
  SlotCounter* handshakes = nullptr;  // sessions between TLS and the end of the Hello exchange
  SlotCounter* sessions = nullptr;    // authenticated sessions open at once
};

// Server side of the handshake on an accepted socket (ownership of fd taken): TLS and the Hello
// must both be done by `deadline` (set when the connection was accepted). A peer over one of
// `limits` is told so in its HelloReply and refused (kUnavailable: it may try again later).
Result<std::unique_ptr<PeerSession>> accept_peer(const Config& config, TlsContext& tls, int fd,
                                                 const peer::Hello& mine,
                                                 std::chrono::steady_clock::time_point deadline,
                                                 const AcceptLimits& limits = {});

// Typed requests over a dialled session.
class PeerClient {
 public:
  // With `registry`, the session is shut down when the daemon stops.
  PeerClient(std::unique_ptr<PeerSession> session, std::chrono::milliseconds timeout,
             SessionRegistry* registry = nullptr)
      : session_(std::move(session)), timeout_(timeout), registry_(registry) {
    if (registry_ != nullptr) registry_->add(session_->stream.get());
  }
  ~PeerClient() {
    if (registry_ != nullptr) registry_->remove(session_->stream.get());
  }
  PeerClient(const PeerClient&) = delete;
  PeerClient& operator=(const PeerClient&) = delete;

  const std::string& peer_name() const { return session_->peer_name; }
  const peer::Hello& peer_hello() const { return session_->peer_hello; }

  Result<peer::DescribeReply> describe(const std::string& fs);
  Result<peer::DescribeReply> describe(const peer::DescribeRequest& req);
  // Takes (or with release, gives back) the lock on fs there for this session.
  Status lock(const std::string& fs, const std::string& operation, const std::string& token,
              bool release = false);
  Result<peer::SwitchReply> switch_step(const peer::SwitchRequest& req);
  // Asks the master to run a failover to us; waits up to `timeout` for it to finish.
  Result<peer::TakeoverReply> takeover(const peer::TakeoverRequest& req,
                                       std::chrono::milliseconds timeout);
  Result<peer::MarkSentReply> mark_sent(const peer::MarkSentRequest& req);
  Result<peer::ExpireReply> expire(const peer::ExpireRequest& req);
  Status clear(const std::string& fs);
  Status pair(const peer::PairRequest& req);
  // Sends the request, waits for "ready", runs `stream` to write the data frames, then waits
  // (up to `finish_timeout`) for the final reply.
  Result<peer::ReceiveReply> receive(const peer::ReceiveRequest& req,
                                     const std::function<Status(FrameChannel&)>& stream,
                                     std::chrono::milliseconds finish_timeout);

 private:
  Result<peer::Reply> call(peer::Request& req, std::chrono::milliseconds timeout);
  Result<peer::Reply> read_reply(uint64_t id, std::chrono::milliseconds timeout);

  std::unique_ptr<PeerSession> session_;
  std::chrono::milliseconds timeout_;
  SessionRegistry* registry_;
  uint64_t next_id_ = 1;
};

}  // namespace zrep
