#include "agent/config/config.h"

#include <gtest/gtest.h>

namespace zrep {
namespace {

const char* kGood = R"(
host = "alpha"
listen = "0.0.0.0:7450"
control_socket = "/run/zrep-agent/a.sock"
[tls]
ca = "/etc/zrep-agent/ca.crt"
cert = "/etc/zrep-agent/alpha.crt"
key = "/etc/zrep-agent/alpha.key"
[[peer]]
name = "beta"
address = "[::1]:7451"
datasets = ["tank/backup", "tank/other"]
[[peer]]
name = "gamma"
)";

TEST(Config, ParsesAGoodFile) {
  auto c = parse_config(kGood, "test.toml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->host, "alpha");
  ASSERT_TRUE(c->listen);
  EXPECT_EQ(c->listen->port, 7450);
  ASSERT_EQ(c->peers.size(), 2u);
  EXPECT_EQ(c->peers[0].address->host, "::1");
  EXPECT_EQ(c->peers[0].address->port, 7451);
  EXPECT_EQ(c->peers[0].datasets.size(), 2u);
  EXPECT_FALSE(c->peers[1].address);
  EXPECT_TRUE(c->find_peer("gamma").has_value());
  EXPECT_FALSE(c->find_peer("delta").has_value());
}

void expect_error(const std::string& text, const std::string& fragment) {
  auto c = parse_config(text, "bad.toml");
  ASSERT_FALSE(c) << text;
  EXPECT_NE(c.error().message.find(fragment), std::string::npos) << c.error().message;
  EXPECT_NE(c.error().message.find("bad.toml"), std::string::npos) << c.error().message;
}

const std::string kTls = "[tls]\nca=\"/a\"\ncert=\"/b\"\nkey=\"/c\"\n";

TEST(Config, RejectsBadFilesWithUsefulMessages) {
  expect_error("host = ", "line 1");
  expect_error(kTls, "'host' is missing");
  expect_error("host = \"alpha\"\n", "[tls]");
  expect_error("host = \"a b\"\n" + kTls, "not a valid host name");
  expect_error("host = \"alpha\"\nlisten = \"x:99999\"\n" + kTls, "port");
  expect_error("host = \"alpha\"\nlisten = \"::1:80\"\n" + kTls, "brackets");
  expect_error("host = \"alpha\"\nlsten = \"x\"\n" + kTls, "unknown key");
  expect_error("host = \"alpha\"\n" + kTls + "[[peer]]\nname=\"beta\"\ndatasets=[\"-R\"]\n",
               "invalid dataset name");
  expect_error("host = \"alpha\"\nlisten = \"[::1]:1\"\n" + kTls +
                   "[[peer]]\nname=\"beta\"\n[[peer]]\nname=\"beta\"\n",
               "listed twice");
  // Neither side could ever dial the other.
  expect_error("host = \"alpha\"\n" + kTls + "[[peer]]\nname=\"beta\"\n", "could never connect");
  expect_error("host = \"alpha\"\nheartbeat_interval = 0\n" + kTls, "heartbeat_interval");
  expect_error("host = \"alpha\"\nheartbeat_interval = 301\n" + kTls, "at most 300");
  expect_error("host = \"alpha\"\n" + kTls + "[[peer]]\nname=\"alpha\"\n", "own name");
  expect_error("host = \"alpha\"\ncontrol_socket = \"rel.sock\"\n" + kTls, "absolute");
  expect_error("host = \"alpha\"\nlog_level = \"loud\"\n" + kTls, "log_level");
}

TEST(Config, HeartbeatIntervalDefaultsToTenSeconds) {
  auto c = parse_config(kGood, "test.toml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->heartbeat_interval, std::chrono::seconds(10));
  auto e = parse_config("host = \"alpha\"\nheartbeat_interval = 2\n" + kTls, "test.toml");
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_EQ(e->heartbeat_interval, std::chrono::seconds(2));
}

TEST(Config, NumbersMustBeWholeTomlIntegers) {
  // A float out of an integer's range was undefined behaviour in the conversion (the config
  // fuzz target found heartbeat_interval = 1e50).
  expect_error("host = \"a\"\nheartbeat_interval = 1e50\n" + kTls, "heartbeat_interval");
  expect_error("host = \"a\"\nmax_backoff = 90.5\n" + kTls, "max_backoff");
  expect_error("host = \"a\"\nmin_free = 1e300\n" + kTls, "min_free");
}

TEST(Config, TlsCrlIsOptional) {
  auto none = parse_config(kGood, "test.toml");
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_EQ(none->crl_file, "");
  auto with = parse_config(
      "host = \"a\"\n[tls]\nca = \"c\"\ncert = \"d\"\nkey = \"e\"\ncrl = \"/etc/crl.pem\"\n",
      "test.toml");
  ASSERT_TRUE(with) << with.error().message;
  EXPECT_EQ(with->crl_file, "/etc/crl.pem");
  expect_error("host = \"a\"\n[tls]\nca = \"c\"\ncert = \"d\"\nkey = \"e\"\ncrl = 5\n", "crl");
}

TEST(Config, EndpointParsing) {
  EXPECT_EQ(parse_endpoint("host.example")->port, kDefaultPort);
  EXPECT_EQ(parse_endpoint("10.0.0.1:1")->host, "10.0.0.1");
  EXPECT_EQ(parse_endpoint("[fe80::1]:80")->to_string(), "[fe80::1]:80");
  EXPECT_FALSE(parse_endpoint(""));
  EXPECT_FALSE(parse_endpoint(":80"));
  EXPECT_FALSE(parse_endpoint("h:0"));
  EXPECT_FALSE(parse_endpoint("h:abc"));
  EXPECT_FALSE(parse_endpoint("h;rm -rf:80"));
}

TEST(Config, LoadReportsMissingFile) {
  auto c = load_config("/nonexistent/zrep.toml");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, ErrorCode::kNotFound);
  EXPECT_NE(c.error().message.find("--config"), std::string::npos);
}

}  // namespace
}  // namespace zrep

