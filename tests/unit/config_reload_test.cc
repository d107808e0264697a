// Config::apply_reload and the accessors of the live settings (agent/config/config.h).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "agent/config/config.h"

namespace zrep {
namespace {

using std::chrono::seconds;

const std::string kRunning = R"(
host = "alpha"
listen = "[::1]:7450"
io_timeout = 600
sync_interval = 60
max_parallel_syncs = 4
warn_lag = 100
log_level = "info"
[tls]
ca = "/pki/ca.crt"
cert = "/pki/alpha.crt"
key = "/pki/alpha.key"
[[peer]]
name = "beta"
address = "[::1]:7451"
datasets = ["tank/backup"]
[[peer]]
name = "gamma"
datasets = ["tank/gamma"]
[[filesystem]]
name = "tank/data"
interval = 10
)";

Config parsed(const std::string& text) {
  auto c = parse_config(text, "reload.toml");
  EXPECT_TRUE(c) << c.error().message;
  return c ? std::move(*c) : Config{};
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

TEST(ConfigReload, TakesTheLiveSettingsAndNothingElse) {
  Config running = parsed(kRunning);
  std::string text = replaced(kRunning, "sync_interval = 60", "sync_interval = 5");
  text = replaced(text, "max_parallel_syncs = 4", "max_parallel_syncs = 2\nmax_unsent = 7");
  text = replaced(text, "warn_lag = 100", "warn_lag = 200");
  text = replaced(text, "log_level = \"info\"", "log_level = \"debug\"");
  text = replaced(text, "datasets = [\"tank/backup\"]",
                  "datasets = [\"tank/b2\"]\nallow_takeover = false");
  text = replaced(text, "[[peer]]\nname = \"gamma\"\ndatasets = [\"tank/gamma\"]\n",
                  "[[peer]]\nname = \"delta\"\naddress = \"[::1]:7452\"\n");
  text = replaced(text, "interval = 10", "interval = 3\nraw = true");
  text = replaced(text, "/pki/alpha.crt", "/pki/alpha-2.crt");
  // Need a restart: kept at the running values.
  text = replaced(text, "listen = \"[::1]:7450\"", "listen = \"[::1]:7460\"");
  text = replaced(text, "io_timeout = 600", "io_timeout = 60\nmax_sessions_per_peer = 3");
  Config fresh = parsed(text);

  std::vector<std::string> restart;
  ASSERT_TRUE(running.apply_reload(fresh, &restart).is_ok());
  EXPECT_EQ(restart, (std::vector<std::string>{"listen", "io_timeout", "max_sessions_per_peer"}));
  EXPECT_EQ(running.listen->port, 7450);
  EXPECT_EQ(running.io_timeout, seconds(600));
  EXPECT_EQ(running.max_sessions_per_peer, 32);

  EXPECT_EQ(running.peer_names(), (std::vector<std::string>{"beta", "delta"}));
  auto beta = running.find_peer("beta");
  ASSERT_TRUE(beta);
  EXPECT_EQ(beta->datasets, std::vector<std::string>{"tank/b2"});
  EXPECT_FALSE(beta->allow_takeover);
  EXPECT_FALSE(running.find_peer("gamma"));  // removed: unknown from now on
  ASSERT_TRUE(running.find_peer("delta"));
  EXPECT_EQ(running.find_peer("delta")->address->port, 7452);
  EXPECT_EQ(running.peers_copy().size(), 2u);

  const ScheduleConfig s = running.schedule_settings();
  EXPECT_EQ(s.interval, seconds(5));
  EXPECT_EQ(s.max_parallel_syncs, 2u);
  EXPECT_EQ(s.max_unsent, 7u);
  EXPECT_EQ(running.interval_for("tank/data"), seconds(3));
  EXPECT_EQ(running.interval_for("tank/other"), seconds(5));
  EXPECT_EQ(running.raw_for("tank/data"), std::optional<bool>(true));
  EXPECT_EQ(running.alert_settings().warn_lag, seconds(200));
  EXPECT_EQ(running.lag_limits_for("tank/other").warn, seconds(200));
  EXPECT_EQ(running.current_log_level(), "debug");
  EXPECT_EQ(running.tls_paths().cert_file, "/pki/alpha-2.crt");
}

TEST(ConfigReload, TheSameFileChangesNothingAndNeedsNoRestart) {
  Config running = parsed(kRunning);
  Config again = parsed(kRunning);
  std::vector<std::string> restart{"stale"};
  ASSERT_TRUE(running.apply_reload(again, &restart).is_ok());
  EXPECT_TRUE(restart.empty());
  EXPECT_EQ(running.peers_copy(), again.peers);
  EXPECT_EQ(running.schedule_settings(), again.schedule);
  EXPECT_EQ(running.filesystems_copy(), again.filesystems);
  EXPECT_TRUE(running.apply_reload(running, nullptr).is_ok());  // itself: a no-op
}

TEST(ConfigReload, HostAndControlSocketNeedARestart) {
  Config running = parsed(kRunning);
  std::string text = replaced(kRunning, "host = \"alpha\"",
                              "host = \"omega\"\ncontrol_socket = \"/run/other.sock\"");
  std::vector<std::string> restart;
  ASSERT_TRUE(running.apply_reload(parsed(text), &restart).is_ok());
  EXPECT_EQ(restart, (std::vector<std::string>{"host", "control_socket"}));
  EXPECT_EQ(running.host, "alpha");
  EXPECT_EQ(running.control_socket, kDefaultControlSocket);
}

// Readers on other threads while reloads swap the peers: each read sees one whole config or the
// other, never a torn one (and ThreadSanitizer, where it runs, sees no race).
TEST(ConfigReload, ReadersSeeOneConfigOrTheOther) {
  Config running = parsed(kRunning);
  const Config a = parsed(kRunning);
  const Config b = parsed(
      replaced(kRunning, "datasets = [\"tank/backup\"]", "datasets = [\"tank/x\", \"tank/y\"]"));
  std::atomic<bool> done{false};
  std::atomic<int> torn{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 3; ++i) {
    readers.emplace_back([&] {
      while (!done) {
        auto beta = running.find_peer("beta");
        if (!beta || (beta->datasets.size() != 1 && beta->datasets.size() != 2)) ++torn;
        (void)running.interval_for("tank/data");
        (void)running.lag_limits_for("tank/data");
      }
    });
  }
  for (int i = 0; i < 2000; ++i) ASSERT_TRUE(running.apply_reload(i % 2 ? a : b, nullptr).is_ok());
  done = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(torn, 0);
}

}  // namespace
}  // namespace zrep
