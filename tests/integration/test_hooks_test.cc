// The fault-injection hooks (agent/fault/fault.h) exist only in the test binary: the production
// binary, zrep-agent, runs a sync to its end with ZREP_FAULT_AT set to a step the sync passes.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "agent/rpc/net.h"
#include "common/subprocess.h"
#include "tests/integration/testbed.h"

namespace zrep::testbed {
namespace {

bool alive(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return false;
  auto paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}

TEST_F(PairTest, ProductionBinaryIgnoresFaultInjection) {
  const std::string production = ZREP_PRODUCTION_AGENT_BINARY;
  if (::access(production.c_str(), X_OK) != 0) {
    GTEST_SKIP() << production << " is not here (the OpenZFS lane stages the test binary only)";
  }
  write_file(mnt(src_) + "/a.txt", "one");
  init();

  // The test binary has the hook: at "sync-locked" the daemon kills itself.
  alpha().stop();
  alpha().set_env({"ZREP_FAULT_AT=sync-locked"});
  alpha().start();
  write_file(mnt(src_) + "/b.txt", "two");
  (void)alpha().cli({"sync", src_}, 60);
  ASSERT_TRUE(alpha().wait_exit(20)) << "the test binary ignored ZREP_FAULT_AT";
  alpha().set_env({});

  // The production binary, same config and environment: the sync completes.
  auto child = Child::spawn({"/usr/bin/env", "ZREP_FAULT_AT=sync-locked", production, "serve",
                             "--config", alpha().config_path()},
                            StdioMode::kNull, StdioMode::kNull);
  ASSERT_TRUE(child) << child.error().message;
  ASSERT_TRUE(eventually(
      [&] {
        auto fd = unix_connect(alpha().socket_path());
        if (fd) ::close(*fd);
        return fd.is_ok();
      },
      10))
      << "the production agent did not start";
  auto r = alpha().cli({"sync", src_}, 120);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(alive(child->pid())) << "the production agent died at a fault point";
  ::kill(child->pid(), SIGTERM);
  ProcessOutput out = child->wait(std::chrono::seconds(20));
  EXPECT_EQ(out.err.find("fault injection"), std::string::npos) << out.err;
  expect_newest_snapshot_same();
  expect_same_data();
}

}  // namespace
}  // namespace zrep::testbed
