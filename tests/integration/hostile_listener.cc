#include "tests/integration/hostile_listener.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include "agent/rpc/net.h"
#include "agent/rpc/peer_session.h"
#include "agent/zfs/zfs.h"

namespace zrep::testbed {

HostileListener::HostileListener(Config config, std::shared_ptr<TlsContext> tls, int port,
                                 Answer answer)
    : config_(std::move(config)), tls_(std::move(tls)), answer_(std::move(answer)) {
  start(port);
}

HostileListener::HostileListener(const std::string& config_path, int port, Answer answer,
                                 HelloEdit edit_hello)
    : answer_(std::move(answer)), edit_hello_(std::move(edit_hello)) {
  auto cfg = load_config(config_path);
  EXPECT_TRUE(cfg) << cfg.error().message;
  if (!cfg) return;
  config_ = *cfg;
  auto tls = TlsContext::create({config_.ca_file, config_.cert_file, config_.key_file});
  EXPECT_TRUE(tls) << tls.error().message;
  if (!tls) return;
  tls_ = *tls;
  start(port);
}

void HostileListener::start(int port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bound_ =
      ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 && ::listen(fd_, 16) == 0;
  if (bound_) acceptor_ = std::thread([this] { accept_loop(); });
}

HostileListener::~HostileListener() {
  stop_ = true;
  if (acceptor_.joinable()) acceptor_.join();
  for (auto& t : sessions_) t.join();
  if (fd_ >= 0) ::close(fd_);
}

void HostileListener::accept_loop() {
  while (!stop_) {
    pollfd pfd{fd_, POLLIN, 0};
    if (::poll(&pfd, 1, 100) <= 0) continue;
    int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    sessions_.emplace_back([this, c] { serve(c); });
  }
}

void HostileListener::serve(int fd) {
  auto zfs = Zfs::probe();
  if (!zfs) {
    ::close(fd);
    return;
  }
  peer::Hello hello = make_hello(config_, zfs->features(), "liar");
  if (edit_hello_) edit_hello_(hello);
  auto session = accept_peer(config_, *tls_, fd, hello,
                             std::chrono::steady_clock::now() + std::chrono::seconds(30));
  if (!session) return;
  while (!stop_) {
    peer::Request req;
    Status got = receive_message(*(*session)->channel, req, std::chrono::milliseconds(200));
    if (!got && got.code() == ErrorCode::kTimeout) continue;
    if (!got) return;
    peer::Reply reply;
    reply.set_id(req.id());
    answer_(req, reply);
    if (!send_message(*(*session)->channel, reply)) return;
    ++replies_;
  }
}

}  // namespace zrep::testbed
