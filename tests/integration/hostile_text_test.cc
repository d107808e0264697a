// Text a hostile peer puts in its replies (error messages) reaches this host's logs and the
// operator's terminal only escaped (common/sanitize.h): no raw newline to forge a line, no ANSI
// escape sequence to rewrite the terminal. The peer here is the test itself: a TLS server with
// beta's real certificate, on beta's port, that answers every request with a hostile error.
// (Protobuf refuses strings that are not UTF-8, so the hostile text is valid UTF-8.)
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "agent/config.h"
#include "agent/net.h"
#include "agent/peer_session.h"
#include "agent/zfs.h"
#include "crypto/tls.h"
#include "tests/integration/testbed.h"

namespace zrep::testbed {
namespace {

const std::string kHostile =
    "\x1b[2J\x1b[31mdataset is fine\x1b[0m\nFORGED LOG LINE: all good\r\x07\xc2\x9b"
    "1m\xe2\x80\xae";

// Serves beta's port until stopped: TLS with beta's certificate, Hello, then an error reply
// carrying kHostile to each request.
class HostileServer {
 public:
  HostileServer(const std::string& beta_config, int port) {
    auto cfg = load_config(beta_config);
    EXPECT_TRUE(cfg) << cfg.error().message;
    config_ = *cfg;
    auto tls = TlsContext::create({config_.ca_file, config_.cert_file, config_.key_file});
    EXPECT_TRUE(tls) << tls.error().message;
    tls_ = *tls;
    auto zfs = Zfs::probe();
    EXPECT_TRUE(zfs);
    hello_ = make_hello(config_, zfs->features(), "hostile-text-test");

    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd_, 8), 0);
    thread_ = std::thread([this] { serve(); });
  }
  ~HostileServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  int replies() const { return replies_; }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      auto session = accept_peer(config_, *tls_, c, hello_,
                                 std::chrono::steady_clock::now() + std::chrono::seconds(30));
      if (!session) continue;
      peer::Request req;
      while (!stop_ && receive_message(*(*session)->channel, req, std::chrono::seconds(5))) {
        peer::Reply reply;
        reply.set_id(req.id());
        reply.mutable_error()->set_code("conflict");
        reply.mutable_error()->set_message(kHostile);
        if (!send_message(*(*session)->channel, reply)) break;
        ++replies_;
      }
    }
  }

  Config config_;
  std::shared_ptr<TlsContext> tls_;
  peer::Hello hello_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<int> replies_{0};
  std::thread thread_;
};

bool has_raw_control(const std::string& s) {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u == 0x1b || u == '\r' || u == 0x07 || u == 0x9b) return true;
  }
  return false;
}

TEST_F(PairTest, HostilePeerTextIsEscapedInCliOutputAndLog) {
  beta().stop();
  HostileServer server(beta().config_path(), hosts_->beta_spec.port);
  must({"zfs", "snapshot", src_ + "@zrep_000000"});

  auto r = alpha().cli({"init", src_, beta_name(), dst_}, 60);
  EXPECT_NE(r.exit_code, 0);
  ASSERT_GT(server.replies(), 0) << "the agent never asked the hostile peer: " << r.err;
  const std::string out = r.out + r.err;
  EXPECT_FALSE(has_raw_control(out)) << out;
  EXPECT_EQ(out.find("\nFORGED LOG LINE"), std::string::npos) << out;
  EXPECT_NE(out.find("\\x1b[2J\\x1b[31mdataset is fine\\x1b[0m\\x0aFORGED LOG LINE"),
            std::string::npos)
      << out;

  // The same with --json: the message is escaped text, not raw control characters in a string.
  auto j = alpha().cli({"--json", "init", src_, beta_name(), dst_}, 60);
  EXPECT_NE(j.exit_code, 0);
  EXPECT_NE((j.out + j.err).find("\\\\x1b[2J"), std::string::npos) << j.out << j.err;

  // The agent's own log has no raw escape either.
  std::string log = alpha().log();
  EXPECT_FALSE(has_raw_control(log));
  EXPECT_EQ(log.find("\nFORGED LOG LINE"), std::string::npos);
  // Nothing was made on either side.
  EXPECT_FALSE(dataset_exists(dst_));
}

}  // namespace
}  // namespace zrep::testbed
