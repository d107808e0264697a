// A peer with a valid certificate that misbehaves: asks for what its allowance does not cover,
// or sends a stream other than the one it announced. Driven through the project's own client
// library against a real agent and real zfs-fuse pools.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "agent/config/config.h"
#include "agent/logic/zrep_props.h"
#include "agent/rpc/net.h"
#include "agent/rpc/peer_session.h"
#include "agent/zfs/zfs.h"
#include "agent/zfs/zfs_parse.h"
#include "crypto/stream_checksum.h"
#include "sender/stream_sender.h"
#include "tests/integration/hostile_listener.h"
#include "tests/integration/testbed.h"

namespace zrep::testbed {
namespace {

// The options of the mount at `dir` ("" when nothing is mounted there).
std::string mount_options(const std::string& dir) {
  std::ifstream in("/proc/mounts");
  std::stringstream text;
  text << in.rdbuf();
  auto opts = mount_options_at(text.str(), dir);
  if (!opts) return "";
  std::string out;
  for (const auto& o : *opts) out += o + ",";
  return out;
}

class HostilePeer : public PairTest {
 protected:
  // A Describe reply in which beta claims dst_ is its replica of alpha's src_ at epoch 1 (what a
  // lying standby starts from); returns its properties for the lie to add to.
  google::protobuf::Map<std::string, std::string>& describe_as_replica(peer::DescribeReply& d) {
    d.set_exists(true);
    d.set_parent_exists(true);
    auto& p = *d.mutable_props();
    p[props::kSrcHost] = hosts_->alpha_name();
    p[props::kSrcFs] = src_;
    p[props::kDestFs] = dst_;
    p[props::kDestHost] = beta_name();
    p[props::kEpoch] = "1";
    return p;
  }

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

// Links (agent/rpc/link.h): a peer may not push a session on this host that it was not asked for,
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

// Case 3: a peer takes over an unrelated dataset inside its allowance. Describe does not hand
// out its GUIDs; PairRequest echoing them (learnt elsewhere) does not adopt it; init --force
// does not replace it. Its data, snapshots and properties stay as they were.
TEST_F(HostilePeer, UnrelatedDatasetIsNeitherAdoptedByPairingNorReplacedByInitForce) {
  must({"zfs", "create", dst_});
  write_file(mnt(dst_) + "/mine.txt", "the operator's own data\n");
  must({"zfs", "snapshot", dst_ + "@mine"});
  const std::string guid = zget(dst_ + "@mine", "guid");
  const auto before = tree_digest(mnt(dst_));

  auto peer = dial();
  auto d = peer->describe(dst_);
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_TRUE(d->exists());
  EXPECT_EQ(d->snapshots_size(), 0) << "the GUIDs of an unrelated dataset were handed out";
  EXPECT_EQ(d->props_size(), 0);

  peer::PairRequest pair;
  pair.set_dest_fs(dst_);
  *pair.mutable_pairing() = init_request(0).pairing();
  pair.set_sent_time(1);
  pair.add_sent_guids(std::stoull(guid));
  Status paired = peer->pair(pair);
  EXPECT_FALSE(paired) << "an unmanaged dataset was adopted";
  if (!paired) {
    EXPECT_EQ(paired.error().code, ErrorCode::kPermissionDenied) << paired.message();
  }
  EXPECT_EQ(zget(dst_, "zrep:src-host"), "-");
  EXPECT_EQ(zget(dst_, "zrep:dest-fs"), "-");
  EXPECT_EQ(zget(dst_ + "@mine", "zrep:sent"), "-");
  EXPECT_FALSE(refuses_writes(mnt(dst_))) << "it was made read-only";

  // init --force, through the real master and directly.
  auto forced = alpha().cli({"init", "--force", src_, beta_name(), dst_});
  EXPECT_NE(forced.exit_code, 0) << forced.out;
  auto req = init_request(std::stoull(zget(src_ + "@zrep_000000", "guid")));
  req.set_force(true);
  auto r = peer->receive(
      req, [&](FrameChannel& ch) { return stream_of({src_ + "@zrep_000000"}, ch); },
      std::chrono::seconds(60));
  ASSERT_FALSE(r) << "init --force replaced an unrelated dataset";
  EXPECT_EQ(r.error().code, ErrorCode::kPermissionDenied) << r.error().message;
  EXPECT_EQ(tree_digest(mnt(dst_)), before);
  EXPECT_EQ(zget(dst_ + "@mine", "guid"), guid);
  EXPECT_EQ(snapshots(dst_).size(), 1u);
  EXPECT_EQ(zget(dst_, "zrep:src-host"), "-");
  EXPECT_EQ(must({"zfs", "list", "-H", "-o", "name", "-r", hosts_->backup_root()})
                .find("-zrep-replaced-"),
            std::string::npos);

  // The honest peer's replication still works (into a dataset of its own).
  const std::string other = hosts_->backup_root() + "/other";
  auto ok = alpha().cli({"init", src_, beta_name(), other});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(tree_digest(mnt(src_)), tree_digest(mnt(other)));
  auto s = alpha().cli({"sync", src_});
  EXPECT_EQ(s.exit_code, 0) << s.err;
}

// The operator's consent makes a copy a destination for changedest: zrep:src-host set here.
TEST_F(HostilePeer, PairingNeedsTheReplicaToBeThisPeers) {
  init();
  auto peer = dial();
  peer::PairRequest pair;
  pair.set_dest_fs(dst_);
  *pair.mutable_pairing() = init_request(0).pairing();
  pair.set_sent_time(1);
  pair.add_sent_guids(std::stoull(zget(snapshots(dst_).back(), "guid")));
  // Another peer's replica: refused.
  must({"zfs", "set", "zrep:src-host=gamma", dst_});
  Status other = peer->pair(pair);
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, ErrorCode::kPermissionDenied) << other.message();
  EXPECT_EQ(zget(dst_, "zrep:src-host"), "gamma");
  // Its own replica: re-paired.
  must({"zfs", "set", "zrep:src-host=" + hosts_->alpha_name(), dst_});
  Status own = peer->pair(pair);
  EXPECT_TRUE(own) << own.message();
}

// Case 3, related: the init-resume path and the discarding of a partial receive (recv -A) run
// only on a dataset this peer feeds. Partial receives exist only on OpenZFS.
TEST_F(HostilePeer, InitResumeAndAbortRefuseADatasetThisPeerDoesNotFeed) {
  must({"zfs", "create", dst_});
  write_file(mnt(dst_) + "/mine.txt", "the operator's own data\n");
  must({"zfs", "snapshot", dst_ + "@mine"});
  const std::string mine = zget(dst_ + "@mine", "guid");
  auto peer = dial();
  // A made-up token: refused before anything is looked at.
  auto req = init_request(std::stoull(zget(src_ + "@zrep_000000", "guid")));
  req.set_resume_token("1-abc-12-0123456789abcdef");
  auto r = peer->receive(
      req, [](FrameChannel&) { return Status::ok(); }, std::chrono::seconds(30));
  ASSERT_FALSE(r);
  EXPECT_EQ(zget(dst_ + "@mine", "guid"), mine);
  EXPECT_EQ(zget(dst_, "zrep:src-host"), "-");
  if (!openzfs()) {
    GTEST_SKIP() << "partial receives (recv -s, receive_resume_token) need OpenZFS; zfs-fuse "
                    "has none";
  }
  // A real partial receive into an unrelated dataset (the operator's own, or another peer's).
  const std::string partial = hosts_->backup_root() + "/partial";
  must({"zfs", "create", src_ + "/big"});
  write_file(mnt(src_ + "/big") + "/big.bin", test_data(8 << 20, 9));
  must({"zfs", "snapshot", src_ + "/big@s"});
  run({"bash", "-c", "zfs send " + src_ + "/big@s | head -c 2000000 | zfs recv -s " + partial});
  const std::string token = zget(partial, "receive_resume_token");
  ASSERT_NE(token, "-");
  auto resume = init_request(std::stoull(zget(src_ + "/big@s", "guid")));
  resume.set_dest_fs(partial);
  resume.set_snapshot("s");
  resume.set_resume_token(token);
  auto rr = peer->receive(
      resume,
      [&](FrameChannel& ch) {
        return stream_of({"-t", token}, ch);
      },
      std::chrono::seconds(60));
  ASSERT_FALSE(rr) << "an init resumed into a partial receive this peer did not start";
  EXPECT_EQ(rr.error().code, ErrorCode::kPermissionDenied) << rr.error().message;
  // An incremental without a token: would discard the partial receive (recv -A) first.
  auto inc = init_request(std::stoull(zget(src_ + "/big@s", "guid")));
  inc.set_dest_fs(partial);
  inc.set_base_guid(12345);
  auto ri = peer->receive(
      inc, [](FrameChannel&) { return Status::ok(); }, std::chrono::seconds(30));
  ASSERT_FALSE(ri);
  EXPECT_EQ(zget(partial, "receive_resume_token"), token) << "recv -A ran on it";
}

// Case 4: a lying standby reports a "partial receive" of a snapshot it names, then refuses the
// transfer. The master destroys neither that snapshot (an operator's) nor the base; only what
// the same run created. The honest standby's sync works afterwards.
TEST_F(HostilePeer, LyingStandbyMakesTheMasterDestroyNothingItNames) {
  init();
  const std::string base = snapshots(src_).back();  // what init sent
  const std::string base_part = base.substr(base.find('@') + 1);
  must({"zfs", "snapshot", src_ + "@operator-keep"});
  const std::string base_guid = zget(base, "guid");
  const std::string keep_guid = zget(src_ + "@operator-keep", "guid");
  auto beta_cfg = load_config(beta().config_path());
  ASSERT_TRUE(beta_cfg) << beta_cfg.error().message;
  auto beta_tls = TlsContext::create({beta_cfg->ca_file, beta_cfg->cert_file, beta_cfg->key_file});
  ASSERT_TRUE(beta_tls) << beta_tls.error().message;
  beta().stop();

  for (const auto& [named, guid] : std::vector<std::pair<std::string, std::string>>{
           {"operator-keep", keep_guid}, {base_part, base_guid}}) {
    std::atomic<bool> refused{false};
    std::atomic<int> resumed{0};
    auto answer = [&, named = named, guid = guid](const peer::Request& req, peer::Reply& reply) {
      switch (req.body_case()) {
        case peer::Request::kDescribe: {
          auto* d = reply.mutable_describe();
          auto& p = describe_as_replica(*d);
          p[props::kSavecount] = "5";
          if (!refused) {
            // Before the refusal: "I hold part of NAMED"; after: "and nothing at all".
            p[props::kReceiving] = "snap=" + named + " guid=" + guid + " base=" + base_guid;
            d->set_resume_token("1-abc-12-0123456789abcdef");
            auto* s = d->add_snapshots();
            s->set_name(base_part);
            s->set_guid(std::stoull(base_guid));
            s->set_has_sent(true);
            s->set_sent(1);
          }
          break;
        }
        case peer::Request::kReceive:
          if (!req.receive().resume_token().empty()) ++resumed;
          refused = true;
          *reply.mutable_error() = to_wire(make_error(ErrorCode::kConflict, "no, after all"));
          break;
        case peer::Request::kLock:
          reply.mutable_lock();
          break;
        case peer::Request::kMarkSent:
          reply.mutable_mark_sent();
          break;
        default:
          *reply.mutable_error() = to_wire(make_error(ErrorCode::kProtocol, "not here"));
      }
    };
    {
      HostileListener liar(*beta_cfg, *beta_tls, hosts_->beta_spec.port, answer);
      ASSERT_TRUE(liar.bound());
      auto s = alpha().cli({"sync", src_});
      EXPECT_NE(s.exit_code, 0) << s.out;
      EXPECT_TRUE(refused) << "the master sent nothing to the liar";
    }
    EXPECT_EQ(zget(src_ + "@operator-keep", "guid"), keep_guid)
        << "the master destroyed " << named << ", which the liar named";
    EXPECT_EQ(zget(base, "guid"), base_guid) << "the base is gone";
    if (!openzfs()) {
      EXPECT_EQ(resumed, 0) << "a token was sent on a ZFS that cannot resume";
    }
  }

  beta().start();
  write_file(mnt(src_) + "/after.txt", "after the attack\n");
  auto ok = alpha().cli({"sync", src_});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  expect_same_data();
  expect_newest_snapshot_same();
}

// Case 5: a token naming another snapshot than the planned one, or a non-raw token for a raw
// pairing, is not used: the master sends no -t, the standby discards the partial receive.
// Only OpenZFS reads tokens; the decision is unit-tested (tests/unit/peer_trust_test.cc).
TEST_F(HostilePeer, ResumeTokenNamingAnotherSnapshotIsDiscarded) {
  if (!openzfs()) {
    GTEST_SKIP() << "resume tokens (zfs send -t, -nvt) need OpenZFS; zfs-fuse has none. "
                    "The token checks are unit-tested in PeerTrust.*";
  }
  init();
  // A real token, of src_@other (a partial receive of it into a scratch dataset here).
  write_file(mnt(src_) + "/other.bin", test_data(8 << 20, 5));
  must({"zfs", "snapshot", src_ + "@other"});
  const std::string scratch = hosts_->src_pool() + "/scratch";
  run({"bash", "-c", "zfs send " + src_ + "@other | head -c 2000000 | zfs recv -s " + scratch});
  const std::string token = zget(scratch, "receive_resume_token");
  ASSERT_NE(token, "-");
  const std::string base = snapshots(src_).back();  // what init sent
  const std::string base_part = base.substr(base.find('@') + 1);
  must({"zfs", "snapshot", src_ + "@zrep_000009"});
  const std::string planned_guid = zget(src_ + "@zrep_000009", "guid");
  const std::string base_guid = zget(base, "guid");
  auto beta_cfg = load_config(beta().config_path());
  ASSERT_TRUE(beta_cfg);
  auto beta_tls = TlsContext::create({beta_cfg->ca_file, beta_cfg->cert_file, beta_cfg->key_file});
  ASSERT_TRUE(beta_tls);
  beta().stop();
  std::atomic<int> resumed{0};
  {
    HostileListener liar(
        *beta_cfg, *beta_tls, hosts_->beta_spec.port,
        [&](const peer::Request& req, peer::Reply& reply) {
          if (req.has_describe()) {
            auto* d = reply.mutable_describe();
            auto& p = describe_as_replica(*d);
            p[props::kReceiving] = "snap=zrep_000009 guid=" + planned_guid + " base=" + base_guid;
            d->set_resume_token(token);
            auto* s = d->add_snapshots();
            s->set_name(base_part);
            s->set_guid(std::stoull(base_guid));
            s->set_has_sent(true);
            s->set_sent(1);
          } else if (req.has_receive()) {
            if (!req.receive().resume_token().empty()) ++resumed;
            *reply.mutable_error() = to_wire(make_error(ErrorCode::kConflict, "refused"));
          } else if (req.has_lock()) {
            reply.mutable_lock();
          } else {
            *reply.mutable_error() = to_wire(make_error(ErrorCode::kProtocol, "not here"));
          }
        });
    ASSERT_TRUE(liar.bound());
    (void)alpha().cli({"sync", src_});
  }
  EXPECT_EQ(resumed, 0) << "the master resumed with a token naming another snapshot";
  beta().start();
  auto ok = alpha().cli({"sync", src_});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  expect_same_data();
}

// Received data is inert: a setuid-root binary and a device node sent by the peer have no
// effect on the replica (setuid=off, devices=off, mounted nosuid,nodev), after init and after
// each sync.
TEST_F(HostilePeer, ReceivedReplicaIsInert) {
  must({"cp", "/bin/id", mnt(src_) + "/id"});
  must({"chmod", "4755", mnt(src_) + "/id"});
  const bool have_dev = run({"mknod", mnt(src_) + "/null0", "c", "1", "3"}).exit_code == 0;
  init();
  auto check = [&](const char* when) {
    EXPECT_EQ(zget(dst_, "setuid"), "off") << when;
    EXPECT_EQ(zget(dst_, "devices"), "off") << when;
    const std::string opts = mount_options(mnt(dst_));
    EXPECT_NE(opts.find("nosuid"), std::string::npos) << when << ": " << opts;
    EXPECT_NE(opts.find("nodev"), std::string::npos) << when << ": " << opts;
    auto id = run({"runuser", "-u", "nobody", "--", mnt(dst_) + "/id"});
    EXPECT_EQ(id.exit_code, 0) << id.err;
    EXPECT_EQ(id.out.find("euid=0"), std::string::npos) << when << ": " << id.out;
    if (have_dev) {
      std::ofstream dev(mnt(dst_) + "/null0");
      EXPECT_FALSE(dev.good()) << when << ": a device file of the replica could be opened";
    }
  };
  check("after init");
  write_file(mnt(src_) + "/more.txt", "more\n");
  auto s = alpha().cli({"sync", src_});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  check("after a sync");
  // The source itself is as it was: setuid honoured there.
  EXPECT_NE(run({"runuser", "-u", "nobody", "--", mnt(src_) + "/id"}).out.find("euid=0"),
            std::string::npos);
}

// What a replica gets back when it is promoted: nothing. setuid and devices stay off on the new
// master (local properties) until an operator there restores them (zfs inherit setuid FS).
TEST_F(HostilePeer, PromotedReplicaKeepsSetuidAndDevicesOff) {
  init();
  auto r = alpha().cli({"failover", src_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(zget(dst_, "zrep:master"), "yes");
  EXPECT_EQ(zget(dst_, "setuid"), "off");
  EXPECT_EQ(zget(dst_, "devices"), "off");
  EXPECT_NE(mount_options(mnt(dst_)).find("nosuid"), std::string::npos);
  // The old master is a replica now: its first received sync makes it inert too.
  write_file(mnt(dst_) + "/after.txt", "from the new master\n");
  auto s = beta().cli({"sync", dst_});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  EXPECT_EQ(zget(src_, "setuid"), "off");
  EXPECT_EQ(zget(src_, "devices"), "off");
  EXPECT_NE(mount_options(mnt(src_)).find("nosuid"), std::string::npos);
}

// Case 8 (one item): a stream that ends before its first record fails both sides at once,
// and the lock on the destination is free again.
TEST_F(HostilePeer, StreamEndingBeforeItsFirstRecordFailsPromptly) {
  auto peer = dial();
  auto req = init_request(std::stoull(zget(src_ + "@zrep_000000", "guid")));
  auto started = std::chrono::steady_clock::now();
  auto r = peer->receive(
      req,
      [](FrameChannel& ch) {
        DataEnd end;
        end.total_bytes = 0;
        end.sha256 = StreamChecksum().finish();
        auto payload = encode_data_end(end);
        return ch.write_frame(FrameType::kDataEnd, payload);
      },
      std::chrono::seconds(60));
  auto took = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(r);
  EXPECT_LT(took, std::chrono::seconds(15)) << r.error().message;
  EXPECT_FALSE(dataset_exists(dst_));
  // The lock was released: the honest init goes through at once.
  init();
  expect_same_data();
}

}  // namespace
}  // namespace zrep::testbed
