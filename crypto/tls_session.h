// TlsStream's insides (internal to crypto/): the session state, and the loop that drives
// non-blocking SSL calls with real timeouts while one reader and one writer thread share one SSL
// object.
#pragma once

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "crypto/openssl_util.h"
#include "crypto/tls.h"

namespace zrep {

struct TlsStream::Impl {
  // What the certificate-verify callback checks and records during the handshake.
  struct PeerCheck {
    std::vector<std::string> acceptable;  // names the peer may carry, in order of preference
    std::vector<std::string> presented;   // names its certificate carried
    std::string matched;                  // the first acceptable name it carried
    bool refused = false;                 // chained to the CA but carried no acceptable name
    std::string serial;                   // of the peer's certificate, upper-case hex
  };

  int fd = -1;  // owned; closed only here so that close() is safe during a blocked read
  SslPtr ssl;
  // One SSL object must not be used by two threads at once. The reader and the writer take
  // turns holding this for single non-blocking SSL calls and wait for the socket without it.
  std::mutex mu;
  bool broken = false;  // guarded by mu: a fatal TLS error happened, no close_notify then
  std::atomic<bool> closed{false};
  std::string peer;  // "peer at 127.0.0.1:7000", for messages
  PeerCheck check;

  // Once close() ran, reads and writes fail, also where data still waits in the socket's
  // receive buffer (shutdown() leaves it readable): a closed session (a peer removed by a
  // reload, a revoked certificate) takes in nothing more.
  Status check_open() const {
    if (!closed) return Status::ok();
    return make_error(ErrorCode::kUnavailable, "the session with " + peer + " was closed here");
  }

  ~Impl() {
    ssl.reset();
    if (fd >= 0) ::close(fd);
  }
};

using TlsClock = std::chrono::steady_clock;

// now + timeout, with absurdly long timeouts (milliseconds::max()) cut to a year.
TlsClock::time_point deadline_after(std::chrono::milliseconds timeout);

// A socket BIO on *fd that sends with MSG_NOSIGNAL. *fd must outlive the BIO.
BIO* new_socket_bio(int* fd);

// "peer at 192.0.2.1:7000", for messages.
std::string describe_peer(int fd);

// Repeats `op` (one SSL_read, SSL_write or SSL_do_handshake on s.ssl) until it returns > 0, and
// returns that. Each try holds s.mu for one non-blocking call; waiting for the socket happens
// without it, so a blocked reader never holds up the writer. Errors: kTimeout when `deadline`
// passes, kUnavailable when the connection is closed, kPermissionDenied when the peer sent an
// alert refusing us, kProtocol for any other TLS failure (message: OpenSSL's reasons).
Result<int> drive(TlsStream::Impl& s, TlsClock::time_point deadline,
                  const std::function<int(SSL*)>& op);

}  // namespace zrep
