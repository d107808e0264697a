// The decisions that keep a peer's word from deciding what local state does not allow
// (agent/logic/role_switch.h): which epoch claims demote, epoch bounds, what a peer may lock, and
// the names a failover at a snapshot keeps newer data under.
#include <gtest/gtest.h>

#include "agent/config/config.h"
#include "agent/logic/lock_table.h"
#include "agent/logic/role_switch.h"

namespace zrep {
namespace {

using namespace std::chrono_literals;

// A genuine forced takeover as the old master alpha:pool/fs (epoch 4) sees it.
PeerClaim takeover_claim() {
  PeerClaim c;
  c.here_host = "alpha";
  c.here_fs = "pool/fs";
  c.peer_host = "beta";
  c.peer_fs = "tank/fs";
  c.my_epoch = 4;
  c.peer_epoch = 5;
  c.peer_is_master = true;
  c.peer_src_host = "beta";
  c.peer_src_fs = "tank/fs";
  c.peer_dest_host = "alpha";
  c.peer_dest_fs = "pool/fs";
  c.peer_takeover = "forced at=1700000000 epoch=5 old=alpha:pool/fs snapshot=zrep_000002";
  c.takeover_guid = 22;
  return c;
}

// alpha's snapshots: zrep_000001 (11), zrep_000002 (22) sent; zrep_000003 (33) not sent.
std::vector<LocalSnap> local_snaps() { return {{11, true}, {22, true}, {33, false}}; }

TEST(PeerClaims, AGenuineForcedTakeoverDemotes) {
  EXPECT_EQ(judge_claim(takeover_claim(), local_snaps()).verdict, ClaimVerdict::kTakenOver);
}

TEST(PeerClaims, NoHigherEpochIsNoClaim) {
  auto c = takeover_claim();
  c.peer_epoch = 4;
  EXPECT_EQ(judge_claim(c, local_snaps()).verdict, ClaimVerdict::kNoClaim);
  c.peer_epoch = 1;
  EXPECT_EQ(judge_claim(c, local_snaps()).verdict, ClaimVerdict::kNoClaim);
}

TEST(PeerClaims, AnEpochMoreThanOneAboveOrHugeIsALie) {
  for (uint64_t e : {uint64_t{6}, uint64_t{1004}, kMaxEpoch + 1, UINT64_MAX}) {
    auto c = takeover_claim();
    c.peer_epoch = e;
    c.peer_takeover =
        "forced epoch=" + std::to_string(e) + " old=alpha:pool/fs snapshot=zrep_000002";
    auto j = judge_claim(c, local_snaps());
    EXPECT_EQ(j.verdict, ClaimVerdict::kUnbacked) << e;
    EXPECT_NE(j.why.find("exactly one"), std::string::npos) << j.why;
  }
  // At the top of the range even +1 is refused.
  auto c = takeover_claim();
  c.my_epoch = kMaxEpoch;
  c.peer_epoch = kMaxEpoch + 1;
  EXPECT_EQ(judge_claim(c, local_snaps()).verdict, ClaimVerdict::kUnbacked);
}

TEST(PeerClaims, OneAboveButNotMasterOnlyWaits) {
  auto c = takeover_claim();
  c.peer_is_master = false;
  EXPECT_EQ(judge_claim(c, local_snaps()).verdict, ClaimVerdict::kPeerAhead);
}

TEST(PeerClaims, APairingOtherThanOursReversedDoesNotDemote) {
  auto fields = {&PeerClaim::peer_src_host, &PeerClaim::peer_src_fs, &PeerClaim::peer_dest_host,
                 &PeerClaim::peer_dest_fs};
  for (auto field : fields) {
    auto c = takeover_claim();
    c.*field = "other";
    auto j = judge_claim(c, local_snaps());
    EXPECT_EQ(j.verdict, ClaimVerdict::kUnbacked);
    EXPECT_NE(j.why.find("not this pairing reversed"), std::string::npos) << j.why;
  }
}

TEST(PeerClaims, WithoutAMatchingTakeoverRecordThereIsNoDemotion) {
  for (const std::string rec : {"", "forced epoch=6 old=alpha:pool/fs snapshot=zrep_000002",
                                "forced epoch=5 old=gamma:pool/fs snapshot=zrep_000002",
                                "forced epoch=5 old=alpha:pool/fs"}) {
    auto c = takeover_claim();
    c.peer_takeover = rec;
    EXPECT_EQ(judge_claim(c, local_snaps()).verdict, ClaimVerdict::kUnbacked) << rec;
  }
}

TEST(PeerClaims, TheTakeoverSnapshotMustBeOursAndTheNewestItReceived) {
  auto c = takeover_claim();
  c.takeover_guid = 99;  // not a snapshot of ours
  EXPECT_EQ(judge_claim(c, local_snaps()).verdict, ClaimVerdict::kUnbacked);
  c.takeover_guid = 0;  // the record's snapshot is not in its list
  EXPECT_EQ(judge_claim(c, local_snaps()).verdict, ClaimVerdict::kUnbacked);
  // It took over at zrep_000001, but zrep_000002 reached it later: contradicts local state.
  c.takeover_guid = 11;
  auto j = judge_claim(c, local_snaps());
  EXPECT_EQ(j.verdict, ClaimVerdict::kUnbacked);
  EXPECT_NE(j.why.find("newer than the one it took over at"), std::string::npos) << j.why;
  // An acknowledgement lost: at zrep_000003, received there, not marked sent here.
  c.takeover_guid = 33;
  EXPECT_EQ(judge_claim(c, local_snaps()).verdict, ClaimVerdict::kTakenOver);
}

TEST(Epochs, AreBoundedAndNeverWrap) {
  EXPECT_FALSE(is_plausible_epoch(0));
  EXPECT_TRUE(is_plausible_epoch(1));
  EXPECT_TRUE(is_plausible_epoch(kMaxEpoch));
  EXPECT_FALSE(is_plausible_epoch(kMaxEpoch + 1));
  EXPECT_FALSE(is_plausible_epoch(UINT64_MAX));
  EXPECT_EQ(*next_epoch(1), 2u);
  EXPECT_EQ(*next_epoch(kMaxEpoch - 1), kMaxEpoch);
  EXPECT_FALSE(next_epoch(kMaxEpoch));
  EXPECT_FALSE(next_epoch(UINT64_MAX));  // no wrap to 0
  EXPECT_EQ(next_epoch(UINT64_MAX).error().code, ErrorCode::kConflict);
  // A journal from a peer with a huge epoch is refused.
  EXPECT_FALSE(parse_journal("v1 epoch=18446744073709551615 old=a:p/x new=b:p/y base=1"));
  EXPECT_FALSE(
      parse_journal("v1 epoch=" + std::to_string(kMaxEpoch + 1) + " old=a:p/x new=b:p/y base=1"));
  EXPECT_TRUE(
      parse_journal("v1 epoch=" + std::to_string(kMaxEpoch) + " old=a:p/x new=b:p/y base=1"));
}

props::PropMap pm(std::initializer_list<std::pair<const std::string, std::string>> l) {
  return props::PropMap(l);
}

TEST(PeerLocks, OnlyFilesystemsPairedWithThePeerOrUnpairedOnes) {
  // Absent (init creates it), unpaired (changedest, init --force check ownership themselves).
  EXPECT_TRUE(may_peer_lock("beta", "p/new", false, {}, "alpha"));
  EXPECT_TRUE(may_peer_lock("beta", "p/plain", true, pm({{"readonly", "off"}}), "alpha"));
  // A replica beta feeds; a master whose standby is beta.
  EXPECT_TRUE(may_peer_lock("beta", "p/r", true, pm({{props::kSrcHost, "beta"}}), "alpha"));
  EXPECT_TRUE(may_peer_lock("beta", "p/m", true,
                            pm({{props::kMaster, "yes"}, {props::kDestHost, "beta"}}), "alpha"));
  // This host's master for another standby, a master with no standby, a replica of another.
  auto other_master = may_peer_lock(
      "beta", "p/m", true, pm({{props::kMaster, "yes"}, {props::kDestHost, "gamma"}}), "alpha");
  ASSERT_FALSE(other_master);
  EXPECT_EQ(other_master.code(), ErrorCode::kPermissionDenied);
  EXPECT_NE(other_master.message().find("not paired with 'beta'"), std::string::npos)
      << other_master.message();
  EXPECT_FALSE(may_peer_lock("beta", "p/m", true, pm({{props::kMaster, "yes"}}), "alpha"));
  EXPECT_FALSE(may_peer_lock(
      "beta", "p/m", true,
      pm({{props::kMaster, "yes"}, {props::kSrcHost, "alpha"}, {props::kDestHost, "gamma"}}),
      "alpha"));
  // A replica of beta that claims the master role too (split brain): the sync says so.
  EXPECT_TRUE(may_peer_lock(
      "beta", "p/r", true,
      pm({{props::kMaster, "yes"}, {props::kSrcHost, "beta"}, {props::kDestHost, "alpha"}}),
      "alpha"));
  EXPECT_FALSE(may_peer_lock("beta", "p/r", true, pm({{props::kSrcHost, "gamma"}}), "alpha"));
  // Bounded: only locks on a master here.
  EXPECT_TRUE(peer_lock_is_bounded(pm({{props::kMaster, "yes"}})));
  EXPECT_FALSE(peer_lock_is_bounded(pm({{props::kSrcHost, "beta"}})));
}

TEST(PeerLocks, ABoundedLockEndsAtItsLimitWhateverRenewsIt) {
  LockTable t("alpha");
  const auto t0 = LockTable::Steady::now();
  LockOwner peer{"beta", "inst", "sync", "beta/inst/1"};
  ASSERT_TRUE(t.acquire("p/m", peer, 0s, t0, 10s));
  t.renew(peer.token, 0s, t0 + 5s);  // a request in progress: would be "no lease"
  EXPECT_TRUE(t.holder("p/m", t0 + 9s));
  EXPECT_FALSE(t.holder("p/m", t0 + 10s));
  t.renew(peer.token, 120s, t0 + 9s);
  EXPECT_FALSE(t.holder("p/m", t0 + 11s));
  // The same token cannot extend it either.
  ASSERT_TRUE(t.acquire("p/m", peer, 0s, t0 + 9s, 10s));
  EXPECT_FALSE(t.holder("p/m", t0 + 10s));
  // Having sat on it to the limit, beta may not take it again at once, with any token; this
  // host may.
  LockOwner again{"beta", "inst", "sync", "beta/inst/2"};
  auto refused = t.acquire("p/m", again, 0s, t0 + 11s, 10s);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.code(), ErrorCode::kBusy);
  EXPECT_NE(refused.message().find("longest it may"), std::string::npos) << refused.message();
  EXPECT_TRUE(t.acquire("p/m", again, 0s, t0 + 21s, 10s));  // after another limit: again
  t.release("p/m", again.token);
  // A lock released in time leaves no pause.
  EXPECT_TRUE(t.acquire("p/m", peer, 0s, t0 + 22s, 10s));
  t.release("p/m", peer.token);
  EXPECT_TRUE(t.acquire("p/m", again, 0s, t0 + 23s, 10s));
  t.release("p/m", again.token);
  // Unbounded locks (lease only) are as before.
  ASSERT_TRUE(t.acquire("p/r", peer, 0s, t0));
  EXPECT_TRUE(t.holder("p/r", t0 + 100000s));
  LockOwner local{"alpha", "me", "sync", "local-1"};
  ASSERT_TRUE(t.acquire("p/m", local, 0s, t0 + 30s));
}

TEST(KeptNames, NameTheEpoch) {
  EXPECT_EQ(kept_aside_name("pool/fs", 3), "pool/fs-kept-e3");
  EXPECT_EQ(kept_snapshot_name("pool/fs", 3), "pool/fs@zrep-kept-e3");
}

TEST(AllowTakeover, DefaultsToTrueAndFalseIsRead) {
  const std::string base = R"(
host = "alpha"
[tls]
ca = "/c"
cert = "/c"
key = "/k"
[[peer]]
name = "beta"
address = "beta:7450"
)";
  auto c = parse_config(base, "t.toml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_TRUE(c->peers[0].allow_takeover);
  c = parse_config(base + "allow_takeover = false\n", "t.toml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_FALSE(c->peers[0].allow_takeover);
  c = parse_config(base + "allow_takeover = \"no\"\n", "t.toml");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("allow_takeover"), std::string::npos) << c.error().message;
}

}  // namespace
}  // namespace zrep
