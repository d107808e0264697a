// doctor's pure parts (agent/ops/diagnose.h): expiry, key modes, the CA key, clock skew and the
// daemon's peers answer as checks.
#include "agent/ops/diagnose.h"

#include <gtest/gtest.h>

namespace zrep {
namespace {

using L = control::Check;
constexpr int64_t kNow = 1'800'000'000;
constexpr int64_t kDay = 86400;

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(Diagnose, ExpiryFailsWhenPastAndWarnsUnderThirtyDays) {
  EXPECT_EQ(expiry_check("cert", "a.crt", kNow + 400 * kDay, kNow, "renew").level(), L::LEVEL_OK);
  EXPECT_EQ(expiry_check("cert", "a.crt", kNow + 30 * kDay, kNow, "renew").level(), L::LEVEL_OK);
  auto soon = expiry_check("cert", "a.crt", kNow + 29 * kDay, kNow, "renew");
  EXPECT_EQ(soon.level(), L::LEVEL_WARN);
  EXPECT_TRUE(has(soon.detail(), "a.crt expires in 29.0 days")) << soon.detail();
  EXPECT_EQ(soon.what_to_do(), "renew");
  auto gone = expiry_check("cert", "a.crt", kNow - 2 * kDay, kNow, "renew");
  EXPECT_EQ(gone.level(), L::LEVEL_FAIL);
  EXPECT_TRUE(has(gone.detail(), "expired 2.0 days ago")) << gone.detail();
  EXPECT_EQ(expiry_check("cert", "a.crt", kNow, kNow, "renew").level(), L::LEVEL_FAIL);
}

TEST(Diagnose, AKeyReadableByGroupOrOtherFails) {
  EXPECT_EQ(key_mode_check("/p/h.key", 0100600).level(), L::LEVEL_OK);
  EXPECT_EQ(key_mode_check("/p/h.key", 0100400).level(), L::LEVEL_OK);
  for (uint32_t mode : {0100640u, 0100604u, 0100644u, 0100660u, 0100602u}) {
    auto c = key_mode_check("/p/h.key", mode);
    EXPECT_EQ(c.level(), L::LEVEL_FAIL) << std::oct << mode;
    EXPECT_TRUE(has(c.detail(), "/p/h.key")) << c.detail();
    EXPECT_TRUE(has(c.what_to_do(), "chmod 600 /p/h.key")) << c.what_to_do();
  }
  EXPECT_TRUE(has(key_mode_check("/p/h.key", 0100644).detail(), "mode 0644"));
}

TEST(Diagnose, ACaKeyBesideTheHostKeyFails) {
  EXPECT_EQ(ca_key_check("/etc/zrep-agent", false).level(), L::LEVEL_OK);
  auto c = ca_key_check("/etc/zrep-agent", true);
  EXPECT_EQ(c.level(), L::LEVEL_FAIL);
  EXPECT_TRUE(has(c.detail(), "/etc/zrep-agent/ca.key")) << c.detail();
  EXPECT_FALSE(c.what_to_do().empty());
}

TEST(Diagnose, ClockSkewWarnsPastAMinuteAndFailsPastAnHour) {
  EXPECT_EQ(clock_check("beta", 0).level(), L::LEVEL_OK);
  EXPECT_EQ(clock_check("beta", -60).level(), L::LEVEL_OK);
  EXPECT_EQ(clock_check("beta", 61).level(), L::LEVEL_WARN);
  EXPECT_EQ(clock_check("beta", -3601).level(), L::LEVEL_FAIL);
  EXPECT_TRUE(has(clock_check("beta", -90).detail(), "90 s behind"))
      << clock_check("beta", -90).detail();
  EXPECT_TRUE(has(clock_check("beta", 90).detail(), "90 s ahead of"));
}

control::PeerView reachable_peer() {
  control::PeerView p;
  p.set_name("beta");
  p.set_address("10.0.0.2:7450");
  p.set_reachable(true);
  p.set_agent_version("1.2.3");
  p.set_protocol_version(1);
  p.set_zfs_dialect("openzfs");
  p.set_zfs_version("zfs-2.3.2");
  p.set_clock_skew_seconds(2);
  return p;
}

TEST(Diagnose, PeerChecksNameWhatThePeerRefusesAndTheLineItsConfigNeeds) {
  control::PeersResult r;
  auto* p = r.add_peers();
  *p = reachable_peer();
  auto* ok = p->add_destinations();
  ok->set_fs("tank/a");
  ok->set_dest_fs("backup/a");
  ok->set_allowed(true);
  auto* no = p->add_destinations();
  no->set_fs("tank/b");
  no->set_dest_fs("other/b");
  no->set_error("peer 'alpha' may not access 'other/b' on beta: ... allows datasets = [backup]");
  no->set_error_code("permission-denied");
  auto checks = peer_checks(r, "alpha");
  ASSERT_EQ(checks.size(), 4u);
  EXPECT_EQ(checks[0].name(), "peer beta");
  EXPECT_EQ(checks[0].level(), L::LEVEL_OK);
  EXPECT_TRUE(has(checks[0].detail(), "1.2.3")) << checks[0].detail();
  EXPECT_TRUE(has(checks[0].detail(), "openzfs zfs-2.3.2")) << checks[0].detail();
  EXPECT_EQ(checks[1].name(), "clock beta");
  EXPECT_EQ(checks[1].level(), L::LEVEL_OK);
  EXPECT_EQ(checks[2].level(), L::LEVEL_OK);
  EXPECT_EQ(checks[3].level(), L::LEVEL_FAIL);
  EXPECT_EQ(checks[3].name(), "allowance beta:other/b");
  EXPECT_TRUE(has(checks[3].detail(), "tank/b")) << checks[3].detail();
  EXPECT_TRUE(has(checks[3].what_to_do(), "add \"other/b\" (or a parent) to datasets = [...]"))
      << checks[3].what_to_do();
  EXPECT_TRUE(has(checks[3].what_to_do(), "for alpha")) << checks[3].what_to_do();
}

TEST(Diagnose, AnUnreachablePeerFailsWithItsErrorAndAnOlderOneWarnsOfAnUnknownClock) {
  control::PeersResult r;
  auto* down = r.add_peers();
  down->set_name("gamma");
  down->set_error("peer 'gamma' is unreachable: cannot connect");
  auto* old = r.add_peers();
  *old = reachable_peer();
  old->clear_clock_skew_seconds();
  auto checks = peer_checks(r, "alpha");
  ASSERT_EQ(checks.size(), 3u);
  EXPECT_EQ(checks[0].level(), L::LEVEL_FAIL);
  EXPECT_EQ(checks[0].detail(), "peer 'gamma' is unreachable: cannot connect");
  EXPECT_TRUE(has(checks[0].what_to_do(), "its [[peer]] entry for alpha"))
      << checks[0].what_to_do();
  EXPECT_EQ(checks[2].name(), "clock beta");
  EXPECT_EQ(checks[2].level(), L::LEVEL_WARN);
  control::DoctorResult d;
  for (auto& c : checks) *d.add_checks() = c;
  EXPECT_TRUE(any_failed(d));
  d.mutable_checks()->DeleteSubrange(0, 1);
  EXPECT_FALSE(any_failed(d)) << "a WARN alone is not a failure";
}

}  // namespace
}  // namespace zrep
