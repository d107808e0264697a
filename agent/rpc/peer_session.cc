#include "agent/rpc/peer_session.h"

#include <unistd.h>

#include <algorithm>
#include <map>

#include "agent/rpc/net.h"
#include "common/sanitize.h"
#include "common/unix_time.h"

namespace zrep {
namespace {

using Clock = std::chrono::steady_clock;

// What is left until `deadline` (zero when it passed).
std::chrono::milliseconds left_until(Clock::time_point deadline) {
  return std::max(std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()),
                  std::chrono::milliseconds(0));
}

Status handshake_timed_out(const Status& s, const Config& config, const std::string& who) {
  if (s.code() != ErrorCode::kTimeout) return s;
  return make_error(ErrorCode::kTimeout, "handshake with " + who + " not done within " +
                                             std::to_string(config.handshake_timeout.count()) +
                                             " s (handshake_timeout)");
}

ErrorCode code_from_name(const std::string& name) {
  static const std::map<std::string, ErrorCode> kCodes = [] {
    std::map<std::string, ErrorCode> m;
    for (int i = 0; i <= static_cast<int>(ErrorCode::kInternal); ++i) {
      auto c = static_cast<ErrorCode>(i);
      m[std::string(error_code_name(c))] = c;
    }
    return m;
  }();
  auto it = kCodes.find(name);
  return it == kCodes.end() ? ErrorCode::kInternal : it->second;
}

}  // namespace

peer::Hello make_hello(const Config& config, const ZfsFeatures& features,
                       const std::string& instance_id) {
  peer::Hello h;
  h.set_protocol_version(kProtocolVersion);
  h.set_host(config.host);
  h.set_agent_version(kAgentVersion);
  h.set_instance_id(instance_id);
  h.set_heartbeat_seconds(static_cast<uint32_t>(config.heartbeat_interval.count()));
  h.set_unix_time(static_cast<uint64_t>(std::max<int64_t>(unix_now(), 0)));
  auto* z = h.mutable_zfs();
  z->set_dialect(features.dialect == ZfsFeatures::Dialect::kOpenZfs ? "openzfs" : "legacy");
  z->set_version(features.version);
  z->set_resumable_receive(features.resumable_receive);
  z->set_holds(features.holds);
  z->set_bookmarks(features.bookmarks);
  z->set_raw_send(features.raw_send);
  z->set_compressed_send(features.compressed_send);
  return h;
}

Status check_hello(const peer::Hello& hello, const std::string& cert_name) {
  if (hello.protocol_version() != kProtocolVersion) {
    return make_error(ErrorCode::kProtocol,
                      "protocol version mismatch: peer '" + cert_name + "' (agent " +
                          sanitize_peer_text(hello.agent_version()) + ") speaks version " +
                          std::to_string(hello.protocol_version()) + ", this agent (" +
                          kAgentVersion + ") speaks version " + std::to_string(kProtocolVersion) +
                          "; run the same zrep-agent release on both hosts");
  }
  if (hello.host() != cert_name) {
    return make_error(ErrorCode::kPermissionDenied,
                      "peer calls itself '" + sanitize_peer_text(hello.host()) +
                          "' but its certificate is for '" + cert_name +
                          "'; check 'host' in the peer's config");
  }
  return Status::ok();
}

peer::Error to_wire(const Error& e) {
  peer::Error w;
  w.set_code(std::string(error_code_name(e.code)));
  w.set_message(e.message);
  return w;
}

Error from_wire(const peer::Error& e, const std::string& peer_name) {
  return make_error(code_from_name(e.code()),
                    "on " + peer_name + ": " + sanitize_peer_text(e.message()));
}

Result<std::unique_ptr<PeerSession>> dial_peer(const Config& config, TlsContext& tls,
                                               const PeerConfig& peer, const peer::Hello& mine) {
  if (!peer.address) {
    return make_error(ErrorCode::kUnavailable, "peer '" + peer.name + "' has no address in " +
                                                   config.source + ", so this host never dials it");
  }
  auto fd = tcp_connect(*peer.address, config.connect_timeout);
  if (!fd) {
    return Status(fd.error()).with_context("peer '" + peer.name + "' is unreachable");
  }
  // One deadline for TLS and the Hello exchange: a listener that trickles its answer cannot
  // hold this side (which may hold a local lock) longer than that.
  const Clock::time_point deadline = Clock::now() + config.handshake_timeout;
  auto stream = TlsStream::connect(tls, *fd, peer.name, left_until(deadline));
  if (!stream) {
    return Status(stream.error())
        .with_context("TLS with peer '" + peer.name + "' at " + peer.address->to_string());
  }
  auto session = std::make_unique<PeerSession>();
  session->stream = std::move(*stream);
  session->channel = std::make_unique<FrameChannel>(*session->stream);
  session->channel->set_frame_timeout(config.frame_timeout);
  session->peer_name = session->stream->peer_name();
  ZREP_RETURN_IF_ERROR(send_message(*session->channel, mine));
  peer::HelloReply reply;
  ZREP_RETURN_IF_ERROR(
      handshake_timed_out(receive_message(*session->channel, reply, left_until(deadline)), config,
                          "peer '" + peer.name + "'")
          .with_context("handshake with peer '" + peer.name + "'"));
  if (reply.has_error()) return from_wire(reply.error(), peer.name);
  ZREP_RETURN_IF_ERROR(check_hello(reply.hello(), session->peer_name));
  session->peer_hello = reply.hello();
  session->needs_link = reply.needs_link();
  return session;
}

