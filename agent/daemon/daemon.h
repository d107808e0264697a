// The daemon: listens for peers (TLS) and for the local command-line client (Unix socket), and
// serves each connection on a thread of its own (transfers block on zfs pipes, which must never
// happen on the io thread). Asio runs the acceptors and the signal handling on one io thread.
//
// SIGINT/SIGTERM stop accepting, shut every live connection down (a transfer in flight fails
// cleanly on both sides: the receiving zfs sees a truncated stream and keeps nothing), wait for
// the session threads, and return.
//
// SIGHUP (`systemctl reload`) rereads the config file and the TLS files and applies, without a
// restart, the peers, the schedule, the alerts and log_level (agent/daemon/reload.h): a removed
// peer's sessions are closed, every other session (a transfer in flight) goes on, and settings
// that need a restart are logged and keep their running values. A file that does not load
// changes nothing. systemd hears RELOADING=1, then READY=1.
#pragma once

#include <memory>
#include <string>

#include "agent/config/config.h"
#include "agent/zfs/zfs.h"
#include "common/result.h"
#include "crypto/tls.h"

namespace zrep {

class Daemon {
 public:
  Daemon(Config config, Zfs zfs, std::shared_ptr<TlsContext> tls);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Binds the sockets and serves until a stop signal. Errors: a socket that cannot be bound, or
  // another daemon already serving the control socket.
  Status run();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace zrep
