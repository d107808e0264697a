#include "agent/logic/retention_grid.h"

#include <gtest/gtest.h>

#include "agent/logic/retention.h"

namespace zrep {
namespace {

constexpr int64_t kHour = 3600, kDay = 86400;
constexpr int64_t kNow = 1'800'000'000;

TEST(RetentionGrid, ParsesZreplSyntaxAndNormalises) {
  auto g = parse_retention_grid(" 1x1h(keep=all) |24x1h|  14x1d | 3x1w(keep = 2)");
  ASSERT_TRUE(g) << g.error().message;
  ASSERT_EQ(g->terms.size(), 4u);
  EXPECT_FALSE(g->terms[0].keep.has_value());
  EXPECT_EQ(g->terms[1].count, 24u);
  EXPECT_EQ(g->terms[1].length, kHour);
  EXPECT_EQ(g->terms[2].length, kDay);
  EXPECT_EQ(g->terms[3].keep, 2u);
  EXPECT_EQ(g->text(), "1x1h(keep=all) | 24x1h | 14x1d | 3x1w(keep=2)");
  auto again = parse_retention_grid(g->text());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->text(), g->text());
  auto empty = parse_retention_grid("  ");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->terms.empty());
}

TEST(RetentionGrid, RefusesWhatIsNotAGrid) {
  for (const char* bad :
       {"24", "x1h", "0x1h", "24x", "24x0h", "24x1y", "24x1h |", "| 24x1h", "24x1h(keep=0)",
        "24x1h(keep=some)", "24x1h(keep=1", "24x1h(hold=1)", "-3x1h", "24x1h;rm -rf /", "10001x1h",
        "99999999999999999999x1h", "1000x1000w", "1x1h | | 2x1d"}) {
    auto g = parse_retention_grid(bad);
    EXPECT_FALSE(g) << "accepted: " << bad;
    if (!g) {
      EXPECT_EQ(g.error().code, ErrorCode::kInvalidArgument) << bad;
    }
  }
}

TEST(RetentionGrid, KeepsTheOldestOfEachInterval) {
  auto g = parse_retention_grid("1x1h(keep=all) | 3x1h | 2x1d");
  ASSERT_TRUE(g);
  // Ages: 10 min, 50 min (first hour: all); 70 and 100 min (hour 1 of 3: the older, 100);
  // 2.5 h (hour 2); nothing in hour 3; 5 h and 20 h (day 1: the older, 20 h); 30 h (day 2);
  // 3 days (beyond the grid).
  std::vector<int64_t> ages = {600,       3000,       4200,       6000,    9000,
                               5 * kHour, 20 * kHour, 30 * kHour, 3 * kDay};
  std::vector<GridSnapshot> snaps;
  for (int64_t a : ages) snaps.push_back({kNow - a});
  auto why = grid_keeps(*g, snaps, kNow);
  ASSERT_EQ(why.size(), ages.size());
  EXPECT_EQ(why[0], "grid 1x1h(keep=all): interval 1 of 1");
  EXPECT_EQ(why[1], "grid 1x1h(keep=all): interval 1 of 1");
  EXPECT_EQ(why[2], "");
  EXPECT_EQ(why[3], "grid 3x1h: interval 1 of 3");
  EXPECT_EQ(why[4], "grid 3x1h: interval 2 of 3");
  EXPECT_EQ(why[5], "");
  EXPECT_EQ(why[6], "grid 2x1d: interval 1 of 2");
  EXPECT_EQ(why[7], "grid 2x1d: interval 2 of 2");
  EXPECT_EQ(why[8], "");
}

TEST(RetentionGrid, AFutureSnapshotCountsAsNow) {
  auto g = parse_retention_grid("1x1h");
  ASSERT_TRUE(g);
  // A snapshot "from the future" is in the first interval; of the two there, the one made
  // first (by its creation time) is kept.
  auto why = grid_keeps(*g, {{kNow + 5000}, {kNow - 10}}, kNow);
  EXPECT_EQ(why[0], "");
  EXPECT_EQ(why[1], "grid 1x1h: interval 1 of 1");
  EXPECT_EQ(grid_keeps(*g, {{kNow + 5000}}, kNow)[0], "grid 1x1h: interval 1 of 1");
}

