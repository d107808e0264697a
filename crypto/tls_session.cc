#include "crypto/tls_session.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <climits>

namespace zrep {
namespace {

using std::chrono::milliseconds;

// ---- A socket BIO that sends with MSG_NOSIGNAL: a peer that vanishes must not kill the daemon
// with SIGPIPE. Its data is a pointer to the stream's fd.

int bio_fd(BIO* bio) { return *static_cast<int*>(BIO_get_data(bio)); }

bool would_block(ssize_t n) {
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
}

int bio_write(BIO* bio, const char* data, int length) {
  BIO_clear_retry_flags(bio);
  ssize_t n = ::send(bio_fd(bio), data, static_cast<size_t>(length), MSG_NOSIGNAL);
  if (would_block(n)) BIO_set_retry_write(bio);
  return static_cast<int>(n);
}

int bio_read(BIO* bio, char* data, int length) {
  BIO_clear_retry_flags(bio);
  ssize_t n = ::recv(bio_fd(bio), data, static_cast<size_t>(length), 0);
  if (would_block(n)) BIO_set_retry_read(bio);
  return static_cast<int>(n);
}

long bio_ctrl(BIO*, int cmd, long, void*) { return cmd == BIO_CTRL_FLUSH ? 1 : 0; }

// Waits until `fd` has `events`, or an error or hangup that the next SSL call will report.
// False when `deadline` passed first.
bool wait_for_socket(int fd, short events, TlsClock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::ceil<milliseconds>(deadline - TlsClock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    int ready = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, INT_MAX)));
    if (ready > 0 || (ready < 0 && errno != EINTR)) return true;
  }
}

// Alerts by which a peer says it refuses our certificate or us.
bool is_refusal_alert(unsigned long code) {
  if (ERR_GET_LIB(code) != ERR_LIB_SSL) return false;
  switch (ERR_GET_REASON(code)) {
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
      return true;
    default:
      return false;
  }
}

Error closed_by_peer(const TlsStream::Impl& s) {
  return make_error(ErrorCode::kUnavailable, "connection closed by " + s.peer);
}

}  // namespace

BIO* new_socket_bio(int* fd) {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "zrep socket");
    if (m != nullptr) {
      BIO_meth_set_write(m, bio_write);
      BIO_meth_set_read(m, bio_read);
      BIO_meth_set_ctrl(m, bio_ctrl);
    }
    return m;
  }();
  BIO* bio = method != nullptr ? BIO_new(method) : nullptr;
  if (bio != nullptr) {
    BIO_set_data(bio, fd);
    BIO_set_init(bio, 1);
  }
  return bio;
}

std::string describe_peer(int fd) {
  sockaddr_storage addr{};
  socklen_t length = sizeof addr;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &length) != 0) return "peer";
  char host[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    return "peer at " + std::string(host) + ":" + std::to_string(ntohs(in->sin_port));
  }
  if (addr.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    return "peer at [" + std::string(host) + "]:" + std::to_string(ntohs(in6->sin6_port));
  }
  return "peer on a local socket";
}

TlsClock::time_point deadline_after(milliseconds timeout) {
  const milliseconds forever = std::chrono::hours(24 * 365);
  return TlsClock::now() + std::clamp(timeout, milliseconds::zero(), forever);
}

Result<int> drive(TlsStream::Impl& s, TlsClock::time_point deadline,
                  const std::function<int(SSL*)>& op) {
  for (;;) {
    int ret = 0, ssl_error = SSL_ERROR_NONE, sys_error = 0;
    unsigned long first_error = 0;
    std::string reason;
    {
      std::lock_guard<std::mutex> lock(s.mu);
      ERR_clear_error();
      errno = 0;
      ret = op(s.ssl.get());
      sys_error = errno;
      if (ret <= 0) ssl_error = SSL_get_error(s.ssl.get(), ret);
      first_error = ERR_peek_error();
      if (ssl_error == SSL_ERROR_SSL) reason = openssl_errors();
      if (ssl_error == SSL_ERROR_SSL || ssl_error == SSL_ERROR_SYSCALL) s.broken = true;
      ERR_clear_error();
    }
    if (ret > 0) return ret;
    if (s.closed) return make_error(ErrorCode::kUnavailable, "connection closed by this side");
    switch (ssl_error) {
      case SSL_ERROR_WANT_READ:
      case SSL_ERROR_WANT_WRITE: {
        short events = ssl_error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
        if (!wait_for_socket(s.fd, events, deadline)) {
          return make_error(ErrorCode::kTimeout, "timed out");
        }
        continue;
      }
      case SSL_ERROR_ZERO_RETURN:
        return closed_by_peer(s);
      case SSL_ERROR_SYSCALL:
        if (sys_error == 0 || sys_error == ECONNRESET || sys_error == EPIPE) {
          return closed_by_peer(s);
        }
        return make_error(ErrorCode::kUnavailable,
                          "connection to " + s.peer + " failed: " + errno_text(sys_error));
      default:
        if (ERR_GET_LIB(first_error) == ERR_LIB_SSL &&
            ERR_GET_REASON(first_error) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
          return closed_by_peer(s);
        }
        return make_error(
            is_refusal_alert(first_error) ? ErrorCode::kPermissionDenied : ErrorCode::kProtocol,
            reason);
    }
  }
}

}  // namespace zrep
