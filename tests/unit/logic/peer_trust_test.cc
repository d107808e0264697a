#include "agent/logic/peer_trust.h"

#include <gtest/gtest.h>

namespace zrep {
namespace {

props::PropMap replica(const std::string& peer, const std::string& fs) {
  return {{props::kSrcHost, peer},
          {props::kSrcFs, "src/data"},
          {props::kDestFs, fs},
          {props::kDestHost, "beta"}};
}

TEST(PeerTrust, OnlyTheFeedingPeersReplicaIsItsReplica) {
  EXPECT_EQ(relation_to_peer("b/data", replica("alpha", "b/data"), "alpha"),
            PeerRelation::kReplicaOfPeer);
  EXPECT_EQ(relation_to_peer("b/data", replica("gamma", "b/data"), "alpha"),
            PeerRelation::kUnrelated);
  EXPECT_EQ(relation_to_peer("b/data", {}, "alpha"), PeerRelation::kUnrelated);
  // Renamed or copied: its properties speak of another dataset.
  EXPECT_EQ(relation_to_peer("b/copy", replica("alpha", "b/data"), "alpha"),
            PeerRelation::kUnrelated);
  // The operator's consent for changedest: zrep:src-host alone.
  EXPECT_EQ(relation_to_peer("b/copy", {{props::kSrcHost, "alpha"}}, "alpha"),
            PeerRelation::kReplicaOfPeer);
  props::PropMap master = {{props::kMaster, "yes"}, {props::kDestHost, "alpha"}};
  EXPECT_EQ(relation_to_peer("b/data", master, "alpha"), PeerRelation::kMasterForPeer);
  EXPECT_EQ(relation_to_peer("b/data", master, "gamma"), PeerRelation::kUnrelated);
  master[props::kSrcHost] = "alpha";  // a master is never anyone's replica
  EXPECT_EQ(relation_to_peer("b/data", master, "gamma"), PeerRelation::kUnrelated);
  EXPECT_EQ(relation_to_peer("b/data", {}, ""), PeerRelation::kUnrelated);
}

TEST(PeerTrust, DescribeTellsAllOnlyOfDatasetsPairedWithThePeer) {
  EXPECT_TRUE(paired_with_peer(replica("alpha", "b/data"), "alpha"));
  EXPECT_TRUE(paired_with_peer({{props::kMaster, "yes"}, {props::kDestHost, "alpha"}}, "alpha"));
  EXPECT_FALSE(paired_with_peer(replica("gamma", "b/data"), "alpha"));
  EXPECT_FALSE(paired_with_peer({}, "alpha"));
  EXPECT_FALSE(paired_with_peer({}, ""));
}

TEST(PeerTrust, PairingReusesOnlyThisPeersReplicaOfThatSource) {
  EXPECT_TRUE(check_may_pair("b/data", replica("alpha", "b/data"), "alpha", "src/data", "beta"));
  EXPECT_TRUE(check_may_pair("b/copy", {{props::kSrcHost, "alpha"}}, "alpha", "src/x", "beta"));
  auto unmanaged = check_may_pair("b/data", {}, "alpha", "src/data", "beta");
  ASSERT_FALSE(unmanaged);
  EXPECT_EQ(unmanaged.error().code, ErrorCode::kPermissionDenied);
  EXPECT_NE(unmanaged.message().find("zfs set zrep:src-host=alpha b/data"), std::string::npos)
      << unmanaged.message();
  auto other = check_may_pair("b/data", replica("gamma", "b/data"), "alpha", "src/data", "beta");
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, ErrorCode::kPermissionDenied);
  EXPECT_FALSE(check_may_pair("b/data", replica("alpha", "b/data"), "alpha", "src/other", "beta"));
  EXPECT_FALSE(check_may_pair("b/x", replica("alpha", "b/data"), "alpha", "src/data", "beta"));
  auto master = check_may_pair("b/data", {{props::kMaster, "yes"}, {props::kSrcHost, "alpha"}},
                               "alpha", "src/data", "beta");
  ASSERT_FALSE(master);
  EXPECT_EQ(master.error().code, ErrorCode::kConflict);
}

TEST(PeerTrust, ReceiveNeedsTheFeedingPeer) {
  EXPECT_TRUE(check_replica_of_peer("b/data", replica("alpha", "b/data"), "alpha", "beta"));
  EXPECT_FALSE(check_replica_of_peer("b/data", {}, "alpha", "beta"));
  EXPECT_FALSE(check_replica_of_peer("b/data", replica("gamma", "b/data"), "alpha", "beta"));
  EXPECT_FALSE(check_replica_of_peer("b/data", {{props::kMaster, "yes"}}, "alpha", "beta"));
}

TEST(PeerTrust, OnlyTheSnapshotThisRunMadeIsDestroyedAfterAFailedSend) {
  FailedSendFacts f;
  f.snapshot = "p/fs@zrep_000002";
  f.guid = 22;
  f.created_by_this_run = true;
  f.base_guid = 11;
  EXPECT_TRUE(may_destroy_after_failed_send(f));
  auto g = f;
  g.created_by_this_run = false;  // named by the peer (a "partial receive" of it)
  EXPECT_FALSE(may_destroy_after_failed_send(g));
  g = f;
  g.snapshot = "p/fs@operator-keep";  // not zrep's
  EXPECT_FALSE(may_destroy_after_failed_send(g));
  g = f;
  g.guid = 11;  // the incremental base
  EXPECT_FALSE(may_destroy_after_failed_send(g));
  g = f;
  g.destination_has_partial = true;
  EXPECT_FALSE(may_destroy_after_failed_send(g));
  g = f;
  g.destination_has_guid = true;
  EXPECT_FALSE(may_destroy_after_failed_send(g));
  g = f;
  g.snapshot = "p/fs";
  EXPECT_FALSE(may_destroy_after_failed_send(g));
  g = f;
  g.guid = 0;
  EXPECT_FALSE(may_destroy_after_failed_send(g));
}

// As `zfs send -nvt TOKEN` prints it (nvlist_print), with the size estimate after it.
constexpr const char* kTokenOutput =
    "resume token contents:\n"
    "nvlist version: 0\n"
    "\tfromguid = 0x1f\n"
    "\tobject = 0x8\n"
    "\toffset = 0x20000\n"
    "\tbytes = 0x2a1c8\n"
    "\ttoguid = 0xdeadbeefcafe\n"
    "\ttoname = tank/data@zrep_000003\n"
    "\tcompressok = 1\n"
    "\trawok = 1\n"
    "incremental\tzrep_000002\ttank/data@zrep_000003\t1234\n";

TEST(PeerTrust, ParsesTheResumeTokenContents) {
  auto t = parse_resume_token_contents(kTokenOutput);
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(t->toname, "tank/data@zrep_000003");
  EXPECT_EQ(t->toguid, 0xdeadbeefcafeULL);
  EXPECT_EQ(t->fromguid, 0x1fULL);
  EXPECT_TRUE(t->raw);
  EXPECT_TRUE(t->compressed);

  auto full = parse_resume_token_contents(
      "resume token contents:\nnvlist version: 0\n\tobject = 0x1\n\toffset = 0x0\n"
      "\tbytes = 0x0\n\ttoguid = 0x10\n\ttoname = tank/data@zrep_000000\n");
  ASSERT_TRUE(full) << full.error().message;
  EXPECT_EQ(full->fromguid, 0u);
  EXPECT_FALSE(full->raw);

  EXPECT_FALSE(parse_resume_token_contents(""));
  EXPECT_FALSE(parse_resume_token_contents("cannot resume send: resume token is corrupt\n"));
  EXPECT_FALSE(parse_resume_token_contents("resume token contents:\n\ttoname = a@b\n"));
  EXPECT_FALSE(
      parse_resume_token_contents("resume token contents:\n\ttoguid = 0xzz\n\ttoname = a@b\n"));
  EXPECT_FALSE(parse_resume_token_contents(
      "resume token contents:\n\ttoguid = 0x1ffffffffffffffff\n\ttoname = a@b\n"));
  // Two snapshots in one token: refused rather than guessed.
  EXPECT_FALSE(parse_resume_token_contents(
      "resume token contents:\n\ttoguid = 0x1\n\ttoguid = 0x2\n\ttoname = a@b\n"));
}

TEST(PeerTrust, ATokenMustNameExactlyThePlannedTransfer) {
  auto t = *parse_resume_token_contents(kTokenOutput);
  const std::string snap = "tank/data@zrep_000003";
  EXPECT_TRUE(check_resume_token(t, snap, 0xdeadbeefcafeULL, 0x1f, true));
  // Another snapshot (the peer knows its GUID).
  EXPECT_FALSE(check_resume_token(t, "tank/data@operator-keep", 0xdeadbeefcafeULL, 0x1f, true));
  EXPECT_FALSE(check_resume_token(t, snap, 0x1234, 0x1f, true));
  // Another base.
  EXPECT_FALSE(check_resume_token(t, snap, 0xdeadbeefcafeULL, 0x2f, true));
  EXPECT_FALSE(check_resume_token(t, snap, 0xdeadbeefcafeULL, 0, true));
  // Raw stays raw; non-raw never becomes raw.
  EXPECT_FALSE(check_resume_token(t, snap, 0xdeadbeefcafeULL, 0x1f, false));
  t.raw = false;
  auto decrypted = check_resume_token(t, snap, 0xdeadbeefcafeULL, 0x1f, true);
  ASSERT_FALSE(decrypted);
  EXPECT_NE(decrypted.message().find("decrypted"), std::string::npos) << decrypted.message();
  EXPECT_TRUE(check_resume_token(t, snap, 0xdeadbeefcafeULL, 0x1f, false));
}

}  // namespace
}  // namespace zrep
