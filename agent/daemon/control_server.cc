#include "agent/daemon/control_server.h"

#include <poll.h>
#include <spdlog/spdlog.h>

#include "agent/rpc/net.h"
#include "agent/rpc/peer_session.h"

namespace zrep {
namespace {

constexpr std::chrono::milliseconds kRequestTimeout{10000};

Status send_result(FrameChannel& channel, const Result<nlohmann::json>& result) {
  control::Reply reply;
  auto* r = reply.mutable_result();
  r->set_ok(result.is_ok());
  if (result) {
    // Messages may carry bytes from zfs or a peer that are not UTF-8: replace, never throw.
    r->set_json(result->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  } else {
    r->set_error_code(std::string(error_code_name(result.error().code)));
    r->set_message(result.error().message);
  }
  return send_message(channel, reply);
}

Result<nlohmann::json> dispatch(const control::Request& req, Replicator& replicator,
                                const ProgressSink& progress) {
  if (req.protocol_version() != kProtocolVersion) {
    return make_error(ErrorCode::kProtocol,
                      "the zrep-agent command and the running daemon are different releases "
                      "(control protocol " +
                          std::to_string(req.protocol_version()) + " vs " +
                          std::to_string(kProtocolVersion) +
                          "); restart the daemon after upgrading");
  }
  switch (req.command_case()) {
    case control::Request::kInit:
      return replicator.init(req.init(), progress);
    case control::Request::kSync:
      return replicator.sync(req.sync(), progress);
    case control::Request::kList:
      return replicator.list(req.list());
    case control::Request::kStatus:
      return replicator.status(req.status());
    case control::Request::kExpire:
      return replicator.expire(req.expire());
    case control::Request::kClear:
      return replicator.clear(req.clear());
    case control::Request::kChangedest:
      return replicator.changedest(req.changedest());
    case control::Request::kFailover:
      return replicator.failover(req.failover(), progress);
    case control::Request::kTakeover:
      return replicator.takeover(req.takeover(), progress);
    case control::Request::kResync:
      return replicator.resync(req.resync());
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
  if (!client_gone) (void)send_result(channel, result);
}

}  // namespace zrep
