#include "agent/cli/cli_format.h"

#include <gtest/gtest.h>

namespace zrep {
namespace {

TEST(CliFormat, HumanUnits) {
  EXPECT_EQ(human_bytes(0), "0 B");
  EXPECT_EQ(human_bytes(1536), "1.5 KiB");
  EXPECT_EQ(human_bytes(3ull << 30), "3.0 GiB");
  EXPECT_EQ(human_duration(5), "5s");
  EXPECT_EQ(human_duration(200), "3m 20s");
  EXPECT_EQ(human_duration(7300), "2h 1m");
  EXPECT_EQ(human_duration(-3), "0s");
}

TEST(CliFormat, StatusTableShowsErrorsAndAge) {
  nlohmann::json rows = nlohmann::json::array();
  rows.push_back({{"fs", "tank/a"},
                  {"role", "master"},
                  {"peer", "beta"},
                  {"peer_fs", "b/a"},
                  {"last_sync_time", 1000},
                  {"last_synced_snapshot", "tank/a@zrep_000003"},
                  {"unsent_snapshots", 0}});
  rows.push_back({{"fs", "tank/b"},
                  {"role", "master"},
                  {"peer", "beta"},
                  {"peer_fs", "b/b"},
                  {"last_error", "cannot connect"}});
  std::string out = format_status(rows, 1090);
  EXPECT_NE(out.find("1m 30s ago"), std::string::npos) << out;
  EXPECT_NE(out.find("zrep_000003"), std::string::npos) << out;
  EXPECT_NE(out.find("ERROR: cannot connect"), std::string::npos) << out;
  EXPECT_NE(out.find("never"), std::string::npos) << out;
}

TEST(CliFormat, StatusSaysWhenALinkIsDown) {
  nlohmann::json rows = nlohmann::json::array();
  rows.push_back({{"fs", "tank/a"},
                  {"role", "master"},
                  {"peer", "beta"},
                  {"peer_fs", "b/a"},
                  {"link",
                   {{"direction", "listens"},
                    {"state", "down"},
                    {"down_since", 1000},
                    {"error", "no heartbeat from beta for 30 s"}}}});
  std::string out = format_status(rows, 1120);
  EXPECT_NE(out.find("LINK DOWN: the peer must dial in (since 2m 0s ago): no heartbeat"),
            std::string::npos)
      << out;
}

TEST(CliFormat, EmptyLists) {
  EXPECT_NE(format_list(nlohmann::json::array()).find("no zrep filesystems"), std::string::npos);
  EXPECT_NE(format_sync(nlohmann::json::array()).find("nothing to sync"), std::string::npos);
}

}  // namespace
}  // namespace zrep
