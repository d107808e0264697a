// Monitoring: `check` (the Nagios/Icinga plugin) and the exit code of `status`, against two
// real agents and what really happened to the filesystem.
#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>
#include <regex>
#include <set>
#include <thread>

#include "tests/integration/testbed.h"

namespace zrep::testbed {
namespace {

class Monitoring : public PairTest {
 protected:
  // Restarts an agent with metrics_listen on a free port; returns the port.
  int serve_metrics(bool on_alpha, std::vector<std::string> env = {}) {
    const int port = free_port();
    AgentSpec spec = on_alpha ? hosts_->alpha_spec : hosts_->beta_spec;
    spec.extra_config =
        "metrics_listen = \"127.0.0.1:" + std::to_string(port) + "\"\n" + spec.extra_config;
    if (on_alpha) {
      hosts_->restart_alpha(spec);
    } else {
      hosts_->restart_beta(spec, std::move(env));
    }
    return port;
  }
};

// One HTTP request to 127.0.0.1:port; the whole answer.
std::string http_get(int port, const std::string& request) {
  int fd = tcp_to(port);
  if (fd < 0) return "";
  (void)!::write(fd, request.data(), request.size());
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

std::string scrape(int port) { return http_get(port, "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n"); }

// The value of one series in a scrape; -1 when it is not there.
double sample(const std::string& text, const std::string& series) {
  const std::string key = "\n" + series + " ";
  auto at = text.find(key);
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + key.size()));
}

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

TEST_F(Monitoring, MetricsDuringAndAfterTransfersAreWhatHappened) {
  write_file(mnt(src_) + "/base.bin", test_data(1 << 20, 5));
  init();
  const int pa = serve_metrics(true);
  // Beta holds the next transfer at 16 MiB received, so the scrape below runs during it.
  const int pb = serve_metrics(false, {"ZREP_PAUSE_AT=received-16m:4"});
  write_file(mnt(src_) + "/big.bin", test_data(24 << 20, 6));
  std::optional<nlohmann::json> synced;
  std::thread sync([&] { synced = alpha().cli_json({"sync", src_}); });
  std::string during;
  for (int i = 0;
       i < 100 && sample(during, "zrep_peer_sessions{peer=\"" + hosts_->alpha_name() + "\"}") < 1;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    during = scrape(pb);
  }
  sync.join();
  ASSERT_TRUE(synced && synced->is_array() && synced->size() == 1)
      << (synced ? synced->dump() : "");
  EXPECT_GE(sample(during, "zrep_peer_sessions{peer=\"" + hosts_->alpha_name() + "\"}"), 1)
      << "beta serves alpha's transfer while it is held:\n"
      << during;
  const double sent = (*synced)[0]["bytes"].get<double>();
  // At least what beta had received when it held the transfer (on OpenZFS the stream is
  // smaller than the files: blocks travel compressed).
  EXPECT_GE(sent, 16 << 20);

  // After it: what alpha sent (since its restart) is what beta received, one verified transfer.
  const std::string a = scrape(pa), b = scrape(pb);
  EXPECT_EQ(a.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << a.substr(0, 200);
  const std::string fs_a = "{fs=\"" + src_ + "\"}";
  EXPECT_EQ(sample(a, "zrep_syncs_total" + fs_a), 1) << a;
  EXPECT_EQ(sample(a, "zrep_sent_bytes_total" + fs_a), sent) << a;
  EXPECT_EQ(sample(a, "zrep_sync_duration_seconds_count" + fs_a), 1) << a;
  EXPECT_EQ(sample(b, "zrep_received_bytes_total{fs=\"" + dst_ + "\",peer=\"" +
                          hosts_->alpha_name() + "\"}"),
            sent)
      << b;
  const std::string pair_a = "{fs=\"" + src_ + "\",peer=\"" + beta_name() + "\"}";
  EXPECT_EQ(sample(a, "zrep_master" + pair_a), 1) << a;
  EXPECT_GE(sample(a, "zrep_epoch" + pair_a), 1) << a;
  EXPECT_EQ(sample(a, "zrep_unsent_snapshots" + pair_a), 0) << a;
  EXPECT_GE(sample(a, "zrep_lag_seconds" + pair_a), 0) << a;
  EXPECT_EQ(sample(a, "zrep_fenced" + pair_a), 0) << a;
  EXPECT_GT(sample(a, "zrep_certificate_expiry_seconds"), 86400 * 800) << a;
  EXPECT_EQ(sample(b, "zrep_master{fs=\"" + dst_ + "\",peer=\"" + hosts_->alpha_name() + "\"}"), 0)
      << b;

  // A failure is counted by its reason.
  beta().stop();
  write_file(mnt(src_) + "/c.txt", "c\n");
  EXPECT_EQ(alpha().cli({"sync", src_}).exit_code, 1);
  const std::string f = scrape(pa);
  EXPECT_EQ(sample(f, "zrep_sync_failures_total{fs=\"" + src_ + "\",reason=\"unavailable\"}"), 1)
      << f;

  // Not a metrics request: 404, 405; garbage: 400. The agent keeps serving.
  EXPECT_NE(http_get(pa, "GET / HTTP/1.1\r\n\r\n").find(" 404 "), std::string::npos);
  EXPECT_NE(http_get(pa, "DELETE /metrics HTTP/1.1\r\n\r\n").find(" 405 "), std::string::npos);
  EXPECT_EQ(http_get(pa, std::string(9000, 'x')), "") << "a head past 8 KiB gets no answer";
  EXPECT_EQ(scrape(pa).rfind("HTTP/1.1 200 OK", 0), 0u);
}

// Every metric the Grafana dashboard in deploy/ queries is one the agent serves.
TEST_F(Monitoring, TheDashboardQueriesOnlyServedMetrics) {
  write_file(mnt(src_) + "/a.txt", "a\n");
  init();
  const int pa = serve_metrics(true);
  write_file(mnt(src_) + "/b.txt", "b\n");
  EXPECT_EQ(alpha().cli({"sync", src_}).exit_code, 0);
  const std::string served = scrape(pa);
  std::ifstream in(std::string(ZREP_SOURCE_DIR) + "/deploy/grafana-dashboard.json");
  ASSERT_TRUE(in) << "deploy/grafana-dashboard.json";
  const auto dash = nlohmann::json::parse(in);
  std::set<std::string> queried;
  const std::regex metric(R"(\bzrep_[a-z_]+)");
  for (const auto& panel : dash.at("panels")) {
    if (!panel.contains("targets")) continue;
    for (const auto& target : panel.at("targets")) {
      const std::string expr = target.at("expr").get<std::string>();
      for (auto it = std::sregex_iterator(expr.begin(), expr.end(), metric);
           it != std::sregex_iterator(); ++it) {
        queried.insert(it->str());
      }
    }
  }
  ASSERT_GE(queried.size(), 8u) << "the dashboard queries too little";
  for (const auto& name : queried) {
    // A histogram is served as NAME_bucket/_sum/_count; a family is served once its TYPE is.
    std::string family = std::regex_replace(name, std::regex("_(bucket|sum|count)$"), "");
    EXPECT_NE(served.find("\n# TYPE " + family + " "), std::string::npos)
        << name << " is queried by the dashboard but not served";
  }
}

}  // namespace
}  // namespace zrep::testbed
