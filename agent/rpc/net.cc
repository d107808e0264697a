#include "agent/rpc/net.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace zrep {
namespace {

struct AddrInfoDeleter {
  void operator()(addrinfo* ai) const { freeaddrinfo(ai); }
};

void set_socket_options(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
}

// One non-blocking connect with a deadline; returns 0 or an errno value.
int connect_one(int fd, const addrinfo* ai, std::chrono::milliseconds timeout) {
  int flags = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
  int err = 0;
  if (rc != 0) {
    if (errno != EINPROGRESS) return errno;
    pollfd p{fd, POLLOUT, 0};
    int n = poll(&p, 1, static_cast<int>(timeout.count()));
    if (n == 0) return ETIMEDOUT;
    if (n < 0) return errno;
    socklen_t len = sizeof err;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  }
  fcntl(fd, F_SETFL, flags);
  return err;
}

}  // namespace

Result<int> tcp_connect(const Endpoint& ep, std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* raw = nullptr;
  std::string port = std::to_string(ep.port);
  int gai = getaddrinfo(ep.host.c_str(), port.c_str(), &hints, &raw);
  if (gai != 0) {
    return make_error(ErrorCode::kUnavailable,
                      "cannot resolve " + ep.host + ": " + gai_strerror(gai));
  }
  std::unique_ptr<addrinfo, AddrInfoDeleter> list(raw);
  std::string last = "no address";
  for (const addrinfo* ai = list.get(); ai != nullptr; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last = std::strerror(errno);
      continue;
    }
    int err = connect_one(fd, ai, timeout);
    if (err == 0) {
      set_socket_options(fd);
      return fd;
    }
    last = err == ETIMEDOUT ? "timed out after " + std::to_string(timeout.count() / 1000) + " s"
                            : std::strerror(err);
    ::close(fd);
  }
  return make_error(ErrorCode::kUnavailable, "cannot connect to " + ep.to_string() + ": " + last);
}

Result<int> unix_connect(const std::string& path) {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) {
    return make_error(ErrorCode::kInvalidArgument, "socket path too long: " + path);
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return make_error(ErrorCode::kInternal, std::string("socket: ") + std::strerror(errno));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int err = errno;
    ::close(fd);
    ErrorCode code = (err == ENOENT || err == ECONNREFUSED) ? ErrorCode::kUnavailable
                     : err == EACCES                        ? ErrorCode::kPermissionDenied
                                                            : ErrorCode::kInternal;
    return make_error(code, path + ": " + std::strerror(err));
  }
  return fd;
}

Status send_message(FrameChannel& channel, const google::protobuf::MessageLite& msg) {
  std::string bytes;
  if (!msg.SerializeToString(&bytes)) {
    return make_error(ErrorCode::kInternal, "cannot serialize " + msg.GetTypeName());
  }
  if (bytes.size() > kMaxControlPayload) {
    return make_error(ErrorCode::kInternal, msg.GetTypeName() + " is too large to send");
  }
  return channel.write_frame(
      FrameType::kControl,
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

Status receive_message(FrameChannel& channel, google::protobuf::MessageLite& msg,
                       std::chrono::milliseconds timeout, bool after_stream) {
  auto frame = channel.read_frame(timeout);
  for (int skipped = 0;
       after_stream && frame && frame->type == FrameType::kDataAbort && skipped < 2; ++skipped) {
    frame = channel.read_frame(timeout);
  }
  if (!frame) return frame.error();
  if (frame->type != FrameType::kControl) {
    return make_error(ErrorCode::kProtocol, "expected a control message, got frame type " +
                                                std::to_string(static_cast<int>(frame->type)));
  }
  if (!msg.ParseFromArray(frame->payload.data(), static_cast<int>(frame->payload.size()))) {
    return make_error(ErrorCode::kProtocol, "malformed " + msg.GetTypeName() + " message");
  }
  return Status::ok();
}

}  // namespace zrep
