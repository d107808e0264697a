// The Prometheus text the metrics endpoint serves (common/metrics.h, agent/daemon/metrics_text.h)
// and the HTTP it answers with (agent/daemon/metrics_server.h).
#include <gtest/gtest.h>

#include "agent/daemon/metrics_server.h"
#include "agent/daemon/metrics_text.h"
#include "common/metrics.h"

namespace zrep {
namespace {

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(Metrics, CountersAndHistogramsInTheTextFormat) {
  metrics::Registry r;
  r.describe("t_bytes_total", metrics::Kind::kCounter, "bytes");
  r.describe("t_seconds", metrics::Kind::kHistogram, "durations", {1, 0.5, 10});
  r.add("t_bytes_total", {{"fs", "tank/a"}}, 100);
  r.add("t_bytes_total", {{"fs", "tank/a"}}, 50);
  r.add("t_undescribed_total", {{"fs", "x"}});  // never served
  r.observe("t_seconds", {{"fs", "tank/a"}}, 0.7);
  r.observe("t_seconds", {{"fs", "tank/a"}}, 20);
  EXPECT_EQ(r.value("t_bytes_total", {{"fs", "tank/a"}}), 150);
  metrics::Exposition out;
  r.expose(out);
  const std::string& t = out.text();
  EXPECT_TRUE(has(t,
                  "# HELP t_bytes_total bytes\n# TYPE t_bytes_total counter\n"
                  "t_bytes_total{fs=\"tank/a\"} 150\n"))
      << t;
  EXPECT_TRUE(has(t,
                  "# TYPE t_seconds histogram\n"
                  "t_seconds_bucket{fs=\"tank/a\",le=\"0.5\"} 0\n"
                  "t_seconds_bucket{fs=\"tank/a\",le=\"1\"} 1\n"
                  "t_seconds_bucket{fs=\"tank/a\",le=\"10\"} 1\n"
                  "t_seconds_bucket{fs=\"tank/a\",le=\"+Inf\"} 2\n"
                  "t_seconds_sum{fs=\"tank/a\"} 20.7\n"
                  "t_seconds_count{fs=\"tank/a\"} 2\n"))
      << t;
  EXPECT_FALSE(has(t, "t_undescribed_total")) << t;
}

TEST(Metrics, LabelValuesAreEscaped) {
  EXPECT_EQ(metrics::series("m", {{"a", "x\"y\\z\nw"}}), "m{a=\"x\\\"y\\\\z\\nw\"}");
  EXPECT_EQ(metrics::series("m", {}), "m");
}

TEST(Metrics, GaugesFromStatusAndPeers) {
  ScrapeInput in;
  in.now = 1000;
  in.version = "0.1.0";
  in.zfs_version = "zfs-2.3.0";
  in.host = "alpha";
  in.status.set_certificate_not_after(1000 + 86400);
  auto* fs = in.status.add_filesystems();
  fs->set_fs("tank/a");
  fs->set_role("master");
  fs->set_peer("beta");
  fs->set_peer_fs("b/a");
  fs->set_epoch("3");
  fs->set_lag_seconds(42);
  fs->set_unsent_snapshots(1);
  fs->set_last_sync_time(990);
  fs->set_last_error("SPLIT BRAIN: ...");
  fs->set_last_error_code("split-brain");
  in.peers.push_back({.name = "beta", .link_up = false, .sessions = 2});
  in.peers.push_back({.name = "gamma", .link_up = std::nullopt, .sessions = 0});
  metrics::Registry r;
  const std::string t = metrics_text(in, r);
  const std::string l = "{fs=\"tank/a\",peer=\"beta\"} ";
  for (const std::string& line : std::vector<std::string>{
           "zrep_build_info{version=\"0.1.0\",zfs=\"zfs-2.3.0\",host=\"alpha\"} 1",
           "zrep_certificate_expiry_seconds 86400", "zrep_status_up 1",
           "zrep_filesystem_info{fs=\"tank/a\",peer=\"beta\",peer_fs=\"b/a\",role=\"master\"} 1",
           "zrep_master" + l + "1", "zrep_epoch" + l + "3", "zrep_lag_seconds" + l + "42",
           "zrep_unsent_snapshots" + l + "1", "zrep_last_sync_timestamp_seconds" + l + "990",
           "zrep_split_brain" + l + "1", "zrep_fenced" + l + "0",
           "zrep_unfinished_switch" + l + "0", "zrep_peer_link_up{peer=\"beta\"} 0",
           "zrep_peer_sessions{peer=\"beta\"} 2", "zrep_peer_sessions{peer=\"gamma\"} 0"}) {
    EXPECT_TRUE(has(t, "\n" + line + "\n")) << line << "\n" << t;
  }
  EXPECT_FALSE(has(t, "zrep_peer_link_up{peer=\"gamma\"}")) << "no link is kept with gamma";
}

TEST(Metrics, TheHttpAnswers) {
  auto scrape = [] { return std::string("m 1\n"); };
  std::string ok = http_answer("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", scrape);
  EXPECT_EQ(ok.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << ok;
  EXPECT_TRUE(has(ok, "Content-Type: text/plain; version=0.0.4")) << ok;
  EXPECT_TRUE(has(ok, "Content-Length: 4\r\n")) << ok;
  EXPECT_TRUE(has(ok, "\r\n\r\nm 1\n")) << ok;
  EXPECT_TRUE(has(http_answer("GET /metrics?x=1 HTTP/1.0\r\n\r\n", scrape), " 200 OK"));
  EXPECT_TRUE(has(http_answer("GET / HTTP/1.1\r\n\r\n", scrape), " 404 "));
  EXPECT_TRUE(has(http_answer("POST /metrics HTTP/1.1\r\n\r\n", scrape), " 405 "));
  EXPECT_TRUE(has(http_answer("\x16\x03\x01garbage\r\n\r\n", scrape), " 400 "));
  EXPECT_TRUE(has(http_answer("GET /metrics SPDY\r\n\r\n", scrape), " 400 "));
  EXPECT_FALSE(parse_request_line("GET  HTTP/1.1\r\n"));
  EXPECT_FALSE(parse_request_line("no line end"));
}

}  // namespace
}  // namespace zrep