Result<std::unique_ptr<PeerSession>> accept_peer(const Config& config, TlsContext& tls, int fd,
                                                 const peer::Hello& mine,
                                                 Clock::time_point deadline,
                                                 const AcceptLimits& limits) {
  auto stream = TlsStream::accept(tls, fd, config.peer_names(), left_until(deadline));
  if (!stream) return stream.error();
  auto session = std::make_unique<PeerSession>();
  session->stream = std::move(*stream);
  session->channel = std::make_unique<FrameChannel>(*session->stream);
  session->channel->set_frame_timeout(config.frame_timeout);
  session->peer_name = session->stream->peer_name();
  peer::HelloReply reply;
  auto refuse = [&](Error e) {
    *reply.mutable_error() = to_wire(e);
    (void)send_message(*session->channel, reply);
    return e;
  };
  // Counted by the authenticated name: one peer cannot take every slot of the others.
  std::shared_ptr<SlotCounter::Slot> in_handshake;
  if (limits.handshakes != nullptr) {
    in_handshake = limits.handshakes->try_acquire(session->peer_name);
    if (!in_handshake) {
      return refuse(make_error(ErrorCode::kUnavailable,
                               "peer '" + session->peer_name + "' has " +
                                   std::to_string(limits.handshakes->per_key_limit()) +
                                   " handshakes in progress already (max_handshakes_per_peer)"));
    }
  }
  peer::Hello theirs;
  ZREP_RETURN_IF_ERROR(
      handshake_timed_out(receive_message(*session->channel, theirs, left_until(deadline)), config,
                          "peer '" + session->peer_name + "'"));
  if (Status s = check_hello(theirs, session->peer_name); !s) return refuse(s.error());
  if (!peer::SessionPurpose_IsValid(theirs.purpose())) {
    return refuse(make_error(ErrorCode::kProtocol,
                             "unknown session purpose " + std::to_string(theirs.purpose()) +
                                 "; run the same zrep-agent release on both hosts"));
  }
  if (limits.sessions != nullptr) {
    auto slot = limits.sessions->try_acquire(session->peer_name);
    if (!slot) {
      return refuse(make_error(ErrorCode::kUnavailable,
                               "this host serves " +
                                   std::to_string(limits.sessions->per_key_limit()) +
                                   " sessions of peer '" + session->peer_name +
                                   "' already (max_sessions_per_peer); try again later"));
    }
    session->slot = std::move(slot);
  }
  *reply.mutable_hello() = mine;
  // Checked again after the handshake: a reload may have removed the peer meanwhile.
  const std::optional<PeerConfig> entry = config.find_peer(session->peer_name);
  if (!entry) {
    return refuse(
        make_error(ErrorCode::kPermissionDenied,
                   "peer '" + session->peer_name + "' is not configured on " + config.host));
  }
  reply.set_needs_link(!entry->address);
  ZREP_RETURN_IF_ERROR(send_message(*session->channel, reply));
  session->peer_hello = theirs;
  return session;
}

Result<peer::Reply> PeerClient::read_reply(uint64_t id, std::chrono::milliseconds timeout) {
  peer::Reply reply;
  ZREP_RETURN_IF_ERROR(receive_message(*session_->channel, reply, timeout)
                           .with_context("waiting for peer '" + session_->peer_name + "'"));
  if (reply.id() != id) {
    return make_error(ErrorCode::kProtocol, "peer '" + session_->peer_name + "' answered request " +
                                                std::to_string(reply.id()) + ", expected " +
                                                std::to_string(id));
  }
  if (reply.has_error()) return from_wire(reply.error(), session_->peer_name);
  return reply;
}

