// A peer's session: serving its requests in turn, dispatching each to the method for its kind
// and sending the reply, and the locks a peer takes on this host (LockRequest, and the lock
// each changing request holds while it runs). The requests themselves are in the other files
// of this folder.
#include "agent/endpoint/peer_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "agent/logic/role_switch.h"
#include "agent/logic/zfs_names.h"
#include "agent/logic/zrep_props.h"
#include "agent/rpc/net.h"
#include "common/sanitize.h"

namespace zrep {

PeerService::~PeerService() {
  if (hooks_.locks == nullptr || tokens_.empty()) return;
  for (const auto& fs : hooks_.locks->release_all(tokens_)) {
    spdlog::info("peer {}: session ended; its lock on {} is released", session_.peer_name, fs);
    // A failover the peer coordinated may have stopped half-way here.
    if (hooks_.check_later) hooks_.check_later(fs);
  }
}

Status PeerService::serve() {
  for (;;) {
    peer::Request req;
    // A session with no request for session_idle_timeout is closed: it would pin a session
    // slot of its peer (a transfer is a request in progress, never idle here).
    Status got = receive_message(*session_.channel, req, config_.session_idle_timeout);
    if (got.code() == ErrorCode::kTimeout) {
      return got.with_context("waiting for a request (session_idle_timeout " +
                              std::to_string(config_.session_idle_timeout.count()) + " s)");
    }
    if (!got) return got;
    // The session's locks do not lapse while it is busy, and lapse a lease after its last
    // request (a connection cut without a word).
    if (hooks_.locks != nullptr) {
      for (const auto& t : tokens_) hooks_.locks->renew(t, std::chrono::seconds(0));
    }
    Status handled = handle(req);
    if (hooks_.locks != nullptr) {
      for (const auto& t : tokens_) hooks_.locks->renew(t, config_.lock_lease);
    }
    ZREP_RETURN_IF_ERROR(handled);
  }
}

bool PeerService::session_holds(const std::string& fs) {
  if (hooks_.locks == nullptr) return false;
  auto h = hooks_.locks->holder(fs);
  return h && std::find(tokens_.begin(), tokens_.end(), h->owner.token) != tokens_.end();
}

Result<HeldLock> PeerService::hold(const std::string& fs, const char* operation) {
  if (hooks_.locks == nullptr || session_holds(fs)) return HeldLock();
  std::string token = hooks_.locks->new_token();
  LockOwner owner{session_.peer_name, sanitize_peer_text(session_.peer_hello.instance_id(), 64),
                  operation, token};
  ZREP_RETURN_IF_ERROR(hooks_.locks->acquire(fs, owner, std::chrono::seconds(0)));
  return HeldLock(hooks_.locks, fs, token);
}

Status PeerService::lock(const peer::LockRequest& req) {
  ZREP_RETURN_IF_ERROR(validate_dataset_name(req.fs()));
  ZREP_RETURN_IF_ERROR(authorize(config_, session_.peer_name, req.fs()));
  if (hooks_.locks == nullptr) return Status::ok();
  if (req.token().empty() || req.token().size() > 128 || req.operation().size() > 64) {
    return make_error(ErrorCode::kInvalidArgument, "lock request with a bad token or operation");
  }
  // Tokens are the peer's; prefix them with the session so no peer can name another's lock.
  const std::string token =
      session_.peer_name + "/" + session_.peer_hello.instance_id() + "/" + req.token();
  if (req.release()) {
    hooks_.locks->release(req.fs(), token);
    return Status::ok();
  }
  // Only a filesystem paired with this peer (or none yet): never one this host masters for, or
  // receives from, another host. On a master here the lock lasts at most lock_lease.
  auto exists = zfs_.exists(req.fs());
  if (!exists) return exists.status();
  props::PropMap p;
  if (*exists) {
    auto got = zfs_.get_props(req.fs(), props::filesystem_props());
    if (!got) return got.status();
    p = std::move(*got);
  }
  ZREP_RETURN_IF_ERROR(may_peer_lock(session_.peer_name, req.fs(), *exists, p, config_.host));
  const auto max_hold = peer_lock_is_bounded(p) ? config_.lock_lease : std::chrono::seconds(0);
  LockOwner owner{session_.peer_name, sanitize_peer_text(session_.peer_hello.instance_id(), 64),
                  sanitize_peer_text(req.operation(), 64), token};
  ZREP_RETURN_IF_ERROR(hooks_.locks->acquire(req.fs(), owner, std::chrono::seconds(0),
                                             LockTable::Steady::now(), max_hold));
  if (std::find(tokens_.begin(), tokens_.end(), token) == tokens_.end()) tokens_.push_back(token);
  return Status::ok();
}

Status PeerService::handle(const peer::Request& req) {
  peer::Reply reply;
  reply.set_id(req.id());
  Status result = dispatch(req, reply);
  if (!result) {
    spdlog::warn("peer {}: request {} refused: {}", session_.peer_name, req.id(), result.message());
    *reply.mutable_error() = to_wire(result.error());
  }
  if (reply.ByteSizeLong() > kMaxControlPayload) {
    // Say so rather than hang up: e.g. tens of thousands of snapshots on one filesystem.
    peer::Reply too_big;
    too_big.set_id(req.id());
    *too_big.mutable_error() = to_wire(make_error(
        ErrorCode::kInternal, "the answer is larger than a message may be (" +
                                  std::to_string(reply.ByteSizeLong()) +
                                  " bytes); does the filesystem have tens of thousands of "
                                  "snapshots? Destroy ones that are not needed"));
    return send_message(*session_.channel, too_big);
  }
  return send_message(*session_.channel, reply);
}

Status PeerService::dispatch(const peer::Request& req, peer::Reply& reply) {
  // log_level = "debug": every request a peer makes, by kind, as it starts (its fields are the
  // peer's text; the handlers log what they act on, a refusal is logged as a warning).
  const auto* field = req.GetDescriptor()->FindFieldByNumber(static_cast<int>(req.body_case()));
  spdlog::debug("peer {}: request {}: {}", session_.peer_name, req.id(),
                field != nullptr ? field->name() : "unknown");
  Status result;
  switch (req.body_case()) {
    case peer::Request::kDescribe: {
      auto r = describe(req.describe());
      if (r) *reply.mutable_describe() = std::move(*r);
      result = r.status();
      break;
    }
    case peer::Request::kMarkSent: {
      auto r = mark_sent(req.mark_sent());
      if (r) *reply.mutable_mark_sent() = std::move(*r);
      result = r.status();
      break;
    }
    case peer::Request::kClear: {
      result = clear(req.clear());
      if (result) reply.mutable_clear();
      break;
    }
    case peer::Request::kPair: {
      auto r = pair(req.pair());
      if (r) *reply.mutable_pair() = std::move(*r);
      result = r.status();
      break;
    }
    case peer::Request::kExpire: {
      auto r = expire(req.expire());
      if (r) *reply.mutable_expire() = std::move(*r);
      result = r.status();
      break;
    }
    case peer::Request::kReceive: {
      auto r = receive(req.id(), req.receive());
      if (r) *reply.mutable_receive() = std::move(*r);
      result = r.status();
      break;
    }
    case peer::Request::kLock: {
      result = lock(req.lock());
      if (result) reply.mutable_lock();
      break;
    }
    case peer::Request::kSwitchStep: {
      auto r = switch_step(req.switch_step());
      if (r) *reply.mutable_switch_step() = std::move(*r);
      result = r.status();
      break;
    }
    case peer::Request::kTakeover: {
      auto r = takeover(req.takeover());
      if (r) *reply.mutable_takeover() = std::move(*r);
      result = r.status();
      break;
    }
    default:
      result = make_error(ErrorCode::kProtocol, "unknown request from peer");
  }
  return result;
}

}  // namespace zrep
