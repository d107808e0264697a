// A hostile *listener* for the hostile-peer tests: answers on a peer's port with that peer's
// certificate (a stolen key: real TLS, real Hello), and replies to every request as `answer`
// says. One thread per connection; the destructor stops and joins them all.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "agent/config/config.h"
#include "crypto/tls.h"
#include "proto/peer.pb.h"

namespace zrep::testbed {

class HostileListener {
 public:
  // Fills `reply` (its id is set already) for `req`.
  using Answer = std::function<void(const peer::Request& req, peer::Reply& reply)>;
  HostileListener(Config config, std::shared_ptr<TlsContext> tls, int port, Answer answer);
  // Changes the Hello it answers with (its clock, its version strings, ...).
  using HelloEdit = std::function<void(peer::Hello& hello)>;
  // With the config and certificate of the agent whose config file is `config_path`.
  HostileListener(const std::string& config_path, int port, Answer answer,
                  HelloEdit edit_hello = nullptr);
  ~HostileListener();
  HostileListener(const HostileListener&) = delete;
  HostileListener& operator=(const HostileListener&) = delete;

  bool bound() const { return bound_; }
  int replies() const { return replies_; }

 private:
  void start(int port);
  void accept_loop();
  void serve(int fd);

  Config config_;
  std::shared_ptr<TlsContext> tls_;
  Answer answer_;
  HelloEdit edit_hello_;
  int fd_ = -1;
  bool bound_ = false;
  std::atomic<bool> stop_{false};
  std::atomic<int> replies_{0};
  std::thread acceptor_;
  std::vector<std::thread> sessions_;  // only the acceptor thread adds to it
};

}  // namespace zrep::testbed
