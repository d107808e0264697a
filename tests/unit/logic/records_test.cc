#include "agent/logic/records.h"

#include <gtest/gtest.h>

namespace zrep {
namespace {

TEST(Epoch, EffectiveIsAtLeastOne) {
  EXPECT_EQ(effective_epoch({}), 1u);
  EXPECT_EQ(effective_epoch({{props::kEpoch, "0"}}), 1u);
  EXPECT_EQ(effective_epoch({{props::kEpoch, "7"}}), 7u);
  EXPECT_EQ(effective_epoch({{props::kEpoch, "7x"}}), 1u);
  EXPECT_EQ(effective_epoch({{props::kEpoch, "-"}}), 1u);  // zfs's "unset"
}

TEST(Epoch, RecordedIsZeroWhenUnset) {
  EXPECT_EQ(recorded_epoch({}), 0u);
  EXPECT_EQ(recorded_epoch({{props::kEpoch, "-1"}}), 0u);
  EXPECT_EQ(recorded_epoch({{props::kEpoch, "12"}}), 12u);
}

FenceRecord fence() {
  return {5, "beta", "backup/fs", 1700000000, "zrep_000003", 1234, "zrep-fenced-e5"};
}

TEST(FenceRecord, ExactText) {
  EXPECT_EQ(format_fenced(fence()),
            "epoch=5 by=beta peer_fs=backup/fs at=1700000000 common=zrep_000003 written=1234 "
            "kept=zrep-fenced-e5");
  auto r = fence();
  r.common = "none";
  r.written = 0;
  EXPECT_EQ(format_fenced(r),
            "epoch=5 by=beta peer_fs=backup/fs at=1700000000 common=none written=0 "
            "kept=zrep-fenced-e5");
}

TEST(FenceRecord, RoundTrips) {
  EXPECT_EQ(parse_fenced(format_fenced(fence())), fence());
  EXPECT_TRUE(check_fenced(parse_fenced(format_fenced(fence()))).is_ok());
}

TEST(FenceRecord, ReadsOlderAndReorderedRecords) {
  // Before peer_fs (status still shows it; a demotion cannot be finished from it).
  auto old = parse_fenced("epoch=2 by=beta at=1 common=zrep_000001 written=9 kept=zrep-fenced-e2");
  EXPECT_EQ(old.epoch, 2u);
  EXPECT_EQ(old.by, "beta");
  EXPECT_EQ(old.peer_fs, "");
  EXPECT_EQ(old.written, 9u);
  EXPECT_FALSE(check_fenced(old).is_ok());
  auto r = parse_fenced("  kept=k junk by=beta epoch=1 peer_fs=p/f epoch=3 ");
  EXPECT_EQ(r.epoch, 3u);  // the last of a repeated key
  EXPECT_EQ(r.kept, "k");
  EXPECT_TRUE(check_fenced(r).is_ok());
}

TEST(FenceRecord, GarbledIsToleratedButNotFinished) {
  EXPECT_EQ(parse_fenced(""), FenceRecord{});
  auto r = parse_fenced("epoch=x by=beta peer_fs=backup/fs at=soon written=-3");
  EXPECT_EQ(r.epoch, 0u);
  EXPECT_EQ(r.at, 0);
  EXPECT_EQ(r.written, 0u);
  EXPECT_FALSE(check_fenced(r).is_ok());
  EXPECT_FALSE(check_fenced(parse_fenced("epoch=2 by=-bad peer_fs=backup/fs")).is_ok());
  EXPECT_FALSE(check_fenced(parse_fenced("epoch=2 by=beta peer_fs=../x")).is_ok());
  EXPECT_FALSE(check_fenced(parse_fenced("epoch=2 by=beta")).is_ok());
}

TakeoverRecord takeover() { return {1700000000, 4, "alpha", "pool/fs", "zrep_000007"}; }

TEST(TakeoverRecord, ExactText) {
  EXPECT_EQ(format_takeover(takeover()),
            "forced at=1700000000 epoch=4 old=alpha:pool/fs snapshot=zrep_000007");
}

TEST(TakeoverRecord, RoundTrips) {
  auto back = parse_takeover(format_takeover(takeover()));
  ASSERT_TRUE(back.is_ok()) << back.error().message;
  EXPECT_EQ(*back, takeover());
}

TEST(TakeoverRecord, ReadsTheOlderText) {
  auto r = parse_takeover("forced at=17 epoch=3 old=alpha:pool/fs at pool/fs@zrep_000002");
  ASSERT_TRUE(r.is_ok()) << r.error().message;
  EXPECT_EQ(r->epoch, 3u);
  EXPECT_EQ(r->old_host, "alpha");
  EXPECT_EQ(r->old_fs, "pool/fs");
  EXPECT_EQ(r->snapshot, "");
  EXPECT_EQ(r->at, 17);
}

TEST(TakeoverRecord, RefusesGarbage) {
  for (const char* text :
       {"", "forced", "forced epoch=1 old=alpha:pool/fs", "forced epoch=x old=alpha:pool/fs",
        "forced epoch=3 old=alpha", "forced epoch=3 old=:pool/fs", "forced epoch=3 old=alpha:/bad",
        "forced epoch=3 old=al_pha:pool/fs", "forced epoch=3"}) {
    EXPECT_FALSE(parse_takeover(text).is_ok()) << text;
  }
  // The host is the part before the first ':'.
  auto r = parse_takeover("forced epoch=3 old=alpha:b:pool/fs");
  ASSERT_TRUE(r.is_ok()) << r.error().message;
  EXPECT_EQ(r->old_host, "alpha");
  EXPECT_EQ(r->old_fs, "b:pool/fs");
}

TEST(ReceivingRecord, ExactTextAndRoundTrip) {
  const ReceivingRecord r{"zrep_000008", 18446744073709551615ULL, 456};
  EXPECT_EQ(format_receiving(r), "snap=zrep_000008 guid=18446744073709551615 base=456");
  EXPECT_EQ(parse_receiving(format_receiving(r)), r);
}

TEST(ReceivingRecord, GarbledIsNone) {
  EXPECT_EQ(parse_receiving(""), std::nullopt);
  EXPECT_EQ(parse_receiving("guid=1 base=2"), std::nullopt);
  EXPECT_EQ(parse_receiving("snap=s guid=1"), std::nullopt);
  EXPECT_EQ(parse_receiving("snap=s guid=x base=2"), std::nullopt);
  EXPECT_EQ(parse_receiving("snap=s guid=01 base=2"), std::nullopt);  // not as written
  EXPECT_EQ(parse_receiving("snap=s guid=+1 base=2"), std::nullopt);
  EXPECT_EQ(parse_receiving("snap=s guid=1 base=2 extra"), (ReceivingRecord{"s", 1, 2}));
}

TEST(KeptRecord, ExactTextAndRoundTrip) {
  const KeptRecord r{"pool/fs-kept-e3", 3, "zrep_000002", 1700000000};
  EXPECT_EQ(format_kept(r), "aside=pool/fs-kept-e3 epoch=3 base=zrep_000002 at=1700000000");
  EXPECT_EQ(parse_kept(format_kept(r)), r);
  EXPECT_EQ(format_kept({"pool/fs-kept-e3", 3, "?", 1}),
            "aside=pool/fs-kept-e3 epoch=3 base=? at=1");
}

TEST(KeptRecord, Garbled) {
  EXPECT_EQ(parse_kept(""), std::nullopt);
  EXPECT_EQ(parse_kept("epoch=3 base=b"), std::nullopt);
  EXPECT_EQ(parse_kept("aside=x epoch=three"), (KeptRecord{"x", 0, "", 0}));
}

TEST(PairingRecord, ReadsTheSixNames) {
  const props::PropMap p{{props::kSrcFs, "tank/fs"},    {props::kSrcHost, "alpha"},
                         {props::kDestFs, "backup/fs"}, {props::kDestHost, "beta"},
                         {props::kSavecount, "7"},      {props::kEpoch, "3"},
                         {props::kMaster, "yes"},       {props::kReadonly, "off"}};
  EXPECT_EQ(pairing_of(p), (PairingRecord{"tank/fs", "alpha", "backup/fs", "beta", "7", "3"}));
}

TEST(PairingRecord, MissingNamesAreEmptyAndTextIsAsIs) {
  EXPECT_EQ(pairing_of({}), (PairingRecord{"", "", "", "", std::nullopt, std::nullopt}));
  const props::PropMap p{{props::kSrcHost, "alpha"}, {props::kEpoch, "x7"}};
  EXPECT_EQ(pairing_of(p), (PairingRecord{"", "alpha", "", "", std::nullopt, "x7"}));
}

}  // namespace
}  // namespace zrep