namespace zrep {
namespace {

TEST(Config, ScheduleAndFilesystemOverrides) {
  auto c = parse_config(std::string("host = \"a\"\nsync_interval = 60\nmax_unsent = 3\n"
                                    "min_free = \"2G\"\nmax_backoff = 300\n") +
                            kTls + "[[filesystem]]\nname = \"tank/fast\"\ninterval = 5\n" +
                            "[[filesystem]]\nname = \"tank/manual\"\ninterval = 0\n",
                        "s.toml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->schedule.max_unsent, 3u);
  EXPECT_EQ(c->schedule.min_free_bytes, 2ull << 30);
  EXPECT_EQ(c->schedule.max_backoff.count(), 300);
  EXPECT_EQ(c->schedule.max_parallel_syncs, 4u);  // the default
  EXPECT_EQ(c->interval_for("tank/fast").count(), 5);
  EXPECT_EQ(c->interval_for("tank/manual").count(), 0);
  EXPECT_EQ(c->interval_for("tank/other").count(), 60);
  expect_error("host = \"a\"\nsync_interval = -1\n" + kTls, "sync_interval");
  expect_error("host = \"a\"\nmax_parallel_syncs = 0\n" + kTls, "max_parallel_syncs");
  auto p = parse_config("host = \"a\"\nmax_parallel_syncs = 16\n" + kTls, "p.toml");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->schedule.max_parallel_syncs, 16u);
  expect_error("host = \"a\"\nmin_free = \"lots\"\n" + kTls, "min_free");
  expect_error("host = \"a\"\n" + kTls + "[[filesystem]]\nname = \"-x\"\n", "invalid");
  expect_error("host = \"a\"\n" + kTls + "[[filesystem]]\nname = \"t/x\"\nraw = \"yes\"\n",
               "'raw' must be true or false");
  EXPECT_EQ(*parse_size("512K"), 512u << 10);
  EXPECT_FALSE(parse_size("1Q"));
  EXPECT_FALSE(parse_size("99999999999T"));
}

TEST(Config, LagLimitsForStatusAndCheck) {
  auto c =
      parse_config(std::string("host = \"a\"\nsync_interval = 60\n") + kTls +
                       "[[filesystem]]\nname = \"tank/hourly\"\ninterval = 3600\n" +
                       "[[filesystem]]\nname = \"tank/cron\"\ninterval = 0\n" +
                       "[[filesystem]]\nname = \"tank/own\"\nwarn_lag = 100\n" + "crit_lag = 50\n",
                   "l.toml");
  ASSERT_TRUE(c) << c.error().message;
  auto limits = [&](const char* fs) {
    LagLimits l = c->lag_limits_for(fs);
    return std::pair{l.warn.count(), l.crit.count()};
  };
  EXPECT_EQ(limits("tank/other"), (std::pair<int64_t, int64_t>{900, 3600}));  // floors
  EXPECT_EQ(limits("tank/hourly"), (std::pair<int64_t, int64_t>{3 * 3600, 10 * 3600}));
  EXPECT_EQ(limits("tank/cron"), (std::pair<int64_t, int64_t>{25 * 3600, 49 * 3600}));
  EXPECT_EQ(limits("tank/own"), (std::pair<int64_t, int64_t>{100, 100}));  // crit >= warn
  EXPECT_EQ(c->alerts.max_switch_age.count(), 600);
  auto g = parse_config("host = \"a\"\nwarn_lag = 7200\nmax_switch_age = 60\n" + kTls, "g.toml");
  ASSERT_TRUE(g) << g.error().message;
  EXPECT_EQ(g->lag_limits_for("tank/x").warn.count(), 7200);
  EXPECT_EQ(g->lag_limits_for("tank/x").crit.count(), 49 * 3600);
  EXPECT_EQ(g->alerts.max_switch_age.count(), 60);
  expect_error("host = \"a\"\n" + kTls + "[[filesystem]]\nname = \"t/x\"\nwarn_lag = 0\n",
               "warn_lag");
}

}  // namespace
}  // namespace zrep

