#include "agent/daemon/control_server.h"

#include <poll.h>
#include <spdlog/spdlog.h>

#include <variant>

#include "agent/rpc/net.h"
#include "agent/rpc/peer_session.h"

namespace zrep {
namespace {

constexpr std::chrono::milliseconds kRequestTimeout{10000};

Status send_result(FrameChannel& channel, Result<control::Result> result) {
  control::Reply reply;
  if (result) {
    *reply.mutable_result() = std::move(*result);
    reply.mutable_result()->set_ok(true);
  } else {
    auto* r = reply.mutable_result();
    r->set_ok(false);
    r->set_error_code(std::string(error_code_name(result.error().code)));
    r->set_message(result.error().message);
  }
  return send_message(channel, reply);
}

// Puts an operation's typed result where the command's answer carries it (`slot`: the
// Result's mutable_ accessor of that command's field).
template <typename T>
Result<control::Result> answer(Result<T> done, T* (control::Result::*slot)()) {
  if (!done) return done.error();
  control::Result r;
  *(r.*slot)() = std::move(*done);
  return r;
}

Result<control::Result> run_list(const control::ListCommand& cmd, Replicator& replicator) {
  if (!cmd.snapshots_of().empty()) {
    return answer(replicator.list_snapshots(cmd.snapshots_of()),
                  &control::Result::mutable_snapshots);
  }
  return answer(replicator.list(cmd), &control::Result::mutable_list);
}

Result<control::Result> run_takeover(const control::TakeoverCommand& cmd, Replicator& replicator,
                                     const ProgressSink& progress) {
  auto done = replicator.takeover(cmd, progress);
  if (!done) return done.error();
  control::Result r;
  if (auto* planned = std::get_if<control::FailoverResult>(&*done)) {
    *r.mutable_failover() = std::move(*planned);
  } else {
    *r.mutable_takeover() = std::get<control::TakeoverResult>(std::move(*done));
  }
  return r;
}

Result<control::Result> dispatch(const control::Request& req, Replicator& replicator,
                                 const ProgressSink& progress) {
  if (req.protocol_version() != control::VERSION_CURRENT) {
    return make_error(ErrorCode::kProtocol,
                      "the zrep-agent command and the running daemon are different releases "
                      "(control protocol " +
                          std::to_string(req.protocol_version()) + " vs " +
                          std::to_string(control::VERSION_CURRENT) +
                          "); restart the daemon after upgrading");
  }
  using R = control::Result;
  switch (req.command_case()) {
    case control::Request::kInit:
      return answer(replicator.init(req.init(), progress), &R::mutable_init);
    case control::Request::kSync:
      return answer(replicator.sync(req.sync(), progress), &R::mutable_sync);
    case control::Request::kList:
      return run_list(req.list(), replicator);
    case control::Request::kStatus:
      return answer(replicator.status(req.status()), &R::mutable_status);
    case control::Request::kExpire:
      return answer(replicator.expire(req.expire()), &R::mutable_expire);
    case control::Request::kClear:
      return answer(replicator.clear(req.clear()), &R::mutable_clear);
    case control::Request::kChangedest:
      return answer(replicator.changedest(req.changedest()), &R::mutable_changedest);
    case control::Request::kFailover:
      return answer(replicator.failover(req.failover(), progress), &R::mutable_failover);
    case control::Request::kTakeover:
      return run_takeover(req.takeover(), replicator, progress);
    case control::Request::kResync:
      return answer(replicator.resync(req.resync()), &R::mutable_resync);
    case control::Request::kPeers:
      return answer(replicator.peers(req.peers()), &R::mutable_peers);
    default:
      return make_error(ErrorCode::kProtocol, "unknown control command");
  }
}

}  // namespace

void serve_control_connection(int fd, FrameChannel& channel, Replicator& replicator) {
  control::Request req;
  if (Status s = receive_message(channel, req, kRequestTimeout); !s) {
    spdlog::debug("control connection: {}", s.message());
    return;
  }
  bool client_gone = false;
  ProgressSink progress = [&](const control::Progress& p) {
    if (client_gone) return;
    pollfd writable{fd, POLLOUT, 0};
    if (::poll(&writable, 1, 0) != 1 || (writable.revents & POLLOUT) == 0) return;  // skip this one
    control::Reply reply;
    *reply.mutable_progress() = p;
    // The operation goes on even when the client went away.
    if (!send_message(channel, reply)) client_gone = true;
  };
  auto result = dispatch(req, replicator, progress);
  if (!result) spdlog::warn("command failed: {}", result.error().message);
  if (!client_gone) (void)send_result(channel, std::move(result));
}

}  // namespace zrep
