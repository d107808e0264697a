// Text a hostile peer puts in its replies (error messages) reaches this host's logs and the
// operator's terminal only escaped (common/sanitize.h): no raw newline to forge a line, no ANSI
// escape sequence to rewrite the terminal. The peer here is the test itself: a TLS server with
// beta's real certificate, on beta's port, that answers every request with a hostile error.
// (Protobuf refuses strings that are not UTF-8, so the hostile text is valid UTF-8.)
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "agent/config/config.h"
#include "agent/rpc/net.h"
#include "agent/rpc/peer_session.h"
#include "agent/zfs/zfs.h"
#include "crypto/tls.h"
#include "tests/integration/hostile_listener.h"
#include "tests/integration/testbed.h"

namespace zrep::testbed {
namespace {

const std::string kHostile =
    "\x1b[2J\x1b[31mdataset is fine\x1b[0m\nFORGED LOG LINE: all good\r\x07\xc2\x9b"
    "1m\xe2\x80\xae";

bool has_raw_control(const std::string& s) {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u == 0x1b || u == '\r' || u == 0x07 || u == 0x9b) return true;
  }
  return false;
}

TEST_F(PairTest, HostilePeerTextIsEscapedInCliOutputAndLog) {
  beta().stop();
  // beta's certificate; every request gets an error reply carrying kHostile.
  HostileListener server(beta().config_path(), hosts_->beta_spec.port,
                         [](const peer::Request&, peer::Reply& reply) {
                           reply.mutable_error()->set_code("conflict");
                           reply.mutable_error()->set_message(kHostile);
                         });
  ASSERT_TRUE(server.bound());
  must({"zfs", "snapshot", src_ + "@zrep_000000"});

  auto r = alpha().cli({"init", src_, beta_name(), dst_}, 60);
  EXPECT_NE(r.exit_code, 0);
  ASSERT_GT(server.replies(), 0) << "the agent never asked the hostile peer: " << r.err;
  const std::string out = r.out + r.err;
  EXPECT_FALSE(has_raw_control(out)) << out;
  EXPECT_EQ(out.find("\nFORGED LOG LINE"), std::string::npos) << out;
  EXPECT_NE(out.find("\\x1b[2J\\x1b[31mdataset is fine\\x1b[0m\\x0aFORGED LOG LINE"),
            std::string::npos)
      << out;

  // The same with --json: the message is escaped text, not raw control characters in a string.
  auto j = alpha().cli({"--json", "init", src_, beta_name(), dst_}, 60);
  EXPECT_NE(j.exit_code, 0);
  EXPECT_NE((j.out + j.err).find("\\\\x1b[2J"), std::string::npos) << j.out << j.err;

  // The agent's own log has no raw escape either.
  std::string log = alpha().log();
  EXPECT_FALSE(has_raw_control(log));
  EXPECT_EQ(log.find("\nFORGED LOG LINE"), std::string::npos);
  // Nothing was made on either side.
  EXPECT_FALSE(dataset_exists(dst_));
}

// What a peer says of itself in its Hello (its version strings, its clock) is only shown, and
// only escaped: `peers` and `doctor` print it without raw control characters, a clock at the
// end of time is a skew to report (no overflow, no decision taken on it), and the agent serves on.
TEST_F(PairTest, AHostileHelloIsOnlyShownAndEscaped) {
  beta().stop();
  HostileListener server(
      beta().config_path(), hosts_->beta_spec.port,
      [](const peer::Request&, peer::Reply& reply) {
        reply.mutable_error()->set_code("permission-denied");
        reply.mutable_error()->set_message(kHostile);
      },
      [](peer::Hello& hello) {
        hello.set_agent_version(kHostile);
        hello.mutable_zfs()->set_version(kHostile);
        hello.set_unix_time(UINT64_MAX);
      });
  ASSERT_TRUE(server.bound());

  auto text = alpha().cli({"peers"}, 60);
  auto json = alpha().cli({"--json", "peers"}, 60);
  auto doctor = alpha().cli({"doctor"}, 60);
  for (const auto* r : {&text, &json, &doctor}) {
    const std::string out = r->out + r->err;
    EXPECT_FALSE(has_raw_control(out)) << out;
    EXPECT_EQ(out.find("\nFORGED LOG LINE"), std::string::npos) << out;
  }
  EXPECT_NE(text.out.find("\\x1b[2J"), std::string::npos) << "shown, escaped: " << text.out;
  const auto j = nlohmann::json::parse(json.out, nullptr, false);
  ASSERT_TRUE(j.is_array() && j.size() == 1) << json.out;
  EXPECT_EQ(j[0].value("reachable", false), true) << json.out;
  ASSERT_TRUE(j[0].contains("clock_skew_seconds")) << json.out;
  EXPECT_GT(j[0]["clock_skew_seconds"].get<int64_t>(), int64_t{1} << 60) << "clamped, not wrapped";
  // doctor reports the clock, and fails on it; nothing else changes.
  EXPECT_EQ(doctor.exit_code, 1) << doctor.out;
  EXPECT_NE(doctor.out.find("FAIL clock " + beta_name()), std::string::npos) << doctor.out;
  EXPECT_FALSE(has_raw_control(alpha().log()));
  EXPECT_TRUE(alpha().running());
  EXPECT_EQ(alpha().cli({"status"}).exit_code, 0);
}

}  // namespace
}  // namespace zrep::testbed