SnapshotInfo at(int seq, int64_t age, bool sent = true) {
  SnapshotInfo s;
  char part[16];
  std::snprintf(part, sizeof part, "zrep_%06x", seq);
  s.name = std::string("p/fs@") + part;
  s.guid = static_cast<uint64_t>(seq + 1);
  s.createtxg = s.guid;
  s.creation = kNow - age;
  if (sent) s.sent = 1;
  return s;
}

// n hourly snapshots, newest last (a minute old).
std::vector<SnapshotInfo> hourly(int n) {
  std::vector<SnapshotInfo> v;
  for (int i = 0; i < n; ++i) v.push_back(at(i, (n - 1 - i) * kHour + 60));
  return v;
}

TEST(RetentionWithGrid, GridOnTopOfSavecount) {
  auto g = parse_retention_grid("6x1h | 2x1d");
  ASSERT_TRUE(g);
  auto snaps = hourly(72);
  RetentionInput in{snaps, 2, snaps.back().guid, true, *g, kNow};
  auto d = decide_retention(in);
  ASSERT_EQ(d.size(), 72u);
  size_t kept = 0;
  for (const auto& x : d) kept += x.destroy ? 0 : 1;
  // 6 hourly (one is the base, one more the savecount's), one per day for 2 days: 6 + 2.
  EXPECT_EQ(kept, 8u);
  EXPECT_EQ(d[71].why, "base: the newest common snapshot");
  EXPECT_EQ(d[70].why, "savecount: one of the newest 2");
  EXPECT_EQ(d[69].why, "grid 6x1h: interval 3 of 6");
  EXPECT_TRUE(d[0].destroy);  // 71 h old: beyond the grid's 6 h + 2 d
  EXPECT_EQ(d[0].why, "expires: outside savecount and the grid");
  // Day 1 of the grid covers ages [6 h, 30 h): its oldest is 29 h + 1 min old.
  EXPECT_EQ(d[71 - 29].why, "grid 2x1d: interval 1 of 2");
  EXPECT_TRUE(d[71 - 28].destroy);
}

TEST(RetentionWithGrid, TheSafetyRulesStillWin) {
  auto g = parse_retention_grid("1x1h");
  ASSERT_TRUE(g);
  auto snaps = hourly(10);
  for (int i = 5; i < 10; ++i) snaps[i].sent.reset();  // base at 4: the rest may still be sent
  auto d = decide_retention({snaps, 1, snaps[4].guid, true, *g, kNow});
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(d[i].destroy) << i;
  EXPECT_EQ(d[4].why, "base: the newest common snapshot");
  for (int i = 5; i < 10; ++i) EXPECT_EQ(d[i].why, "unsent: it may still be sent") << i;
  // An unknown base: nothing goes, whatever the grid says.
  for (const auto& x : decide_retention({snaps, 1, 0, true, *g, kNow})) EXPECT_FALSE(x.destroy);
}

TEST(RetentionWithGrid, NeverOtherToolsSnapshots) {
  auto g = parse_retention_grid("1x1m");
  ASSERT_TRUE(g);
  auto snaps = hourly(4);
  SnapshotInfo foreign;
  foreign.name = "p/fs@autosnap_2026-01-01";
  foreign.guid = 999;
  foreign.creation = kNow - 100 * kDay;
  snaps.insert(snaps.begin(), foreign);
  auto destroy = plan_retention({snaps, 1, snaps.back().guid, true, *g, kNow});
  EXPECT_EQ(destroy,
            (std::vector<std::string>{"p/fs@zrep_000000", "p/fs@zrep_000001", "p/fs@zrep_000002"}));
}

}  // namespace
}  // namespace zrep
