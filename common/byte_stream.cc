#include "common/byte_stream.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <string>

namespace zrep {
namespace {

Error errno_error(std::string_view what, int err) {
  if (err == EPIPE || err == ECONNRESET || err == ENOTCONN) {
    return make_error(ErrorCode::kUnavailable,
                      "connection lost while " + std::string(what) + ": " + std::strerror(err));
  }
  return make_error(ErrorCode::kInternal, std::string(what) + ": " + std::strerror(err));
}

// send() with MSG_NOSIGNAL turns a vanished peer into EPIPE instead of a process-killing SIGPIPE;
// pipes are not sockets, so for them fall back to write() (the daemon ignores SIGPIPE anyway).
ssize_t write_some(int fd, const uint8_t* data, size_t size) {
  ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
  if (n < 0 && errno == ENOTSOCK) n = ::write(fd, data, size);
  return n;
}

}  // namespace

FdStream::~FdStream() {
  if (fd_ >= 0) ::close(fd_);
}

Status FdStream::write_all(std::span<const uint8_t> data) {
  while (!data.empty()) {
    ssize_t n = write_some(fd_, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("writing", errno);
    }
    data = data.subspan(static_cast<size_t>(n));
  }
  return Status::ok();
}

Status FdStream::read_exact(std::span<uint8_t> out, std::chrono::milliseconds timeout) {
  // One deadline for the whole read.
  const auto deadline = std::chrono::steady_clock::now() +
                        std::clamp<std::chrono::milliseconds>(timeout, std::chrono::milliseconds(0),
                                                              std::chrono::hours(24 * 365));
  while (!out.empty()) {
    auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd pfd{fd_, POLLIN, 0};
    int ready = left.count() <= 0
                    ? 0
                    : ::poll(&pfd, 1, static_cast<int>(std::min<long long>(left.count(), INT_MAX)));
    if (ready < 0) {
      if (errno == EINTR) continue;
      return errno_error("waiting for data", errno);
    }
    if (ready == 0) {
      return make_error(ErrorCode::kTimeout,
                        "no data for " + std::to_string(timeout.count()) + " ms");
    }
    ssize_t n = ::read(fd_, out.data(), out.size());
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return errno_error("reading", errno);
    }
    if (n == 0) return make_error(ErrorCode::kUnavailable, "connection closed by peer");
    out = out.subspan(static_cast<size_t>(n));
  }
  return Status::ok();
}

bool FdStream::readable_now() {
  pollfd pfd{fd_, POLLIN, 0};
  int ready;
  do {
    ready = ::poll(&pfd, 1, 0);
  } while (ready < 0 && errno == EINTR);
  // Hang-up and errors count as readable: the next read reports them instead of blocking.
  return ready > 0;
}

// shutdown(), unlike close(), wakes threads blocked on the fd and cannot let the number be reused
// under them; the fd itself is released by the destructor. Pipes cannot be shut down: over a pipe
// this does nothing, which only tests use (peers are always sockets).
void FdStream::close() { ::shutdown(fd_, SHUT_RDWR); }

}  // namespace zrep
