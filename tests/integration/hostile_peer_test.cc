// A peer with a valid certificate that misbehaves: asks for what its allowance does not cover,
// or sends a stream other than the one it announced. Driven through the project's own client
// library against a real agent and real zfs-fuse pools.
#include <gtest/gtest.h>

#include "agent/config.h"
#include "agent/peer_session.h"
#include "agent/zfs.h"
#include "sender/stream_sender.h"
#include "tests/integration/testbed.h"

namespace zrep::testbed {
namespace {

class HostilePeer : public PairTest {
 protected:
  void SetUp() override {
    make_hosts(PoolSizes{});
    write_file(mnt(src_) + "/f.bin", test_data(1 << 20, 3));
    must({"zfs", "snapshot", src_ + "@zrep_000000"});
    auto cfg = load_config(alpha().config_path());
    ASSERT_TRUE(cfg) << cfg.error().message;
    config_ = *cfg;
    auto tls = TlsContext::create({config_.ca_file, config_.cert_file, config_.key_file});
    ASSERT_TRUE(tls) << tls.error().message;
    tls_ = *tls;
  }

  std::unique_ptr<PeerClient> dial(peer::SessionPurpose purpose = peer::PURPOSE_REQUESTS,
                                   const std::string& nonce = "") {
    auto zfs = Zfs::probe();
    EXPECT_TRUE(zfs);
    peer::Hello hello = make_hello(config_, zfs->features(), "hostile-test");
    hello.set_purpose(purpose);
    hello.set_link_nonce(nonce);
    auto session = dial_peer(config_, *tls_, *config_.find_peer(beta_name()), hello);
    EXPECT_TRUE(session) << session.error().message;
    return std::make_unique<PeerClient>(std::move(*session), std::chrono::seconds(30));
  }

  // Streams `zfs send ARGS...` as the data of a receive request.
  Status stream_of(const std::vector<std::string>& send_args, FrameChannel& ch) {
    std::vector<std::string> argv{"zfs", "send"};
    argv.insert(argv.end(), send_args.begin(), send_args.end());
    auto child = Child::spawn(argv, StdioMode::kNull, StdioMode::kPipe);
    if (!child) return child.error();
    auto sent = send_stream(child->stdout_fd(), ch, SendOptions{});
    (void)child->wait(std::chrono::seconds(30));
    return sent.status();
  }

  peer::ReceiveRequest init_request(uint64_t guid) {
    peer::ReceiveRequest req;
    req.set_dest_fs(dst_);
    req.set_snapshot("zrep_000000");
    req.set_guid(guid);
    req.set_base_guid(0);
    req.set_sent_time(1);
    auto* p = req.mutable_pairing();
    p->set_src_fs(src_);
    p->set_src_host(hosts_->alpha_name());
    p->set_dest_fs(dst_);
    p->set_dest_host(beta_name());
    p->set_savecount(5);
    p->set_epoch(1);
    return req;
  }

  Config config_;
  std::shared_ptr<TlsContext> tls_;
};

TEST_F(HostilePeer, CompoundStreamWithPropertiesAndChildrenIsRefused) {
  must({"zfs", "create", src_ + "/child"});
  must({"zfs", "snapshot", "-r", src_ + "@pkg"});
  uint64_t guid = std::stoull(zget(src_ + "@pkg", "guid"));
  auto peer = dial();
  auto req = init_request(guid);
  req.set_snapshot("pkg");
  auto r = peer->receive(
      req,
      [&](FrameChannel& ch) {
        return stream_of({"-R", src_ + "@pkg"}, ch);
      },
      std::chrono::seconds(60));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("compound"), std::string::npos) << r.error().message;
  EXPECT_FALSE(dataset_exists(dst_));
  EXPECT_FALSE(dataset_exists(dst_ + "/child"));
}

TEST_F(HostilePeer, StreamOtherThanAnnouncedIsRefused) {
  must({"zfs", "snapshot", src_ + "@other"});
  uint64_t announced = std::stoull(zget(src_ + "@zrep_000000", "guid"));
  auto peer = dial();
  auto r = peer->receive(
      init_request(announced), [&](FrameChannel& ch) { return stream_of({src_ + "@other"}, ch); },
      std::chrono::seconds(60));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("not the agreed"), std::string::npos) << r.error().message;
  EXPECT_FALSE(dataset_exists(dst_));
}

TEST_F(HostilePeer, RequestsOutsideTheAllowanceOrWithHostileNamesAreRefused) {
  auto peer = dial();
  auto outside = peer->describe(hosts_->src_pool() + "/data");
  ASSERT_FALSE(outside);
  EXPECT_EQ(outside.error().code, ErrorCode::kPermissionDenied) << outside.error().message;
  for (const std::string& bad :
       std::vector<std::string>{"-R", "a b", "../x", dst_ + "@x@y", std::string(300, 'a')}) {
    auto r = peer->describe(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << bad << ": " << r.error().message;
  }
  peer::MarkSentRequest mark;
  mark.set_fs(hosts_->src_pool() + "/data");
  mark.add_guids(1);
  EXPECT_FALSE(peer->mark_sent(mark));
  // The session is still usable after refusals, and the agent still serves.
  auto ok = peer->describe(dst_);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_FALSE(ok->exists());
}

// Links (agent/link.h): a peer may not push a session on this host that it was not asked for,
// nor keep a link that this host does not need (it has the peer's address).
TEST_F(HostilePeer, UnaskedReverseSessionsAndUnneededLinksAreClosed) {
  for (const auto& [purpose, nonce] : std::vector<std::pair<peer::SessionPurpose, std::string>>{
           {peer::PURPOSE_REVERSE, "0123456789abcdef0123456789abcdef"},
           {peer::PURPOSE_REVERSE, "not a nonce"},
           {peer::PURPOSE_LINK, ""}}) {
    auto peer = dial(purpose, nonce);
    ASSERT_TRUE(peer);
    auto r = peer->describe(dst_);
    ASSERT_FALSE(r) << "purpose " << purpose << ": a request was served";
    EXPECT_EQ(r.error().code, ErrorCode::kUnavailable) << r.error().message;
  }
  auto ok = dial()->describe(dst_);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_FALSE(ok->exists());
}

}  // namespace
}  // namespace zrep::testbed
