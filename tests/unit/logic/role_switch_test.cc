#include "agent/logic/role_switch.h"

#include <gtest/gtest.h>

namespace zrep {
namespace {

SwitchJournal journal() {
  SwitchJournal j;
  j.epoch = 5;
  j.old_host = "alpha";
  j.old_fs = "pool/fs";
  j.new_host = "beta";
  j.new_fs = "backup/fs";
  j.base_guid = 1234567890123ULL;
  return j;
}

TEST(SwitchJournal, RoundTrips) {
  auto j = journal();
  auto text = format_journal(j);
  EXPECT_EQ(text, "v1 epoch=5 old=alpha:pool/fs new=beta:backup/fs base=1234567890123");
  auto back = parse_journal(text);
  ASSERT_TRUE(back.is_ok()) << back.error().message;
  EXPECT_EQ(*back, j);
  j.base_guid = 0;  // fenced, no final snapshot yet
  EXPECT_TRUE(parse_journal(format_journal(j)).is_ok());
}

TEST(SwitchJournal, RefusesGarbage) {
  for (const char* bad : {"", "v2 epoch=5 old=alpha:pool/fs new=beta:backup/fs base=1",
                          "v1 epoch=1 old=alpha:pool/fs new=beta:backup/fs base=1",
                          "v1 epoch=x old=alpha:pool/fs new=beta:backup/fs base=1",
                          "v1 epoch=5 old=alpha:pool/fs new=alpha:backup/fs base=1",
                          "v1 epoch=5 old=alpha:-R new=beta:backup/fs base=1",
                          "v1 epoch=5 old=alpha pool/fs new=beta:backup/fs base=1",
                          "v1 epoch=5 old=al/pha:pool/fs new=beta:backup/fs base=1",
                          "v1 epoch=5 old=alpha:pool/fs new=beta:backup/fs base=1 extra=2",
                          "v1 epoch=5 new=beta:backup/fs old=alpha:pool/fs base=1",
                          "v1 epoch=5 old=alpha:pool/fs@s new=beta:backup/fs base=1",
                          "v1 epoch=99999999999999999999 old=alpha:p/f new=beta:b/f base=1"}) {
    EXPECT_FALSE(parse_journal(bad).is_ok()) << bad;
  }
}

RecoveryInput input(const std::string& host, uint64_t local_epoch,
                    std::optional<uint64_t> peer_epoch) {
  return RecoveryInput{host, journal(), local_epoch, peer_epoch};
}

TEST(Recovery, CommittedHereFinishesTheRoleTheJournalGives) {
  EXPECT_EQ(decide_recovery(input("beta", 5, std::nullopt)), Recovery::kFinishAsNewMaster);
  EXPECT_EQ(decide_recovery(input("alpha", 5, std::nullopt)), Recovery::kFinishAsDestination);
}

TEST(Recovery, TheNewMasterAbortsWhatItNeverCommitted) {
  EXPECT_EQ(decide_recovery(input("beta", 4, std::nullopt)), Recovery::kAbortHere);
  EXPECT_EQ(decide_recovery(input("beta", 4, 4)), Recovery::kAbortHere);
}

TEST(Recovery, TheOldMasterFollowsThePeersCommit) {
  EXPECT_EQ(decide_recovery(input("alpha", 4, 5)), Recovery::kFinishAsDestination);
  EXPECT_EQ(decide_recovery(input("alpha", 4, 6)), Recovery::kFinishAsDestination);
  EXPECT_EQ(decide_recovery(input("alpha", 4, 4)), Recovery::kAbortAndUnfence);
}

TEST(Recovery, TheOldMasterStaysFencedWhileThePeerIsUnreachable) {
  EXPECT_EQ(decide_recovery(input("alpha", 4, std::nullopt)), Recovery::kWaitForPeer);
}

TEST(Recovery, WithoutABaseThePeerNeverPreparedSoTheOldMasterUnfences) {
  auto in = input("alpha", 4, std::nullopt);
  in.journal.base_guid = 0;
  EXPECT_EQ(decide_recovery(in), Recovery::kAbortAndUnfence);
  in.peer_epoch = 5;  // a forced takeover meanwhile: fencing demotes it afterwards
  EXPECT_EQ(decide_recovery(in), Recovery::kAbortAndUnfence);
}

// Every combination of where a crash can leave the two epochs ends with exactly one master.
TEST(Recovery, EveryCrashPointConvergesToOneMaster) {
  for (uint64_t beta_epoch : {4u, 5u}) {
    for (uint64_t alpha_epoch : {4u, 5u}) {
      if (alpha_epoch == 5 && beta_epoch == 4) continue;  // alpha demotes only after beta
      auto b = decide_recovery(input("beta", beta_epoch, alpha_epoch));
      auto a = decide_recovery(input("alpha", alpha_epoch, beta_epoch));
      bool beta_master = b == Recovery::kFinishAsNewMaster;
      bool alpha_master = a == Recovery::kAbortAndUnfence;
      EXPECT_NE(beta_master, alpha_master)
          << "alpha epoch " << alpha_epoch << ", beta epoch " << beta_epoch << ": "
          << recovery_name(a) << " / " << recovery_name(b);
    }
  }
}

TEST(Fence, AHigherEpochOnThePeerDemotes) {
  EXPECT_EQ(check_fence(4, 5, true), Fence::kDemote);
  EXPECT_EQ(check_fence(4, 5, false), Fence::kPeerAhead);  // a takeover not finished there
  EXPECT_EQ(check_fence(5, 5, true), Fence::kBothMasters);
  EXPECT_EQ(check_fence(5, 5, false), Fence::kOk);
  EXPECT_EQ(check_fence(5, 4, true), Fence::kOk);
}

TEST(Epoch, ParsesOrZero) {
  EXPECT_EQ(parse_epoch("17"), 17u);
  EXPECT_EQ(parse_epoch(""), 0u);
  EXPECT_EQ(parse_epoch("-1"), 0u);
  EXPECT_EQ(parse_epoch("3x"), 0u);
}

}  // namespace
}  // namespace zrep
