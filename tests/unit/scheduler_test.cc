#include "agent/daemon/scheduler.h"

#include <gtest/gtest.h>

namespace zrep {
namespace {

using std::chrono::seconds;

TEST(Scheduler, RetryDelayDoublesUpToTheCap) {
  EXPECT_EQ(retry_delay(seconds(60), 0, seconds(900)), seconds(60));
  EXPECT_EQ(retry_delay(seconds(60), 1, seconds(900)), seconds(60));
  EXPECT_EQ(retry_delay(seconds(60), 2, seconds(900)), seconds(120));
  EXPECT_EQ(retry_delay(seconds(60), 4, seconds(900)), seconds(480));
  EXPECT_EQ(retry_delay(seconds(60), 5, seconds(900)), seconds(900));
  EXPECT_EQ(retry_delay(seconds(60), 1000, seconds(900)), seconds(900));
  EXPECT_EQ(retry_delay(seconds(5), 3, seconds(900)), seconds(20));
  EXPECT_EQ(retry_delay(seconds(2000), 2, seconds(900)), seconds(900));
}

TEST(Scheduler, AtMostCapRunsAtOnceTheLongestDueFirst) {
  using Clock = std::chrono::system_clock;
  const auto t0 = Clock::now();
  std::vector<std::pair<std::string, Clock::time_point>> due = {
      {"tank/b", t0 - seconds(10)}, {"tank/a", t0 - seconds(30)}, {"tank/c", t0 - seconds(20)}};
  EXPECT_EQ(pick_runs(due, 0, 2), (std::vector<std::string>{"tank/a", "tank/c"}));
  EXPECT_EQ(pick_runs(due, 1, 2), (std::vector<std::string>{"tank/a"}));
  EXPECT_TRUE(pick_runs(due, 2, 2).empty());
  EXPECT_TRUE(pick_runs(due, 5, 2).empty());  // more running than the cap (it was lowered)
  EXPECT_EQ(pick_runs(due, 0, 8).size(), 3u);
}

}  // namespace
}  // namespace zrep