namespace zrep {
namespace {

TEST(Config, ConnectionLimitsHaveDefaultsAndBounds) {
  auto c = parse_config(kGood, "test.toml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->handshake_timeout, std::chrono::seconds(5));
  EXPECT_EQ(c->frame_timeout, std::chrono::seconds(60));
  EXPECT_EQ(c->session_idle_timeout, std::chrono::seconds(600));
  EXPECT_EQ(c->max_handshakes, 64);
  EXPECT_EQ(c->max_handshakes_per_address, 8);
  EXPECT_EQ(c->max_sessions_per_peer, 32);
  EXPECT_EQ(c->max_handshakes_per_peer, 8);
  auto set = parse_config(
      "host = \"alpha\"\nhandshake_timeout = 2\nframe_timeout = 3\n"
      "session_idle_timeout = 4\nmax_handshakes = 10\n"
      "max_handshakes_per_address = 2\nmax_sessions_per_peer = 3\n"
      "max_handshakes_per_peer = 1\n" +
          kTls,
      "test.toml");
  ASSERT_TRUE(set) << set.error().message;
  EXPECT_EQ(set->handshake_timeout, std::chrono::seconds(2));
  EXPECT_EQ(set->frame_timeout, std::chrono::seconds(3));
  EXPECT_EQ(set->session_idle_timeout, std::chrono::seconds(4));
  EXPECT_EQ(set->max_handshakes, 10);
  EXPECT_EQ(set->max_handshakes_per_address, 2);
  EXPECT_EQ(set->max_sessions_per_peer, 3);
  EXPECT_EQ(set->max_handshakes_per_peer, 1);
  expect_error("host = \"alpha\"\nhandshake_timeout = 0\n" + kTls, "handshake_timeout");
  expect_error("host = \"alpha\"\nhandshake_timeout = 61\n" + kTls, "at most 60");
  expect_error("host = \"alpha\"\nframe_timeout = -1\n" + kTls, "frame_timeout");
  expect_error("host = \"alpha\"\nsession_idle_timeout = 0\n" + kTls, "session_idle_timeout");
  expect_error("host = \"alpha\"\nmax_handshakes = 0\n" + kTls, "max_handshakes");
  expect_error("host = \"alpha\"\nmax_sessions_per_peer = 5000\n" + kTls, "max_sessions_per_peer");
  expect_error("host = \"alpha\"\nmax_handshakes = 4\nmax_handshakes_per_address = 5\n" + kTls,
               "must not exceed");
}

TEST(Config, TheDocumentedExampleParses) {
  auto c = load_config(ZREP_SOURCE_DIR "/deploy/zrep-agent.toml.example");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->host, "prod1");
  EXPECT_EQ(c->schedule.interval.count(), 60);
  EXPECT_EQ(c->interval_for("tank/data").count(), 10);
  EXPECT_EQ(c->raw_for("tank/data"), std::optional<bool>(true));
  EXPECT_EQ(c->raw_for("tank/other"), std::nullopt);
  EXPECT_EQ(c->lock_lease.count(), 120);
  EXPECT_EQ(c->handshake_timeout.count(), 5);
  EXPECT_EQ(c->max_handshakes_per_address, 8);
}

}  // namespace
}  // namespace zrep

namespace zrep {
namespace {

TEST(Config, RetentionGridsGlobalAndPerFilesystem) {
  const std::string tls = "[tls]\nca = \"/c\"\ncert = \"/c\"\nkey = \"/k\"\n";
  auto c = parse_config(std::string("host = \"a\"\nretention = \"1x1h(keep=all)|24x1h\"\n") + tls +
                            "[[filesystem]]\nname = \"tank/vm\"\nretention = \"14x1d\"\n" +
                            "[[filesystem]]\nname = \"tank/count\"\nretention = \"\"\n",
                        "r.toml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->retention_for("tank/vm"), "14x1d");
  EXPECT_EQ(c->retention_for("tank/other"), "1x1h(keep=all) | 24x1h");  // normalised
  EXPECT_EQ(c->retention_for("tank/count"), "");  // by count only, whatever the global says
  auto none = parse_config("host = \"a\"\n" + tls, "n.toml");
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_FALSE(none->retention_for("tank/vm").has_value());
  for (const std::string bad : {"retention = \"24x1q\"\n", "retention = 24\n"}) {
    auto b = parse_config("host = \"a\"\n" + bad + tls, "b.toml");
    ASSERT_FALSE(b) << bad;
    EXPECT_NE(b.error().message.find("retention"), std::string::npos) << b.error().message;
  }
  auto f = parse_config(
      "host = \"a\"\n" + tls + "[[filesystem]]\nname = \"t/x\"\nretention = \"3x1d(keep=none)\"\n",
      "f.toml");
  ASSERT_FALSE(f);
  EXPECT_NE(f.error().message.find("[[filesystem]] #1"), std::string::npos) << f.error().message;
}

}  // namespace
}  // namespace zrep