Result<peer::Reply> PeerClient::call(peer::Request& req, std::chrono::milliseconds timeout) {
  req.set_id(next_id_++);
  ZREP_RETURN_IF_ERROR(send_message(*session_->channel, req));
  return read_reply(req.id(), timeout);
}

Result<peer::DescribeReply> PeerClient::describe(const std::string& fs) {
  peer::DescribeRequest d;
  d.set_fs(fs);
  return describe(d);
}

Result<peer::DescribeReply> PeerClient::describe(const peer::DescribeRequest& d) {
  peer::Request req;
  *req.mutable_describe() = d;
  auto reply = call(req, timeout_);
  if (!reply) return reply.error();
  if (!reply->has_describe())
    return make_error(ErrorCode::kProtocol, "peer sent no describe reply");
  return reply->describe();
}

Result<peer::MarkSentReply> PeerClient::mark_sent(const peer::MarkSentRequest& mark) {
  peer::Request req;
  *req.mutable_mark_sent() = mark;
  auto reply = call(req, timeout_);
  if (!reply) return reply.error();
  if (!reply->has_mark_sent()) {
    return make_error(ErrorCode::kProtocol, "peer sent no mark-sent reply");
  }
  return reply->mark_sent();
}

Result<peer::ExpireReply> PeerClient::expire(const peer::ExpireRequest& expire) {
  peer::Request req;
  *req.mutable_expire() = expire;
  auto reply = call(req, timeout_);
  if (!reply) return reply.error();
  if (!reply->has_expire()) return make_error(ErrorCode::kProtocol, "peer sent no expire reply");
  return reply->expire();
}

Status PeerClient::pair(const peer::PairRequest& pair) {
  peer::Request req;
  *req.mutable_pair() = pair;
  return call(req, timeout_).status();
}

Status PeerClient::clear(const std::string& fs) {
  peer::Request req;
  req.mutable_clear()->set_fs(fs);
  auto reply = call(req, timeout_);
  return reply.status();
}

Status PeerClient::lock(const std::string& fs, const std::string& operation,
                        const std::string& token, bool release) {
  peer::Request req;
  auto* l = req.mutable_lock();
  l->set_fs(fs);
  l->set_operation(operation);
  l->set_token(token);
  l->set_release(release);
  return call(req, timeout_).status();
}

Result<peer::SwitchReply> PeerClient::switch_step(const peer::SwitchRequest& step) {
  peer::Request req;
  *req.mutable_switch_step() = step;
  auto reply = call(req, timeout_);
  if (!reply) return reply.error();
  if (!reply->has_switch_step()) {
    return make_error(ErrorCode::kProtocol, "peer sent no switch reply");
  }
  return reply->switch_step();
}

Result<peer::TakeoverReply> PeerClient::takeover(const peer::TakeoverRequest& takeover,
                                                 std::chrono::milliseconds timeout) {
  peer::Request req;
  *req.mutable_takeover() = takeover;
  auto reply = call(req, timeout);
  if (!reply) return reply.error();
  if (!reply->has_takeover()) {
    return make_error(ErrorCode::kProtocol, "peer sent no takeover reply");
  }
  return reply->takeover();
}

Result<peer::ReceiveReply> PeerClient::receive(const peer::ReceiveRequest& receive,
                                               const std::function<Status(FrameChannel&)>& stream,
                                               std::chrono::milliseconds finish_timeout) {
  peer::Request req;
  *req.mutable_receive() = receive;
  auto ready = call(req, timeout_);
  if (!ready) return ready.error();
  if (!ready->has_receive() || !ready->receive().ready()) {
    return make_error(ErrorCode::kProtocol, "peer did not get ready to receive");
  }
  Status streamed = stream(*session_->channel);
  // The peer answers even when the stream failed (it saw DataAbort). Its answer is authoritative
  // (it carries zfs recv's own error, e.g. "destination modified" or "out of space"); only when
  // no answer comes is the local stream error the best we know.
  peer::Reply done;
  Status answered =
      receive_message(*session_->channel, done, streamed ? finish_timeout : timeout_, true);
  if (!answered) {
    return streamed ? answered.with_context("waiting for peer '" + peer_name() + "'")
                    : streamed.with_context("sending the stream to peer '" + peer_name() + "'");
  }
  if (done.id() != req.id()) {
    return make_error(ErrorCode::kProtocol, "peer '" + peer_name() + "' answered request " +
                                                std::to_string(done.id()) + ", expected " +
                                                std::to_string(req.id()));
  }
  if (done.has_error()) return from_wire(done.error(), peer_name());
  if (!streamed) return streamed.error();
  if (!done.has_receive()) return make_error(ErrorCode::kProtocol, "peer sent no receive result");
  return done.receive();
}

}  // namespace zrep
