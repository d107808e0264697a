// What status and check call unhealthy (agent/cli/health.h), and the plugin line of `check`.
#include "agent/cli/health.h"

#include <gtest/gtest.h>

#include "agent/cli/render.h"

namespace zrep {
namespace {

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

constexpr int64_t kNow = 1'000'000;

control::FsStatus healthy_master() {
  control::FsStatus e;
  e.set_fs("tank/a");
  e.set_role("master");
  e.set_peer("beta");
  e.set_peer_fs("b/a");
  e.set_lag_seconds(60);
  e.set_unsent_snapshots(0);
  e.set_warn_lag_seconds(900);
  e.set_crit_lag_seconds(3600);
  return e;
}

TEST(Health, AHealthyMasterHasNoFindings) {
  EXPECT_TRUE(assess(healthy_master(), kNow, 600).empty());
}

TEST(Health, EveryStateThatAppliesIsShownWorstFirst) {
  control::FsStatus e = healthy_master();
  e.set_last_error("cannot connect to beta");
  e.set_last_error_code("unavailable");
  e.set_failures_in_a_row(3);
  e.mutable_link()->set_direction("dials");
  e.mutable_link()->set_state("down");
  e.set_lag_seconds(7200);
  e.mutable_lock()->set_host("alpha");
  e.mutable_lock()->set_operation("sync");
  e.mutable_lock()->set_since(kNow - 5);
  auto f = assess(e, kNow, 600);
  ASSERT_EQ(f.size(), 4u);
  EXPECT_EQ(f[0].severity, Severity::kCritical);
  EXPECT_TRUE(has(f[0].text, "LAG 2h 0m (critical over 1h 0m)")) << f[0].text;
  EXPECT_EQ(f[1].severity, Severity::kWarning);
  EXPECT_TRUE(has(f[1].text, "ERROR (3 in a row): cannot connect")) << f[1].text;
  EXPECT_TRUE(has(f[2].text, "LINK DOWN: cannot reach the peer")) << f[2].text;
  EXPECT_EQ(f[3].severity, Severity::kInfo);  // a lock is not a problem
  EXPECT_TRUE(has(f[3].text, "locked by alpha for 'sync'")) << f[3].text;
  EXPECT_EQ(worst(f), Severity::kCritical);
}

TEST(Health, DemotedSplitBrainAndAnOldSwitchAreCritical) {
  control::FsStatus demoted = healthy_master();
  demoted.set_role("demoted");
  demoted.set_fenced("v1 epoch=4 by=beta");
  EXPECT_EQ(worst(assess(demoted, kNow, 600)), Severity::kCritical);

  control::FsStatus split = healthy_master();
  split.set_last_error("SPLIT BRAIN: tank/a on alpha and b/a on beta both claim ...");
  split.set_last_error_code("split-brain");
  auto f = assess(split, kNow, 600);
  ASSERT_FALSE(f.empty());
  EXPECT_EQ(f[0].severity, Severity::kCritical);
  EXPECT_TRUE(has(f[0].text, "SPLIT BRAIN")) << f[0].text;

  control::FsStatus sw = healthy_master();
  sw.set_unfinished_switch("v1 epoch=5 old=alpha:tank/a new=beta:b/a base=1");
  sw.set_unfinished_switch_since(kNow - 60);
  EXPECT_EQ(worst(assess(sw, kNow, 600)), Severity::kWarning);  // young: the agent resolves it
  sw.set_unfinished_switch_since(kNow - 601);
  EXPECT_EQ(worst(assess(sw, kNow, 600)), Severity::kCritical);
}

TEST(Health, LagLimitsComeFromTheDaemonUnlessOverridden) {
  control::FsStatus e = healthy_master();
  e.set_lag_seconds(1000);
  EXPECT_EQ(worst(assess(e, kNow, 600)), Severity::kWarning);
  EXPECT_EQ(worst(assess(e, kNow, 600, LagOverride{2000, 4000})), Severity::kOk);
  EXPECT_EQ(worst(assess(e, kNow, 600, LagOverride{10, 999})), Severity::kCritical);
  // A destination's lag is the master's to judge.
  e.set_role("destination");
  e.set_lag_seconds(99999);
  EXPECT_TRUE(assess(e, kNow, 600).empty());
  // A master that never synced.
  control::FsStatus never = healthy_master();
  never.clear_lag_seconds();
  EXPECT_EQ(worst(assess(never, kNow, 600)), Severity::kWarning);
}

TEST(Health, TheCertificateWarnsThenGoesCritical) {
  control::StatusResult st;
  st.set_host("alpha");
  st.set_certificate_not_after(kNow + 100 * 86400);
  EXPECT_TRUE(assess_host(st, kNow).empty());
  st.set_certificate_not_after(kNow + 20 * 86400);
  EXPECT_EQ(worst(assess_host(st, kNow)), Severity::kWarning);
  st.set_certificate_not_after(kNow + 13 * 86400);
  EXPECT_EQ(worst(assess_host(st, kNow)), Severity::kCritical);
  st.set_certificate_not_after(kNow - 1);
  auto f = assess_host(st, kNow);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_TRUE(has(f[0].text, "EXPIRED")) << f[0].text;
}

TEST(Health, TheCheckLineFollowsThePluginConventions) {
  control::StatusResult st;
  st.set_host("alpha");
  st.set_max_switch_age_seconds(600);
  st.set_certificate_not_after(kNow + 100 * 86400);
  *st.add_filesystems() = healthy_master();
  CheckReport ok = check_report(st, kNow);
  EXPECT_EQ(ok.exit_code, 0);
  EXPECT_EQ(ok.line,
            "ZREP OK - 1 filesystem(s) ok | 'tank/a lag'=60s;900;3600;0 'tank/a unsent'=0;;;0 "
            "'certificate days left'=100;30;14");

  control::FsStatus bad = healthy_master();
  bad.set_fs("tank/b");
  bad.set_last_error("zfs said:\ncannot receive | pool is full");
  bad.set_failures_in_a_row(1);
  *st.add_filesystems() = bad;
  CheckReport warn = check_report(st, kNow);
  EXPECT_EQ(warn.exit_code, 1);
  EXPECT_TRUE(has(warn.line,
                  "ZREP WARNING - tank/b: ERROR (1 in a row): zfs said: cannot "
                  "receive / pool is full; 1 of 2 filesystem(s) ok | "))
      << warn.line;
  EXPECT_EQ(warn.line.find('\n'), std::string::npos);

  st.mutable_filesystems(0)->set_fenced("v1 epoch=4 by=beta");
  EXPECT_EQ(check_report(st, kNow).exit_code, 2);
  EXPECT_EQ(check_report(st, kNow, LagOverride{1, 2}).exit_code, 2);
}

TEST(Health, TheStatusTableShowsEveryStateAndTheCertificate) {
  control::Result r;
  auto* st = r.mutable_status();
  st->set_host("alpha");
  st->set_certificate_not_after(kNow + 3 * 86400);
  control::FsStatus e = healthy_master();
  e.set_last_error("cannot connect");
  e.mutable_link()->set_state("down");
  *st->add_filesystems() = e;
  const std::string out = render_text(r, kNow);
  EXPECT_TRUE(has(out, "ERROR: cannot connect; LINK DOWN")) << out;
  EXPECT_TRUE(has(out, "CRITICAL: the certificate of alpha expires in 3d")) << out;
}

}  // namespace
}  // namespace zrep
