// The text and JSON of doctor and peers (agent/cli/render_doctor.cc): one line per check, and
// the JSON keys scripts read.
#include <gtest/gtest.h>

#include "agent/cli/render.h"
#include "agent/ops/diagnose.h"

namespace zrep {
namespace {

using L = control::Check;
using nlohmann::json;

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

control::DoctorResult two_checks() {
  control::DoctorResult r;
  *r.add_checks() = make_check("config", L::LEVEL_OK, "/etc/z.toml: host alpha", "unused");
  *r.add_checks() =
      make_check("key file mode", L::LEVEL_FAIL, "/p/a.key is mode 0644", "chmod 600 /p/a.key");
  *r.add_checks() = make_check("clock beta", L::LEVEL_WARN, "90 s behind", "use NTP");
  return r;
}

TEST(RenderDoctor, OneLinePerCheckWithWhatToDoOnlyWhenNotOk) {
  const std::string text = doctor_text(two_checks());
  EXPECT_EQ(text,
            "OK   config: /etc/z.toml: host alpha\n"
            "FAIL key file mode: /p/a.key is mode 0644 \u2014 chmod 600 /p/a.key\n"
            "WARN clock beta: 90 s behind \u2014 use NTP\n");
}

TEST(RenderDoctor, JsonIsAnArrayOfChecks) {
  const json j = doctor_json(two_checks());
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 3u);
  EXPECT_EQ(j[0].at("name"), "config");
  EXPECT_EQ(j[0].at("level"), "ok");
  EXPECT_EQ(j[1].at("level"), "fail");
  EXPECT_EQ(j[1].at("detail"), "/p/a.key is mode 0644");
  EXPECT_EQ(j[1].at("what_to_do"), "chmod 600 /p/a.key");
  EXPECT_EQ(j[2].at("level"), "warn");
}

control::Result two_peers() {
  control::Result r;
  auto* up = r.mutable_peers()->add_peers();
  up->set_name("beta");
  up->set_address("127.0.0.1:7450");
  up->set_reachable(true);
  up->set_agent_version("0.9.0");
  up->set_protocol_version(1);
  up->set_zfs_dialect("legacy");
  up->set_zfs_version("zfs-fuse");
  up->set_last_contact(1000);
  up->set_clock_skew_seconds(-3);
  auto* d = up->add_destinations();
  d->set_fs("tank/a");
  d->set_dest_fs("other/a");
  d->set_error("may not access 'other/a'");
  auto* down = r.mutable_peers()->add_peers();
  down->set_name("gamma");
  down->set_error("not connected");
  down->mutable_link()->set_direction("listens");
  down->mutable_link()->set_state("down");
  return r;
}

TEST(RenderDoctor, PeersTextShowsEachPeerAndWhatIsWrong) {
  const std::string text = render_text(two_peers(), 1010);
  EXPECT_TRUE(has(text, "PEER")) << text;
  EXPECT_TRUE(has(text, "127.0.0.1:7450")) << text;
  EXPECT_TRUE(has(text, "legacy zfs-fuse")) << text;
  EXPECT_TRUE(has(text, "10s ago")) << text;
  EXPECT_TRUE(has(text, "-3s")) << text;
  EXPECT_TRUE(has(text, "(reached over its link)")) << text;
  EXPECT_TRUE(has(text, "listens down")) << text;
  EXPECT_TRUE(has(text, "gamma: not connected")) << text;
  EXPECT_TRUE(has(text, "beta:other/a (from tank/a) refused: may not access")) << text;
}

TEST(RenderDoctor, PeersJsonKeys) {
  const json j = render_json(two_peers());
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0].at("name"), "beta");
  EXPECT_EQ(j[0].at("reachable"), true);
  EXPECT_EQ(j[0].at("agent_version"), "0.9.0");
  EXPECT_EQ(j[0].at("zfs").at("dialect"), "legacy");
  EXPECT_EQ(j[0].at("clock_skew_seconds"), -3);
  EXPECT_EQ(j[0].at("last_contact"), 1000);
  EXPECT_EQ(j[0].at("destinations")[0].at("allowed"), false);
  EXPECT_EQ(j[1].at("reachable"), false);
  EXPECT_EQ(j[1].at("error"), "not connected");
  EXPECT_EQ(j[1].at("link").at("state"), "down");
  EXPECT_FALSE(j[1].contains("agent_version"));
}

}  // namespace
}  // namespace zrep
