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

}  // namespace
}  // namespace zrep
