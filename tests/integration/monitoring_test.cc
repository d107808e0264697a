// Monitoring: `check` (the Nagios/Icinga plugin) and the exit code of `status`, against two
// real agents and what really happened to the filesystem.
#include <gtest/gtest.h>

#include <thread>

#include "tests/integration/testbed.h"

namespace zrep::testbed {
namespace {

class Monitoring : public PairTest {};

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST_F(Monitoring, CheckAndStatusFollowWhatHappens) {
  write_file(mnt(src_) + "/a.txt", "a\n");
  init();
  ProcessOutput ok = alpha().cli({"check"});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_TRUE(has(ok.out, "ZREP OK - 1 filesystem(s) ok | '" + src_ + " lag'=")) << ok.out;
  EXPECT_TRUE(has(ok.out, "'certificate days left'=")) << ok.out;
  EXPECT_EQ(ok.out.find('\n'), ok.out.size() - 1) << "one line: " << ok.out;
  EXPECT_EQ(alpha().cli({"status"}).exit_code, 0);

  // The lag is the age of the newest snapshot both sides hold: over the limits given, it is
  // WARNING, then CRITICAL.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  ProcessOutput warn = alpha().cli({"check", "--warn-lag", "1s", "--crit-lag", "1h"});
  EXPECT_EQ(warn.exit_code, 1) << warn.out;
  EXPECT_TRUE(has(warn.out, "ZREP WARNING - " + src_ + ": LAG ")) << warn.out;
  ProcessOutput crit = alpha().cli({"check", src_, "--warn-lag", "1", "--crit-lag", "2"});
  EXPECT_EQ(crit.exit_code, 2) << crit.out;
  EXPECT_TRUE(has(crit.out, "(critical over 2s)")) << crit.out;
  ProcessOutput bad = alpha().cli({"check", "--warn-lag", "soon"});
  EXPECT_EQ(bad.exit_code, 3) << bad.out;
  EXPECT_TRUE(has(bad.out, "ZREP UNKNOWN - not a duration")) << bad.out;

  // The standby's agent is down: the sync fails, status shows it and exits 4, check warns.
  beta().stop();
  write_file(mnt(src_) + "/b.txt", "b\n");
  EXPECT_EQ(alpha().cli({"sync", src_}).exit_code, 1);
  ProcessOutput st = alpha().cli({"status"});
  EXPECT_EQ(st.exit_code, 4) << st.out << st.err;
  EXPECT_TRUE(has(st.out, "ERROR: peer '" + beta_name() + "' is unreachable")) << st.out;
  ProcessOutput down = alpha().cli({"check"});
  EXPECT_EQ(down.exit_code, 1) << down.out;
  EXPECT_TRUE(has(down.out,
                  "ZREP WARNING - " + src_ + ": ERROR: peer '" + beta_name() + "' is unreachable"))
      << down.out;
  EXPECT_TRUE(has(down.out, "0 of 1 filesystem(s) ok")) << down.out;

  // It comes back; the next sync clears the error.
  beta().start();
  EXPECT_EQ(alpha().cli({"sync", src_}).exit_code, 0);
  EXPECT_EQ(alpha().cli({"check"}).exit_code, 0);
  EXPECT_EQ(alpha().cli({"status"}).exit_code, 0);

  // No daemon: UNKNOWN, exit 3.
  alpha().stop();
  ProcessOutput none = alpha().cli({"check"});
  EXPECT_EQ(none.exit_code, 3) << none.out;
  EXPECT_TRUE(has(none.out, "ZREP UNKNOWN - the zrep-agent daemon is not running")) << none.out;
  alpha().start();
}

}  // namespace
}  // namespace zrep::testbed
