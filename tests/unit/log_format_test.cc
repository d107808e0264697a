// How serve's log lines look on a terminal and under the systemd journal.
#include "agent/daemon/log_format.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <sstream>

namespace zrep {
namespace {

TEST(LogFormat, SyslogPriorities) {
  EXPECT_EQ(syslog_priority(spdlog::level::critical), 2);
  EXPECT_EQ(syslog_priority(spdlog::level::err), 3);
  EXPECT_EQ(syslog_priority(spdlog::level::warn), 4);
  EXPECT_EQ(syslog_priority(spdlog::level::info), 6);
  EXPECT_EQ(syslog_priority(spdlog::level::debug), 7);
  EXPECT_EQ(syslog_priority(spdlog::level::trace), 7);
}

TEST(LogFormat, JournalStreamMustNameThisVeryFile) {
  EXPECT_TRUE(names_journal_stream("8:12345", 8, 12345));
  EXPECT_FALSE(names_journal_stream(nullptr, 8, 12345));
  EXPECT_FALSE(names_journal_stream("8:12346", 8, 12345));  // another stream: stderr redirected
  EXPECT_FALSE(names_journal_stream("9:12345", 8, 12345));
  for (const char* bad : {"", ":", "8:", ":12345", "8", "8:12345x", "x8:12345", "8:1:2"}) {
    EXPECT_FALSE(names_journal_stream(bad, 8, 12345)) << bad;
  }
}

// What `logger` prints of one warning and one error with the given format.
std::string two_lines(bool journal) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  spdlog::logger logger("log-format-test", sink);
  set_log_format(logger, "alpha", journal);
  logger.warn("peer beta is slow");
  logger.error("sync of {} failed", "tank/a");
  logger.flush();
  return out.str();
}

TEST(LogFormat, UnderTheJournalEachLineHasItsPriorityAndNoTimestamp) {
  EXPECT_EQ(two_lines(true),
            "<4>warning [alpha] peer beta is slow\n<3>error [alpha] sync of tank/a failed\n");
}

TEST(LogFormat, ElsewhereTimestampLevelAndHost) {
  const std::string out = two_lines(false);
  // "2026-12-02 13:10:00.123 warning [alpha] peer beta is slow"
  ASSERT_GT(out.size(), 24u) << out;
  EXPECT_EQ(out[4], '-');
  EXPECT_EQ(out[10], ' ');
  EXPECT_EQ(out[19], '.');
  EXPECT_NE(out.find(" warning [alpha] peer beta is slow\n"), std::string::npos) << out;
  EXPECT_NE(out.find(" error [alpha] sync of tank/a failed\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("<4>"), std::string::npos) << out;
}

}  // namespace
}  // namespace zrep
